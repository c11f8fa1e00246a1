"""tests/tools/wheel_check.py (the x86_64 vs aarch64 wheel comparison) must be able to fail."""

from __future__ import annotations

import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).parent / "tools"))
import wheel_check  # noqa: E402


def _save(path, **arrays):
    np.savez(path, isa=np.array("x"), **arrays)
    return str(path)


def test_identical_recordings_pass(tmp_path):
    rec = dict(pre0=np.arange(12, dtype=np.uint8), model0_out0=np.linspace(0, 1, 5, dtype=np.float32),
               model1_out0=np.array([-3, 7], dtype=np.int8))
    assert wheel_check.compare(_save(tmp_path / "a.npz", **rec), _save(tmp_path / "b.npz", **rec)) == 0


def test_each_kind_of_difference_fails(tmp_path):
    base = dict(pre0=np.zeros(8, np.uint8), model0_out0=np.ones(4, np.float32), model1_out0=np.zeros(3, np.int8))
    a = _save(tmp_path / "a.npz", **base)
    cases = {
        "pre0": np.array([0, 0, 0, 1, 0, 0, 0, 0], np.uint8),         # preprocessing must be bit-exact
        "model0_out0": np.array([1, 1, 1, 1.001], np.float32),       # float beyond 1e-5 of the range
        "model1_out0": np.array([0, 2, 0], np.int8),                 # integer beyond 1 LSB
    }
    for key, changed in cases.items():
        b = _save(tmp_path / f"b_{key}.npz", **{**base, key: changed})
        assert wheel_check.compare(a, b) == 1, key
    ok = _save(tmp_path / "b_lsb.npz", **{**base, "model1_out0": np.array([0, 1, -1], np.int8)})
    assert wheel_check.compare(a, ok) == 0
    missing = _save(tmp_path / "b_missing.npz", pre0=base["pre0"])
    assert wheel_check.compare(a, missing) == 1
