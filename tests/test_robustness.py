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
