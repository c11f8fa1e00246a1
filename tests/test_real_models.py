"""Real models nobody here wrote (fetched from pinned PyPI wheels): edgerun == Interpreter."""

from __future__ import annotations

import numpy as np
import pytest

import edgerun

from reference import assert_close, reference_for, random_inputs


@pytest.mark.parametrize("fixture", ["blazeface_model", "resnet8_model"])
@pytest.mark.parametrize("threads", [1, 2])
def test_real_model_matches_interpreter(fixture, threads, request):
    path = request.getfixturevalue(fixture)
    data = path.read_bytes()
    s = edgerun.Session(path, threads=threads)
    for seed in range(2):
        xs = random_inputs(s.inputs, seed)
        got = s.run(*xs, copy=True)
        want = reference_for(s, data, xs, threads=threads)
        assert len(got) == len(want)
        for i, (g, w) in enumerate(zip(got, want)):
            assert_close(g, w, f"{path.name} output {i} ({s.outputs[i].name}) seed {seed}")


def test_blazeface_tensors(blazeface_model):
    s = edgerun.Session(blazeface_model)
    assert [(t.shape, t.dtype) for t in s.inputs] == [((1, 128, 128, 3), np.float32)]
    assert sorted(t.shape for t in s.outputs) == [(1, 896, 1), (1, 896, 16)]


def test_resnet8_tensors(resnet8_model):
    s = edgerun.Session(resnet8_model)
    (inp,) = s.inputs
    assert inp.shape == (1, 32, 32, 3) and inp.dtype == np.int8 and inp.scale > 0
    assert s.outputs[0].shape == (1, 10) and s.outputs[0].dtype == np.int8
