"""Cross-architecture check of an installed edgerun wheel.

    python wheel_check.py run OUT.npz [MODEL ...]   # with the interpreter under test
    python wheel_check.py compare X86.npz ARM.npz   # on the host

`run` records, with whatever edgerun is importable (an installed wheel, not the tree):
- the fused preprocessor's output for fixed NV12, BGR and I420 frames (with crop,
  letterbox, rotation and every interpolation), written into float32, uint8 and int8
  tensors. The SIMD kernels (AVX2 on x86_64, NEON on aarch64) are specified to be
  bit-exact with the scalar reference, so the two architectures must agree exactly;
- each model's outputs (the built-in model, plus any MODEL given) for one fixed input
  (numpy's legacy RandomState: the same numbers on every platform);
- the ISA the preprocessor dispatched to and the CPU features seen;
- that a C++ exception the runtime throws arrives as ModelError (the unwinder);
and first checks that the compiled extension matches the shipped _core.pyi.

`compare` checks the two recordings: preprocessing bytes equal, integer outputs within
1 LSB (XNNPACK's requantization may round differently per architecture) and float
outputs within 1e-5 relative to the output's range (DESIGN.md measured 5e-8).
Exit status 1 on any mismatch, with what differed.
"""

from __future__ import annotations

import sys

import numpy as np


def _frames():
    rs = np.random.RandomState(7)
    h, w = 96, 128
    y = rs.randint(0, 256, size=(h, w), dtype=np.uint8)
    uv = rs.randint(0, 256, size=(h // 2, w), dtype=np.uint8)
    nv12 = np.concatenate([y, uv])
    i420 = np.concatenate([y, uv.reshape(h // 2, w)])
    bgr = rs.randint(0, 256, size=(h, w, 3), dtype=np.uint8)
    return {"nv12": nv12, "i420": i420, "bgr": bgr}


_CASES = [
    # (format, options, out shape, dtype)
    ("nv12", dict(fit="stretch"), (1, 40, 56, 3), np.float32),
    ("nv12", dict(fit="letterbox", interpolation="area", mean=0, std=1), (1, 32, 32, 3), np.uint8),
    ("bgr", dict(fit="crop", rotate=90), (1, 48, 40, 3), np.float32),
    ("bgr", dict(fit="letterbox", interpolation="nearest", mean=127.5, std=127.5), (1, 33, 47, 3), np.float32),
    ("i420", dict(fit="stretch", interpolation="area"), (1, 24, 30, 3), np.uint8),  # quantized below
    ("bgr", dict(fit="stretch"), (1, 64, 64, 3), np.int8),
]


def _check_stub_matches(core) -> None:
    """The shipped _core.pyi and the compiled module name the same things: a wheel whose
    extension was not rebuilt with the Python sources fails here, on every architecture."""
    import ast
    import pathlib

    stub = pathlib.Path(core.__file__).with_name("_core.pyi")
    tree = ast.parse(stub.read_text())
    named = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    named |= {n.target.id for n in tree.body if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)}
    actual = {n for n in dir(core) if not n.startswith("__") and not n.startswith("_pybind11")}
    if named != actual:
        raise SystemExit(f"_core.pyi and the compiled _core disagree: {sorted(named ^ actual)}")


def _check_runtime_exception_is_caught() -> None:
    """libLiteRt.so throws a libstdc++ exception on a signature naming a nameless input
    (verify=False lets the model through): the wheel's extension must turn it into
    ModelError, which needs it to unwind with libgcc_s like the runtime (scripts/build_wheels.sh).
    A wheel linked with a static LLVM unwinder dies here with SIGSEGV."""
    import flatbuffers

    import edgerun
    from edgerun.model import builder, tflite_file

    m = tflite_file.schema().ModelT.InitFromPackedBuf(builder.builtin_image_model(), 0)
    m.signatureDefs[0].outputs[0].tensorIndex = m.subgraphs[0].inputs[0]
    m.subgraphs[0].tensors[m.subgraphs[0].inputs[0]].name = None
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    try:
        edgerun.Session(bytes(b.Output()), verify=False)
    except edgerun.ModelError as e:
        print(f"runtime C++ exception -> ModelError ({edgerun._core._unwinder}): {str(e)[:80]}")
        return
    raise SystemExit("a model whose signature names a nameless tensor loaded with verify=False: the runtime "
                     "was expected to throw")


def run(out_path: str, models: list[str]) -> None:
    import edgerun
    from edgerun import _core
    from edgerun.model import builder

    _check_stub_matches(_core)

    record: dict[str, np.ndarray] = {}
    frames = _frames()
    for i, (fmt, opts, shape, dtype) in enumerate(_CASES):
        pre = edgerun.Preprocessor(fmt, **opts)
        out = np.zeros(shape, dtype=dtype)
        if dtype == np.int8:
            pre(frames[fmt], out, scale=1 / 255.0, zero_point=-128)
        elif dtype == np.uint8 and opts.get("std") != 1:
            pre(frames[fmt], out, scale=2 / 255.0, zero_point=128)
        else:
            pre(frames[fmt], out)
        record[f"pre{i}"] = out

    sources = [("builtin", builder.builtin_image_model())] + [(m, m) for m in models]
    for j, (name, source) in enumerate(sources):
        session = edgerun.Session(source, threads=1)
        rs = np.random.RandomState(11 + j)
        inputs = []
        for spec in session.inputs:
            dt = np.dtype(spec.dtype)
            if dt.kind == "f":
                inputs.append(rs.uniform(-1, 1, size=spec.shape).astype(dt))
            else:
                info = np.iinfo(dt)
                inputs.append(rs.randint(info.min, info.max + 1, size=spec.shape).astype(dt))
        for k, arr in enumerate(session.run(*inputs, copy=True)):
            record[f"model{j}_out{k}"] = arr
        print(f"{name}: {[tuple(o.shape) for o in session.outputs]}")

    _check_runtime_exception_is_caught()

    isa = _core._preprocess_active_isa()
    record["isa"] = np.array(isa)
    print(f"edgerun {edgerun.__version__} from {edgerun.__file__}")
    print(f"preprocess ISA: {isa}; CPU features: {_core._cpu_features()}")
    np.savez(out_path, **record)


def compare(a_path: str, b_path: str) -> int:
    a, b = np.load(a_path), np.load(b_path)
    problems = []
    keys = sorted(set(a.files) | set(b.files))
    checked = 0
    for key in keys:
        if key == "isa":
            continue
        if key not in a.files or key not in b.files:
            problems.append(f"{key}: only in {'first' if key in a.files else 'second'} recording")
            continue
        x, y = a[key], b[key]
        if x.shape != y.shape or x.dtype != y.dtype:
            problems.append(f"{key}: {x.dtype}{x.shape} vs {y.dtype}{y.shape}")
            continue
        checked += 1
        diff = float(np.max(np.abs(x.astype(np.float64) - y), initial=0.0))
        print(f"  {key:<14} {str(x.dtype):<8} {str(x.shape):<16} max |diff| {diff:.3g}")
        if key.startswith("pre"):
            if not np.array_equal(x, y):
                n = int(np.count_nonzero(x != y))
                problems.append(f"{key}: preprocessing differs in {n} of {x.size} values "
                                f"(max |diff| {np.max(np.abs(x.astype(np.float64) - y)):.3g})")
        elif x.dtype.kind in "iu":
            d = int(np.max(np.abs(x.astype(np.int64) - y.astype(np.int64)), initial=0))
            if d > 1:
                problems.append(f"{key}: integer outputs differ by {d} LSB (allowed 1)")
        else:
            scale = max(float(np.max(np.abs(x), initial=0.0)), 1e-6)
            d = float(np.max(np.abs(x.astype(np.float64) - y), initial=0.0))
            if d > 1e-5 * scale:
                problems.append(f"{key}: float outputs differ by {d:.3g} (allowed {1e-5 * scale:.3g})")
    print(f"compared {checked} arrays: ISA {a['isa']} vs {b['isa']}")
    for p in problems:
        print("MISMATCH", p)
    if checked == 0:
        problems.append("nothing compared")
    return 1 if problems else 0


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "run":
        run(argv[1], argv[2:])
        return 0
    if len(argv) == 3 and argv[0] == "compare":
        return compare(argv[1], argv[2])
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
