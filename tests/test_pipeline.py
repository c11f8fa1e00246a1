"""edgerun.Pipeline: synchronous and asynchronous camera loops, drop policy,
per-frame errors, hot model swap, clean shutdown.

References are independent of the pipeline: the same Preprocessor writing into
a plain numpy array (itself checked against OpenCV in test_preprocess.py), and
Session.run (checked against the LiteRT Interpreter in test_session.py).
Identity models make the comparison exact: their output is their input.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import edgerun
import models as modelgen


def _frames(n, h=48, w=64, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(n)]


def _os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


@pytest.fixture
def ident():
    """An identity model [1,16,16,3] float32: outputs exactly what the Preprocessor wrote."""
    with edgerun.Session(modelgen.identity_model((1, 16, 16, 3)), threads=1) as s:
        yield s


def _expected(pre, frame, shape=(1, 16, 16, 3)):
    out = np.zeros(shape, np.float32)
    t = pre(frame, out)
    return out, t


def test_sync_equals_preprocess_then_run(ident):
    pre = edgerun.Preprocessor("bgr", fit="letterbox")
    with edgerun.Pipeline(ident, pre) as pipe:
        for k, f in enumerate(_frames(3)):
            r = pipe(f, meta=("cam", k))
            want, t = _expected(pre, f)
            assert r.ok and r.meta == ("cam", k)
            assert len(r.output) == 1
            np.testing.assert_array_equal(r.output[0], want)  # exact: identity model
            assert r.transform == t
            assert r.model == ident.model_info
            assert r.timings.total >= r.timings.invoke >= 0
        assert pipe.stats()["completed"] == 3


def test_sync_result_matches_session_run_on_a_real_model(blazeface_model):
    # BlazeFace: [1,128,128,3] in [-1,1] -> regressors, classificators.
    s = edgerun.Session(blazeface_model, threads=1)
    pre = edgerun.Preprocessor("nv12", mean=127.5, std=127.5)
    frame = np.random.default_rng(1).integers(0, 256, (480 * 3 // 2, 640), dtype=np.uint8)
    with edgerun.Pipeline(s, pre) as pipe:
        r = pipe(frame)
    x = np.zeros((1, 128, 128, 3), np.float32)
    pre(frame, x)
    want = s.run(x, copy=True)
    assert [o.shape for o in r.output] == [w.shape for w in want]
    for got, ref in zip(r.output, want):
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)  # same kernels, same input


@pytest.mark.parametrize("overlap", [True, False, None])
def test_async_every_frame_accounted_in_order(ident, overlap):
    pre = edgerun.Preprocessor("bgr")
    frames = _frames(40, seed=2)
    with edgerun.Pipeline(ident, pre, depth=2, drop="none", overlap=overlap) as pipe:
        if overlap is not None:
            assert pipe.overlapped is overlap
        ids = [pipe.submit(f, meta=i) for i, f in enumerate(frames)]
        got = [pipe.get(timeout=10) for _ in frames]
        st = pipe.stats()
    assert [r.frame_id for r in got] == ids  # frame order, nothing dropped with drop="none"
    for r in got:
        want, _ = _expected(pre, frames[r.meta])
        np.testing.assert_array_equal(r.output[0], want)
    assert st["submitted"] == 40 and st["completed"] == 40 and st["dropped"] == 0
    assert st["latency_p50_ms"] > 0 and st["fps"] > 0


def test_drop_oldest_counts_and_keeps_newest():
    # A ~1-3 ms model: frames submitted in a tight loop pile up and the oldest waiting ones go.
    s = edgerun.Session(modelgen.builtin_image_model(input_size=96), threads=1)
    pre = edgerun.Preprocessor("rgb", mean=0.0, std=255.0)
    with edgerun.Pipeline(s, pre, depth=1, drop="oldest") as pipe:
        frames = _frames(12, 56, 56, seed=3)
        ids = [pipe.submit(f, meta=i) for i, f in enumerate(frames)]
        pipe.close()  # finishes what is queued; the results stay readable
        results = list(pipe.results(timeout=10))
        st = pipe.stats()
    got = [r.frame_id for r in results]
    assert st["dropped"] > 0
    assert len(got) + st["dropped"] == len(ids) == st["submitted"]
    assert got == sorted(got) and got[-1] == ids[-1]  # the newest frame always survives
    assert all(r.ok and r.meta == ids.index(r.frame_id) for r in results)


def test_bad_frame_fails_alone(ident):
    pre = edgerun.Preprocessor("bgr")
    good = _frames(2, seed=4)
    with edgerun.Pipeline(ident, pre, drop="none") as pipe:
        a = pipe.submit(good[0])
        b = pipe.submit(np.zeros((10, 10), np.uint8), meta="bad")  # wrong shape for bgr
        c = pipe.submit(good[1])
        rs = [pipe.get(timeout=10) for _ in range(3)]
        assert [r.frame_id for r in rs] == [a, b, c]
        assert rs[0].ok and rs[2].ok
        assert isinstance(rs[1].error, edgerun.InputError) and rs[1].meta == "bad"
        assert "(H, W, 3)" in str(rs[1].error) and rs[1].output is None
        with pytest.raises(edgerun.InputError):
            rs[1].unwrap()
        with pytest.raises(edgerun.InputError, match="bgr"):
            pipe(np.zeros((4, 4, 4), np.uint8))  # synchronous: raised
        assert pipe(good[0]).ok  # and the pipeline goes on
        assert pipe.stats()["failed"] == 1  # a synchronous frame rejected up front is raised, not counted


def test_construction_errors(ident):
    pre = edgerun.Preprocessor("bgr")
    with pytest.raises(edgerun.InputError, match="depth"):
        edgerun.Pipeline(ident, pre, depth=0)
    with pytest.raises(edgerun.InputError, match="drop"):
        edgerun.Pipeline(ident, pre, drop="newest")
    with pytest.raises(edgerun.InputError, match="Preprocessor"):
        edgerun.Pipeline(ident, "bgr")
    gray = edgerun.Preprocessor("bgr", channels="gray")
    with pytest.raises(edgerun.InputError, match=r"\(1, H, W, 1\).*\(1, 16, 16, 3\)"):
        edgerun.Pipeline(ident, gray)
    i32 = edgerun.Session(modelgen.identity_model((1, 8, 8, 3), "int32"))
    with pytest.raises(edgerun.InputError, match="int32"):
        edgerun.Pipeline(i32, pre)


def test_closed_pipeline_raises_and_results_drain(ident):
    pre = edgerun.Preprocessor("bgr")
    pipe = edgerun.Pipeline(ident, pre, drop="none")
    for f in _frames(5, seed=5):
        pipe.submit(f)
    pipe.close()  # finishes the queued frames
    assert len(list(pipe.results(timeout=5))) == 5
    with pytest.raises(edgerun.ClosedError):
        pipe.submit(_frames(1)[0])
    with pytest.raises(edgerun.ClosedError):
        pipe(_frames(1)[0])
    with pytest.raises(edgerun.ClosedError):
        pipe.get(timeout=0.1)
    pipe.close()  # idempotent


def test_close_joins_every_thread(ident):
    pre = edgerun.Preprocessor("bgr")

    def cycle():
        with edgerun.Pipeline(ident, pre) as pipe:
            pipe.submit(_frames(1)[0])
            pipe.swap(modelgen.identity_model((1, 16, 16, 3)))

    # One cycle first: a thread the process starts once, lazily, on first use is not the
    # pipeline's (the ASan run in CI once counted one more thread after the loop than before).
    cycle()
    before = _os_threads()
    for _ in range(5):
        cycle()
    deadline = time.monotonic() + 2.0  # a joined thread leaves /proc/self/task a moment later
    while _os_threads() != before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _os_threads() == before


def test_swap_under_running_loop():
    pre = edgerun.Preprocessor("rgb", mean=0.0, std=1.0)
    frame = _frames(1, 8, 8, seed=6)[0]
    x = frame.astype(np.float32)[None]  # what the Preprocessor writes (same size, stretch)
    # Model A: identity (output = input). Model B: the built-in classifier at 8x8,
    # whose output on x is taken from a Session of its own.
    model_a = modelgen.identity_model((1, 8, 8, 3))
    model_b = modelgen.builtin_image_model(input_size=8)
    ref_b = edgerun.Session(model_b, threads=1).run(x, copy=True)[0]
    sa = edgerun.Session(model_a, threads=1)
    rss0 = None
    threads0 = _os_threads()
    with edgerun.Pipeline(sa, pre, depth=3, drop="none") as pipe:
        info_a = pipe.model
        submitted = []
        stop = threading.Event()

        def feeder():
            while not stop.is_set():
                submitted.append(pipe.submit(frame))
                time.sleep(0.0005)

        th = threading.Thread(target=feeder)
        th.start()
        infos = []
        try:
            for k in range(6):
                time.sleep(0.02)
                infos.append(pipe.swap(model_b if k % 2 == 0 else model_a))
                if k == 1:
                    rss0 = _rss_kb()
        finally:
            stop.set()
            th.join()
        results = []
        while len(results) < len(submitted):
            results.append(pipe.get(timeout=10))
        st = pipe.stats()
    assert st["dropped"] == 0 and st["failed"] == 0 and st["swaps"] == 6 and st["swap_failures"] == 0
    assert [r.frame_id for r in results] == submitted  # every frame exactly one result, in order
    gens = [r.model_generation for r in results]
    assert gens == sorted(gens)  # switches happen at frame boundaries, never back and forth
    for r in results:
        if r.model == info_a:
            np.testing.assert_array_equal(r.output[0], x)
        else:
            assert r.model.sha256 == infos[0].sha256
            np.testing.assert_allclose(r.output[0], ref_b, rtol=1e-5, atol=1e-6)
    assert len(set(gens)) >= 2
    assert _os_threads() == threads0
    assert _rss_kb() - rss0 < 50_000  # no growth proportional to the swaps (loose: allocator noise)


def _rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_failed_swaps_keep_the_old_model(ident, tmp_path):
    pre = edgerun.Preprocessor("bgr")
    frame = _frames(1, seed=7)[0]
    want, _ = _expected(pre, frame)
    good = modelgen.identity_model((1, 16, 16, 3))
    with edgerun.Pipeline(ident, pre) as pipe:
        before = pipe.model
        corrupted = bytearray(good)
        corrupted[len(corrupted) // 2:] = b"\xff" * (len(corrupted) - len(corrupted) // 2)
        with pytest.raises(edgerun.ModelError):
            pipe.swap(bytes(corrupted))
        fut = pipe.swap(modelgen.identity_model((1, 16, 16, 1)), wait=False)  # 1 channel: rgb can't fill it
        assert isinstance(fut.exception(timeout=30), edgerun.InputError)
        with pytest.raises(edgerun.InputError, match=r"\(1, H, W, 3\)"):
            fut.result()
        with pytest.raises(edgerun.ModelError):
            pipe.swap(str(tmp_path / "missing.tflite"))
        with pytest.raises(edgerun.InputError, match="model"):
            pipe.swap(42)
        assert pipe.model == before
        r = pipe(frame)
        np.testing.assert_array_equal(r.output[0], want)
        st = pipe.stats()
        assert st["swap_failures"] == 2 and st["swaps"] == 0  # the missing file failed before loading
        # A Session can be swapped in directly, and is the pipeline's session afterwards.
        other = edgerun.Session(good, threads=1)
        info = pipe.swap(other)
        assert pipe.session is other and info == other.model_info
        assert pipe(frame).model == info


def test_model_info_reads_metadata():
    s = edgerun.Session(modelgen.builtin_image_model(input_size=32))
    info = s.model_info
    import hashlib

    assert info.sha256 == hashlib.sha256(modelgen.builtin_image_model(input_size=32)).hexdigest()
    assert info.size == len(modelgen.builtin_image_model(input_size=32))
    assert info.name == "edgerun-builtin" and info.version


def test_pipeline_reuses_what_the_session_verified_and_hashed(monkeypatch):
    """A Pipeline takes the ModelInfo its Session computed once (one sha256 pass, no second
    verification of bytes the session verified), also for models swapped in by path or bytes."""
    import hashlib

    from edgerun import _core

    data = modelgen.builtin_image_model(input_size=16)
    other = modelgen.builtin_image_model(input_size=24)
    s = edgerun.Session(data, threads=1)
    verified, hashed = [], []
    real_verify, real_sha256 = _core.verify_model, hashlib.sha256
    monkeypatch.setattr(_core, "verify_model", lambda d: (verified.append(len(d)), real_verify(d))[1])
    monkeypatch.setattr(hashlib, "sha256", lambda *a: (hashed.append(1), real_sha256(*a))[1])
    with edgerun.Pipeline(s, edgerun.Preprocessor("rgb")) as pipe:
        r = pipe(np.zeros((16, 16, 3), np.uint8))
        assert r.model is s.model_info is pipe.model and r.model.name == "edgerun-builtin"
        assert r.model.sha256 == real_sha256(data).hexdigest()
        assert verified == [] and len(hashed) == 1
        info = pipe.swap(other)  # the C++ side verifies the new bytes (the session's options)
        assert info.sha256 == real_sha256(other).hexdigest() and info.name == "edgerun-builtin"
        assert pipe(np.zeros((16, 16, 3), np.uint8)).model is info is pipe.session.model_info
        assert verified == [] and len(hashed) == 2
    # a session that skipped verification gets its metadata read only after the check
    unchecked = edgerun.Session(data, threads=1, verify=False)
    with edgerun.Pipeline(unchecked, edgerun.Preprocessor("rgb")) as pipe:
        assert pipe.model.name == "edgerun-builtin" and verified == [len(data)]


def test_interpreter_exit_with_live_pipeline():
    code = textwrap.dedent("""
        import numpy as np, edgerun
        from edgerun.model import builder as modelgen
        s = edgerun.Session(modelgen.builtin_image_model(input_size=160), threads=1)
        pipe = edgerun.Pipeline(s, edgerun.Preprocessor("rgb"), depth=4, drop="none")
        for _ in range(8):
            pipe.submit(np.zeros((56, 56, 3), np.uint8))
        pipe.swap(modelgen.builtin_image_model(input_size=160), wait=False)
        print("exiting", flush=True)
    """)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "exiting" in p.stdout


def test_blazeface_pipeline_equals_head_on_session_outputs(blazeface_model, face_photo):
    """The pipeline's decoded faces equal the head applied to Session.run outputs,
    for the synchronous and the asynchronous path, in source-frame pixels."""
    import cv2

    rgb = cv2.cvtColor(cv2.imread(str(face_photo)), cv2.COLOR_BGR2RGB)
    frame = np.zeros((480, 640, 3), np.uint8)
    frame[:, 80:560] = cv2.resize(rgb, (480, 480), interpolation=cv2.INTER_AREA)
    s = edgerun.Session(blazeface_model, threads=1)
    pre = edgerun.Preprocessor("rgb", fit="letterbox")
    head = edgerun.heads.BlazeFace()
    x = np.zeros((1, 128, 128, 3), np.float32)
    t = pre(frame, x)
    want = head(s.run(x, copy=True), t)
    assert len(want) == 1  # one face in the photo
    with edgerun.Pipeline(s, pre, head, drop="none") as pipe:
        sync = pipe(frame).output
        for _ in range(3):
            pipe.submit(frame)
        asyn = [pipe.get(timeout=10).output for _ in range(3)]
    for got in [sync] + asyn:
        assert isinstance(got, edgerun.heads.Detections) and len(got) == 1
        np.testing.assert_allclose(got.boxes, want.boxes, atol=1e-4)
        np.testing.assert_allclose(got.keypoints, want.keypoints, atol=1e-4)
        np.testing.assert_allclose(got.scores, want.scores, atol=1e-6)
    # Source pixels: the face lies inside the pasted photo region.
    x1, y1, x2, y2 = sync.boxes[0]
    assert 80 <= x1 < x2 <= 560 and 0 <= y1 < y2 <= 480


def test_head_mismatch_rejected_at_construction_and_swap(ident):
    pre = edgerun.Preprocessor("bgr")
    with pytest.raises(edgerun.InputError, match="BlazeFace|SSD|head"):
        edgerun.Pipeline(ident, pre, edgerun.heads.BlazeFace())
    with pytest.raises(edgerun.InputError, match="not a score vector"):
        edgerun.Pipeline(ident, pre, edgerun.heads.Classifier(top_k=3))
    clf = edgerun.Session(modelgen.builtin_image_model(input_size=16), threads=1)
    with edgerun.Pipeline(clf, pre, edgerun.heads.Classifier(top_k=3)) as pipe:
        before = pipe(_frames(1)[0]).output
        assert isinstance(before, edgerun.heads.Classifications) and len(before) == 3
        # The identity model's image output is no score vector: the swap fails, the old model runs.
        with pytest.raises(edgerun.InputError, match="not a score vector"):
            pipe.swap(modelgen.identity_model((1, 16, 16, 3)))
        assert pipe.stats()["swap_failures"] == 1
        again = pipe(_frames(1)[0]).output
        np.testing.assert_array_equal(again.classes, before.classes)


def test_classifier_and_preprocessor_configure_from_model_metadata():
    """Labels and normalization written into the model (edgerun.write_metadata) reach
    the Classifier head and the Preprocessor, and results through a pipeline carry them."""
    labels = [f"class{i}" for i in range(1000)]
    data = edgerun.write_metadata(modelgen.builtin_image_model(input_size=16), labels=labels,
                                  mean=127.5, std=127.5, name="tiny", version="3")
    s = edgerun.Session(data, threads=1)
    head = edgerun.heads.Classifier.from_model(s, top_k=2)
    pre = edgerun.Preprocessor.from_model(s, "bgr")
    assert s.model_info.name == "tiny" and s.model_info.version == "3"
    frame = _frames(1, seed=9)[0]
    x = np.zeros((1, 16, 16, 3), np.float32)
    pre(frame, x)
    probs = s.run(x, copy=True)[0][0]
    top = np.argsort(-probs, kind="stable")[:2]
    with edgerun.Pipeline(s, pre, head) as pipe:
        r = pipe(frame)
    assert list(r.output.classes) == list(top)
    assert r.output.labels == [labels[i] for i in top]
    np.testing.assert_allclose(r.output.scores, probs[top], rtol=1e-6)
    assert r.model.name == "tiny"
    with pytest.raises(edgerun.InputError, match="no labels"):
        edgerun.heads.Classifier.from_model(modelgen.builtin_image_model(input_size=16))


def test_unread_results_bound(ident):
    pre = edgerun.Preprocessor("bgr")
    frames = _frames(8, seed=10)
    with edgerun.Pipeline(ident, pre, depth=8, drop="none", max_results=4) as pipe:
        ids = [pipe.submit(f) for f in frames[:4]]
        with pytest.raises(edgerun.BusyError, match="max_results=4"):
            pipe.submit(frames[4])  # never a silent loss with drop="none"
        assert pipe.get(timeout=10).frame_id == ids[0]
        deadline = time.time() + 10
        while True:  # room again once a result was read and the rest are done
            try:
                ids.append(pipe.submit(frames[4]))
                break
            except edgerun.BusyError:
                assert time.time() < deadline
                time.sleep(0.001)
        assert [pipe.get(timeout=10).frame_id for _ in range(4)] == ids[1:]
    with edgerun.Pipeline(ident, pre, depth=8, drop="oldest", max_results=3) as pipe:
        for i, f in enumerate(frames):
            pipe.submit(f, meta=i)
        pipe.close()
        got = list(pipe.results(timeout=5))
        st = pipe.stats()
        assert not pipe._meta and not pipe._frames  # nothing kept for frames that will never report
    assert len(got) == 3 and st["results_discarded"] + st["dropped"] + 3 == len(frames)
    assert [r.meta for r in got] == [r.frame_id - 1 for r in got]


def test_swap_authenticates_before_parsing(tmp_path):
    """expect_sha256 and check= refuse a tampered model before anything parses it; the old
    model keeps running; the accepted bytes are the ones loaded (a path is read once)."""
    import hashlib

    pre = edgerun.Preprocessor("rgb", mean=0.0, std=1.0)
    frame = _frames(1, 8, 8, seed=3)[0]
    good = modelgen.builtin_image_model(input_size=8)
    good_sha = hashlib.sha256(good).hexdigest()
    tampered = bytearray(good)
    tampered[len(tampered) // 2] ^= 0x01  # one bit in the weights: still a valid model
    path = tmp_path / "update.tflite"
    path.write_bytes(bytes(tampered))
    seen = []

    def signed_by_us(data: bytes) -> bool:
        seen.append(hashlib.sha256(data).hexdigest())
        return data == good

    with edgerun.Pipeline(edgerun.Session(modelgen.identity_model((1, 8, 8, 3)), threads=1), pre) as pipe:
        before = pipe.model.sha256
        with pytest.raises(edgerun.ModelError, match=f"has sha256 {hashlib.sha256(tampered).hexdigest()}, "
                                                     f"expected {good_sha}"):
            pipe.swap(path, expect_sha256=good_sha)
        with pytest.raises(edgerun.ModelError, match="swap refused by check 'signed_by_us' \\(it returned False\\)"):
            pipe.swap(str(path), check=signed_by_us, wait=False)
        with pytest.raises(edgerun.ModelError, match="ValueError: bad signature"):
            pipe.swap(bytes(tampered), check=lambda d: (_ for _ in ()).throw(ValueError("bad signature")))
        with pytest.raises(edgerun.InputError, match="expect_sha256: expected 64 hex digits"):
            pipe.swap(good, expect_sha256="abc")
        assert pipe.model.sha256 == before and pipe.stats()["swaps"] == 0
        pipe.submit(frame)
        assert pipe.get(timeout=10).output is not None  # the old model still runs
        path.write_bytes(good)
        info = pipe.swap(path, expect_sha256=good_sha.upper(), check=signed_by_us)
        assert info.sha256 == good_sha == pipe.model.sha256
        assert seen == [hashlib.sha256(tampered).hexdigest(), good_sha]
        if hasattr(os, "mkfifo"):
            fifo = tmp_path / "fifo.tflite"
            os.mkfifo(fifo)
            with pytest.raises(edgerun.ModelError, match="is not a regular file"):
                pipe.swap(fifo, expect_sha256=good_sha)


def test_results_iterator_with_a_stop_event(ident):
    """results(stop=): a reader thread takes every result in frame order, keeps waiting
    while none arrives, and ends once stop is set (no close needed); results(timeout=0)
    gives only what is complete; bad arguments fail at the call."""
    pre = edgerun.Preprocessor("bgr")
    frames = _frames(12, seed=9)
    pipe = edgerun.Pipeline(ident, pre, drop="none")
    stop = threading.Event()
    got = []
    reader = threading.Thread(target=lambda: got.extend(pipe.results(stop=stop, poll=0.02)))
    reader.start()
    for i, f in enumerate(frames[:6]):
        pipe.submit(f, meta=i)
    time.sleep(0.3)  # several polls with nothing to read: the reader keeps waiting
    assert reader.is_alive()
    for i, f in enumerate(frames[6:], 6):
        pipe.submit(f, meta=i)
    while pipe.in_flight:
        time.sleep(0.01)
    stop.set()
    reader.join(10)
    assert not reader.is_alive()
    assert [r.meta for r in got] == list(range(12)) and all(r.ok for r in got)
    for r, f in zip(got, frames):  # each result is its own frame's
        np.testing.assert_array_equal(r.output[0], _expected(pre, f)[0])
    assert list(pipe.results(timeout=0)) == []
    # a callable stop, and a timeout that still ends the loop on its own
    t0 = time.monotonic()
    assert list(pipe.results(timeout=0.2, stop=lambda: False)) == []
    assert 0.15 < time.monotonic() - t0 < 5
    pipe.close()
    assert list(pipe.results(stop=lambda: False)) == []  # closed and drained
    with pytest.raises(edgerun.InputError, match="stop"):
        pipe.results(stop=3)
    with pytest.raises(edgerun.InputError, match="poll"):
        pipe.results(stop=stop, poll=0)
    with pytest.raises(edgerun.InputError, match="timeout"):
        pipe.results(timeout="soon")
