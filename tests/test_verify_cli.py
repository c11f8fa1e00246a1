"""edgerun.verify / `edgerun verify` / `edgerun bench`: semantic corruptions, exit codes, output."""

from __future__ import annotations

import json
import subprocess
import sys

import flatbuffers
import pytest

import edgerun
import models as mg


def _mutate(fn) -> bytes:
    from ai_edge_litert import schema_py_generated as s

    m = s.ModelT.InitFromObj(s.Model.GetRootAsModel(mg.builtin_image_model(), 0))
    fn(m)
    b = flatbuffers.Builder(0)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def _set_op_inputs(m, first):
    op = m.subgraphs[0].operators[1]
    op.inputs = [first] + list(op.inputs[1:])


# Structurally valid flatbuffers with broken cross-references: a structural walk alone
# passes them (DESIGN.md 2 found two such files among 120 corrupted copies).
SEMANTIC = {
    "operator input index far out of range": (
        lambda m: _set_op_inputs(m, 50331833), "input tensor index 50331833 out of range"),
    "negative operator input index": (
        lambda m: _set_op_inputs(m, -2786), "input tensor index -2786 out of range"),
    "operator without inputs and outputs": (
        lambda m: (setattr(m.subgraphs[0].operators[1], "inputs", []),
                   setattr(m.subgraphs[0].operators[1], "outputs", [])),
        "no inputs and no outputs"),
    "opcode index out of range": (
        lambda m: setattr(m.subgraphs[0].operators[1], "opcodeIndex", 99), "opcode_index 99 out of range"),
    "buffer index out of range": (
        lambda m: setattr(m.subgraphs[0].tensors[1], "buffer", 9999), "buffer index 9999 out of range"),
    "subgraph input out of range": (
        lambda m: setattr(m.subgraphs[0], "inputs", [7777]), "7777"),
}


@pytest.mark.parametrize("case", sorted(SEMANTIC))
def test_semantic_corruption_is_named(case):
    fn, fragment = SEMANTIC[case]
    data = _mutate(fn)
    with pytest.raises(edgerun.ModelError, match=fragment):
        edgerun.verify(data)
    with pytest.raises(edgerun.ModelError, match=fragment):
        edgerun.Session(data)


def test_valid_models_verify(blazeface_model, resnet8_model):
    for data in (mg.builtin_image_model(), mg.builtin_image_model(dtype="int8"),
                 mg.two_signature_model(), mg.stateful_counter_model(), mg.multi_io_model(),
                 mg.dynamic_batch_model(), mg.custom_op_model()):
        edgerun.verify(data)
    edgerun.verify(blazeface_model)
    edgerun.verify(str(resnet8_model))


def _cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "edgerun", *args], capture_output=True,
                          text=True, timeout=timeout)


def test_cli_verify_exit_codes(tmp_path, resnet8_model):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(resnet8_model.read_bytes()[:1000])
    ok = _cli("verify", str(resnet8_model))
    assert ok.returncode == 0 and "ok (" in ok.stdout
    r = _cli("verify", str(resnet8_model), str(bad))
    assert r.returncode == 1
    assert f"{bad}: INVALID:" in r.stdout
    missing = _cli("verify", str(tmp_path / "nope.tflite"))
    assert missing.returncode == 1 and "nope.tflite" in missing.stdout


def test_cli_bench_builtin_default():
    r = _cli("bench", "--frames", "30", "--warmup", "3", "--threads", "1")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "built-in edgerun-builtin" in out and "p50" in out and "p99" in out and "FPS" in out
    assert "image" in out and "float32" in out and "1x96x96x3" in out


def test_cli_bench_json_on_a_model_file(resnet8_model):
    r = _cli("bench", str(resnet8_model), "--frames", "30", "--warmup", "3", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    lat = doc["latency"]
    assert 0 < lat["min_us"] <= lat["p50_us"] <= lat["p90_us"] <= lat["p99_us"]
    assert doc["inputs"][0]["dtype"] == "int8" and doc["inputs"][0]["shape"] == [1, 32, 32, 3]
    assert doc["frames"] == 30


def test_cli_bench_bad_model_is_one_line_error(tmp_path):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"garbage" * 10)
    r = _cli("bench", str(bad), "--frames", "5")
    assert r.returncode == 1
    assert r.stderr.startswith("edgerun: error:") and "Traceback" not in r.stderr
