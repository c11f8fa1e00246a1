"""Session.memory, edgerun.memory_estimate and Session(memory_limit=) on real models.

Reference: the process's resident set (/proc/self/statm) read by the test itself in
a fresh interpreter (so memory freed by earlier tests cannot hide allocations),
around Session() after a first session has initialized the runtime.
Tolerances: Session.memory.load_rss_bytes within 10% + 256 KiB of the test's own
measurement; the static estimate an upper bound of the measured growth, at most
1.7x it + 768 KiB (measured 1.2x-1.6x on five real models, docs/power.md; the absolute
slack covers the estimate's fixed 512 KiB allowance: the released wheel (libc++) grew
only 368 KiB loading ResNet-8 where the g++ build grew about 600 KiB).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import edgerun
import models as modelgen
import realmodels

HERE = os.path.dirname(os.path.abspath(__file__))

PROBE = textwrap.dedent("""
    import json, os, sys
    import edgerun, models
    def rss():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    warm = edgerun.Session(models.identity_model((1, 4, 4, 3)), threads=1)  # runtime initialized
    r0 = rss()
    s = edgerun.Session(sys.argv[1], threads=int(sys.argv[2]))
    r1 = rss()
    m = s.memory
    print(json.dumps(dict(measured=r1 - r0, load_rss=m.load_rss_bytes, estimate=m.estimate.total,
                          io=m.io_bytes, model=m.model_bytes, mapped=m.model_mapped,
                          size=os.path.getsize(sys.argv[1]))))
""")


def _probe(path, threads):
    out = subprocess.run([sys.executable, "-c", PROBE, str(path), str(threads)], cwd=HERE, capture_output=True,
                         text=True, timeout=120, env={**os.environ, "PYTHONPATH": HERE})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("which", ["blazeface", "resnet8"])
@pytest.mark.parametrize("threads", [1, 2])
def test_memory_against_measured_rss(which, threads):
    path = realmodels.blazeface_path() if which == "blazeface" else realmodels.resnet8_path()
    m = _probe(path, threads)
    assert m["model"] == m["size"] and m["mapped"]
    assert m["measured"] > 0
    assert abs(m["load_rss"] - m["measured"]) <= 0.1 * m["measured"] + 256 * 1024, m
    assert m["measured"] <= m["estimate"] <= 1.7 * m["measured"] + 768 * 1024, m


def test_io_bytes_cover_the_tensors():
    with edgerun.Session(realmodels.blazeface_path(), threads=1) as s:
        mem = s.memory
        want = sum(t.nbytes for t in s.inputs) + sum(t.nbytes for t in s.outputs)
        assert want <= mem.io_bytes <= want + 64 * (len(s.inputs) + len(s.outputs))
        assert mem.arena_bytes is None
        assert mem.estimate == edgerun.memory_estimate(str(realmodels.blazeface_path()))
        assert mem.estimate.io_bytes == want


def test_estimate_parts_match_inspect():
    path = str(realmodels.resnet8_path())
    d = edgerun.inspect(path, xnnpack=False)
    e = edgerun.memory_estimate(path)
    assert (e.model_bytes, e.weights_bytes, e.activations_peak) == (d.size, d.weights_total, d.activations_peak)
    assert e.total == e.model_bytes + 2 * e.weights_bytes + 3 * e.activations_peak + 2 * e.io_bytes + 512 * 1024


def test_memory_limit_refuses_with_both_numbers():
    path = str(realmodels.blazeface_path())
    est = edgerun.memory_estimate(path).total
    with pytest.raises(edgerun.ModelError) as ei:
        edgerun.Session(path, memory_limit=est - 1)
    assert str(est) in str(ei.value) and str(est - 1) in str(ei.value)
    with edgerun.Session(path, memory_limit=est) as s:  # at the limit: loads
        assert s.memory.estimate.total == est
    data = open(path, "rb").read()
    with pytest.raises(edgerun.ModelError, match="memory_limit=1000 bytes"):
        edgerun.Session(data, memory_limit=1000)


@pytest.mark.parametrize("bad", [0, -5, 1.5, "1MB", True])
def test_memory_limit_bad_values(bad):
    with pytest.raises(edgerun.InputError, match="memory_limit"):
        edgerun.Session(modelgen.identity_model((1, 4)), memory_limit=bad)


def test_swap_respects_the_memory_limit():
    small = modelgen.identity_model((1, 16, 16, 3))
    limit = edgerun.memory_estimate(small).total + 1000
    big = modelgen.identity_model((1, 256, 256, 3))
    assert edgerun.memory_estimate(big).total > limit
    pre = edgerun.Preprocessor("rgb")
    with edgerun.Session(small, threads=1, memory_limit=limit) as s, edgerun.Pipeline(s, pre) as pipe:
        with pytest.raises(edgerun.ModelError, match="memory_limit"):
            pipe.swap(big)
        assert pipe.swap(small) is not None  # within the limit: swapped in
        assert pipe.session._memory_limit == limit  # the swapped-in session keeps the limit
        with pytest.raises(edgerun.ModelError, match="memory_limit"):
            pipe.swap(big)
        r = pipe(np.zeros((16, 16, 3), np.uint8))
        assert r.ok
