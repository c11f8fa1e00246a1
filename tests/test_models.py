"""tests/models.py and edgerun.model.builder: every generated model loads in both LiteRT Python APIs
(classic Interpreter and CompiledModel, the runtime our engine drives) and
computes what its docstring says, checked against NumPy."""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pytest

import models as mg

interpreter_mod = pytest.importorskip("ai_edge_litert.interpreter")
from ai_edge_litert import schema_py_generated as schema  # noqa: E402
from ai_edge_litert.compiled_model import CompiledModel  # noqa: E402

Interpreter = interpreter_mod.Interpreter


def interp(data: bytes, threads: int = 1) -> "Interpreter":
    it = Interpreter(model_content=data, num_threads=threads)
    it.allocate_tensors()
    return it


def cm_run(model, feeds: dict, key: str | None = None) -> dict:
    """Run one signature of a CompiledModel (or model bytes) on named inputs."""
    cm = model if isinstance(model, CompiledModel) else CompiledModel.from_buffer(model)
    sigs = cm.get_signature_list()
    key = key or next(iter(sigs))
    idx = cm.get_signature_index(key)
    ins, outs = cm.create_input_buffers(idx), cm.create_output_buffers(idx)
    for name, tb in zip(sigs[key]["inputs"], ins):
        tb.write(np.ascontiguousarray(feeds[name]))
    cm.run_by_index(idx, ins, outs)
    details = cm.get_output_tensor_details(key)
    result = {}
    for name, tb in zip(sigs[key]["outputs"], outs):
        d = details[name]
        result[name] = tb.read(math.prod(d["shape"]), d["dtype"]).reshape(d["shape"])
    return result


def unpack(data: bytes):
    return schema.ModelT.InitFromPackedBuf(bytearray(data), 0)


ALL_MODELS = {
    "builtin_f32": lambda: mg.builtin_image_model(),
    "builtin_i8": lambda: mg.builtin_image_model(dtype="int8"),
    "add_f32": lambda: mg.add_model(),
    "add_i8": lambda: mg.add_model(dtype="int8"),
    "add_u8": lambda: mg.add_model(dtype="uint8"),
    "add_i32": lambda: mg.add_model(dtype="int32"),
    "add_nosig": lambda: mg.add_model(signature=False),
    "identity": lambda: mg.identity_model((1, 8, 8, 3), "uint8"),
    "dynamic_batch": mg.dynamic_batch_model,
    "two_signature": mg.two_signature_model,
    "multi_io": mg.multi_io_model,
    "stateful_counter": mg.stateful_counter_model,
    "custom_op": mg.custom_op_model,
    "gather": mg.gather_model,
    "slow": lambda: mg.slow_model(10),
}


# --------------------------------------------------------------------------- structure


@pytest.mark.parametrize("name", sorted(ALL_MODELS))
def test_structure(name):
    data = ALL_MODELS[name]()
    assert isinstance(data, bytes) and data[4:8] == b"TFL3"
    assert ALL_MODELS[name]() == data, "not deterministic"
    m = unpack(data)  # a full walk of the flatbuffer through the schema
    assert m.version == 3 and len(m.buffers[0].data if m.buffers[0].data is not None else []) == 0
    for sg in m.subgraphs:
        n = len(sg.tensors)
        for op in sg.operators:
            assert all(-1 <= i < n for i in list(op.inputs) + list(op.outputs))
            assert 0 <= op.opcodeIndex < len(m.operatorCodes)
        for t in sg.tensors:
            assert 0 <= t.buffer < len(m.buffers)
    # constant buffers start on 16-byte boundaries (as the TFLite converter writes them)
    root = schema.Model.GetRootAs(data, 0)
    for i in range(1, root.BuffersLength()):
        buf = root.Buffers(i)
        if buf.DataLength():
            start = buf._tab.Vector(buf._tab.Offset(4))
            assert start % 16 == 0, (i, start)


# --------------------------------------------------------------------------- add / identity


@pytest.mark.parametrize("dtype", ["float32", "int32", "int8", "uint8"])
def test_add_model(dtype):
    shape = (2, 5)
    data = mg.add_model(shape, dtype)
    c = mg.add_constant(shape, dtype)
    rng = np.random.default_rng(1)
    if dtype == "float32":
        x = rng.standard_normal(shape).astype(np.float32)
        expected = x + c
    elif dtype == "int32":
        x = rng.integers(-1000, 1000, shape, dtype=np.int32)
        expected = x + c
    else:
        info = np.iinfo(dtype)
        zp = int(mg._ADD_QUANT[dtype].zero_point[0])
        x = rng.integers(info.min, info.max + 1, shape).astype(dtype)
        x.flat[:2] = [info.max, info.min]  # saturation at both ends
        expected = np.clip(x.astype(np.int64) + c - zp, info.min, info.max).astype(dtype)
    it = interp(data)
    assert it.get_signature_list() == {"serving_default": {"inputs": ["x"], "outputs": ["y"]}}
    d = it.get_input_details()[0]
    assert d["dtype"] == np.dtype(dtype) and tuple(d["shape"]) == shape
    if dtype in ("int8", "uint8"):
        q = mg._ADD_QUANT[dtype]
        assert d["quantization"] == (pytest.approx(q.scale[0]), q.zero_point[0])
    y = it.get_signature_runner("serving_default")(x=x)["y"]
    np.testing.assert_array_equal(y, expected)
    np.testing.assert_array_equal(cm_run(data, {"x": x})["y"], expected)


def test_add_model_without_signature():
    data = mg.add_model(signature=False)
    assert unpack(data).signatureDefs is None
    it = interp(data)
    assert it.get_signature_list() == {}
    x = np.arange(8, dtype=np.float32).reshape(1, 8)
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    expected = x + mg.add_constant((1, 8))
    np.testing.assert_array_equal(it.get_tensor(it.get_output_details()[0]["index"]), expected)
    # LiteRT makes up a default signature (named "<placeholder signature>" in 2.3.0)
    cm = CompiledModel.from_buffer(data)
    assert cm.get_num_signatures() == 1
    np.testing.assert_array_equal(cm_run(cm, {"x": x})["y"], expected)


@pytest.mark.parametrize("dtype", ["float32", "float16", "int8", "uint8", "int16", "int32", "int64", "bool"])
def test_identity_model(dtype):
    shape = (1, 7, 5, 3)
    quant = mg.Quant(1 / 255, 0) if dtype == "uint8" else None
    data = mg.identity_model(shape, dtype, quant)
    rng = np.random.default_rng(2)
    if np.dtype(dtype).kind == "f":
        x = rng.standard_normal(shape).astype(dtype)
    elif dtype == "bool":
        x = rng.integers(0, 2, shape).astype(bool)
    else:
        info = np.iinfo(dtype)
        x = rng.integers(info.min, info.max, shape, endpoint=True).astype(dtype)
    it = interp(data)
    np.testing.assert_array_equal(it.get_signature_runner()(input=x)["output"], x)
    if dtype not in ("int16", "int64"):  # not in the CompiledModel Python TensorBuffer (2.3.0)
        np.testing.assert_array_equal(cm_run(data, {"input": x})["output"], x)
    if quant is not None:
        assert it.get_input_details()[0]["quantization"] == (pytest.approx(1 / 255), 0)


# --------------------------------------------------------------------------- shapes & signatures


def test_dynamic_batch_model():
    data = mg.dynamic_batch_model()
    it = interp(data)
    d = it.get_input_details()[0]
    assert list(d["shape"]) == [1, 4] and list(d["shape_signature"]) == [-1, 4]
    runner = it.get_signature_runner()
    for batch in (1, 3, 7):
        x = np.random.default_rng(batch).standard_normal((batch, 4)).astype(np.float32)
        np.testing.assert_allclose(runner(x=x)["y"], x * 2 + 1, rtol=1e-6, atol=1e-6)
    # the CompiledModel resize path (what the engine uses)
    cm = CompiledModel.from_buffer(data)
    cm.resize_input_tensor(0, [3, 4])
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.testing.assert_allclose(cm_run(cm, {"x": x})["y"], x * 2 + 1, rtol=1e-6)


def test_two_signature_model():
    data = mg.two_signature_model()
    it = interp(data)
    assert it.get_signature_list() == {
        "add_one": {"inputs": ["x"], "outputs": ["y"]},
        "times_two": {"inputs": ["a"], "outputs": ["b"]},
    }
    x = np.array([[1.5, -2, 0, 7]], np.float32)
    a = np.array([3, -4, 100], np.int32)
    np.testing.assert_array_equal(it.get_signature_runner("add_one")(x=x)["y"], x + 1)
    np.testing.assert_array_equal(it.get_signature_runner("times_two")(a=a)["b"], a * 2)
    cm = CompiledModel.from_buffer(data)
    assert cm.get_num_signatures() == 2 and cm.get_signature_index("times_two") == 1
    np.testing.assert_array_equal(cm_run(cm, {"a": a}, "times_two")["b"], a * 2)
    np.testing.assert_array_equal(cm_run(cm, {"x": x}, "add_one")["y"], x + 1)


def test_multi_io_model():
    data = mg.multi_io_model()
    values = np.arange(6, dtype=np.float32).reshape(2, 3) - 2.5
    counts = np.array([1, -2, 3, 40000, -5], np.int32)
    expected = {"scaled": values * 0.5 + 1, "tripled": counts * 3}
    it = interp(data)
    # subgraph order: values, counts; SignatureDef order: counts, values
    assert [d["name"] for d in it.get_input_details()] == ["serving_default_values:0", "serving_default_counts:0"]
    assert [s.name for s in unpack(data).signatureDefs[0].inputs] == [b"counts", b"values"]
    out = it.get_signature_runner()(values=values, counts=counts)
    cm_out = cm_run(data, {"values": values, "counts": counts})
    for name, exp in expected.items():
        assert out[name].dtype == exp.dtype and cm_out[name].dtype == exp.dtype
        np.testing.assert_array_equal(out[name], exp)
        np.testing.assert_array_equal(cm_out[name], exp)


# --------------------------------------------------------------------------- state & errors


def test_stateful_counter_model():
    data = mg.stateful_counter_model()
    it = interp(data)
    add, reset = it.get_signature_runner("serving_default"), it.get_signature_runner("reset")
    totals = [add(increment=np.array([v], np.float32))["total"][0] for v in (1, 2, 3)]
    assert totals == [1, 3, 6]
    assert reset(value=np.array([10], np.float32))["previous"][0] == 6
    assert add(increment=np.array([1], np.float32))["total"][0] == 11
    # a second interpreter has its own variable
    assert interp(data).get_signature_runner("serving_default")(increment=np.array([5], np.float32))["total"][0] == 5

    cm = CompiledModel.from_buffer(data)
    totals = [cm_run(cm, {"increment": np.array([v], np.float32)})["total"][0] for v in (1, 2, 3)]
    assert totals == [1, 3, 6]
    assert cm_run(cm, {"value": np.array([-1], np.float32)}, "reset")["previous"][0] == 6
    assert cm_run(cm, {"increment": np.array([1], np.float32)})["total"][0] == 0


def test_custom_op_model():
    data = mg.custom_op_model("EdgerunUnknownOp")
    m = unpack(data)
    assert [oc.customCode for oc in m.operatorCodes if oc.builtinCode == schema.BuiltinOperator.CUSTOM] == [
        b"EdgerunUnknownOp"
    ]
    it = Interpreter(model_content=data)
    with pytest.raises(RuntimeError, match="EdgerunUnknownOp"):
        it.allocate_tensors()
    cm = CompiledModel.from_buffer(data)  # compiles fine ...
    with pytest.raises(RuntimeError):  # ... and fails at the first run
        cm_run(cm, {"x": np.zeros((1, 4), np.float32)})


def test_gather_model():
    data = mg.gather_model(n=8, k=3)
    it = interp(data)
    run = it.get_signature_runner()
    np.testing.assert_array_equal(run(indices=np.zeros(3, np.int32))["values"], [0, 0, 0])
    np.testing.assert_array_equal(run(indices=np.array([1, 7, 2], np.int32))["values"], [10, 70, 20])
    with pytest.raises(RuntimeError, match="out of bounds"):
        run(indices=np.array([1, 8, 2], np.int32))
    cm = CompiledModel.from_buffer(data)
    np.testing.assert_array_equal(cm_run(cm, {"indices": np.array([3, 0, 5], np.int32)})["values"], [30, 0, 50])
    with pytest.raises(RuntimeError):
        cm_run(cm, {"indices": np.array([-1, 0, 0], np.int32)})


# --------------------------------------------------------------------------- slow model


def test_slow_model_numerics():
    ms = 12.0  # 5 layers: enough to use every weight set and wrap around once
    data = mg.slow_model(ms)
    assert mg.slow_model_layers(ms) == 5
    x = np.random.default_rng(3).uniform(-1, 1, (1, 56, 56, 64)).astype(np.float32)
    y = interp(data).get_signature_runner()(x=x)["y"]
    np.testing.assert_allclose(y, mg.slow_model_reference(x, ms), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(cm_run(data, {"x": x})["y"], y, rtol=1e-5, atol=1e-6)


def test_slow_model_layers_scale_with_ms():
    assert mg.slow_model_layers(0) == 1
    assert mg.slow_model_layers(50) < mg.slow_model_layers(100) < mg.slow_model_layers(200)
    assert len(mg.slow_model(200)) < 1_000_000  # weight sets are shared


# --------------------------------------------------------------------------- builtin image model


def _naive_conv(x, w, b, stride, depthwise):
    """Tap-by-tap SAME conv, written independently of modelgen's im2col version."""
    n, h, wd, c = x.shape
    kh, kw = w.shape[1:3]
    oh, ow = -(-h // stride), -(-wd // stride)
    ph = max((oh - 1) * stride + kh - h, 0)
    pw = max((ow - 1) * stride + kw - wd, 0)
    xp = np.zeros((n, h + ph, wd + pw, c))
    xp[:, ph // 2 : ph // 2 + h, pw // 2 : pw // 2 + wd] = x
    out = np.zeros((n, oh, ow, c if depthwise else w.shape[0]))
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, i : i + stride * (oh - 1) + 1 : stride, j : j + stride * (ow - 1) + 1 : stride]
            out += patch * w[0, i, j] if depthwise else patch @ w[:, i, j, :].T.astype(np.float64)
    return out + b


def _naive_forward(images, input_size):
    layers, (fw, fb), _, _ = mg._image_params(input_size)
    x = images.astype(np.float64)
    for L in layers:
        x = np.minimum(np.maximum(_naive_conv(x, L["w"], L["b"], L["stride"], L["kind"] == "dw"), 0), 6)
    logits = x.mean(axis=(1, 2)) @ fw.T.astype(np.float64) + fb
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


def _test_images(size, n=6):
    imgs = mg._calibration_images(size, n, seed=12345)  # not the calibration set
    imgs[-1] = np.random.default_rng(4).uniform(-1, 1, (size, size, 3))
    return imgs.astype(np.float32)


def test_builtin_float_matches_numpy():
    data = mg.builtin_image_model(96, "float32")
    it = interp(data)
    assert it.get_signature_list() == {"serving_default": {"inputs": ["image"], "outputs": ["probs"]}}
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    assert inp["dtype"] == np.float32 and list(inp["shape"]) == [1, 96, 96, 3]
    assert out["dtype"] == np.float32 and list(out["shape"]) == [1, 1000]
    imgs = _test_images(96)
    ref = _naive_forward(imgs, 96)
    np.testing.assert_allclose(mg.builtin_image_reference(imgs), ref, rtol=1e-9, atol=1e-12)
    cm = CompiledModel.from_buffer(data)
    for img, r in zip(imgs, ref):
        p = it.get_signature_runner()(image=img[None])["probs"][0]
        assert abs(float(p.sum()) - 1) < 1e-5
        np.testing.assert_allclose(p, r, rtol=1e-3, atol=1e-6)
        assert p.argmax() == r.argmax()
        np.testing.assert_allclose(cm_run(cm, {"image": img[None]})["probs"][0], p, rtol=1e-4, atol=1e-7)


def test_builtin_int8_close_to_float():
    qdata, fdata = mg.builtin_image_model(96, "int8"), mg.builtin_image_model(96, "float32")
    qi = interp(qdata)
    inp, out = qi.get_input_details()[0], qi.get_output_details()[0]
    assert inp["dtype"] == np.int8 and inp["quantization"] == (pytest.approx(1 / 128), 0)
    assert out["dtype"] == np.int8 and out["quantization"] == (pytest.approx(1 / 256), -128)
    # every tensor of the int8 model is quantized (no float left)
    for sg in unpack(qdata).subgraphs:
        for t in sg.tensors:
            if t.name == b"mean/axes":
                continue
            assert t.type in (schema.TensorType.INT8, schema.TensorType.INT32), t.name
            assert t.quantization is not None and len(t.quantization.scale) > 0, t.name
    fi = interp(fdata)
    cm = CompiledModel.from_buffer(qdata)
    imgs = _test_images(96, 10)
    diffs = []
    for img in imgs:
        pf = fi.get_signature_runner()(image=img[None])["probs"][0]
        xq = np.clip(np.round(img * 128), -128, 127).astype(np.int8)[None]
        yq = qi.get_signature_runner()(image=xq)["probs"][0]
        np.testing.assert_array_equal(cm_run(cm, {"image": xq})["probs"][0], yq)
        pq = (yq.astype(np.float64) + 128) / 256
        diffs.append(np.abs(pq - pf).max())
        assert pq.argmax() in np.argsort(pf)[-5:]
    # measured: mean 0.007, max 0.08 (a near-tie top-1 at 0.35)
    assert np.mean(diffs) < 0.03 and np.max(diffs) < 0.15, diffs


def test_builtin_metadata_and_names():
    for dtype in ("float32", "int8"):
        m = unpack(mg.builtin_image_model(96, dtype))
        meta = {e.name.decode(): bytes(m.buffers[e.buffer].data) for e in m.metadata}
        info = json.loads(meta[mg.BUILTIN_MODEL_NAME])
        assert info["name"] == "edgerun-builtin" and info["version"] == mg.BUILTIN_MODEL_VERSION
        assert info["input_size"] == 96 and info["dtype"] == dtype and info["num_classes"] == 1000
        sig = m.signatureDefs[0]
        assert sig.signatureKey == b"serving_default"
        sg = m.subgraphs[0]
        assert sg.tensors[sig.inputs[0].tensorIndex].name == b"serving_default_image:0"
        assert sg.tensors[sig.outputs[0].tensorIndex].name == b"StatefulPartitionedCall:0"
        ops = [m.operatorCodes[o.opcodeIndex].builtinCode for o in sg.operators]
        B = schema.BuiltinOperator
        assert ops[0] == B.CONV_2D and ops[-3:] == [B.MEAN, B.FULLY_CONNECTED, B.SOFTMAX]
        assert ops.count(B.DEPTHWISE_CONV_2D) == 6


def test_builtin_other_sizes():
    for size in (64, 128):
        for dtype in ("float32", "int8"):
            it = interp(mg.builtin_image_model(size, dtype))
            assert list(it.get_input_details()[0]["shape"]) == [1, size, size, 3]
            it.invoke()
            assert list(it.get_output_details()[0]["shape"]) == [1, 1000]
    with pytest.raises(ValueError):
        mg.builtin_image_model(96, "uint8")


# sha256 of builtin_image_model(96, dtype). The generator rounds every value it derives
# from data, so the bytes must be the same on every machine (checked here across OpenBLAS
# core types and NumPy SIMD levels). Update these when the model is changed on purpose.
BUILTIN_SHA256 = {
    "float32": "494d0ed4fa6c73f2b4fe4d63910667491d9cd5625029db53f37a44be8e48564f",
    "int8": "6e3e5328062a5e48f0d2116943583bfb164cbbe6b7514989a7c17f843ab93d43",
}


@pytest.mark.parametrize("dtype", sorted(BUILTIN_SHA256))
def test_builtin_bytes_are_reproducible(dtype):
    mg._image_params.cache_clear()
    data = mg.builtin_image_model.__wrapped__(96, dtype)  # bypass the lru_cache
    got = hashlib.sha256(data).hexdigest()
    assert got == BUILTIN_SHA256[dtype], (
        "builtin model bytes differ from the recorded ones: update BUILTIN_SHA256 if the "
        "model changed on purpose; otherwise generation is not reproducible on this platform"
    )
