"""Model tools: edgerun.inspect / `edgerun inspect`, metadata, Preprocessor.from_model,
edgerun.convert / `edgerun convert`.

The first part needs no TensorFlow. The conversion tests (second part) build tiny
Keras models here and skip, saying why, when tensorflow (the `convert` extra) is
not installed.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import warnings
import zipfile

import flatbuffers
import numpy as np
import pytest

import edgerun
from edgerun.model import metadata as md_mod
from edgerun.tools import cli
from edgerun.tools.convert import rgb_to_format

import models as mg

from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.interpreter import Interpreter


# --------------------------------------------------------------------------- independent counts
# These read the flatbuffer through the schema module's accessor API (not the object
# API that edgerun.inspect uses) and count things their own way.

_BITS = {0: 32, 1: 16, 2: 32, 3: 8, 4: 64, 6: 8, 7: 16, 9: 8, 10: 64}
_NAMES = {v: k for k, v in vars(schema.BuiltinOperator).items() if isinstance(v, int) and not k.startswith("_")}
_TYPE_NAMES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 6: "bool", 7: "int16",
               9: "int8", 10: "float64"}


def _raw(data: bytes):
    return schema.Model.GetRootAs(data, 0)


def count_ops(data: bytes) -> dict:
    m = _raw(data)
    out: dict = {}
    for s in range(m.SubgraphsLength()):
        sg = m.Subgraphs(s)
        for o in range(sg.OperatorsLength()):
            oc = m.OperatorCodes(sg.Operators(o).OpcodeIndex())
            code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
            name = oc.CustomCode().decode() if code == schema.BuiltinOperator.CUSTOM else _NAMES[code]
            out[name] = out.get(name, 0) + 1
    return out


def count_weights(data: bytes) -> dict:
    m = _raw(data)
    seen, out = set(), {}
    for s in range(m.SubgraphsLength()):
        sg = m.Subgraphs(s)
        for t in range(sg.TensorsLength()):
            tensor = sg.Tensors(t)
            b = tensor.Buffer()
            n = m.Buffers(b).DataLength() if b else 0
            if n and b not in seen:
                seen.add(b)
                dt = _TYPE_NAMES[tensor.Type()]
                out[dt] = out.get(dt, 0) + n
    return out


def activation_bytes(data: bytes, subgraph: int = 0):
    """(sum of non-constant tensor bytes, peak bytes live at any operator step) by brute force."""
    m = _raw(data)
    sg = m.Subgraphs(subgraph)
    size = {}
    for t in range(sg.TensorsLength()):
        tensor = sg.Tensors(t)
        if tensor.Buffer() and m.Buffers(tensor.Buffer()).DataLength():
            continue
        size[t] = int(np.prod(tensor.ShapeAsNumpy())) * _BITS[tensor.Type()] // 8 if tensor.ShapeLength() else \
            _BITS[tensor.Type()] // 8
    n = sg.OperatorsLength()
    uses = {t: [] for t in size}
    for t in sg.InputsAsNumpy():
        uses[int(t)].append(0)
    for t in sg.OutputsAsNumpy():
        uses[int(t)].append(n - 1)
    for i in range(n):
        op = sg.Operators(i)
        for t in list(op.InputsAsNumpy()) + list(op.OutputsAsNumpy()):
            if int(t) in uses:
                uses[int(t)].append(i)
    peak = max(sum(size[t] for t, u in uses.items() if u and min(u) <= i <= max(u)) for i in range(n))
    return sum(size.values()), peak


# --------------------------------------------------------------------------- inspect (no TensorFlow)
@pytest.mark.parametrize("dtype", ["float32", "int8"])
def test_inspect_matches_independent_counts(tmp_model, dtype):
    data = mg.builtin_image_model(dtype=dtype)
    path = tmp_model(data)
    info = edgerun.inspect(path)
    assert info.path == str(path)
    assert info.size == len(data) == os.path.getsize(path)
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert info.operators == count_ops(data)
    assert info.operator_count == sum(count_ops(data).values())
    assert info.weights == count_weights(data)
    total, peak = activation_bytes(data)
    assert (info.activations_total, info.activations_peak) == (total, peak)
    assert 0 < info.activations_peak < info.activations_total
    assert not info.edgetpu_compiled and info.custom_operators == ()
    assert [s.key for s in info.signatures] == ["serving_default"]
    # Inputs / outputs as the runtime sees them.
    with edgerun.Session(path) as s:
        for mine, theirs in ((info.inputs, s.inputs), (info.outputs, s.outputs)):
            assert [t.shape for t in mine] == [t.shape for t in theirs]
            assert [t.dtype for t in mine] == [str(t.dtype) for t in theirs]
            for a, b in zip(mine, theirs):
                if b.scale:
                    assert a.quantization == "per-tensor"
                    assert a.scales == (pytest.approx(b.scale),) and a.zero_points == (b.zero_point,)
                else:
                    assert a.quantization == "none"


def test_inspect_per_channel_and_dynamic_io():
    mb = mg.ModelBuilder("per-channel io")
    sg = mb.subgraph("main")
    scales, zps = [0.5, 0.25, 0.125], [1, -2, 3]
    x = sg.input("x", [1, 2, 2, 3], "int8", quant=mg.Quant(scales, zps, axis=3), shape_signature=[-1, 2, 2, 3])
    y = sg.tensor("y", [1, 2, 2, 3], "int8", quant=mg.Quant(scales, zps, axis=3), shape_signature=[-1, 2, 2, 3])
    sg.op("ADD", [x, x], [y], mg.op_options("AddOptions"))
    sg.outputs = [y]
    info = edgerun.inspect(mb.build(), xnnpack=False)
    t = info.inputs[0]
    assert t.quantization == "per-channel"
    assert t.scales == tuple(scales) and t.zero_points == tuple(zps) and t.quantized_dimension == 3
    assert t.shape == (1, 2, 2, 3) and t.shape_signature == (-1, 2, 2, 3)
    d = info.to_dict()["inputs"][0]["quantization"]
    assert d == {"type": "per-channel", "axis": 3, "scales": scales, "zero_points": zps}
    assert info.xnnpack is None and info.to_dict()["xnnpack"] is None


# XNNPACK coverage: facts of the XNNPACK delegate in ai-edge-litert 2.3 (its README lists
# the operators it supports; GATHER is not among them, int32 MUL and int8 SOFTMAX are not
# supported, float MUL/ADD/CONV_2D/SOFTMAX are).
def test_inspect_xnnpack_coverage():
    x = edgerun.inspect(mg.builtin_image_model(dtype="float32")).xnnpack
    assert x.checked and x.not_taken == () and x.delegated == x.total == 16 and x.partitions == 1
    x = edgerun.inspect(mg.builtin_image_model(dtype="int8")).xnnpack
    assert x.checked and x.not_taken == ((15, "SOFTMAX"),) and x.delegated == 15
    x = edgerun.inspect(mg.gather_model()).xnnpack
    assert x.checked and x.not_taken == ((0, "GATHER"),) and x.delegated == 0 and x.partitions == 0
    # multi_io_model: MUL float (op 0) + ADD float (op 1) taken; MUL int32 (op 2) not.
    x = edgerun.inspect(mg.multi_io_model()).xnnpack
    assert x.checked and x.not_taken == ((2, "MUL"),) and x.delegated == 2
    assert x.not_taken_histogram() == {"MUL": 1}


def test_inspect_edgetpu_model():
    info = edgerun.inspect(mg.edgetpu_model())
    assert info.edgetpu_compiled
    assert info.custom_operators == ("edgetpu-custom-op",)
    assert info.operators == count_ops(mg.edgetpu_model()) == {"edgetpu-custom-op": 1}
    assert not info.xnnpack.checked
    assert "edgetpu-custom-op" in info.xnnpack.error and "custom operators never run on XNNPACK" in info.xnnpack.error
    custom = edgerun.inspect(mg.custom_op_model("MyOp"))
    assert custom.custom_operators == ("MyOp",) and not custom.edgetpu_compiled


def test_inspect_real_models(blazeface_model, resnet8_model):
    face = edgerun.inspect(blazeface_model)
    data = blazeface_model.read_bytes()
    assert face.operators == count_ops(data)
    assert face.weights == count_weights(data)
    assert set(face.weights) == {"float16", "int32"}  # float16 weights, dequantized at load
    # Outputs of DEQUANTIZE(constant) are weights, not activations: fewer bytes than a plain count.
    total, _ = activation_bytes(data)
    assert face.activations_total < total
    assert face.metadata.name == "Short Range Face Detection"
    assert face.metadata.mean == (127.5,) * 3 and face.metadata.std == (127.5,) * 3  # inputs in [-1, 1]
    assert face.metadata.channels == "rgb" and face.metadata.sources == ("TFLITE_METADATA",)
    assert face.xnnpack.checked and face.xnnpack.not_taken == ()
    res = edgerun.inspect(resnet8_model)
    assert res.inputs[0].shape_signature[0] == -1  # dynamic batch
    assert res.metadata.min_runtime_version == "1.5.0"
    assert {op for _, op in res.xnnpack.not_taken} == {"AVERAGE_POOL_2D", "SOFTMAX"}


def _run_cli(*args):
    return subprocess.run([sys.executable, "-m", "edgerun", *map(str, args)], capture_output=True, text=True,
                          timeout=120)


def test_inspect_cli_table_and_json(tmp_model, capsys):
    data = mg.builtin_image_model(dtype="int8")
    path = tmp_model(data)
    assert cli.main(["inspect", str(path)]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert lines[0].split() == ["model", str(path)]
    assert any(ln.split()[:2] == ["sha256", hashlib.sha256(data).hexdigest()] for ln in lines)
    assert "reference kernels: SOFTMAX" in text
    ops_at = lines.index("operators (16)")
    assert [ln.split() for ln in lines[ops_at + 1:]] == [[k, str(v)] for k, v in
                                                         sorted(count_ops(data).items(), key=lambda kv: (-kv[1], kv[0]))]
    assert cli.main(["inspect", str(path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc == json.loads(json.dumps(edgerun.inspect(path).to_dict()))
    assert doc["schema"] == "edgerun.inspect/1"
    assert doc["operators"] == count_ops(data)
    assert doc["weights"] == {"total": sum(count_weights(data).values()), "by_dtype": count_weights(data)}
    assert doc["xnnpack"]["not_taken"] == [{"index": 15, "op": "SOFTMAX"}]


def test_inspect_cli_bad_models(tmp_path):
    data = mg.builtin_image_model()
    bad = tmp_path / "truncated.tflite"
    bad.write_bytes(data[: len(data) // 2])
    r = _run_cli("inspect", bad)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("edgerun: error: ") and "Traceback" not in r.stderr
    r = _run_cli("inspect", tmp_path / "missing.tflite")
    assert r.returncode == 1 and "cannot read model" in r.stderr and "No such file" in r.stderr
    assert r.stderr.count("\n") == 1
    with pytest.raises(edgerun.ModelError):
        edgerun.inspect(data[:100])


# --------------------------------------------------------------------------- metadata (no TensorFlow)
def test_metadata_round_trip(tmp_path):
    src = tmp_path / "m.tflite"
    src.write_bytes(mg.builtin_image_model())
    labels = tmp_path / "labels.txt"
    labels.write_text("".join(f"class {i}\n" for i in range(1000)) + "\n\n")
    out = tmp_path / "with_md.tflite"
    data = edgerun.write_metadata(src, out, name="builtin", version="2.1", description="a test model",
                                  format="nv12", fit="letterbox", mean=[123.675, 116.28, 103.53],
                                  std=[58.395, 57.12, 57.375], channels="bgr", labels=labels)
    assert out.read_bytes() == data
    m = edgerun.read_metadata(out)
    assert (m.name, m.version, m.description, m.format, m.fit, m.channels) == (
        "builtin", "2.1", "a test model", "nv12", "letterbox", "bgr")
    assert m.mean == (123.675, 116.28, 103.53) and m.std == (58.395, 57.12, 57.375)
    assert m.labels == tuple(f"class {i}" for i in range(1000))
    assert m.sources == ("edgerun_preprocessing",)
    assert "edgerun_preprocessing" in dict(m.entries)
    # merge: a second write keeps what it does not change
    again = edgerun.write_metadata(data, version="3")
    m2 = edgerun.read_metadata(again)
    assert m2.version == "3" and m2.labels == m.labels and m2.mean == m.mean
    # The rewritten model runs exactly like the original (weights untouched, buffers aligned).
    frame = np.random.default_rng(1).uniform(-1, 1, (1, 96, 96, 3)).astype(np.float32)
    with edgerun.Session(src) as a, edgerun.Session(out) as b:
        np.testing.assert_array_equal(a.run(frame, copy=True)[0], b.run(frame, copy=True)[0])
    interp = Interpreter(model_path=str(out))
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], frame)
    interp.invoke()
    with edgerun.Session(src) as a:
        np.testing.assert_allclose(interp.get_tensor(interp.get_output_details()[0]["index"]),
                                   a.run(frame, copy=True)[0], rtol=0, atol=1e-6)


def test_metadata_rejects_bad_fields(tmp_path):
    data = mg.add_model()
    with pytest.raises(edgerun.InputError, match="format: expected one of"):
        edgerun.write_metadata(data, format="rgb565")
    with pytest.raises(edgerun.InputError, match="std: expected non-zero"):
        edgerun.write_metadata(data, mean=0, std=0)
    with pytest.raises(edgerun.InputError, match="unknown metadata field"):
        edgerun.write_metadata(data, colour="red")
    with pytest.raises(edgerun.InputError, match="cannot read labels file"):
        edgerun.write_metadata(data, labels=tmp_path / "nope.txt")


def test_unreadable_metadata_entries_are_reported_not_raised():
    bad_json = md_mod.tflite_file.with_metadata(mg.add_model(), {"edgerun_preprocessing": b"{not json",
                                                                   "TFLITE_METADATA": b"\x00" * 12})
    m = edgerun.read_metadata(bad_json)
    assert m.sources == ()
    assert any(p.startswith("edgerun_preprocessing: not UTF-8 JSON") for p in m.problems)
    assert any(p.startswith("TFLITE_METADATA: not a TFLite Metadata") for p in m.problems)


def _tflite_metadata_m001(labels_file: str) -> bytes:
    """A TFLite Metadata (M001) flatbuffer written by hand, field by field, from
    metadata_schema.fbs: ModelMetadata{name, description, version, subgraph_metadata[
    {input_tensor_metadata[{content: ImageProperties{GRAYSCALE}, process_units[Normalization]}],
    output_tensor_metadata[{associated_files[{labels_file, TENSOR_AXIS_LABELS}]}]}], author}."""
    b = flatbuffers.Builder(256)

    def table(fields):  # fields: list of (slot, kind, value)
        b.StartObject(max(s for s, _, _ in fields) + 1)
        for slot, kind, value in fields:
            if kind == "off":
                b.PrependUOffsetTRelativeSlot(slot, value, 0)
            else:
                b.PrependUint8Slot(slot, value, 0)
        return b.EndObject()

    def vec_off(items):
        b.StartVector(4, len(items), 4)
        for it in reversed(items):
            b.PrependUOffsetTRelative(it)
        return b.EndVector()

    def vec_f32(vals):
        b.StartVector(4, len(vals), 4)
        for v in reversed(vals):
            b.PrependFloat32(v)
        return b.EndVector()

    fname = b.CreateString(labels_file)
    afile = table([(0, "off", fname), (2, "u8", 2)])
    out_tm = table([(6, "off", vec_off([afile]))])
    norm = table([(0, "off", vec_f32([0.0])), (1, "off", vec_f32([255.0]))])
    unit = table([(0, "u8", 1), (1, "off", norm)])
    image = table([(0, "u8", 2)])
    content = table([(0, "u8", 2), (1, "off", image)])
    in_tm = table([(3, "off", content), (4, "off", vec_off([unit]))])
    sg = table([(2, "off", vec_off([in_tm])), (3, "off", vec_off([out_tm]))])
    name, desc, ver, author = (b.CreateString(s) for s in ("hand-made", "written by a test", "7", "tests"))
    root = table([(0, "off", name), (1, "off", desc), (2, "off", ver), (3, "off", vec_off([sg])),
                  (4, "off", author)])
    b.Finish(root, file_identifier=b"M001")
    return bytes(b.Output())


def test_tflite_metadata_standard_with_labels_zip():
    data = md_mod.tflite_file.with_metadata(mg.builtin_image_model(),
                                            {"TFLITE_METADATA": _tflite_metadata_m001("labels.txt")})
    buf = io.BytesIO(data)
    buf.seek(0, io.SEEK_END)
    with zipfile.ZipFile(buf, "a") as z:  # associated files: a zip appended to the model
        z.writestr("labels.txt", "cat\ndog\nbird\n")
    data = buf.getvalue()
    edgerun.verify(data)
    m = edgerun.read_metadata(data)
    assert (m.name, m.description, m.version, m.author) == ("hand-made", "written by a test", "7", "tests")
    assert m.channels == "gray" and m.mean == (0.0,) * 3 and m.std == (255.0,) * 3
    assert m.labels == ("cat", "dog", "bird")
    # edgerun's entry wins field by field; rewriting keeps the appended zip
    ours = edgerun.write_metadata(data, mean=127.5, std=127.5)
    m2 = edgerun.read_metadata(ours)
    assert m2.mean == (127.5,) * 3 and m2.channels == "gray" and m2.labels == ("cat", "dog", "bird")
    assert m2.sources == ("edgerun_preprocessing", "TFLITE_METADATA")


# --------------------------------------------------------------------------- Preprocessor.from_model
def test_preprocessor_from_model_picks_up_normalization(tmp_path):
    mean, std = (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)
    path = tmp_path / "m.tflite"
    edgerun.write_metadata(mg.builtin_image_model(), path, format="bgr", mean=mean, std=std)
    frame = np.random.default_rng(2).integers(0, 256, (96, 96, 3), dtype=np.uint8)  # BGR, model-sized
    expected = (frame[..., ::-1].astype(np.float64) - mean) / std  # stretch 1:1 = exact pixels
    with edgerun.Session(path) as s:
        pre = edgerun.Preprocessor.from_model(s)  # format from the metadata
        assert pre.options["format"] == "bgr" and pre.options["mean"] == mean and pre.options["std"] == std
        pre(frame, s.input(0))
        np.testing.assert_allclose(s.input(0)[0], expected, rtol=0, atol=1e-5)
    # from the path or bytes, another camera format, and an override
    pre = edgerun.Preprocessor.from_model(path.read_bytes(), "rgb", fit="letterbox")
    assert pre.options["format"] == "rgb" and pre.options["fit"] == "letterbox" and pre.options["mean"] == mean
    out = np.empty((1, 96, 96, 3), np.float32)
    pre(np.ascontiguousarray(frame[..., ::-1]), out)
    np.testing.assert_allclose(out[0], expected, rtol=0, atol=1e-5)


def test_preprocessor_from_model_int8_and_errors(tmp_path, resnet8_model):
    with pytest.raises(edgerun.ModelError, match="records no input normalization.*pass mean= and std="):
        edgerun.Preprocessor.from_model(resnet8_model, "nv12")
    pre = edgerun.Preprocessor.from_model(resnet8_model, "rgb", mean=127.5, std=127.5)
    assert pre.options["layout"] == "nhwc"
    path = tmp_path / "r8.tflite"
    edgerun.write_metadata(resnet8_model, path, mean=127.5, std=127.5)
    with pytest.raises(edgerun.InputError, match="give the camera's pixel format"):
        edgerun.Preprocessor.from_model(path)
    with edgerun.Session(path.read_bytes()) as s:  # a session opened from bytes works too
        assert edgerun.Preprocessor.from_model(s, "rgb").options["mean"] == (127.5,) * 3
    with pytest.raises(edgerun.ClosedError):
        edgerun.Preprocessor.from_model(s, "rgb")
    with edgerun.Session(path) as s:
        frame = np.random.default_rng(3).integers(0, 256, (32, 32, 3), dtype=np.uint8)
        edgerun.Preprocessor.from_model(s, "rgb")(frame, s.input(0))
        spec = s.inputs[0]
        want = np.clip(np.rint((frame - 127.5) / 127.5 / spec.scale) + spec.zero_point, -128, 127)
        assert np.abs(s.input(0)[0].astype(int) - want).max() <= 1  # one rounding step


# --------------------------------------------------------------------------- calibration frames
@pytest.mark.parametrize("fmt", ["nv12", "nv21", "i420", "yuyv", "uyvy", "bgr", "rgba", "bgra", "gray"])
def test_rgb_to_format_round_trips_through_the_preprocessor(fmt):
    # A smooth image: chroma subsampling loses little, so the camera-format frame fed
    # through the Preprocessor must land close to the RGB original.
    yy, xx = np.mgrid[0:48, 0:64]
    rgb = np.stack([40 + 3 * xx, 30 + 4 * yy, 200 - 2 * xx], axis=2).clip(0, 255).astype(np.uint8)
    frame = rgb_to_format(rgb, fmt)
    channels = "gray" if fmt == "gray" else "rgb"
    ref = np.empty((48, 64, 1 if fmt == "gray" else 3), np.float32)
    got = np.empty_like(ref)
    edgerun.Preprocessor("rgb", mean=0, std=1, channels=channels)(rgb, ref)
    edgerun.Preprocessor(fmt, mean=0, std=1, channels=channels)(frame, got)
    # Pixel units. RGB-like formats: exact up to rounding. YUV: limited-range 8-bit
    # rounding plus chroma averaged over 2x2 (4:2:0) or 2x1 (4:2:2) pixels on a
    # gradient of up to 4 levels per pixel; no bias. (Swapped U/V would be off by ~190.)
    tol = 1.0 if fmt in ("bgr", "rgba", "bgra", "gray") else 5.0
    assert np.abs(got - ref).max() <= tol
    assert abs(float(np.mean(got - ref))) <= 0.25


# --------------------------------------------------------------------------- no TensorFlow at inference
def test_import_and_inference_never_import_tensorflow(tmp_model):
    path = tmp_model(mg.builtin_image_model())
    code = ("import sys, numpy as np, edgerun\n"
            f"s = edgerun.Session({str(path)!r}); s.run(np.zeros((1, 96, 96, 3), np.float32))\n"
            f"edgerun.inspect({str(path)!r}); edgerun.read_metadata({str(path)!r})\n"
            "edgerun.Preprocessor.from_model(s, 'rgb', mean=0, std=1)\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')]\n"
            "assert not bad, bad\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def test_convert_without_tensorflow_says_what_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # import tensorflow -> ImportError
    src = tmp_path / "m.keras"
    src.write_bytes(b"not used")
    rc = cli.main(["convert", str(src), "-o", str(tmp_path / "out.tflite")])
    err = capsys.readouterr().err
    assert rc == 1
    assert err.strip() == ('edgerun: error: edgerun convert needs TensorFlow, which could not be imported: '
                           'pip install "edgerun[convert]"')
    assert not (tmp_path / "out.tflite").exists()


@pytest.mark.parametrize("args, message", [
    (["--quantize", "int8"], "quantize='int8' needs calibration data"),
    (["--quantize", "int8-io"], "quantize='int8-io' needs calibration data"),
    (["--quantize", "int8", "--io-type", "uint8", "--calibration", "x.npy"], "io_type applies to quantize='int8-io'"),
    (["--calibration", "x.npy"], "calibration data is used by int8 / int8-io only"),
    (["--quantize", "int8", "--calibration", "missing_dir"], "calibration 'missing_dir' does not exist"),
    (["--format", "rgb565"], "format: expected one of"),
    (["--mean", "127.5"], "give both mean and std"),
    (["--mean", "1,2", "--std", "1"], "mean: expected 1 or 3 values"),
    (["--labels", "missing.txt"], "cannot read labels file 'missing.txt'"),
    (["--quantize", "int8", "--calibration", "imgs"], "calibration 'imgs' holds images: give the normalization"),
    (["--validation", "imgs"], "validation 'imgs' holds images: give the normalization"),
])
def test_convert_cli_argument_errors(tmp_path, monkeypatch, capsys, args, message):
    # All found before TensorFlow is imported (tensorflow is blocked to prove it).
    monkeypatch.setitem(sys.modules, "tensorflow", None)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.npy").write_bytes(b"")
    (tmp_path / "m.keras").write_bytes(b"")
    (tmp_path / "imgs").mkdir()
    rc = cli.main(["convert", "m.keras", "-o", "out.tflite", *args])
    err = capsys.readouterr().err
    assert rc == 1 and err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "out.tflite").exists()


@pytest.mark.parametrize("source, output, message", [
    ("model.onnx", "out.tflite", "unknown model format '.onnx'"),
    ("emptydir", "out.tflite", "directory without saved_model.pb"),
    ("missing.keras", "out.tflite", "source 'missing.keras' does not exist"),
    ("m.keras", "no/such/dir/out.tflite", "folder"),
    ("m.keras", "emptydir", "it is a directory"),
])
def test_convert_cli_path_errors(tmp_path, monkeypatch, capsys, source, output, message):
    monkeypatch.setitem(sys.modules, "tensorflow", None)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.onnx").write_bytes(b"")
    (tmp_path / "m.keras").write_bytes(b"")
    (tmp_path / "emptydir").mkdir()
    rc = cli.main(["convert", source, "-o", output])
    err = capsys.readouterr().err
    assert rc == 1 and err.count("\n") == 1 and message in err, err


def test_convert_unwritable_output_folder(tmp_path, monkeypatch, capsys):
    if os.geteuid() == 0:
        pytest.skip("root can write into read-only folders")
    monkeypatch.setitem(sys.modules, "tensorflow", None)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    (tmp_path / "m.keras").write_bytes(b"")
    rc = cli.main(["convert", str(tmp_path / "m.keras"), "-o", str(ro / "out.tflite")])
    assert rc == 1 and "no permission" in capsys.readouterr().err


def test_write_atomic_leaves_nothing_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "out.tflite"
    target.write_bytes(b"old")

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(edgerun.InputError, match="No space left on device"):
        md_mod.tflite_file.write_atomic(target, b"new bytes")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.tflite"]


# =========================================================================== conversion (TensorFlow)
MODES = ("none", "dynamic", "float16", "int8", "int8-io")
# Largest allowed |converted - Keras| on the softmax outputs (probabilities) of the test CNN:
# float32 conversion: float rounding; float16 weights: ~1e-3 relative weight error; dynamic
# range: int8 weights with per-channel scales and on-the-fly int8 activations; full int8:
# int8 activations everywhere and an int8 output with a step of 1/256.
TOLERANCE = {"none": 1e-5, "float16": 2e-3, "dynamic": 0.03, "int8": 0.05, "int8-io": 0.05}


@pytest.fixture(scope="module")
def tf():
    return pytest.importorskip("tensorflow", reason='edgerun convert needs tensorflow: pip install "edgerun[convert]"')


@pytest.fixture(scope="module")
def cnn(tf, tmp_path_factory):
    """A small Keras CNN classifier saved as .keras, random calibration/validation inputs
    (.npy), a folder of PNG images and a labels file."""
    keras = tf.keras
    keras.utils.set_random_seed(7)
    d = tmp_path_factory.mktemp("cnn")
    inp = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(inp)
    x = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    x = keras.layers.Conv2D(128, 1, activation="relu")(x)  # 1024 weights: dynamic range quantizes it
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(12, name="logits")(x)
    x = keras.layers.Softmax()(x)
    model = keras.Model(inp, x)
    rng = np.random.default_rng(5)
    for layer in model.layers:  # non-zero biases (the converter would share identical zero buffers)
        if layer.get_weights():
            w, b = layer.get_weights()
            layer.set_weights([w, rng.normal(0, 0.1, b.shape).astype(np.float32)])
    dense = model.get_layer("logits")
    w, b = dense.get_weights()
    dense.set_weights([w * 6.0, b])  # decisive class scores, so that top-1 is well defined
    with warnings.catch_warnings():  # Keras' saving code calls np.array(tensor) (numpy 2 deprecation)
        warnings.simplefilter("ignore", DeprecationWarning)
        model.save(d / "cnn.keras")
    rng = np.random.default_rng(11)
    np.save(d / "calib.npy", rng.uniform(-1, 1, (24, 16, 16, 3)).astype(np.float32))
    np.save(d / "val.npy", rng.uniform(-1, 1, (20, 16, 16, 3)).astype(np.float32))
    (d / "images").mkdir()
    for i in range(6):
        img = rng.integers(0, 256, (20 + 2 * i, 24, 3), dtype=np.uint8)
        tf.io.write_file(str(d / "images" / f"img{i}.png"), tf.io.encode_png(img))
    (d / "labels.txt").write_text("".join(f"label{i}\n" for i in range(12)))
    return {"dir": d, "model": model, "keras": d / "cnn.keras", "val": np.load(d / "val.npy")}


@pytest.fixture(scope="module")
def converted(cnn):
    """mode -> (output path, report), converted once per module through the Python API."""
    done = {}

    def get(mode):
        if mode not in done:
            out = cnn["dir"] / f"cnn_{mode}.tflite"
            kw = {"calibration": cnn["dir"] / "calib.npy"} if mode.startswith("int8") else {}
            rep = edgerun.convert(cnn["keras"], out, mode, validation=cnn["dir"] / "val.npy", threads=1,
                                  runs=5, **kw)
            done[mode] = (out, rep)
        return done[mode]

    return get


def _run_edgerun(path, x):
    with edgerun.Session(path, threads=1) as s:
        spec, ospec = s.inputs[0], s.outputs[0]
        outs = []
        for sample in x:
            a = sample[None]
            if spec.dtype != np.float32:
                a = np.clip(np.rint(a / spec.scale) + spec.zero_point, *_lim(spec.dtype)).astype(spec.dtype)
            y = s.run(a, copy=True)[0].astype(np.float64)
            outs.append((y - ospec.zero_point) * ospec.scale if ospec.scale else y)
        return np.concatenate(outs)


def _keras(model, x):
    """The Keras model's outputs, one sample at a time (as the report's reference runs it)."""
    import tensorflow as tf

    return np.concatenate([model(tf.constant(x[i:i + 1]), training=False).numpy().astype(np.float64)
                           for i in range(len(x))])


def _lim(dtype):
    i = np.iinfo(dtype)
    return i.min, i.max


def _run_interpreter(path, x):
    it = Interpreter(model_path=str(path))
    it.allocate_tensors()
    ind, outd = it.get_input_details()[0], it.get_output_details()[0]
    outs = []
    for sample in x:
        a = sample[None]
        if ind["dtype"] != np.float32:
            scale, zp = ind["quantization"]
            a = np.clip(np.rint(a / scale) + zp, *_lim(ind["dtype"])).astype(ind["dtype"])
        it.set_tensor(ind["index"], a)
        it.invoke()
        y = it.get_tensor(outd["index"]).astype(np.float64)
        scale, zp = outd["quantization"]
        outs.append((y - zp) * scale if scale else y)
    return np.concatenate(outs)


@pytest.mark.parametrize("mode", MODES)
def test_convert_modes_agree_with_keras(cnn, converted, mode):
    out, rep = converted(mode)
    x = cnn["val"]
    want = _keras(cnn["model"], x)
    ours = _run_edgerun(out, x)
    theirs = _run_interpreter(out, x)
    # edgerun and the Interpreter run the same XNNPACK / reference kernels.
    step = edgerun.Session(out).outputs[0].scale or 0.0
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=max(step, 1e-6))
    err = np.abs(ours - want)
    assert err.max() <= TOLERANCE[mode], f"{mode}: max abs error {err.max():.4g}"
    # The report measured the same thing (same data, same reference), and the real file.
    a = rep.after.agreement[0]
    assert a.max_abs == pytest.approx(err.max(), abs=1e-6)
    assert a.mean_abs == pytest.approx(err.mean(), abs=1e-6)
    assert a.top1 == pytest.approx(np.mean(ours.argmax(1) == want.argmax(1)))
    snr = 10 * np.log10(np.sum(want ** 2) / np.sum((ours - want) ** 2))
    assert a.snr_db == pytest.approx(snr, abs=1e-3)
    assert rep.reference == "source model (TensorFlow)"
    assert rep.validation["samples"] == len(x) and rep.validation["kind"] == "arrays"
    assert rep.after.size == os.path.getsize(out)
    assert rep.before.agreement[0].max_abs <= TOLERANCE["none"]
    assert rep.before.latency_us > 0 and rep.after.latency_us > 0 and rep.threads == 1
    # What the mode did to the model, counted independently from the flatbuffer.
    data = out.read_bytes()
    weights = count_weights(data)
    info = edgerun.inspect(out)
    assert info.weights == weights
    if mode == "none":
        assert set(weights) <= {"float32", "int32"}
        assert weights["float32"] == 4 * cnn["model"].count_params()
    elif mode == "float16":
        assert weights["float16"] > 0 and "DEQUANTIZE" in count_ops(data)
    else:
        assert weights["int8"] > 0
    io_dtype = {"int8-io": "int8"}.get(mode, "float32")
    assert info.inputs[0].dtype == io_dtype and info.outputs[0].dtype == io_dtype
    if mode == "int8":
        assert {"QUANTIZE", "DEQUANTIZE"} <= set(count_ops(data))
    if mode.startswith("int8"):
        assert rep.after.off_xnnpack == ["SOFTMAX"]  # int8 softmax: reference kernel
        assert rep.calibration == {"source": str(cnn["dir"] / "calib.npy"), "kind": "arrays", "samples": 24}
    else:
        assert rep.after.off_xnnpack == [] and rep.calibration is None


def test_convert_int8_uint8_io(cnn, tmp_path):
    out = tmp_path / "u8.tflite"
    rep = edgerun.convert(cnn["keras"], out, "int8-io", io_type="uint8", calibration=cnn["dir"] / "calib.npy",
                          samples=8, runs=3)
    assert rep.io_type == "uint8" and rep.calibration["samples"] == 8
    with edgerun.Session(out) as s:
        assert s.inputs[0].dtype == np.uint8 and s.outputs[0].dtype == np.uint8
    x = cnn["val"][:6]
    want = _keras(cnn["model"], x)
    assert np.abs(_run_edgerun(out, x) - want).max() <= TOLERANCE["int8-io"]


def test_convert_cli_images_metadata_report(cnn, tmp_path):
    out, report = tmp_path / "cls.tflite", tmp_path / "report.json"
    r = _run_cli("convert", cnn["keras"], "-o", out, "--quantize", "int8", "--calibration", cnn["dir"] / "images",
                 "--format", "nv12", "--mean", "127.5", "--std", "127.5", "--fit", "letterbox",
                 "--labels", cnn["dir"] / "labels.txt", "--name", "tiny-cnn", "--model-version", "1.2",
                 "--report", report, "--runs", "5", "--threads", "1")
    assert r.returncode == 0, r.stderr
    assert "calibration: 6/6 samples" in r.stderr  # the progress bar's final line
    assert "Traceback" not in r.stderr
    doc = json.loads(report.read_text())
    assert doc["schema"] == "edgerun.convert/1" and doc["quantize"] == "int8"
    assert doc["calibration"] == {"source": str(cnn["dir"] / "images"), "kind": "images", "samples": 6}
    assert doc["validation"]["source"] == "calibration data"
    assert doc["after"]["size"] == os.path.getsize(out)
    assert doc["before"]["size"] > doc["after"]["size"]
    assert doc["after"]["off_xnnpack"] == ["SOFTMAX"] and doc["threads"] == 1 and doc["runs"] == 5
    assert set(doc["versions"]) == {"edgerun", "tensorflow", "ai_edge_litert"}
    table = r.stdout.splitlines()
    assert table[0] == f"{cnn['keras']} -> {out}  (int8, float I/O)"
    assert any(ln.split()[:1] == ["size"] for ln in table)
    assert any(ln.strip().startswith("top-1 agreement [output_0]") for ln in table)
    # metadata written into the model, and picked up by the Preprocessor
    m = edgerun.read_metadata(out)
    assert (m.name, m.version, m.format, m.fit, m.layout) == ("tiny-cnn", "1.2", "nv12", "letterbox", "nhwc")
    assert m.mean == (127.5,) * 3 and m.labels == tuple(f"label{i}" for i in range(12))
    assert doc["metadata"]["labels"] == list(m.labels)
    with edgerun.Session(out) as s:
        pre = edgerun.Preprocessor.from_model(s)
        assert (pre.options["format"], pre.options["fit"], pre.options["mean"]) == ("nv12", "letterbox", (127.5,) * 3)
    # The calibration went through the Preprocessor: the images, fed the same way, land in
    # the range the int8 input was calibrated for ([-1, 1] -> scale ~2/255).
    info = edgerun.inspect(out)
    assert info.inputs[0].dtype == "float32"
    m = md_mod.tflite_file.unpack(out.read_bytes())
    sg = m.subgraphs[0]
    quantize_ops = [op for op in sg.operators
                    if m.operatorCodes[op.opcodeIndex].builtinCode == schema.BuiltinOperator.QUANTIZE
                    and op.inputs[0] == sg.inputs[0]]
    assert len(quantize_ops) == 1
    qin = sg.tensors[quantize_ops[0].outputs[0]].quantization
    assert float(qin.scale[0]) == pytest.approx(2 / 255, rel=0.05)


def test_inspect_activation_peak_and_weights_vs_keras(tf, tmp_path):
    keras = tf.keras
    a, h, c = 8, 16, 4
    model = keras.Sequential([keras.Input((a,), batch_size=1), keras.layers.Dense(h, activation="relu"),
                              keras.layers.Dense(c)])  # relu: else the converter folds bias 1 into bias 2
    rng = np.random.default_rng(3)  # non-zero biases: the converter drops / shares zero ones
    model.set_weights([rng.normal(size=w.shape).astype(np.float32) for w in model.get_weights()])
    out = tmp_path / "mlp.tflite"
    edgerun.convert(model, out, runs=2)
    info = edgerun.inspect(out)
    assert info.operators == {"FULLY_CONNECTED": 2}
    assert info.weights == {"float32": 4 * model.count_params()}
    # Liveness: op 0 holds input + hidden, op 1 hidden + output; nothing else is live.
    assert info.activations_peak == 4 * max(a + h, h + c)
    assert info.activations_total == 4 * (a + h + c)


@pytest.fixture(scope="module")
def saved_models(tf, tmp_path_factory):
    d = tmp_path_factory.mktemp("saved")

    class Linear(tf.Module):
        def __init__(self):
            self.w = tf.Variable(np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3))

        @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32)])
        def __call__(self, x):
            return {"y": tf.matmul(x, self.w)}

    class Svd(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([1, 4, 4], tf.float32)])
        def __call__(self, x):
            return {"s": tf.linalg.svd(x, compute_uv=False)}

    lin, svd = Linear(), Svd()
    tf.saved_model.save(lin, str(d / "linear"), signatures=lin.__call__)
    tf.saved_model.save(svd, str(d / "svd"), signatures=svd.__call__)
    return d


def test_convert_saved_model(saved_models, tmp_path):
    out = tmp_path / "lin.tflite"
    rep = edgerun.convert(saved_models / "linear", out, "float16", runs=3)
    assert rep.source_kind == "saved_model" and rep.reference == "source model (TensorFlow)"
    assert rep.after.agreement[0].name == "y" and rep.after.agreement[0].max_abs <= 1e-3
    assert rep.validation["kind"] == "synthetic inputs"
    x = np.array([[1.0, -2.0, 0.5, 3.0]], np.float32)
    w = np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)
    with edgerun.Session(out) as s:
        np.testing.assert_allclose(s.run(x)[0], x @ w, rtol=0, atol=2e-3)  # float16 weights


def test_convert_unconvertible_model_is_one_line_and_leaves_nothing(saved_models, tmp_path):
    out = tmp_path / "svd.tflite"
    r = _run_cli("convert", saved_models / "svd", "-o", out)
    assert r.returncode == 1, r.stdout
    err = [ln for ln in r.stderr.splitlines() if ln.startswith("edgerun:")]
    assert len(err) == 1 and "Traceback" not in r.stderr
    assert "TensorFlow could not convert" in err[0] and "Svd" in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    r = _run_cli("convert", saved_models / "svd", "-o", out, "--prune", "0.5")
    assert r.returncode == 1 and "work on Keras models" in r.stderr


def test_convert_bad_keras_file_and_bad_labels(cnn, tmp_path):
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"PK\x03\x04 this is not a keras archive")
    with pytest.raises(edgerun.ModelError, match="cannot load Keras model"):
        edgerun.convert(bad, tmp_path / "o.tflite")
    labels = tmp_path / "three.txt"
    labels.write_text("a\nb\nc\n")
    with pytest.raises(edgerun.InputError, match="3 labels given, but the model's output 'output_0' has 12 classes"):
        edgerun.convert(cnn["keras"], tmp_path / "o.tflite", metadata={"labels": labels})
    with pytest.raises(edgerun.InputError, match=r"expects samples of shape \[16, 16, 3\]"):
        np.save(tmp_path / "wrong.npy", np.zeros((4, 8, 8, 3), np.float32))
        edgerun.convert(cnn["keras"], tmp_path / "o.tflite", "int8", calibration=tmp_path / "wrong.npy")
    with pytest.raises(edgerun.InputError, match="holds images: give the normalization"):
        edgerun.convert(cnn["keras"], tmp_path / "o.tflite", "int8", calibration=cnn["dir"] / "images")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.keras", "three.txt", "wrong.npy"]


def test_prune_and_cluster_need_tfmot(cnn, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow_model_optimization", None)
    for kw, flag in (({"prune": 0.5}, "--prune"), ({"cluster": 8}, "--cluster")):
        with pytest.raises(edgerun.DependencyError,
                           match=f"{flag} needs tensorflow-model-optimization.*pip install tensorflow-model-optimization tf-keras"):
            edgerun.convert(cnn["keras"], tmp_path / "o.tflite", **kw)
    assert not (tmp_path / "o.tflite").exists()


def test_prune_and_cluster_with_tfmot(cnn, tmp_path):
    pytest.importorskip("tensorflow_model_optimization",
                        reason="--prune/--cluster need tensorflow-model-optimization (and tf-keras)")
    out = tmp_path / "pc.tflite"
    rep = edgerun.convert(cnn["keras"], out, prune=0.5, cluster=8, validation=cnn["dir"] / "val.npy", runs=3)
    assert rep.optimizations["prune"]["achieved"] == pytest.approx(0.5, abs=0.01)
    assert rep.optimizations["cluster"]["clusters"] == 8
    # Every kernel of the output: half zeros, at most 8 distinct values (zero among them).
    m = _raw(out.read_bytes())
    sg = m.Subgraphs(0)
    kernels = 0
    for t in range(sg.TensorsLength()):
        tensor = sg.Tensors(t)
        if tensor.ShapeLength() >= 2 and tensor.Type() == 0 and tensor.Buffer():
            buf = m.Buffers(tensor.Buffer())
            if buf.DataLength():
                w = np.frombuffer(buf.DataAsNumpy().tobytes(), np.float32)
                assert np.mean(w == 0) == pytest.approx(0.5, abs=0.01) and len(np.unique(w)) <= 8
                kernels += 1
    assert kernels == 4
    # Agreement is against the model as given (not the pruned one): pruning costs accuracy.
    assert rep.after.agreement[0].max_abs > 1e-3 and rep.before.agreement[0].max_abs <= TOLERANCE["none"]


def test_convert_integer_input_model(tf, tmp_path):
    keras = tf.keras
    keras.utils.set_random_seed(4)
    inp = keras.Input((5,), dtype="int32", batch_size=1)
    x = keras.layers.Embedding(10, 3)(inp)
    x = keras.layers.Flatten()(x)
    model = keras.Model(inp, keras.layers.Dense(2)(x))
    rep = edgerun.convert(model, tmp_path / "emb.tflite", "float16", runs=2)
    assert rep.validation["kind"] == "synthetic inputs" and "integers in 0..9" in rep.validation["source"]
    assert rep.after.agreement[0].max_abs <= 1e-2  # float16 weights
    with edgerun.Session(tmp_path / "emb.tflite") as s:
        assert s.inputs[0].dtype == np.int32
        ids = np.array([[1, 2, 3, 4, 9]], np.int32)
        np.testing.assert_allclose(s.run(ids)[0], model(tf.constant(ids)).numpy(), rtol=0, atol=1e-2)


def test_convert_two_outputs_matched_by_name(tf, tmp_path):
    # The converter orders the subgraph outputs differently from the Keras outputs; the
    # signature names (output_0, output_1) tie them together.
    keras = tf.keras
    keras.utils.set_random_seed(9)
    inp = keras.Input((6,), batch_size=1)
    h = keras.layers.Dense(8, activation="relu")(inp)
    model = keras.Model(inp, [keras.layers.Dense(5)(h), keras.layers.Dense(2)(h)])
    np.save(tmp_path / "v.npy", np.random.default_rng(0).uniform(-1, 1, (7, 6)).astype(np.float32))
    rep = edgerun.convert(model, tmp_path / "two.tflite", validation=tmp_path / "v.npy", runs=2)
    assert rep.reference == "source model (TensorFlow)"
    assert {a.name: a.shape for a in rep.after.agreement} == {"output_0": (1, 5), "output_1": (1, 2)}
    assert all(a.max_abs <= 1e-5 for a in rep.after.agreement)
    assert [a.top1 is not None for a in rep.after.agreement] == [True, True]


def test_session_model_info_uses_the_metadata(tmp_path, blazeface_model):
    # The pipeline's result provenance (Session.model_info) reads name/version through
    # edgerun.read_metadata: edgerun's entry and the TFLite Metadata standard.
    path = tmp_path / "named.tflite"
    edgerun.write_metadata(mg.builtin_image_model(input_size=32), path, name="door-cam", version="3.1")
    with edgerun.Session(path) as s:
        assert (s.model_info.name, s.model_info.version) == ("door-cam", "3.1")
    with edgerun.Session(blazeface_model) as s:
        assert s.model_info.name == "Short Range Face Detection" and s.model_info.version is None


# --------------------------------------------------------------------------- edgerun bench --pipeline
_STAT_KEYS = {"p50", "p90", "p99", "min", "max", "mean", "std"}


def _bench(tmp_path, *args, env=None, timeout=300):
    out = tmp_path / "r.json"
    r = subprocess.run([sys.executable, "-m", "edgerun", "bench", "--pipeline", "--warmup", "2",
                        *map(str, args), "-o", str(out)], capture_output=True, text=True, timeout=timeout,
                       env=env)
    assert r.returncode == 0, r.stderr
    return json.loads(out.read_text()), r


def _check_mode(mode: dict, frames: int, stages=("preprocess", "invoke", "decode", "total")) -> None:
    assert mode["frames"] == frames
    for k in ("t",) + tuple(edgerun.tools.bench.STAGES):
        assert len(mode["samples"][k]) == frames, k
    for st in stages:
        s = mode["stages"][st]
        assert set(s) == _STAT_KEYS
        x = np.asarray(mode["samples"][st])
        # independent reference: NumPy over the kept samples (rounded to 1 ns in the file)
        np.testing.assert_allclose([s["p50"], s["p90"], s["p99"], s["min"], s["max"], s["mean"], s["std"]],
                                   [*np.percentile(x, [50, 90, 99]), x.min(), x.max(), x.mean(), x.std()],
                                   rtol=1e-4, atol=1e-5)
        assert 0 <= s["min"] <= s["p50"] <= s["p90"] <= s["p99"] <= s["max"], (st, s)
    tot = np.asarray(mode["samples"]["total"])
    parts = sum(np.asarray(mode["samples"][k]) for k in ("preprocess", "invoke", "decode"))
    # end to end is measured around the call, so it holds every stage (1 us of rounding slack)
    assert np.all(tot >= parts - 1e-3), (tot - parts).min()
    assert np.all(np.diff(mode["samples"]["t"]) >= 0)  # in frame order (results come back in order)
    assert mode["fps"] > 0


def test_bench_pipeline_builtin_model_json(tmp_path):
    import edgerun.tools.bench  # noqa: F401  (STAGES)

    frames = 30
    doc, r = _bench(tmp_path, "--frames", frames, "--rounds", 3, "--format", "nv12", "--source", "320x240",
                    "--fit", "letterbox", "--compare-anchor")
    assert doc["format"] == "nv12" and doc["source"] == [320, 240] and doc["fit"] == "letterbox"
    assert doc["peak_rss_bytes"] > 10 * 2**20
    (c,) = doc["configs"]
    assert c["head"] == "classifier" and c["input"]["shape"] == [1, 96, 96, 3]
    try:
        import cv2  # noqa: F401
        modes = {"sync", "async", "anchor"}
    except ImportError:
        modes = {"sync", "async"}
        assert "not installed" in c["anchor_error"]
    assert set(c["modes"]) == modes
    for m in modes:
        _check_mode(c["modes"][m], frames)
    a = c["modes"]["async"]
    assert a["drop"] == "none" and a["dropped"] == 0 and a["submitted"] == frames
    assert all(q >= 0 for q in a["samples"]["queue"])
    assert c["modes"]["sync"]["samples"]["queue"] == [0.0] * frames
    # piped: the table on stdout, no progress bar on stderr
    assert "sync FPS" in r.stdout and "peak RSS" in r.stdout
    assert "frame/s" not in r.stderr and "%|" not in r.stderr


def test_bench_pipeline_models_and_threads_interleaved_csv(tmp_path, tmp_model):
    import edgerun.tools.bench  # noqa: F401

    a = tmp_model(mg.builtin_image_model(dtype="int8"), "int8.tflite")
    b = tmp_model(mg.image_mean_model(size=16, dynamic_batch=False), "mean.tflite")
    frames = 12
    doc, r = _bench(tmp_path, a, b, "--threads", "1,2", "--frames", frames, "--rounds", 4, "--format", "yuyv",
                    "--source", "64x48", "--head", "none")
    got = [(c["model"], c["threads"]) for c in doc["configs"]]
    assert got == [("int8.tflite", 1), ("int8.tflite", 2), ("mean.tflite", 1), ("mean.tflite", 2)]
    assert doc["rounds"] == 4
    for c in doc["configs"]:
        assert c["head"] == "none"
        for m in ("sync", "async"):
            _check_mode(c["modes"][m], frames)
            assert len(c["modes"][m]["fps_per_round"]) == 4  # 3 frames per round: every round ran each one
    # interleaved: each configuration's sync samples span the run, not one block of it
    starts = [c["modes"]["sync"]["samples"]["t"][0] for c in doc["configs"]]
    ends = [c["modes"]["sync"]["samples"]["t"][-1] for c in doc["configs"]]
    assert max(starts) < min(ends)
    table = r.stdout.splitlines()
    summary = [ln.split() for ln in table if ln.startswith("  int8.tflite") or ln.startswith("  mean.tflite")]
    assert [(row[0], row[1]) for row in summary] == [("int8.tflite", "1"), ("int8.tflite", "2"),
                                                     ("mean.tflite", "1"), ("mean.tflite", "2")]
    # CSV: one row per frame and mode, the same numbers as the JSON
    out = tmp_path / "r.csv"
    r = subprocess.run([sys.executable, "-m", "edgerun", "bench", "--pipeline", str(a), "--frames", "5",
                        "--warmup", "0", "--rounds", "2", "-o", str(out)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    import csv

    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 2 * 5
    assert {row["mode"] for row in rows} == {"sync", "async"}
    assert set(rows[0]) == {"model", "threads", "accelerator", "mode", "frame", "t_s", "queue_ms", "preprocess_ms",
                            "invoke_ms", "decode_ms", "total_ms"}
    assert all(float(row["total_ms"]) > 0 for row in rows)


def test_bench_pipeline_camera_rate_counts_every_frame(tmp_path):
    doc, _ = _bench(tmp_path, "--frames", 20, "--rounds", 2, "--source", "160x120", "--source-fps", 400)
    a = doc["configs"][0]["modes"]["async"]
    assert doc["source_fps"] == 400 and a["drop"] == "oldest"
    # every submitted frame either came back or was counted as dropped
    assert a["submitted"] == 20 and a["frames"] + a["dropped"] == 20


def test_bench_pipeline_duration(tmp_path):
    doc, _ = _bench(tmp_path, "--duration", "1", "--batch", 5, "--source", "160x120")
    c = doc["configs"][0]
    assert 1.0 <= doc["duration_s"] < 30
    n = c["modes"]["sync"]["frames"]
    assert n >= 5 and n % 5 == 0 and c["modes"]["async"]["frames"] == n


def test_bench_pipeline_plot(tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "p.png"
    r = _run_cli("bench", "--pipeline", "--frames", 10, "--warmup", 1, "--rounds", 2, "--source", "160x120",
                 "--plot", png)
    assert r.returncode == 0, r.stderr
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20000
    assert f"plot: {png}" in r.stdout


def test_bench_pipeline_plot_without_matplotlib(tmp_path):
    fake = tmp_path / "fake"
    (fake / "matplotlib").mkdir(parents=True)
    (fake / "matplotlib" / "__init__.py").write_text("raise ImportError('no matplotlib here')\n")
    env = dict(os.environ, PYTHONPATH=str(fake))
    r = subprocess.run([sys.executable, "-m", "edgerun", "bench", "--pipeline", "--plot", str(tmp_path / "p.png")],
                       capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 1
    assert "--plot needs matplotlib: pip install 'edgerun[plot]'" in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "p.png").exists()


@pytest.mark.parametrize("args, message", [
    (["--pipeline", "--format", "nv12", "--source", "321x240"], "nv12 frames need an even width and height"),
    (["--pipeline", "-o", "r.txt"], "expected a .json or .csv file name"),
    (["--pipeline", "--head", "ssd"], "--head ssd: expected two outputs"),
    (["--threads", "1,2"], "need --pipeline"),
    (["--plot", "p.png"], "add --pipeline"),
    (["--pipeline", "--source", "big"], "expected WIDTHxHEIGHT"),
    (["--pipeline", "--threads", "1,0"], "expected a positive integer or a list"),
    (["--pipeline", "--duration", "0"], "expected a positive number"),
    (["--pipeline", "--source-fps", "-5"], "expected a positive number"),
])
def test_bench_pipeline_argument_errors(tmp_path, args, message):
    r = subprocess.run([sys.executable, "-m", "edgerun", "bench", *args], capture_output=True, text=True,
                       timeout=120, cwd=tmp_path)
    assert r.returncode != 0
    assert message in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_bench_pipeline_heads_of_real_models(tmp_path, blazeface_model):
    from edgerun.tools import bench

    s = edgerun.Session(blazeface_model)
    assert bench.auto_head_name(s) == "blazeface"
    head, layout = bench.ssd_head(s)  # the same anchors as the BlazeFace head, found by count
    np.testing.assert_array_equal(head.bind(s).anchors, edgerun.heads.BlazeFace().bind(s).anchors)
    assert layout.startswith("mediapipe 4 layers")
    doc, r = _bench(tmp_path, blazeface_model, "--frames", 10, "--rounds", 2, "--format", "i420",
                    "--source", "640x480", "--fit", "crop")
    c = doc["configs"][0]
    assert c["head"] == "blazeface" and c["model"] == blazeface_model.name
    _check_mode(c["modes"]["sync"], 10)


def test_bench_anchor_loop_does_the_same_work(blazeface_model, face_photo):
    """The --compare-anchor loop (OpenCV + NumPy) must compute what the edgerun pipeline
    computes, or the ratio means nothing: same input tensor (within resampling
    differences) and the same face on a real photo."""
    cv2 = pytest.importorskip("cv2")
    from edgerun.tools import bench

    img = cv2.imread(str(face_photo))  # 512x512 BGR, one face
    frame = np.ascontiguousarray(cv2.resize(img, (640, 480), interpolation=cv2.INTER_AREA))
    s = edgerun.Session(blazeface_model, threads=1)
    pre = edgerun.Preprocessor("bgr", mean=127.5, std=127.5)
    head = edgerun.heads.BlazeFace().bind(s)
    anchor = bench.AnchorLoop(str(blazeface_model), 1, "bgr", pre._impl.spec.to_dict(), "blazeface", head)
    assert anchor.decoder == "numpy sigmoid + box decoding + NMS"
    x_anchor = anchor.preprocess(frame)
    x_edgerun = np.zeros((1, 128, 128, 3), np.float32)
    pre(frame, x_edgerun)
    assert x_anchor.shape == x_edgerun.shape
    # both bilinear, sampling grids may differ by rounding: a few pixel levels at most
    assert np.abs(x_anchor - x_edgerun).mean() < 2.0 / 127.5
    anchor.invoke(x_anchor)
    faces = anchor.decode()
    with edgerun.Pipeline(s, pre, edgerun.heads.BlazeFace()) as pipe:
        dets = pipe(frame).output
    assert len(faces) == 1 and len(dets) == 1
    box = faces[0, :4] * [640, 480, 640, 480]  # normalized (stretch) -> source pixels
    assert bench_iou(box, dets.boxes[0]) > 0.8, (box, dets.boxes[0])


def bench_iou(a, b) -> float:
    x1, y1, x2, y2 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@pytest.fixture(scope="session")
def palm_model():
    import realmodels

    return realmodels.palm_detection_path()


def test_bench_ssd_head_of_a_real_ssd_model(tmp_path, palm_model):
    """`--head auto` on MediaPipe palm detection (raw SSD outputs, 2016 anchors) picks the
    SSD head with the anchor layout whose count matches; its decoding agrees with the anchor
    loop's independent NumPy decoder on planted boxes."""
    from edgerun.tools import bench

    s = edgerun.Session(palm_model, threads=1)
    assert bench.auto_head_name(s) == "ssd"
    head, layout = bench.ssd_head(s)
    assert layout.startswith("mediapipe 4 layers") and head.bind(s).anchors.shape == (2016, 4)
    # MediaPipe's palm anchors: 24x24 cells x 2 + 12x12 cells x 6, centres at (i + 0.5) / n
    a = head.anchors
    np.testing.assert_allclose(a[:2, :2], [[0.5 / 24, 0.5 / 24]] * 2)
    np.testing.assert_allclose(a[1152, :2], [0.5 / 12, 0.5 / 12])
    np.testing.assert_allclose(a[:, 2:], 1.0)
    reg = np.zeros((1, 2016, 18), np.float32)
    logits = np.full((1, 2016, 1), -20.0, np.float32)
    for i, (dx, dy, w, h) in {100: (3, -2, 30, 40), 700: (0, 5, 20, 20), 1500: (-4, 1, 50, 35)}.items():
        reg[0, i, :4] = dx, dy, w, h
        logits[0, i, 0] = 4.0
    outs = [reg, logits] if s.outputs[0].shape[-1] == 18 else [logits, reg]
    dets = head(outs)
    pytest.importorskip("cv2")
    anchor = bench.AnchorLoop(str(palm_model), 1, "rgb", {"mean": 0.0, "std": 255.0}, "ssd", head)
    assert anchor.mediapipe and anchor.decoder == "numpy sigmoid + box decoding + NMS"
    anchor._deq = lambda i: outs[i]
    ref = anchor.decode()
    assert len(dets) == len(ref) == 3
    order = np.argsort(ref[:, 0])
    got = dets.boxes[np.argsort(dets.boxes[:, 0])]
    np.testing.assert_allclose(got, ref[order, :4] * 192, atol=1e-3)
    np.testing.assert_allclose(np.sort(dets.scores), np.sort(ref[:, 4]), atol=1e-5)
    doc, r = _bench(tmp_path, palm_model, "--frames", 6, "--rounds", 2, "--source", "320x240", "--format", "nv21")
    assert doc["configs"][0]["head"] == "ssd"


def test_bench_anchor_failure_is_reported_not_raised(tmp_path, monkeypatch, capsys):
    """When the Interpreter cannot run the model (custom ops, Edge TPU models ...) the
    comparison is skipped with the reason; edgerun's own numbers still come out."""
    pytest.importorskip("cv2")
    from edgerun.tools import bench

    class Refusing(bench.AnchorLoop):
        def __init__(self, *a, **k):
            raise RuntimeError("Encountered unresolved custom op: edgetpu-custom-op")

    monkeypatch.setattr(bench, "AnchorLoop", Refusing)
    out = tmp_path / "r.json"
    assert cli.main(["bench", "--pipeline", "--compare-anchor", "--frames", "4", "--warmup", "0", "--rounds", "1",
                     "--source", "64x48", "-o", str(out)]) == 0
    c = json.loads(out.read_text())["configs"][0]
    assert set(c["modes"]) == {"sync", "async"}
    assert "Interpreter failed: RuntimeError: Encountered unresolved custom op" in c["anchor_error"]
    assert "anchor loop skipped" in capsys.readouterr().out
