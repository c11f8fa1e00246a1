"""Input shapes at load (Session(input_shapes=...)) for models with dynamic dimensions,
and models without SignatureDefs (no signature names reported).

References: the classic ai_edge_litert Interpreter (resize_tensor_input before
allocate_tensors) and a NumPy convolution written here."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import edgerun
import models as mg
import realmodels
from reference import assert_close


def interpreter_at(model: bytes, x: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=bytes(model), num_threads=2)
    d = it.get_input_details()[0]
    it.resize_tensor_input(d["index"], list(x.shape))
    it.allocate_tensors()
    it.set_tensor(d["index"], x)
    it.invoke()
    return np.array(it.get_tensor(it.get_output_details()[0]["index"]))


def conv1d_reference(x: np.ndarray, taps: int = 4, channels: int = 3) -> np.ndarray:
    """NumPy float64 VALID convolution of dynamic_length_model: [1,1,L,1] -> [1,1,L-taps+1,C]."""
    w, b = mg.dynamic_length_params(taps, channels)
    sig = x[0, 0, :, 0].astype(np.float64)
    n = sig.shape[0] - taps + 1
    out = np.empty((1, 1, n, channels))
    for c in range(channels):
        k = w[c, 0, :, 0].astype(np.float64)
        out[0, 0, :, c] = [sig[i:i + taps] @ k for i in range(n)] + b[c]
    return out


# --------------------------------------------------------------------------- generated model
def test_dynamic_model_without_shapes_names_the_input_and_the_fix():
    with pytest.raises(edgerun.ModelError) as e:
        edgerun.Session(mg.dynamic_length_model())
    msg = str(e.value)
    assert "input 0 ('signal') has dynamic shape [1, 1, -1, 1] (tried as [1, 1, 1, 1])" in msg
    assert "input_shapes={'signal': [1, 1, N, 1]}" in msg


@pytest.mark.parametrize("length", [4, 5, 37, 1000])
def test_dynamic_model_opens_at_given_length_and_matches(length):
    model = mg.dynamic_length_model()
    x = np.random.default_rng(length).uniform(-1, 1, (1, 1, length, 1)).astype(np.float32)
    for key in ("signal", 0, -1):
        s = edgerun.Session(model, input_shapes={key: (1, 1, length, 1)})
        assert s.inputs[0].shape == (1, 1, length, 1)
        assert s.outputs[0].shape == (1, 1, length - 3, 3)
        assert s.input_shape_signatures == [(1, 1, -1, 1)]
        y = s.run(x)[0]
        assert_close(y, interpreter_at(model, x), f"length {length}")
        np.testing.assert_allclose(y, conv1d_reference(x), atol=1e-5, rtol=0)


def test_resize_input_keeps_working_after_input_shapes():
    model = mg.dynamic_length_model()
    s = edgerun.Session(model, input_shapes={"signal": [1, 1, 16, 1]})
    for length in (9, 64, 5):
        s.resize_input("signal", [1, 1, length, 1])
        x = np.linspace(-1, 1, length, dtype=np.float32).reshape(1, 1, length, 1)
        assert_close(s.run(x)[0], interpreter_at(model, x), f"length {length}")
    # too short for the kernel: a clear error, the session keeps its last good shape working
    with pytest.raises(edgerun.Error):
        s.resize_input("signal", [1, 1, 2, 1])


def test_static_models_unaffected_and_given_same_shape_is_fine():
    model = mg.add_model()
    s = edgerun.Session(model, input_shapes={"x": [1, 8]})
    assert s.inputs[0].shape == (1, 8) and s.input_shape_signatures == [(1, 8)]
    x = np.arange(8, dtype=np.float32).reshape(1, 8)
    np.testing.assert_array_equal(s.run(x)[0], x + mg.add_constant())


def test_dynamic_batch_defaults_to_one_and_resizes_at_load():
    model = mg.dynamic_batch_model(4)
    assert edgerun.Session(model).inputs[0].shape == (1, 4)
    s = edgerun.Session(model, input_shapes={"x": [3, 4]})
    assert s.inputs[0].shape == (3, 4) and s.outputs[0].shape == (3, 4)
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.testing.assert_array_equal(s.run(x)[0], x * 2 + 1)


@pytest.mark.parametrize("shapes, match", [
    ({"nope": [1, 1, 8, 1]}, r"input_shapes: the model has no input named 'nope'; its inputs are 'signal'"),
    ({3: [1, 1, 8, 1]}, r"input_shapes: input index 3 is out of range; the model has 1 input"),
    ({0: [1, 8]}, r"input_shapes\[0\] \(input 0, 'signal', \[1, 1, -1, 1\]\): got \[1, 8\], expected rank 4"),
    ({0: [1, 1, 0, 1]}, r"invalid dimension 0 in \[1, 1, 0, 1\]"),
    ({0: [1, 1, -1, 1]}, r"invalid dimension -1"),
    ({0: [1, 1, 2.5, 1]}, r"input_shapes\[0\]"),
    ({0: "1x8"}, r"input_shapes\[0\]"),
    ({1.0: [1, 1, 8, 1]}, r"keys are input names \(str\) or indices \(int\), got float"),
    ({0: [1, 1, 8, 1], "signal": [1, 1, 9, 1]}, r"input 0 \('signal'\) is given twice"),
    ([("signal", [1, 1, 8, 1])], r"input_shapes: expected a dict"),
])
def test_input_shapes_errors(shapes, match):
    with pytest.raises(edgerun.InputError, match=match):
        edgerun.Session(mg.dynamic_length_model(), input_shapes=shapes)


def test_shape_the_model_cannot_run_is_a_model_error():
    # length 2 < 4 taps: the runtime cannot size the output
    with pytest.raises(edgerun.ModelError, match="cannot"):
        edgerun.Session(mg.dynamic_length_model(), input_shapes={"signal": [1, 1, 2, 1]})


# --------------------------------------------------------------------------- real model
@pytest.fixture(scope="module")
def melspectrogram():
    return realmodels.melspectrogram_path()


def test_melspectrogram_without_shapes_says_how(melspectrogram):
    with pytest.raises(edgerun.ModelError, match=r"input 0 \('input'\) has dynamic shape \[-1, -1\].*"
                                                 r"input_shapes=\{'input': \[N, N\]\}"):
        edgerun.Session(melspectrogram)


@pytest.mark.parametrize("samples", [1280, 1760, 4000, 16000])
def test_melspectrogram_matches_interpreter_at_several_lengths(melspectrogram, samples):
    model = melspectrogram.read_bytes()
    rng = np.random.default_rng(samples)
    x = (rng.standard_normal((1, samples)) * 3000).astype(np.float32)  # int16-range audio, as openWakeWord feeds it
    s = edgerun.Session(melspectrogram, input_shapes={"input": [1, samples]})
    assert s.input_shape_signatures == [(-1, -1)]
    y = s.run(x)[0]
    ref = interpreter_at(model, x)
    assert y.shape == ref.shape and y.shape[-1] == 32 and y.shape[2] == samples // 160 - 3
    assert_close(y, ref, f"{samples} samples")


def test_melspectrogram_resize_after_load(melspectrogram):
    model = melspectrogram.read_bytes()
    s = edgerun.Session(melspectrogram, input_shapes={0: [1, 1760]})
    for samples in (3200, 1760):
        s.resize_input(0, [1, samples])
        x = np.sin(np.arange(samples, dtype=np.float32) * 0.05)[None] * 1000
        assert_close(s.run(x)[0], interpreter_at(model, x), f"{samples} samples")


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edgerun", *args], capture_output=True, text=True, timeout=300)


def test_cli_bench_and_inspect_input_shape(tmp_path):
    path = tmp_path / "dyn.tflite"
    path.write_bytes(mg.dynamic_length_model())
    r = _cli("bench", str(path), "--frames", "5", "--warmup", "1", "--input-shape", "signal=1x1x100x1", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["inputs"][0]["shape"] == [1, 1, 100, 1] and out["outputs"][0]["shape"] == [1, 1, 97, 3]
    r = _cli("bench", str(path), "--frames", "5")
    assert r.returncode != 0 and "input_shapes=" in r.stderr + r.stdout
    r = _cli("bench", str(path), "--input-shape", "signal=1xQ")
    assert r.returncode == 2 and "expected NAME=DIMxDIM" in r.stderr
    r = _cli("inspect", str(path), "--input-shape", "0=1x1x50x1", "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["inputs"][0]["shape"] == [1, 1, 50, 1] and info["inputs"][0]["shape_signature"] == [1, 1, -1, 1]
    assert info["outputs"][0]["shape"] == [1, 1, 47, 3]
    assert info["xnnpack"]["checked"] and info["xnnpack"]["error"] is None
    r = _cli("inspect", str(path), "--json")
    assert r.returncode == 0, r.stderr
    assert "--input-shape" in json.loads(r.stdout)["xnnpack"]["error"]


# --------------------------------------------------------------------------- signatures
def test_model_without_signature_defs_reports_no_signature_names(tmp_path):
    model = mg.add_model(signature=False)
    s = edgerun.Session(model)
    assert s.signatures == [] and s.signature is None
    assert "placeholder" not in repr(s) and "signature" not in repr(s)
    x = np.ones((1, 8), np.float32)
    np.testing.assert_array_equal(s.run(x)[0], x + mg.add_constant())
    assert edgerun.Session(model, signature=0).signatures == []
    with pytest.raises(edgerun.InputError, match="has no SignatureDefs"):
        edgerun.Session(model, signature="<placeholder signature>")
    path = tmp_path / "nosig.tflite"
    path.write_bytes(model)
    r = _cli("bench", str(path), "--frames", "3", "--warmup", "1")
    assert r.returncode == 0, r.stderr
    assert "placeholder" not in r.stdout and "no signatures" in r.stdout
    r = _cli("bench", str(path), "--frames", "3", "--warmup", "1", "--json")
    assert json.loads(r.stdout)["signature"] is None


def test_cli_bench_signature_selects():
    import tempfile, os

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "two.tflite")
        with open(path, "wb") as f:
            f.write(mg.two_signature_model())
        for sel, key in (("times_two", "times_two"), ("1", "times_two"), ("add_one", "add_one")):
            r = _cli("bench", path, "--frames", "3", "--warmup", "1", "--signature", sel, "--json")
            assert r.returncode == 0, r.stderr
            assert json.loads(r.stdout)["signature"] == key
        r = _cli("bench", path, "--frames", "3", "--signature", "nope")
        assert r.returncode != 0 and "no signature 'nope'" in r.stdout + r.stderr
