"""The package layout: dependencies point one way, no import cycles, old paths still work.

Layers, lowest first (a module may import its own layer and the ones below it):

    0  edgerun._core, _version, errors, _runtime, _compat    the compiled core and leaves
    1  edgerun.model.*                                      .tflite files: read, describe, build
    2  edgerun.session, preprocess, heads, pipeline,        thin facades over the core
       delegates, verify, cascade, draw
    3  edgerun.tools.*                                      the CLI and the converter
    4  edgerun (the package root), edgerun.__main__         the public surface
    -  edgerun.cli, converter, metadata, modelinfo,         deprecated old paths: they may import
       modelgen, tflite_file                                anything; nothing may import them

Every ``import`` / ``from ... import`` statement counts, including the lazy ones
inside functions (they are dependencies too; laziness only hides a cycle).
Nothing in the package may import the test suite's modules (models, realmodels ...).
"""

from __future__ import annotations

import ast
import json
import os
import pathlib
import subprocess
import sys
import textwrap
import warnings
from typing import Dict, List, Optional, Sequence, Set, Tuple

import pytest

import edgerun

PACKAGE_DIR = pathlib.Path(edgerun.__file__).resolve().parent
TESTS_DIR = pathlib.Path(__file__).resolve().parent

SHIMS = ("edgerun.cli", "edgerun.converter", "edgerun.metadata", "edgerun.modelinfo", "edgerun.modelgen",
         "edgerun.tflite_file")

LAYERS: Sequence[Tuple[int, Sequence[str]]] = (
    (0, ("edgerun._core", "edgerun._version", "edgerun.errors", "edgerun._runtime", "edgerun._compat",
         "edgerun._types")),
    (1, ("edgerun.model", "edgerun.model.*")),
    (2, ("edgerun.session", "edgerun.preprocess", "edgerun.heads", "edgerun.pipeline", "edgerun.delegates",
         "edgerun.verify", "edgerun.cascade", "edgerun.draw")),
    (3, ("edgerun.tools", "edgerun.tools.*")),
    (4, ("edgerun", "edgerun.__main__")),
    (99, SHIMS),
)

#: top-level modules of the test suite that the package must never import
TEST_MODULES = ("tests", "conftest", "models", "realmodels", "reference", "corrupt_corpus")


# --------------------------------------------------------------------------- the checker
def find_modules(package_dir: pathlib.Path, package: str) -> Dict[str, pathlib.Path]:
    """Module name -> source file for every .py file under ``package_dir``
    (compiled extension modules map to their binary, which has no imports to parse)."""
    out: Dict[str, pathlib.Path] = {}
    for path in sorted(package_dir.rglob("*")):
        if "__pycache__" in path.parts or not path.is_file():
            continue
        rel = path.relative_to(package_dir)
        if path.suffix == ".py":
            parts = list(rel.with_suffix("").parts)
        elif path.suffix in (".so", ".pyd"):
            parts = list(rel.parent.parts) + [path.name.split(".")[0]]
        else:
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join([package, *parts])] = path
    return out


def _is_package(path: pathlib.Path) -> bool:
    return path.name == "__init__.py"


def defined_names(path: pathlib.Path) -> Optional[Set[str]]:
    """Names a module binds at its top level; None when that cannot be told
    (``from x import *``, a module ``__getattr__``, a compiled module)."""
    if path.suffix != ".py":
        return None
    names: Set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    return None
                names.add(alias.asname or alias.name.split(".")[0])
    return None if "__getattr__" in names else names


def imports_of(name: str, path: pathlib.Path, modules: Dict[str, pathlib.Path],
               missing: Optional[List[Tuple[str, int]]] = None) -> List[Tuple[str, int]]:
    """(imported module, line) for every import statement in a module's source.

    ``from P import n`` depends on module ``P.n`` when that is a module (and then not
    on P's ``__init__``, which Python runs for any submodule anyway), else on ``P``;
    names that P does not define either are appended to ``missing`` as ``P.n``.
    """
    if path.suffix != ".py":
        return []
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if _is_package(path) else name.rpartition(".")[0]
    out: List[Tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                if node.level > 1:
                    base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in modules]
            if subs and len(subs) == len(node.names):
                out += [(s, node.lineno) for s in subs]
            else:
                out.append((base, node.lineno))
                out += [(s, node.lineno) for s in subs]
                known = defined_names(modules[base]) if base in modules else None
                if missing is not None and known is not None:
                    missing += [(f"{base}.{a.name}", node.lineno) for a in node.names
                                if a.name != "*" and f"{base}.{a.name}" not in modules and a.name not in known]
    return out


def layer_of(name: str, layers: Sequence[Tuple[int, Sequence[str]]]) -> Optional[int]:
    for level, patterns in layers:
        for p in patterns:
            if name == p or (p.endswith(".*") and name.startswith(p[:-1])):
                return level
    return None


def check_layout(package_dir: pathlib.Path, package: str, layers: Sequence[Tuple[int, Sequence[str]]],
                 shims: Sequence[str], test_modules: Sequence[str]) -> Tuple[List[str], Dict[str, Set[str]]]:
    """(problems, import graph) of a package: modules with no layer, imports of missing
    modules, upward imports, imports of deprecated shims or of test modules, cycles."""
    modules = find_modules(package_dir, package)
    problems: List[str] = []
    graph: Dict[str, Set[str]] = {m: set() for m in modules}
    for m in modules:
        if layer_of(m, layers) is None:
            problems.append(f"{m}: in no layer (add it to LAYERS in tests/test_layout.py)")
    for m, path in modules.items():
        missing: List[Tuple[str, int]] = []
        found = imports_of(m, path, modules, missing)
        problems += [f"{m} (line {line}) imports {target}, which does not exist" for target, line in missing]
        for target, line in found:
            top = target.split(".")[0]
            where = f"{m} (line {line})"
            if top in test_modules:
                problems.append(f"{where} imports the test suite's {target}")
                continue
            if top != package:
                continue
            if target not in modules:
                problems.append(f"{where} imports {target}, which does not exist")
                continue
            if target == m:
                continue
            graph[m].add(target)
            if target in shims and m not in shims:
                problems.append(f"{where} imports the deprecated {target}")
                continue
            lm, lt = layer_of(m, layers), layer_of(target, layers)
            if lm is not None and lt is not None and lt > lm:
                problems.append(f"{where} imports {target}: upward (layer {lm} -> {lt})")
    for cycle in find_cycles(graph):
        problems.append("import cycle: " + " -> ".join(cycle + [cycle[0]]))
    return problems, graph


def find_cycles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """One cycle per strongly connected component with more than one module (Tarjan)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    sccs: List[List[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(comp)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    cycles = []
    for comp in sccs:  # walk inside the component from its first module back to it
        members = set(comp)
        start = sorted(comp)[0]
        path, seen = [start], {start}
        node = start
        while True:
            nxt = sorted(w for w in graph[node] if w in members)
            back = [w for w in nxt if w == start]
            if back and len(path) > 1:
                break
            fresh = [w for w in nxt if w not in seen]
            if not fresh:
                break
            node = fresh[0]
            path.append(node)
            seen.add(node)
        cycles.append(path)
    return cycles


# --------------------------------------------------------------------------- the package
def test_import_graph_points_one_way_without_cycles():
    problems, graph = check_layout(PACKAGE_DIR, "edgerun", LAYERS, SHIMS, TEST_MODULES)
    assert not problems, "\n".join(problems)
    # the graph really was read (a parser that saw nothing would pass trivially)
    assert "edgerun.model.tflite_file" in graph["edgerun.model.metadata"]
    assert "edgerun.model.info" in graph["edgerun.session"]
    assert "edgerun.session" in graph["edgerun.pipeline"]
    assert "edgerun.tools.convert" in graph["edgerun.tools.cli"]  # a lazy import inside a function


def test_every_module_imports_in_a_fresh_interpreter():
    modules = sorted(m for m in find_modules(PACKAGE_DIR, "edgerun") if m != "edgerun.__main__")
    code = textwrap.dedent("""
        import importlib, json, sys, warnings
        # first the package as users import it: it must load no shim and no test module
        import edgerun, edgerun.tools.cli, edgerun.model.builder
        loaded = sorted(m for m in sys.modules if m.startswith("edgerun") or m in %(tests)r)
        failed = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            for name in %(modules)r:
                try:
                    importlib.import_module(name)
                except Exception as e:
                    failed[name] = f"{type(e).__name__}: {e}"
        print(json.dumps({"loaded": loaded, "failed": failed}))
    """) % {"modules": modules, "tests": TEST_MODULES}
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(PACKAGE_DIR.parent)]
                                                     + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env,
                       cwd=str(PACKAGE_DIR.parent.parent))
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["failed"] == {}
    assert not set(out["loaded"]) & set(SHIMS), out["loaded"]
    assert not set(out["loaded"]) & set(TEST_MODULES), out["loaded"]


# --------------------------------------------------------------------------- the checker can fail
def test_checker_reports_cycles_upward_imports_shims_missing_and_test_modules(tmp_path):
    pkg = tmp_path / "fakepkg"
    files = {
        "__init__.py": "from .session import S\n",
        "errors.py": "",
        "session.py": "from .model import a\nfrom .errors import *\nclass S: pass\n",
        "old.py": "from .model.a import *\n",
        "model/__init__.py": "",
        "model/a.py": "def f():\n    from ..session import S  # lazy, still upward\n",
        "model/b.py": "from . import c\nx = 1\n",
        "model/c.py": "from .b import x\n",
        "model/d.py": "import models\nfrom .. import old\nfrom ..nothere import y\nfrom . import b, e\n",
        "stray.py": "",
    }
    for rel, text in files.items():
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_text(text)
    layers = ((0, ("fakepkg.errors",)), (1, ("fakepkg.model", "fakepkg.model.*")), (2, ("fakepkg.session",)),
              (4, ("fakepkg",)), (99, ("fakepkg.old",)))
    problems, graph = check_layout(pkg, "fakepkg", layers, ("fakepkg.old",), TEST_MODULES)
    text = "\n".join(problems)
    assert "fakepkg.stray: in no layer" in text
    assert "fakepkg.model.a (line 2) imports fakepkg.session: upward (layer 1 -> 2)" in text
    assert "import cycle: fakepkg.model.b -> fakepkg.model.c -> fakepkg.model.b" in text
    assert "import cycle: fakepkg.model.a -> fakepkg.session -> fakepkg.model.a" in text
    assert "fakepkg.model.d (line 1) imports the test suite's models" in text
    assert "fakepkg.model.d (line 2) imports the deprecated fakepkg.old" in text
    assert "fakepkg.model.d (line 3) imports fakepkg.nothere, which does not exist" in text
    assert "fakepkg.model.d (line 4) imports fakepkg.model.e, which does not exist" in text
    assert len(problems) == 8, text
    # `from .errors import *` depends on fakepkg.errors; `from . import c` on the submodule, not on __init__
    assert graph["fakepkg.session"] == {"fakepkg.model.a", "fakepkg.errors"}
    assert graph["fakepkg.model.b"] == {"fakepkg.model.c"}


# --------------------------------------------------------------------------- old paths
@pytest.mark.parametrize("old,new,names", [
    ("edgerun.cli", "edgerun.tools.cli", ("main", "build_parser")),
    ("edgerun.converter", "edgerun.tools.convert", ("convert", "ConvertReport", "rgb_to_format")),
    ("edgerun.metadata", "edgerun.model.metadata",
     ("ModelMetadata", "read_metadata", "write_metadata", "EDGERUN_METADATA", "_FORMATS", "_FITS", "_CHANNELS")),
    ("edgerun.modelinfo", "edgerun.model.inspect",
     ("inspect", "ModelDetails", "TensorInfo", "SignatureInfo", "XnnpackReport", "format_info", "table_lines",
      "human_bytes", "INSPECT_SCHEMA", "_activations")),
    ("edgerun.tflite_file", "edgerun.model.tflite_file",
     ("unpack", "read_source", "with_metadata", "write_atomic", "schema", "_text")),
    ("edgerun.modelgen", "edgerun.model.builder",
     ("ModelBuilder", "Quant", "op_options", "builtin_image_model", "BUILTIN_MODEL_NAME", "BUILTIN_MODEL_VERSION")),
])
def test_old_module_paths_still_work_and_warn(old, new, names):
    code = textwrap.dedent(f"""
        import importlib, warnings
        new = importlib.import_module({new!r})
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            old = importlib.import_module({old!r})
        assert [x for x in w if x.category is DeprecationWarning and {new!r} in str(x.message)], \\
            [str(x.message) for x in w]
        for name in {names!r}:
            value = getattr(old, name)
            if hasattr(new, name):
                assert value is getattr(new, name), name
        print("ok")
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stdout + r.stderr


def test_deprecation_warning_names_the_importing_code(tmp_path):
    script = tmp_path / "user_script.py"
    script.write_text("import edgerun.metadata\n")
    r = subprocess.run([sys.executable, "-W", "always::DeprecationWarning", str(script)], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "user_script.py:1: DeprecationWarning: edgerun.metadata is deprecated" in r.stderr, r.stderr


def test_test_fixtures_are_no_longer_shipped():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from edgerun import modelgen
    with pytest.raises(AttributeError, match="tests/models.py"):
        modelgen.add_model  # noqa: B018
    import models

    assert models.ModelBuilder is modelgen.ModelBuilder


def test_public_names_and_aliases():
    from edgerun.model import info
    from edgerun.session import TensorSpec

    assert edgerun.ModelInfo is info.ModelInfo is edgerun.pipeline.ModelInfo
    assert edgerun.ModelDetails is info.ModelDetails
    assert info.TensorInfo is info.TensorDetails and info.SignatureInfo is info.SignatureDetails
    assert edgerun.TensorSpec is TensorSpec
    assert edgerun.__version__ == edgerun._version.__version__
    from edgerun.delegates import op_name
    from edgerun.model.tflite_file import op_name as op_name_new

    assert op_name is op_name_new


def test_console_script_points_at_the_new_cli():
    pyproject = PACKAGE_DIR.parent.parent / "pyproject.toml"
    if not pyproject.exists():
        pytest.skip("not running from a source checkout")
    text = pyproject.read_text()
    assert 'edgerun = "edgerun.tools.cli:main"' in text
