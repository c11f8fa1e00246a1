"""edgerun.Session: numerics against the Interpreter, zero-copy, lifetimes, threads, errors."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import edgerun
import models as mg

from reference import assert_close, interpreter_run, random_inputs, reference_for


def aligned_empty(shape, dtype, align=64, offset=0):
    """An array whose data pointer is `offset` bytes past a multiple of `align`."""
    dtype = np.dtype(dtype)
    n = int(np.prod(shape)) * dtype.itemsize
    raw = np.empty(n + align + offset, np.uint8)
    start = (-raw.ctypes.data) % align + offset
    return raw[start:start + n].view(dtype).reshape(shape)


@pytest.fixture(scope="module")
def builtin_float():
    return mg.builtin_image_model(dtype="float32")


@pytest.fixture(scope="module")
def builtin_int8():
    return mg.builtin_image_model(dtype="int8")


# --------------------------------------------------------------------------- numerics
@pytest.mark.parametrize("kind", ["float32", "int8"])
def test_builtin_model_matches_interpreter(kind, builtin_float, builtin_int8):
    model = builtin_float if kind == "float32" else builtin_int8
    s = edgerun.Session(model, threads=2)
    for seed in range(3):
        xs = random_inputs(s.inputs, seed)
        got = s.run(*xs, copy=True)
        want = interpreter_run(model, xs, threads=2)
        for i, (g, w) in enumerate(zip(got, want)):
            assert_close(g, w, f"{kind} output {i} seed {seed}")


@pytest.mark.parametrize("dtype", ["float32", "int8", "uint8"])
def test_add_model_matches_interpreter_and_numpy(dtype):
    model = mg.add_model((2, 5), dtype=dtype)
    s = edgerun.Session(model, threads=1)
    (x,) = random_inputs(s.inputs, 1)
    (got,) = s.run(x, copy=True)
    (want,) = interpreter_run(model, [x], threads=1)
    assert_close(got, want, dtype)
    if dtype == "float32":
        np.testing.assert_allclose(got, x + mg.add_constant((2, 5), dtype), rtol=1e-6)


def test_multi_io_model():
    model = mg.multi_io_model()
    s = edgerun.Session(model)
    assert [t.dtype for t in s.inputs] == [np.dtype("float32"), np.dtype("int32")]
    xs = random_inputs(s.inputs, 2)
    got = s.run(*xs, copy=True)
    want = reference_for(s, model, xs)
    assert len(got) == len(want) == 2
    for g, w in zip(got, want):
        assert_close(g, w)


def test_tensor_specs(builtin_int8):
    s = edgerun.Session(builtin_int8)
    (inp,) = s.inputs
    assert inp.name == "image" and inp.shape == (1, 96, 96, 3) and inp.dtype == np.int8
    assert inp.scale > 0 and inp.quantized
    assert s.outputs[0].name == "probs"
    assert s.signatures == ["serving_default"] and s.signature == "serving_default"
    f = edgerun.Session(mg.builtin_image_model())
    assert f.inputs[0].scale == 0.0 and f.inputs[0].zero_point == 0 and not f.inputs[0].quantized


def test_path_and_pathlike_and_bytes_give_same_result(tmp_path, builtin_float):
    p = tmp_path / "m.tflite"
    p.write_bytes(builtin_float)
    xs = random_inputs(edgerun.Session(builtin_float).inputs, 3)
    results = [edgerun.Session(src).run(*xs, copy=True)[0]
               for src in (str(p), p, builtin_float, bytearray(builtin_float), memoryview(builtin_float))]
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])


def test_default_threads_is_physical_cores():
    s = edgerun.Session(mg.add_model())
    assert s.threads == edgerun._core.default_threads() >= 1
    assert s.threads <= len(os.sched_getaffinity(0))


def test_default_threads_is_one_with_two_cores_or_fewer():
    # The rule restated from /sys: distinct (package, core) among the CPUs this process may use;
    # one thread when that is <= 2 (docs/power.md), else one per core.
    cpus = sorted(os.sched_getaffinity(0))
    cores = set()
    for c in cpus:
        base = f"/sys/devices/system/cpu/cpu{c}/topology/"
        try:
            with open(base + "physical_package_id") as p, open(base + "core_id") as k:
                cores.add((p.read().strip(), k.read().strip()))
        except OSError:
            pytest.skip("no CPU topology in /sys")
    n = min(len(cores), len(cpus))
    assert edgerun._core.default_threads() == (1 if n <= 2 else n)


def test_threads_reach_xnnpack(builtin_float):
    """XNNPACK's pool starts threads-1 workers: the thread count is observable."""
    def count():
        return len(os.listdir("/proc/self/task"))
    before = count()
    s1 = edgerun.Session(builtin_float, threads=1)
    after1 = count()
    s3 = edgerun.Session(builtin_float, threads=3)
    after3 = count()
    assert after1 - before == 0
    assert after3 - after1 == 2
    del s1, s3


# --------------------------------------------------------------------------- zero copy
def test_input_view_is_aligned_and_is_what_the_runtime_reads(builtin_float):
    s = edgerun.Session(builtin_float)
    v = s.input(0)
    assert v.ctypes.data % 64 == 0 and v.flags.writeable and v.flags.c_contiguous
    assert v.shape == s.inputs[0].shape
    (x,) = random_inputs(s.inputs, 4)
    v[...] = x
    (got,) = s.run(copy=True)
    assert_close(got, interpreter_run(builtin_float, [x])[0])
    assert s.input("image").ctypes.data == v.ctypes.data  # by name: same buffer
    stats = s._io_stats()
    assert stats == {"zero_copy_inputs": 0, "copied_inputs": 0}


def test_aligned_array_is_not_copied_unaligned_is_copied_once(builtin_float):
    s = edgerun.Session(builtin_float)
    shape = s.inputs[0].shape
    (x,) = random_inputs(s.inputs, 5)
    want = interpreter_run(builtin_float, [x])[0]
    a = aligned_empty(shape, np.float32)
    a[...] = x
    assert_close(s.run(a, copy=True)[0], want)
    assert s._io_stats() == {"zero_copy_inputs": 1, "copied_inputs": 0}
    # The runtime reads the caller's memory itself: change it in place, run again.
    (x2,) = random_inputs(s.inputs, 6)
    a[...] = x2
    assert_close(s.run(a, copy=True)[0], interpreter_run(builtin_float, [x2])[0])
    assert s._io_stats() == {"zero_copy_inputs": 2, "copied_inputs": 0}
    u = aligned_empty(shape, np.float32, offset=4)  # misaligned
    u[...] = x
    assert_close(s.run(u, copy=True)[0], want)
    nc = np.asfortranarray(x)  # right dtype/shape, not C-contiguous
    assert_close(s.run(nc, copy=True)[0], want)
    strided = np.repeat(x, 2, axis=2)[:, :, ::2, :]
    assert not strided.flags.c_contiguous
    assert_close(s.run(strided, copy=True)[0], want)
    assert s._io_stats() == {"zero_copy_inputs": 2, "copied_inputs": 3}


def test_outputs_are_readonly_views_overwritten_by_next_run():
    model = mg.add_model((1, 8))
    s = edgerun.Session(model)
    x1 = np.zeros((1, 8), np.float32)
    (o1,) = s.run(x1)
    assert not o1.flags.writeable and o1.ctypes.data % 64 == 0
    first = o1.copy()
    (o2,) = s.run(x1 + 1)
    assert np.shares_memory(o1, o2) or o1.ctypes.data == o2.ctypes.data
    np.testing.assert_allclose(o1, first + 1)
    (c,) = s.run(x1, copy=True)
    assert c.flags.writeable and not np.shares_memory(c, o2)
    with pytest.raises(ValueError):
        o1[0, 0] = 3


def test_views_outlive_the_session(builtin_float):
    s = edgerun.Session(builtin_float)
    v = s.input(0)
    (x,) = random_inputs(s.inputs, 7)
    (out,) = s.run(x)
    kept = out.copy()
    del s
    gc.collect()
    v[...] = 1.0  # memory still owned by the view's base
    assert float(v.sum()) == v.size
    np.testing.assert_array_equal(out, kept)


def test_none_keeps_session_buffer():
    s = edgerun.Session(mg.multi_io_model())
    xs = random_inputs(s.inputs, 8)
    s.input(1)[...] = xs[1]
    got = s.run(xs[0], None, copy=True)
    want = reference_for(s, mg.multi_io_model(), xs)
    for g, w in zip(got, want):
        assert_close(g, w)


# --------------------------------------------------------------------------- signatures, state, resize
def test_signatures_by_key_and_index():
    model = mg.two_signature_model()
    s0 = edgerun.Session(model)
    assert s0.signatures == ["add_one", "times_two"] and s0.signature == "add_one"
    s1 = edgerun.Session(model, signature="times_two")
    s2 = edgerun.Session(model, signature=1)
    assert s1.signature == s2.signature == "times_two"
    for s, key in ((s0, "add_one"), (s1, "times_two")):
        xs = random_inputs(s.inputs, 9)
        got = s.run(*xs, copy=True)
        want = reference_for(s, model, xs)
        for g, w in zip(got, want):
            assert_close(g, w, key)
    with pytest.raises(edgerun.InputError, match="no signature 'nope'.*'add_one', 'times_two'"):
        edgerun.Session(model, signature="nope")
    with pytest.raises(edgerun.InputError, match="out of range"):
        edgerun.Session(model, signature=5)


def test_stateful_model_keeps_state_and_warmup_does_not_advance_it():
    s = edgerun.Session(mg.stateful_counter_model())
    assert s.stateful
    xs = [np.ones(t.shape, t.dtype) for t in s.inputs]
    values = [float(s.run(*xs, copy=True)[0].ravel()[0]) for _ in range(4)]
    # The Interpreter, fresh, gives the same sequence (the warm-up consumed nothing).
    from ai_edge_litert.interpreter import Interpreter
    it = Interpreter(model_content=mg.stateful_counter_model())
    runner = it.get_signature_runner(s.signature)
    name = runner.get_input_details().popitem()[0] if s.inputs else None
    ref = []
    for _ in range(4):
        out = runner(**({name: xs[0]} if name else {}))
        ref.append(float(next(iter(out.values())).ravel()[0]))
    assert values == ref
    assert values[1] != values[0]  # state advanced between runs


def test_resize_input():
    s = edgerun.Session(mg.dynamic_batch_model())
    assert s.inputs[0].shape == (1, 4)
    s.resize_input(0, (3, 4))
    assert s.inputs[0].shape == (3, 4) and s.outputs[0].shape == (3, 4)
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.testing.assert_allclose(s.run(x, copy=True)[0], x * 2 + 1)
    v = s.input(0)
    with pytest.raises(edgerun.BusyError, match="view"):
        s.resize_input(0, (5, 4))
    del v
    s.resize_input("x", [5, 4])
    x5 = np.ones((5, 4), np.float32)
    np.testing.assert_allclose(s.run(x5, copy=True)[0], x5 * 2 + 1)
    with pytest.raises(edgerun.InputError, match="rank"):
        s.resize_input(0, (5,))
    with pytest.raises(edgerun.InputError, match="invalid dimension"):
        s.resize_input(0, (0, 4))


# --------------------------------------------------------------------------- threads
def test_gil_released_during_run():
    s = edgerun.Session(mg.slow_model(ms=100), threads=1)
    x = random_inputs(s.inputs, 10)
    t0 = time.perf_counter()
    s.run(*x)
    single = time.perf_counter() - t0
    ticks = 0
    done = threading.Event()

    def work():
        for _ in range(3):
            s.run(*x)
        done.set()

    th = threading.Thread(target=work)
    th.start()
    while not done.is_set():
        ticks += 1
        time.sleep(0.001)
    th.join()
    # Three runs of >= `single` seconds each; with the GIL held the loop could
    # not tick at all while a run is in progress.
    assert ticks >= 10, (ticks, single)


def test_concurrent_runs_are_serialized_and_correct(builtin_float):
    s = edgerun.Session(builtin_float, threads=1)
    inputs = [random_inputs(s.inputs, 20 + i) for i in range(4)]
    wants = [interpreter_run(builtin_float, xs, threads=1)[0] for xs in inputs]
    errors = []

    def worker(k):
        try:
            for _ in range(15):
                (got,) = s.run(*inputs[k], copy=True)
                assert_close(got, wants[k], f"thread {k}")
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    assert s.run_count == 60


# --------------------------------------------------------------------------- errors
def test_input_errors_name_tensor_expected_and_received(builtin_float):
    s = edgerun.Session(builtin_float)
    good = random_inputs(s.inputs, 0)[0]
    with pytest.raises(edgerun.InputError, match=r"input 0 \('image'\): expected float32\[1, 96, 96, 3\], got float64\[1, 96, 96, 3\]"):
        s.run(good.astype(np.float64))
    with pytest.raises(edgerun.InputError, match=r"expected float32\[1, 96, 96, 3\], got float32\[1, 96, 96\]"):
        s.run(good[..., 0])
    with pytest.raises(edgerun.InputError, match="takes 1 input"):
        s.run(good, good)
    with pytest.raises(edgerun.InputError, match="expected a numpy array, got list"):
        s.run(good.tolist())
    with pytest.raises(ValueError):  # InputError is a ValueError
        s.run(good.astype(">f4"))
    with pytest.raises(edgerun.InputError, match="no input named 'nope'.*'image'"):
        s.input("nope")
    with pytest.raises(edgerun.InputError, match="out of range"):
        s.input(3)
    with pytest.raises(edgerun.InputError):
        edgerun.Session(builtin_float, threads=0)
    with pytest.raises(edgerun.InputError):
        edgerun.Session(builtin_float, threads=True)
    with pytest.raises(edgerun.InputError, match="accelerator 'tpu'"):
        edgerun.Session(builtin_float, accelerator="tpu")
    with pytest.raises(edgerun.InputError):
        edgerun.Session(12345)


def test_model_errors(tmp_path):
    with pytest.raises(edgerun.ModelError, match="cannot open"):
        edgerun.Session(tmp_path / "missing.tflite")
    empty = tmp_path / "empty.tflite"
    empty.write_bytes(b"")
    with pytest.raises(edgerun.ModelError, match="empty"):
        edgerun.Session(empty)
    with pytest.raises(edgerun.ModelError):
        edgerun.Session(b"not a model at all, just some bytes")
    with pytest.raises(edgerun.ModelError, match="is not a regular file"):
        edgerun.Session(tmp_path)


def test_unresolved_custom_op_fails_at_load_with_runtime_text():
    with pytest.raises(edgerun.ModelError, match="EdgerunUnknownOp"):
        edgerun.Session(mg.custom_op_model("EdgerunUnknownOp"))


def test_closed_session():
    s = edgerun.Session(mg.add_model())
    with s:
        pass
    assert s.closed
    assert "closed" in repr(s)
    with pytest.raises(RuntimeError, match="closed"):
        s.run()


# --------------------------------------------------------------------------- runtime loading
_TESTS = os.path.dirname(os.path.abspath(__file__))  # for `import models` in a child interpreter


def _run_py(code: str, env_extra: dict) -> subprocess.CompletedProcess:
    env = dict(os.environ, **env_extra)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120)


def test_runtime_override_to_missing_library_is_a_clear_error(tmp_path):
    code = (f"import sys\nsys.path.insert(0, {_TESTS!r})\nimport edgerun\nimport models as modelgen\n"
            "try:\n    edgerun.Session(modelgen.add_model())\n"
            "except edgerun.RuntimeLoadError as e:\n    print('ERR', e)\n")
    r = _run_py(code, {"EDGERUN_LITERT_LIB": str(tmp_path / "nope.so")})
    assert "ERR cannot load the LiteRT runtime" in r.stdout and "nope.so" in r.stdout, r.stdout + r.stderr
    assert "EDGERUN_LITERT_LIB" in r.stdout


def test_runtime_without_symbols_lists_them():
    libm = "libm.so.6"
    code = (f"import sys\nsys.path.insert(0, {_TESTS!r})\nimport edgerun\nimport models as modelgen\n"
            "try:\n    edgerun.Session(modelgen.add_model())\n"
            "except edgerun.RuntimeLoadError as e:\n    print('ERR', e)\n")
    r = _run_py(code, {"EDGERUN_LITERT_LIB": libm})
    assert "ERR" in r.stdout and "lacks" in r.stdout and "LiteRtCreateCompiledModel" in r.stdout, r.stdout + r.stderr


def test_unsupported_runtime_version_is_refused():
    code = ("import edgerun._core as c, edgerun\n"
            "try:\n    c.load_runtime('/nonexistent/libLiteRt.so', '2.2.0')\n"
            "except edgerun.RuntimeLoadError as e:\n    print('ERR', e)\n")
    r = _run_py(code, {"EDGERUN_LITERT_LIB": ""})
    assert "ERR ai-edge-litert 2.2.0 is installed, but edgerun supports 2.3.*" in r.stdout, r.stdout + r.stderr


def test_no_memory_growth_across_session_recreation(builtin_float):
    """Long-running devices swap models: creating and dropping sessions must not leak."""
    def rss_mb():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    for _ in range(5):
        edgerun.Session(builtin_float, threads=1).run()
    gc.collect()
    before = rss_mb()
    for _ in range(60):
        s = edgerun.Session(builtin_float, threads=1)
        s.run()
        del s
    gc.collect()
    grown = rss_mb() - before
    # One session of this 1.3 MB model holds several MB (packed weights): 60 leaked
    # sessions would add well over 100 MB.
    assert grown < 20, f"RSS grew by {grown:.1f} MB over 60 sessions"
