"""The shipped type stubs (edgerun/_core.pyi) describe the compiled module exactly."""

from __future__ import annotations

import ast
import pathlib
import typing

import numpy as np

import edgerun
import models
from edgerun import _core


def _public(names):
    return {n for n in names if not (n.startswith("__") or n.startswith("_pybind11"))}


def test_core_stub_matches_module():
    stub = pathlib.Path(edgerun.__file__).with_name("_core.pyi")
    assert stub.exists(), "the wheel must ship _core.pyi"
    tree = ast.parse(stub.read_text())
    top = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            top[node.name] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):  # module attributes
            top[node.target.id] = node
    assert set(top) == _public(dir(_core)), "stub and module disagree on top-level names"
    for name, node in top.items():
        if isinstance(node, ast.ClassDef):
            members = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
            actual = _public(dir(getattr(_core, name)))
            assert _public(members) == actual, f"{name}: stub {sorted(_public(members) ^ actual)} differ"


def test_py_typed_is_shipped():
    assert pathlib.Path(edgerun.__file__).with_name("py.typed").exists()


def _check_typed_dict(td, value, what):
    hints = typing.get_type_hints(td)
    assert set(value) == set(hints), (f"{what}: keys missing from {td.__name__}: {sorted(set(value) - set(hints))}, "
                                      f"declared but not returned: {sorted(set(hints) - set(value))}")
    for key, t in hints.items():
        assert type(value[key]) is t, f"{what}[{key!r}] is {type(value[key]).__name__}, {td.__name__} says {t.__name__}"


def test_typed_dicts_describe_the_returned_dicts():
    """edgerun.PipelineStats / RuntimeInfo / EdgeTpuRuntime / EdgeTpuDevice (what type checkers
    see) name exactly the keys, with exactly the value types, that the calls return."""
    with edgerun.Session(models.identity_model((1, 16, 16, 3)), threads=1) as s, \
            edgerun.Pipeline(s, edgerun.Preprocessor("bgr")) as pipe:
        pipe(np.zeros((24, 32, 3), np.uint8))
        _check_typed_dict(edgerun.PipelineStats, pipe.stats(), "Pipeline.stats()")
    _check_typed_dict(edgerun.RuntimeInfo, edgerun.runtime_info(), "runtime_info()")
    _check_typed_dict(edgerun.EdgeTpuRuntime, edgerun.edgetpu_runtime(), "edgetpu_runtime()")
    for d in edgerun.edgetpu_devices():  # none on machines without an Edge TPU
        _check_typed_dict(edgerun.EdgeTpuDevice, d, "edgetpu_devices()[i]")
