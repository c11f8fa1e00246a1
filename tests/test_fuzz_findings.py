"""Models the fuzzers found (tests/data/fuzz/, docs/fuzzing.md): each must raise an
edgerun.ModelError, in a child process so that a regression fails the test instead of
killing pytest.

- session-shape-overflow-*.tflite (fuzz_session): mutants of the dynamic-batch model with no
  shape and a huge shape_signature, which the runtime then reports as the tensor's shape:
  signed overflow in Session's buffer sizing, then an "out of memory allocating
  18446739675663040512 bytes" edgerun.Error (or a wrapped small size). Now the verifier
  bounds the signature's element count, and with verify=False Session's buffer sizing
  refuses shapes over 2^31 elements: a ModelError naming the tensor and its shape either way.
"""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

DATA = pathlib.Path(__file__).resolve().parent / "data" / "fuzz"
FILES = sorted(DATA.glob("*.tflite"))

CHILD = r"""
import sys
import edgerun
try:
    edgerun.Session(open(sys.argv[1], "rb").read(), verify=sys.argv[2] == "1")
except edgerun.ModelError as e:
    print("ModelError:", e)
    sys.exit(0)
except BaseException as e:
    print("WRONG:", type(e).__name__, e)
    sys.exit(3)
print("WRONG: loaded")
sys.exit(4)
"""


@pytest.mark.parametrize("verify", [True, False], ids=["verify", "noverify"])
@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_fuzz_finding_raises_model_error(path, verify):
    r = subprocess.run([sys.executable, "-c", CHILD, str(path), "1" if verify else "0"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, f"{path.name}: exit {r.returncode}\n{r.stdout}\n{r.stderr[-2000:]}"
    assert "shape" in r.stdout, r.stdout
