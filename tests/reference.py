"""The independent reference for numeric tests: ai_edge_litert's classic Interpreter."""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np


def interpreter_run(model: bytes, inputs: Sequence[np.ndarray], threads: int = 2,
                    signature: Optional[str] = None, in_names: Optional[Sequence[str]] = None,
                    out_names: Optional[Sequence[str]] = None) -> list:
    """Runs `model` in the classic Interpreter and returns its outputs.

    For models with signatures, inputs are matched by name (`in_names`, default:
    the signature's names in the Interpreter's order) and outputs are returned in
    `out_names` order; pass edgerun's names to compare tensor by tensor. Models
    without signatures use the subgraph's input/output order.
    """
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=bytes(model), num_threads=threads)
    sigs = it.get_signature_list()
    if sigs:
        key = signature if signature is not None else next(iter(sigs))
        runner = it.get_signature_runner(key)
        in_names = list(in_names) if in_names is not None else list(sigs[key]["inputs"])
        result = runner(**dict(zip(in_names, inputs)))
        out_names = list(out_names) if out_names is not None else list(sigs[key]["outputs"])
        return [np.array(result[n]) for n in out_names]
    it.allocate_tensors()
    for d, a in zip(it.get_input_details(), inputs):
        it.set_tensor(d["index"], a)
    it.invoke()
    return [np.array(it.get_tensor(d["index"])) for d in it.get_output_details()]


def reference_for(session, model: bytes, inputs: Sequence[np.ndarray], threads: int = 2) -> list:
    """Interpreter outputs for `inputs`, in the order and names of edgerun's session."""
    return interpreter_run(model, inputs, threads=threads, signature=session.signature
                           if session.signature in _signature_keys(model) else None,
                           in_names=[t.name for t in session.inputs],
                           out_names=[t.name for t in session.outputs])


def _signature_keys(model: bytes) -> list:
    from ai_edge_litert.interpreter import Interpreter

    return list(Interpreter(model_content=bytes(model)).get_signature_list())


def random_inputs(specs, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    out = []
    for t in specs:
        if t.dtype.kind == "f":
            a = rng.uniform(-1, 1, size=t.shape).astype(t.dtype)
        elif t.dtype.kind in "iu":
            info = np.iinfo(t.dtype)
            a = rng.integers(max(info.min, -128), min(info.max, 127) + 1, size=t.shape).astype(t.dtype)
        else:
            a = rng.integers(0, 2, size=t.shape).astype(t.dtype)
        out.append(a)
    return out


def assert_close(actual: np.ndarray, expected: np.ndarray, what: str = "") -> None:
    """Float: max abs diff <= 1e-5 relative to the output's scale. Integer: within 1 LSB."""
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
    if actual.dtype.kind == "f":
        scale = max(1.0, float(np.abs(expected).max()))
        diff = float(np.abs(actual.astype(np.float64) - expected.astype(np.float64)).max())
        assert diff <= 1e-5 * scale, f"{what}: max abs diff {diff} > 1e-5 x {scale}"
    else:
        diff = int(np.abs(actual.astype(np.int64) - expected.astype(np.int64)).max())
        assert diff <= 1, f"{what}: integer outputs differ by {diff} LSB (> 1)"
