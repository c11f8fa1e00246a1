"""The shipped type stubs (edgerun/_core.pyi) describe the compiled module exactly."""

from __future__ import annotations

import ast
import pathlib

import edgerun
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
