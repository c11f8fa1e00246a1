"""Session(..., profile=True): per-operator times from LiteRT's profiler.

References: the classic ai_edge_litert Interpreter's own view of the model (its operator
list and which operators its XNNPACK delegate replaced), and the invoke time of an
unprofiled session measured in the same loop.
"""

from __future__ import annotations

import time
from collections import Counter

import numpy as np
import pytest

import edgerun
from ai_edge_litert.interpreter import Interpreter


def _model_ops(path) -> list:
    """Operator names of subgraph 0, by the classic Interpreter (no delegate applied)."""
    from ai_edge_litert.interpreter import OpResolverType

    it = Interpreter(model_path=str(path),
                     experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    return [d["op_name"] for d in it._get_ops_details()]


def _interleaved(profiled, plain, runs: int, feed) -> tuple:
    """Median run times (ms) of the two sessions, runs alternating (same inputs)."""
    a, b = [], []
    for i in range(runs):
        feed(profiled, i)
        t0 = time.perf_counter()
        profiled.run()
        a.append(time.perf_counter() - t0)
        feed(plain, i)
        t0 = time.perf_counter()
        plain.run()
        b.append(time.perf_counter() - t0)
    return float(np.median(a)) * 1e3, float(np.median(b)) * 1e3


def _per_run(prof) -> list:
    ops = prof.operators()
    assert prof.runs > 0 and len(ops) % prof.runs == 0, (len(ops), prof.runs)
    k = len(ops) // prof.runs
    return [ops[i * k:(i + 1) * k] for i in range(prof.runs)]


def test_profile_of_blazeface_names_its_operators_and_adds_up_to_the_invoke(blazeface_model, face_photo):
    cv2 = pytest.importorskip("cv2")
    frame = cv2.resize(cv2.imread(str(face_photo)), (640, 480))
    pre = edgerun.Preprocessor("bgr", mean=127.5, std=127.5)
    profiled = edgerun.Session(blazeface_model, threads=1, profile=True)
    plain = edgerun.Session(blazeface_model, threads=1)
    assert profiled.profile().runs == 0  # the warm-up run is not in the profile
    runs = 30
    feed = lambda s, i: pre(frame, s.input(0))  # noqa: E731
    run_profiled, run_plain = _interleaved(profiled, plain, runs, feed)
    prof = profiled.profile()
    assert prof.runs == runs
    # every operator of BlazeFace runs inside XNNPACK (the Interpreter's delegate takes all 164)
    assert {e.kind for e in prof.operators()} == {"delegate_operator"}
    per_run = _per_run(prof)
    model = Counter(_model_ops(blazeface_model))
    got = Counter(e.name.split(" (")[0] for e in per_run[0])
    # XNNPACK's operator names against the model's operators, one for one
    assert got["Convolution"] + got["Fully Connected"] == model["CONV_2D"] + model["DEPTHWISE_CONV_2D"]
    assert sum(1 for e in per_run[0] if e.name.endswith("DWConv")) == model["DEPTHWISE_CONV_2D"]
    assert got["Max Pooling"] == model["MAX_POOL_2D"]
    assert got["Constant Pad"] == model["PAD"]
    assert got["Add"] == model["ADD"]
    assert [e.node for e in per_run[0]] == list(range(len(per_run[0])))  # the delegate's own node order
    # the operators account for the invoke: median per-run sum within 0.5x..1.5x of the median
    # unprofiled session.run, measured alternately in the same loop (timers of a loaded machine)
    op_ms = float(np.median([sum(e.elapsed_us for e in p) / 1e3 for p in per_run]))
    assert 0.5 * run_plain <= op_ms <= 1.5 * run_plain, (op_ms, run_plain, run_profiled)
    spans = {e.name for e in prof.events if e.kind == "runtime"}
    assert "Invoke" in spans
    assert all(e.node == -1 for e in prof.events if e.kind == "runtime")
    assert profiled.profile().runs == 0 and profiled.profile().events == ()  # cleared by the read


def test_profile_names_the_tflite_kernels_outside_xnnpack(resnet8_model):
    """ResNet-8 int8: the operators XNNPACK leaves to the runtime's own kernels show up as
    "operator" events at their model index, and they are exactly the ones the classic
    Interpreter's XNNPACK delegate leaves out (edgerun inspect's check)."""
    from edgerun.model.inspect import inspect

    s = edgerun.Session(resnet8_model, threads=1, profile=True)
    x = np.random.default_rng(0).integers(-128, 128, size=s.inputs[0].shape, dtype=np.int8)
    for _ in range(5):
        s.run(x)
    prof = s.profile()
    assert prof.runs == 5
    names = _model_ops(resnet8_model)
    kernels = [e for e in prof.operators() if e.kind == "operator"]
    assert kernels, "expected operators outside XNNPACK"
    for e in kernels:
        assert names[e.node] == e.name, (e, names[e.node])
    not_taken = {(i, op) for i, op in inspect(str(resnet8_model)).xnnpack.not_taken}
    assert {(e.node, e.name) for e in kernels} == not_taken
    assert len(kernels) == 5 * len(not_taken)
    assert all(e.elapsed_us >= 0 for e in prof.events)
    assert 0 < prof.operator_ms_per_run() < 1000


def test_profile_errors(resnet8_model):
    s = edgerun.Session(resnet8_model, threads=1)
    with pytest.raises(edgerun.InputError, match=r"create it with Session\(\.\.\., profile=True\)"):
        s.profile()
    p = edgerun.Session(resnet8_model, threads=1, profile=True)
    p.close()
    with pytest.raises(edgerun.ClosedError):
        p.profile()
