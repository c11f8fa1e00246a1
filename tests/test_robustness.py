"""Issue 11: no file, argument or thread interleaving may crash or hang the process.

Races and possible crashes run in a child Python (a crash is a failed test, not a dead
pytest); each child runs for a bounded time and prints a verdict line.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import edgerun
import models as mg

HERE = os.path.dirname(os.path.abspath(__file__))


def run_child(code: str, timeout: float = 120.0) -> str:
    """Runs `code` in a fresh interpreter (tests/ on sys.path); fails on a signal,
    a non-zero exit or a hang; returns stdout."""
    env = dict(os.environ, PYTHONPATH=HERE + os.pathsep + os.environ.get("PYTHONPATH", ""))
    try:
        p = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                           timeout=timeout, env=env, cwd=HERE)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"the child hung (> {timeout} s); output so far: {e.stdout!r} {e.stderr!r}")
    assert p.returncode == 0, (f"child exited with {p.returncode} "
                               f"({'signal ' + str(-p.returncode) if p.returncode < 0 else 'error'}):\n"
                               f"{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    return p.stdout


# --------------------------------------------------------------------------- 6: non-regular files
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")
def test_fifo_is_refused_not_waited_on(tmp_path):
    fifo = tmp_path / "model.tflite"
    os.mkfifo(fifo)
    out = run_child(f"""
        import edgerun
        for call in (lambda p: edgerun.Session(p), lambda p: edgerun.verify(p)):
            try:
                call({str(fifo)!r})
            except edgerun.ModelError as e:
                print("ModelError:", e)
            else:
                print("NO ERROR")
        """, timeout=60)
    lines = out.strip().splitlines()
    assert len(lines) == 2 and all(l.startswith("ModelError:") for l in lines), out
    assert "FIFO" in lines[0] and str(fifo) in lines[0], lines[0]


def test_directory_and_device_are_refused(tmp_path):
    with pytest.raises(edgerun.ModelError, match="directory"):
        edgerun.Session(str(tmp_path))
    if os.path.exists("/dev/zero"):
        with pytest.raises(edgerun.ModelError, match="character device"):
            edgerun.Session("/dev/zero")


# --------------------------------------------------------------------------- 7: close/resize vs run
_RACE_PRELUDE = """
    import threading, time, sys
    import numpy as np
    import edgerun
    import models as mg

    EXPECTED = (edgerun.ClosedError, edgerun.BusyError)
    unexpected = []
    counts = {}

    def hammer(fn, stop):
        while not stop.is_set():
            try:
                fn()
                counts[fn.__name__] = counts.get(fn.__name__, 0) + 1
            except EXPECTED as e:
                k = type(e).__name__
                counts[k] = counts.get(k, 0) + 1
            except BaseException as e:  # anything else fails the test
                unexpected.append(repr(e))
                stop.set()
"""


def test_close_while_other_threads_run():
    out = run_child(_RACE_PRELUDE + """
    data = mg.builtin_image_model(dtype="float32")
    x = np.random.default_rng(0).random((1, 96, 96, 3), dtype=np.float32)
    deadline = time.monotonic() + 6.0
    rounds = 0
    while time.monotonic() < deadline:
        s = edgerun.Session(data, threads=1)
        ref = s.run(x, copy=True)[0]
        stop = threading.Event()
        def run():
            r = s.run(x, copy=True)[0]
            if not np.array_equal(r, ref):
                raise AssertionError("wrong result")
        def run_views():
            s.run(x)
        def run_zero_copy():
            s.input(0)[...] = x
            s.run()
        def specs():
            s.inputs, s.outputs, s._placement()
        ts = [threading.Thread(target=hammer, args=(f, stop)) for f in (run, run, run_views, run_zero_copy, specs)]
        for t in ts: t.start()
        time.sleep(0.01 * (rounds % 5))
        s.close()
        time.sleep(0.005)
        stop.set()
        for t in ts: t.join()
        rounds += 1
        if unexpected: break
    print("rounds", rounds, "counts", counts)
    print("UNEXPECTED" if unexpected else "OK", unexpected[:3])
    """)
    assert out.strip().splitlines()[-1].startswith("OK"), out
    assert "ClosedError" in out, out  # the race was exercised: runs after close were refused


def test_resize_while_other_threads_run_copy():
    out = run_child(_RACE_PRELUDE + """
    s = edgerun.Session(mg.dynamic_batch_model(features=4), threads=1)
    stop = threading.Event()
    def run_copy():
        y = s.run(copy=True)[0]
        if y.ndim != 2 or y.shape[1] != 4 or not np.all(y == 1.0):  # zeros in -> 2*0+1
            raise AssertionError(f"bad output {y.shape}")
    def run_views():
        y = s.run()[0]
        if y.shape[1] != 4:
            raise AssertionError("bad shape")
    def run_args():
        b = s.inputs[0].shape[0]
        try:
            y = s.run(np.zeros((b, 4), np.float32), copy=True)[0]
        except edgerun.InputError:  # resized between reading the shape and running: a clear error
            counts["InputError"] = counts.get("InputError", 0) + 1
    def resize():
        s.resize_input(0, (int(np.random.randint(1, 300)), 4))
    def specs():
        [t.shape for t in s.outputs]
    ts = [threading.Thread(target=hammer, args=(f, stop))
          for f in (run_copy, run_copy, run_views, run_args, resize, specs)]
    for t in ts: t.start()
    time.sleep(6.0)
    stop.set()
    for t in ts: t.join()
    s.close()
    print("counts", counts)
    print("UNEXPECTED" if unexpected else "OK", unexpected[:3])
    """)
    assert out.strip().splitlines()[-1].startswith("OK"), out
    assert "'resize'" in out and "'run_copy'" in out, out


def test_run_copy_after_resize_has_new_shape():
    s = edgerun.Session(mg.dynamic_batch_model(features=4))
    s.resize_input(0, (7, 4))
    y = s.run(np.ones((7, 4), np.float32), copy=True)[0]
    assert y.shape == (7, 4) and np.all(y == 3.0)
    s.close()
    with pytest.raises(edgerun.ClosedError):
        s.run(copy=True)
    with pytest.raises(edgerun.ClosedError):
        s.input(0)


# --------------------------------------------------------------------------- 8: 64-bit bounds
FRAME = np.zeros((48, 64, 3), np.uint8)


@pytest.mark.parametrize("roi", [(2**31 - 1, 0, 1, 1), (0, 2**31 - 1, 1, 1), (10, 0, 2**31 - 1, 1),
                                 (0, 10, 1, 2**31 - 1), (2**31 - 2, 2**31 - 2, 2**31 - 1, 2**31 - 1)])
def test_roi_near_int_max_is_refused_not_read_out_of_bounds(roi):
    # Before: x + w wrapped negative, passed the bounds check and the kernel read far
    # outside the frame (SIGSEGV) -- run in a child so a crash is a failure.
    out = run_child(f"""
        import numpy as np, edgerun
        frame = np.zeros((48, 64, 3), np.uint8)
        out = np.zeros((1, 16, 16, 3), np.float32)
        try:
            edgerun.Preprocessor("rgb", roi={roi!r})(frame, out)
        except edgerun.InputError as e:
            print("InputError:", e)
        """, timeout=60)
    assert out.startswith("InputError:") and "must lie inside the 64x48 frame" in out, out


def test_frame_row_stride_beyond_reason_is_refused():
    pre = edgerun.Preprocessor("rgb")
    out = np.zeros((1, 16, 16, 3), np.float32)
    huge_stride = np.lib.stride_tricks.as_strided(FRAME, (2, 64, 3), (2**50, 3, 1))
    with pytest.raises(edgerun.InputError, match="row stride"):
        pre(huge_stride, out)
    with pytest.raises(edgerun.InputError, match="larger than"):
        pre.transform((2**31 - 1, 48), (16, 16))
    # Output shapes beyond int range: refused before narrowing (a view, no memory).
    wide = np.lib.stride_tricks.as_strided(np.zeros(3, np.float32), (1, 1, 2**33, 3), (0, 0, 0, 4))
    with pytest.raises(edgerun.InputError):
        pre(FRAME, wide)
