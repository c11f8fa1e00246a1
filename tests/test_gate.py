"""Power: the change gate (ChangeGate), the model gate (ModelGate), the frame-rate
governor (max_fps) and the energy counters of Pipeline.stats().

References: the thumbnail against a NumPy re-statement of its sampling rule (exact)
and against OpenCV's INTER_AREA block means on smooth images (within 3 levels);
pipeline outputs against the Preprocessor + identity model (exact, see
test_pipeline.py); CPU counters against the process clock (time.process_time).
"""

from __future__ import annotations

import time

import numpy as np
import pytest

import edgerun
import models as modelgen
from test_preprocess import to_format

cv2 = pytest.importorskip("cv2")

G, SX, SY = 16, 24, 1  # LumaThumbnail::kGrid, kSamplesX, kSamplesY
FORMATS = ["rgb", "bgr", "rgba", "bgra", "gray", "nv12", "nv21", "i420", "yuyv", "uyvy"]


def _positions(extent, S):
    """Sample positions per cell: the centres of up to S equal slices of the cell."""
    out = []
    for c in range(G):
        lo, hi = c * extent // G, (c + 1) * extent // G
        if hi <= lo:
            hi = min(lo + 1, extent)
        n = min(S, hi - lo)
        out.append([min(extent - 1, lo + (2 * k + 1) * (hi - lo) // (2 * n)) for k in range(n)])
    return out


def _planes(frame, fmt, h, w):
    """The planes the gate averages: (R, G, B) for RGB formats, (Y,) otherwise."""
    if fmt in ("rgb", "bgr", "rgba", "bgra"):
        r, b = (0, 2) if fmt in ("rgb", "rgba") else (2, 0)
        return [frame[..., r], frame[..., 1], frame[..., b]]
    if fmt == "gray":
        return [frame.reshape(h, w)]
    if fmt in ("nv12", "nv21", "i420"):
        return [frame[:h]]
    return [frame[:, :, 0 if fmt == "yuyv" else 1]]


def _luma_plane(frame, fmt, h, w):
    p = [q.astype(np.float64) for q in _planes(frame, fmt, h, w)]
    return (77 * p[0] + 150 * p[1] + 29 * p[2]) / 256 if len(p) == 3 else p[0]


def reference_thumbnail(frame, fmt, h, w):
    """Cell = mean of its sampled pixels (luma of the mean R, G, B for RGB formats), rounded half up."""
    planes = [q.astype(np.int64) for q in _planes(frame, fmt, h, w)]
    ys, xs = _positions(h, SY), _positions(w, SX)
    out = np.empty((G, G), np.uint8)
    for cy in range(G):
        for cx in range(G):
            sums = [int(q[np.ix_(ys[cy], xs[cx])].sum()) for q in planes]
            n = len(ys[cy]) * len(xs[cx])
            if len(sums) == 3:
                out[cy, cx] = (77 * sums[0] + 150 * sums[1] + 29 * sums[2] + 128 * n) // (256 * n)
            else:
                out[cy, cx] = (sums[0] + n // 2) // n
    return out


def _rgb(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("h,w", [(480, 640), (36, 50), (37, 51), (12, 10), (4, 2), (3, 1)])
def test_thumbnail_matches_reference(fmt, h, w):
    if fmt in ("nv12", "nv21", "i420", "yuyv", "uyvy") and (h % 4 or w % 2):
        pytest.skip("4:2:x formats need even sizes (the test's converter: heights divisible by 4)")
    frame = to_format(_rgb(h, w, seed=h * w), fmt)
    pre = edgerun.Preprocessor(fmt)
    got = edgerun._core._luma_thumbnail(pre, frame)
    np.testing.assert_array_equal(got, reference_thumbnail(frame, fmt, h, w))


def test_thumbnail_strided_rows():
    big = _rgb(60, 90, seed=3)
    view = big[5:53, 7:71]  # rows padded to a stride, the way cameras hand them over
    pre = edgerun.Preprocessor("rgb")
    np.testing.assert_array_equal(edgerun._core._luma_thumbnail(pre, view),
                                  reference_thumbnail(view, "rgb", 48, 64))


@pytest.mark.parametrize("fmt", ["bgr", "nv12", "yuyv", "gray"])
def test_thumbnail_close_to_opencv_block_means(fmt):
    # A smooth scene: sampling 12x2 points per cell gives the cell mean within a few levels.
    h, w = 480, 640
    yy, xx = np.mgrid[0:h, 0:w]
    rgb = np.dstack([(xx * 255 // w), (yy * 255 // h), ((xx + yy) * 255 // (w + h))]).astype(np.uint8)
    frame = to_format(rgb, fmt)
    luma = np.clip(np.rint(_luma_plane(frame, fmt, h, w)), 0, 255).astype(np.uint8)
    want = cv2.resize(luma, (G, G), interpolation=cv2.INTER_AREA)
    got = edgerun._core._luma_thumbnail(edgerun.Preprocessor(fmt), frame)
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 3


def test_gate_options_are_checked():
    with pytest.raises(edgerun.InputError, match="threshold"):
        edgerun.ChangeGate(threshold=-1)
    with pytest.raises(edgerun.InputError, match="threshold"):
        edgerun.ChangeGate(threshold=255)
    with pytest.raises(edgerun.InputError, match="max_skip"):
        edgerun.ChangeGate(max_skip=0)
    with pytest.raises(edgerun.InputError, match="max_skip"):
        edgerun.ChangeGate(max_skip=2.5)
    with pytest.raises(edgerun.InputError, match="predicate"):
        edgerun.ModelGate(edgerun.Session(modelgen.identity_model((1, 4, 4, 3)), threads=1), 3)
    with pytest.raises(edgerun.InputError, match="cheap"):
        edgerun.ModelGate("model.tflite", bool)


@pytest.fixture
def ident():
    with edgerun.Session(modelgen.identity_model((1, 16, 16, 3)), threads=1) as s:
        yield s


def test_pipeline_gate_and_fps_arguments_are_checked(ident):
    pre = edgerun.Preprocessor("bgr")
    with pytest.raises(edgerun.InputError, match="gate"):
        edgerun.Pipeline(ident, pre, gate="yes")
    for bad in (-1, float("nan"), float("inf"), "10"):
        with pytest.raises(edgerun.InputError, match="max_fps"):
            edgerun.Pipeline(ident, pre, max_fps=bad)


def _noisy(base, rng, sigma=3.0):
    noise = rng.normal(0.0, sigma, base.shape)
    return np.clip(base.astype(np.float64) + noise, 0, 255).astype(np.uint8)


def _scripted_scene(n, changes, h=240, w=320, seed=0):
    """A static noisy scene; at each frame index in `changes` something in it
    changes for good (a 40x40 square appears, moves, or the lighting drops)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(40, 200, (h, w, 3), dtype=np.uint8)
    base = cv2.GaussianBlur(base, (0, 0), 3)  # a smooth scene, like a camera's
    frames, scene = [], base.copy()
    for i in range(n):
        if i in changes:
            k = changes.index(i)
            scene = base.copy()
            if k % 3 == 2:
                scene = (scene * 0.6).astype(np.uint8)  # lighting change
            y, x = 20 + 37 * k % (h - 60), 30 + 53 * k % (w - 60)
            scene[y:y + 40, x:x + 40] = (255, 255, 255) if k % 2 else (0, 0, 0)
        frames.append(_noisy(scene, rng))
    return frames


def _check_gate_sequence(results, frames, changes, max_skip, pre):
    """Every change answered at once (the changed frame runs), never more than
    max_skip reuses in a row, skipped outputs equal the reused frame's exactly,
    frames that ran equal Preprocessor + identity exactly."""
    by_id = {r.frame_id: r for r in results}
    first = results[0].frame_id
    run_of = {}
    streak = 0
    for r in results:
        i = r.frame_id - first
        assert r.ok, r.error
        if r.skipped:
            streak += 1
            assert streak <= max_skip
            ref = by_id[r.reused_frame_id]
            assert not ref.skipped and ref.frame_id < r.frame_id
            last_change = max([c for c in changes if c <= i], default=0)
            assert ref.frame_id - first >= last_change, f"frame {i} reuses a result from before the change at {last_change}"
            np.testing.assert_array_equal(r.output[0], ref.output[0])
            assert r.output[0] is not ref.output[0]
            assert r.transform == ref.transform
        else:
            streak = 0
            want = np.zeros((1, 16, 16, 3), np.float32)
            pre(frames[i], want)
            np.testing.assert_array_equal(r.output[0], want)
        run_of[i] = not r.skipped
    for c in changes:
        assert run_of[c], f"the change at frame {c} was not answered"


CHANGES = [7, 15, 16, 30, 41, 60, 75]


def test_sync_gate_scripted_changes(ident):
    pre = edgerun.Preprocessor("bgr")
    frames = _scripted_scene(90, CHANGES)
    with edgerun.Pipeline(ident, pre, gate=edgerun.ChangeGate(threshold=8, max_skip=10)) as pipe:
        results = [pipe(f) for f in frames]
        st = pipe.stats()
    _check_gate_sequence(results, frames, CHANGES, 10, pre)
    skipped = sum(r.skipped for r in results)
    assert st["gate_skipped"] == skipped and st["gate_ran"] == len(frames) - skipped
    assert st["gate_first"] == 1 and st["gate_changed"] >= len(CHANGES)
    assert st["gate_ran"] == st["gate_first"] + st["gate_changed"] + st["gate_forced"]
    # Static noisy scene: at most one run per max_skip+1 frames besides the changes.
    assert st["gate_ran"] <= 1 + len(CHANGES) + len(frames) // 11 + 1
    assert all(r.timings.gate > 0 for r in results)


@pytest.mark.parametrize("overlap", [True, False])
def test_async_gate_scripted_changes(ident, overlap):
    pre = edgerun.Preprocessor("bgr")
    frames = _scripted_scene(80, CHANGES)
    with edgerun.Pipeline(ident, pre, gate=edgerun.ChangeGate(threshold=8, max_skip=6), drop="none",
                          overlap=overlap) as pipe:
        for f in frames:
            pipe.submit(f)
        results = [pipe.get(timeout=10) for _ in frames]
    assert [r.frame_id for r in results] == sorted(r.frame_id for r in results)
    _check_gate_sequence(results, frames, CHANGES, 6, pre)
    assert sum(r.skipped for r in results) >= 40


@pytest.mark.parametrize("overlap", [True, False])
def test_async_gate_one_frame_at_a_time(ident, overlap):
    # Each frame submitted once the previous result is in: nothing is in flight, so submit()
    # decides a skip on the caller's thread and delivers it without the workers (no queue
    # time); frames that run go to the workers. Same rule and checks as above.
    pre = edgerun.Preprocessor("bgr")
    changes = CHANGES[:4]
    frames = _scripted_scene(50, changes)
    with edgerun.Pipeline(ident, pre, gate=edgerun.ChangeGate(threshold=8, max_skip=6), overlap=overlap) as pipe:
        results = []
        for i, f in enumerate(frames):
            fid = pipe.submit(f, meta=i)
            results.append(pipe.get(timeout=10))
            assert results[-1].frame_id == fid
        st = pipe.stats()
    _check_gate_sequence(results, frames, changes, 6, pre)
    skipped = [r for r in results if r.skipped]
    assert len(skipped) >= 25 and [r.meta for r in results] == list(range(len(frames)))
    assert all(r.timings.queue == 0 and r.timings.gate > 0 for r in skipped)
    assert st["gate_skipped"] == len(skipped) and st["gate_ran"] == len(frames) - len(skipped)
    assert st["completed"] == len(frames) and pipe.in_flight == 0


def test_slow_drift_is_answered_within_max_skip(ident):
    # Each frame 1 level brighter: below the threshold frame to frame, the gate
    # compares with the frame that ran, so the drift is caught.
    pre = edgerun.Preprocessor("rgb")
    base = np.full((48, 64, 3), 100, np.uint8)
    with edgerun.Pipeline(ident, pre, gate=edgerun.ChangeGate(threshold=4, max_skip=50)) as pipe:
        results = [pipe(base + np.uint8(i)) for i in range(30)]
    ran = [i for i, r in enumerate(results) if not r.skipped]
    assert ran == [0, 5, 10, 15, 20, 25]  # a difference of 5 > 4 runs


def test_max_skip_forces_a_run(ident):
    pre = edgerun.Preprocessor("rgb")
    f = np.full((48, 64, 3), 90, np.uint8)
    with edgerun.Pipeline(ident, pre, gate=edgerun.ChangeGate(max_skip=3)) as pipe:
        results = [pipe(f) for _ in range(10)]
        assert pipe.stats()["gate_forced"] == 2
    assert [r.skipped for r in results] == [False, True, True, True, False, True, True, True, False, True]
    assert [r.reused_frame_id for r in results[1:4]] == [results[0].frame_id] * 3


def test_gate_frame_size_change_runs(ident):
    pre = edgerun.Preprocessor("rgb")
    with edgerun.Pipeline(ident, pre, gate=edgerun.ChangeGate()) as pipe:
        a = pipe(np.zeros((48, 64, 3), np.uint8))
        b = pipe(np.zeros((50, 64, 3), np.uint8))
        c = pipe(np.zeros((50, 64, 3), np.uint8))
    assert not a.skipped and not b.skipped and c.skipped and c.reused_frame_id == b.frame_id


def test_gate_bad_frame_is_an_error_not_a_skip(ident):
    pre = edgerun.Preprocessor("rgb")
    with edgerun.Pipeline(ident, pre, gate=edgerun.ChangeGate()) as pipe:
        pipe(np.zeros((48, 64, 3), np.uint8))
        with pytest.raises(edgerun.InputError):
            pipe(np.zeros((48, 64, 5), np.uint8))


def test_gate_with_head_reuses_decoded_result():
    with edgerun.Session(modelgen.builtin_image_model(input_size=16), threads=1) as s:
        pre = edgerun.Preprocessor("rgb")
        with edgerun.Pipeline(s, pre, edgerun.heads.Classifier(top_k=3), gate=edgerun.ChangeGate()) as pipe:
            f = np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)
            a, b = pipe(f), pipe(f)
            want = edgerun.heads.Classifier(top_k=3)(s.run(_pre(pre, f, s), copy=True))
    assert not a.skipped and b.skipped and b.reused_frame_id == a.frame_id
    np.testing.assert_array_equal(a.output.classes, b.output.classes)
    np.testing.assert_array_equal(a.output.scores, b.output.scores)
    np.testing.assert_array_equal(b.output.classes, want.classes)


def _pre(pre, frame, session):
    x = np.zeros(session.inputs[0].shape, session.inputs[0].dtype)
    pre(frame, x)
    return x


def test_cascade_runs_when_the_cheap_model_fires(ident):
    pre = edgerun.Preprocessor("rgb")
    with edgerun.Session(modelgen.identity_model((1, 4, 4, 3)), threads=1) as cheap:
        # Fires when the frame is bright (the cheap model's output is the frame, normalized).
        casc = edgerun.ModelGate(cheap, lambda r: float(r.output[0].mean()) > 0.5, max_skip=4)
        levels = [200, 10, 10, 220, 10, 10, 10, 10, 10, 10, 230, 10]
        with edgerun.Pipeline(ident, pre, gate=casc, drop="none") as pipe:
            results = [pipe(np.full((48, 64, 3), v, np.uint8)) for v in levels]
            st = pipe.stats()
            sub = [pipe.submit(np.full((48, 64, 3), v, np.uint8)) for v in levels]
            async_results = [pipe.get(timeout=10) for _ in sub]
    # Frame 0 runs (bright, first); dim frames reuse; max_skip=4 forces a run at frame 8.
    assert [not r.skipped for r in results] == [True, False, False, True, False, False, False, False, True,
                                                False, True, False]
    for r in results:
        assert r.gate_output is not None and r.gate_output.output[0].shape == (1, 4, 4, 3)
        if r.skipped:
            assert r.output[0][0, 0, 0, 0] == pytest.approx(results[r.reused_frame_id - 1].output[0][0, 0, 0, 0])
    assert st["gate_ran"] == 4 and st["gate_skipped"] == 8 and st["gate_forced"] == 1
    assert [r.skipped for r in async_results][1:3] == [True, True]
    assert all(r.gate_output is not None for r in async_results)


def _level_cascade(cheap, predicate, max_skip=4):
    return edgerun.ModelGate(cheap, predicate, max_skip=max_skip)


@pytest.mark.parametrize("overlap", [True, False])
def test_cascade_submit_does_not_wait_for_the_cheap_model(ident, overlap):
    # The predicate blocks until the test releases it: submit() must return meanwhile, and the
    # cheap model + predicate run on a worker thread, not the caller's.
    import threading

    pre = edgerun.Preprocessor("rgb")
    entered, release, threads = threading.Event(), threading.Event(), []

    def predicate(r):
        threads.append(threading.get_ident())
        entered.set()
        assert release.wait(10)
        return True

    with edgerun.Session(modelgen.identity_model((1, 4, 4, 3)), threads=1) as cheap:
        with edgerun.Pipeline(ident, pre, gate=_level_cascade(cheap, predicate), drop="none",
                              overlap=overlap) as pipe:
            fids = [pipe.submit(np.full((48, 64, 3), 100, np.uint8)) for _ in range(2)]
            assert entered.wait(10)  # the predicate runs (and blocks) while submit() has returned
            assert pipe.in_flight == 2
            release.set()
            results = [pipe.get(timeout=10) for _ in fids]
    assert [r.frame_id for r in results] == fids
    assert all(r.ok and not r.skipped and r.gate_output is not None for r in results)
    assert threading.get_ident() not in threads and len(threads) == 2


@pytest.mark.parametrize("overlap", [True, False])
def test_cascade_async_in_order_with_its_gate_outputs(ident, overlap):
    # Random bright/dim frames submitted back to back: every result in frame order, its
    # gate_output the cheap model's output for the same frame, the expensive model run
    # exactly when the predicate fired (or max_skip forced it), outputs equal to the reference.
    pre = edgerun.Preprocessor("rgb")
    rng = np.random.default_rng(5)
    levels = [int(v) for v in rng.choice([10, 20, 200, 230], size=40)]
    frames = [np.full((48, 64, 3), v, np.uint8) for v in levels]
    max_skip = 3
    with edgerun.Session(modelgen.identity_model((1, 4, 4, 3)), threads=1) as cheap:
        gate = _level_cascade(cheap, lambda r: float(r.output[0].mean()) > 0.5, max_skip)
        with edgerun.Pipeline(ident, pre, gate=gate, drop="none", overlap=overlap) as pipe:
            fids = [pipe.submit(f, meta=i) for i, f in enumerate(frames)]
            results = [pipe.get(timeout=10) for _ in fids]
            st = pipe.stats()
    assert [r.frame_id for r in results] == fids and [r.meta for r in results] == list(range(len(frames)))
    streak, last_ran = 0, None
    for i, (r, v) in enumerate(zip(results, levels)):
        assert r.ok, r.error
        small = np.zeros((1, 4, 4, 3), np.float32)
        pre(frames[i], small)
        np.testing.assert_array_equal(r.gate_output.output[0], small)  # the cheap model saw this frame
        fires = v > 127
        want_run = i == 0 or fires or streak == max_skip
        assert r.skipped == (not want_run), i
        if want_run:
            streak, last_ran = 0, r
            want = np.zeros((1, 16, 16, 3), np.float32)
            pre(frames[i], want)
            np.testing.assert_array_equal(r.output[0], want)
        else:
            streak += 1
            assert r.reused_frame_id == last_ran.frame_id
            np.testing.assert_array_equal(r.output[0], last_ran.output[0])
    assert st["gate_ran"] + st["gate_skipped"] == len(frames)


def test_cascade_predicate_error_fails_its_frame_and_cheap_failure_runs(ident):
    pre = edgerun.Preprocessor("rgb")

    def predicate(r):
        if r.output[0].mean() > 0.9:
            raise ValueError("predicate refused")
        return False

    bright, dim = np.full((48, 64, 3), 250, np.uint8), np.full((48, 64, 3), 10, np.uint8)
    with edgerun.Session(modelgen.identity_model((1, 4, 4, 3)), threads=1) as cheap:
        cheap_pipe = edgerun.Pipeline(cheap, pre)
        with edgerun.Pipeline(ident, pre, gate=_level_cascade(cheap_pipe, predicate, 100), drop="none") as pipe:
            assert not pipe(dim).skipped  # first frame
            with pytest.raises(ValueError, match="predicate refused"):
                pipe(bright)
            ids = [pipe.submit(f) for f in (dim, bright, dim)]
            rs = [pipe.get(timeout=10) for _ in ids]
            assert rs[0].skipped and isinstance(rs[1].error, ValueError) and rs[2].skipped
            assert rs[1].gate_output is not None and rs[1].gate_output.ok
            # The cheap model fails (its pipeline closed): the frame runs, the failure is its gate_output.
            cheap_pipe.close()
            r = pipe(dim)
            assert not r.skipped and isinstance(r.gate_output.error, edgerun.ClosedError)
            pipe.submit(dim)
            r = pipe.get(timeout=10)
            assert not r.skipped and isinstance(r.gate_output.error, edgerun.ClosedError)


def test_skipped_outputs_are_shared_read_only(ident):
    pre = edgerun.Preprocessor("rgb")
    f = np.full((48, 64, 3), 90, np.uint8)
    with edgerun.Pipeline(ident, pre, gate=edgerun.ChangeGate(max_skip=10)) as pipe:
        a, b, c = pipe(f), pipe(f), pipe(f)
    assert not a.skipped and b.skipped and c.skipped
    assert a.output[0].flags.writeable  # the frame that ran: the caller's own arrays
    assert not b.output[0].flags.writeable and b.output[0] is c.output[0]  # one shared copy
    assert b.output is not c.output  # each result has its own list
    a.output[0][...] = -1  # writing into the ran frame's result changes no reused result
    want = np.zeros((1, 16, 16, 3), np.float32)
    pre(f, want)
    np.testing.assert_array_equal(b.output[0], want)
    with pytest.raises(ValueError):
        b.output[0][...] = 0


def test_max_fps_sleeps_between_frames(ident):
    pre = edgerun.Preprocessor("rgb")
    f = np.zeros((48, 64, 3), np.uint8)
    with edgerun.Pipeline(ident, pre, max_fps=25) as pipe:
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(11):
            pipe(f)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert wall >= 10 / 25 * 0.95  # 11 frames, 10 periods
    assert cpu < 0.5 * wall  # slept, did not spin (a spinning wait would use ~100% of a core)


def test_max_fps_async_keeps_the_newest_frames(ident):
    pre = edgerun.Preprocessor("rgb")
    with edgerun.Pipeline(ident, pre, max_fps=20, depth=1, drop="oldest") as pipe:
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < 0.5:
            pipe.submit(np.zeros((48, 64, 3), np.uint8))
            time.sleep(0.002)
        pipe.close()
        results = list(pipe.results())
        st = pipe.stats()
    # 0.5 s at 20 fps: about 11 frames started (the first at once), the rest dropped.
    assert 8 <= len(results) <= 13
    assert st["dropped"] >= 100
    assert st["worker_cpu_s"] < 0.25 * st["wall_s"]


def test_energy_counters(ident):
    pre = edgerun.Preprocessor("rgb")
    f = np.zeros((48, 64, 3), np.uint8)
    c0 = time.process_time()
    with edgerun.Pipeline(ident, pre, drop="none") as pipe:
        for _ in range(50):
            pipe.submit(f)
        for _ in range(50):
            pipe.get(timeout=10)
        st = pipe.stats()
    c1 = time.process_time()
    assert st["frames"] == 50
    assert 0 < st["cpu_s"] <= (c1 - c0) + 1e-3
    assert 0 < st["worker_cpu_s"] <= st["cpu_s"] + 1e-3
    assert st["cpu_ms_per_frame"] == pytest.approx(st["cpu_s"] * 1e3 / 50)
    assert st["voluntary_switches"] + st["involuntary_switches"] > 0
    assert st["wall_s"] > 0 and st["cpu_load"] == pytest.approx(st["cpu_s"] / st["wall_s"], rel=0.2)


def test_gate_runs_after_a_hot_swap(ident):
    pre = edgerun.Preprocessor("rgb")
    f = np.full((48, 64, 3), 60, np.uint8)
    with edgerun.Pipeline(ident, pre, gate=edgerun.ChangeGate()) as pipe:
        a, b = pipe(f), pipe(f)
        pipe.swap(modelgen.identity_model((1, 16, 16, 3)))
        c, d = pipe(f), pipe(f)
    assert not a.skipped and b.skipped
    assert not c.skipped and c.model_generation == 2  # a new model never reuses the old one's result
    assert d.skipped and d.reused_frame_id == c.frame_id


@pytest.mark.parametrize("overlap", [True, False])
def test_async_gate_survives_bad_frames(ident, overlap):
    # A frame that cannot be read fails alone; the gate's reference stays the last frame that ran.
    pre = edgerun.Preprocessor("rgb")
    good = np.full((48, 64, 3), 120, np.uint8)
    bad = np.zeros((48, 64, 5), np.uint8)
    seq = [good, good, bad, good, bad, good, good]
    with edgerun.Pipeline(ident, pre, gate=edgerun.ChangeGate(max_skip=100), drop="none", overlap=overlap) as pipe:
        for _ in range(3):
            for f in seq:
                pipe.submit(f)
        results = [pipe.get(timeout=10) for _ in range(3 * len(seq))]
    first = results[0]
    assert first.ok and not first.skipped
    for f, r in zip(seq * 3, results):
        if f is bad:
            assert isinstance(r.error, edgerun.InputError)
        else:
            assert r.ok, r.error
            assert r is first or (r.skipped and r.reused_frame_id == first.frame_id)
