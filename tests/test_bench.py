"""edgerun bench: frames from files (--frames-from), the colour conversion they go
through, accelerator lists (--accelerator cpu,edgetpu) and the per-operator profile
(--profile). The rest of `edgerun bench --pipeline` is in test_tools.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import edgerun
from edgerun.tools import bench, cli


def _photo(face_photo, size=(320, 240)):
    cv2 = pytest.importorskip("cv2")
    return np.ascontiguousarray(cv2.resize(cv2.imread(str(face_photo)), size, interpolation=cv2.INTER_AREA))


def _bench(tmp_path, *args, timeout=300):
    out = tmp_path / "r.json"
    r = subprocess.run([sys.executable, "-m", "edgerun", "bench", "--pipeline", "--warmup", "1", *map(str, args),
                        "-o", str(out)], capture_output=True, text=True, timeout=timeout, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    return json.loads(out.read_text()), r


# --------------------------------------------------------------------------- colour conversion
def test_bgr_to_format_agrees_with_opencv(face_photo):
    """Against OpenCV's cvtColor (BT.601 limited range): luma within 1 level; 4:2:2 within 1
    (both average each pixel pair); 4:2:0 chroma, which OpenCV takes from one pixel of each
    2x2 block where edgerun averages the block, against OpenCV on the block-averaged image."""
    cv2 = pytest.importorskip("cv2")
    bgr = _photo(face_photo)
    h, w = bgr.shape[:2]

    def diff(a, b):
        return int(np.abs(a.astype(int) - b.astype(int)).max())

    i420 = bench.bgr_to_format(bgr, "i420")
    assert i420.shape == (h * 3 // 2, w)
    assert diff(i420[:h], cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420)[:h]) <= 1
    blocks = bgr.reshape(h // 2, 2, w // 2, 2, 3).astype(np.float64).mean(axis=(1, 3))
    flat = np.repeat(np.repeat(np.rint(blocks).astype(np.uint8), 2, axis=0), 2, axis=1)
    assert diff(i420[h:], cv2.cvtColor(flat, cv2.COLOR_BGR2YUV_I420)[h:]) <= 2
    u, v = i420[h:h + h // 4].reshape(h // 2, w // 2), i420[h + h // 4:].reshape(h // 2, w // 2)
    for fmt, first, second in (("nv12", u, v), ("nv21", v, u)):
        f = bench.bgr_to_format(bgr, fmt)
        np.testing.assert_array_equal(f[:h], i420[:h])
        np.testing.assert_array_equal(f[h:].reshape(h // 2, w // 2, 2), np.stack([first, second], axis=2))
    for fmt, code in (("yuyv", cv2.COLOR_BGR2YUV_YUYV), ("uyvy", cv2.COLOR_BGR2YUV_UYVY)):
        assert diff(bench.bgr_to_format(bgr, fmt), cv2.cvtColor(bgr, code)) <= 1, fmt
    assert diff(bench.bgr_to_format(bgr, "gray"), cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)) <= 1
    for fmt, code in (("rgb", cv2.COLOR_BGR2RGB), ("bgra", cv2.COLOR_BGR2BGRA), ("rgba", cv2.COLOR_BGR2RGBA)):
        np.testing.assert_array_equal(bench.bgr_to_format(bgr, fmt), cv2.cvtColor(bgr, code))
    np.testing.assert_array_equal(bench.bgr_to_format(bgr, "bgr"), bgr)
    # and back: OpenCV decodes edgerun's NV12 to the photo (chroma subsampling error only)
    back = cv2.cvtColor(bench.bgr_to_format(bgr, "nv12"), cv2.COLOR_YUV2BGR_NV12)
    assert np.abs(back.astype(int) - bgr).mean() < 3.0
    assert bench.bgr_to_format(bgr[:239, :319], "nv12").shape == (238 * 3 // 2, 318)  # odd: cropped to even
    with pytest.raises(edgerun.InputError, match="H x W x 3 uint8"):
        bench.bgr_to_format(bgr[..., 0], "nv12")


# --------------------------------------------------------------------------- --frames-from
@pytest.fixture
def photo_frames(tmp_path, face_photo):
    """Three 320x240 frames of the real photo, shifted, as PNG files (made here, not committed)."""
    cv2 = pytest.importorskip("cv2")
    d = tmp_path / "frames"
    d.mkdir()
    base = _photo(face_photo)
    for i in range(3):
        cv2.imwrite(str(d / f"f{i:02d}.png"), np.roll(base, 8 * i, axis=1))
    (d / "notes.txt").write_text("not an image")
    return d


def test_frames_from_a_directory_runs_the_pipeline_on_them(tmp_path, photo_frames, blazeface_model):
    cv2 = pytest.importorskip("cv2")
    doc, r = _bench(tmp_path, blazeface_model, "--frames-from", photo_frames, "--format", "nv12", "--frames", 8,
                    "--rounds", 2)
    assert doc["source"] == [320, 240] and doc["frames_from"] == str(photo_frames)
    assert doc["distinct_frames"] == 3 and "looped" in doc["frames_description"]
    assert "3 of 3 image(s)" in r.stdout and "nv12 320x240" in r.stdout
    c = doc["configs"][0]
    assert c["head"] == "blazeface" and c["modes"]["sync"]["frames"] == 8
    # what the loop was fed: the files, converted as bgr_to_format converts them
    src = bench.load_frames("nv12", None, str(photo_frames), 8)
    first = cv2.imread(str(photo_frames / "f00.png"))
    np.testing.assert_array_equal(src.frames[0], bench.bgr_to_format(first, "nv12"))
    # the detections on those frames: the photo's one face
    with edgerun.Pipeline(edgerun.Session(blazeface_model, threads=1), edgerun.Preprocessor("nv12", mean=127.5,
                                                                                            std=127.5),
                          edgerun.heads.BlazeFace()) as pipe:
        assert len(pipe(src.frames[0]).output) == 1


def test_frames_from_a_video(tmp_path, face_photo):
    cv2 = pytest.importorskip("cv2")
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
    if not writer.isOpened():
        pytest.skip("this OpenCV build cannot write MJPG video")
    base = _photo(face_photo)
    for i in range(5):
        writer.write(np.roll(base, 6 * i, axis=0))
    writer.release()
    src = bench.load_frames("i420", None, str(path), 3)
    assert len(src.frames) == 3 and src.size == (320, 240)  # only as many as needed are decoded
    cap = cv2.VideoCapture(str(path))
    ok, first = cap.read()
    cap.release()
    assert ok
    np.testing.assert_array_equal(src.frames[0], bench.bgr_to_format(first, "i420"))
    src = bench.load_frames("yuyv", (320, 240), str(path), 50)
    assert len(src.frames) == 5 and "looped" in src.description


@pytest.mark.parametrize("what, extra, message", [
    ("dir", ["--source", "640x480"], "--source 640x480 disagrees with --frames-from"),
    ("missing", [], "no such file or directory"),
    ("empty", [], "no image files"),
    ("mixed", [], "must share one size"),
    ("text", [], "cannot open it as a video"),
])
def test_frames_from_errors(tmp_path, photo_frames, what, extra, message):
    cv2 = pytest.importorskip("cv2")
    path = {"dir": photo_frames, "missing": tmp_path / "nowhere", "empty": tmp_path / "empty",
            "mixed": photo_frames, "text": photo_frames / "notes.txt"}[what]
    if what == "empty":
        path.mkdir()
    if what == "mixed":
        cv2.imwrite(str(path / "f99.png"), np.zeros((10, 12, 3), np.uint8))
    with pytest.raises(edgerun.InputError, match=message):
        bench.load_frames("nv12", (640, 480) if extra else None, str(path), 10)


def test_frames_from_without_opencv_and_without_pipeline(tmp_path, photo_frames):
    fake = tmp_path / "fake"
    (fake / "cv2").mkdir(parents=True)
    (fake / "cv2" / "__init__.py").write_text("raise ImportError('no OpenCV here')\n")
    r = subprocess.run([sys.executable, "-m", "edgerun", "bench", "--pipeline", "--frames-from", str(photo_frames)],
                       capture_output=True, text=True, timeout=120, env=dict(os.environ, PYTHONPATH=str(fake)))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "--frames-from needs OpenCV" in r.stderr and "opencv-python-headless" in r.stderr
    r = subprocess.run([sys.executable, "-m", "edgerun", "bench", "--frames-from", str(photo_frames)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "--frames-from measures the camera loop: add --pipeline" in r.stderr


# --------------------------------------------------------------------------- --accelerator lists
def test_accelerator_list_skips_what_is_unavailable(tmp_path, capsys):
    """No Edge TPU runtime here: `cpu,edgetpu` measures the CPU and lists the Edge TPU as
    skipped with the runtime's reason; `edgetpu` alone is an error with that reason."""
    if edgerun.edgetpu_runtime()["available"] and edgerun.edgetpu_devices():
        pytest.skip("an Edge TPU is attached: nothing to skip")
    out = tmp_path / "r.json"
    assert cli.main(["bench", "--pipeline", "--accelerator", "cpu,edgetpu", "--frames", "4", "--warmup", "0",
                     "--rounds", "2", "--source", "64x48", "-o", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert [c["accelerator"] for c in doc["configs"]] == ["cpu"]
    (sk,) = doc["skipped"]
    assert sk["accelerator"] == "edgetpu" and sk["reason"].startswith("DelegateError: ")
    table = capsys.readouterr().out
    row = [ln for ln in table.splitlines() if "skipped [1]: DelegateError" in ln]
    assert len(row) == 1 and " edgetpu " in row[0]
    assert f"  [1] {sk['reason']}" in table.splitlines()  # the whole reason, once, under the table
    assert cli.main(["bench", "--pipeline", "--accelerator", "edgetpu", "--frames", "2", "--source", "64x48"]) == 1
    assert "edgetpu" in capsys.readouterr().err.lower()


@pytest.mark.parametrize("args, message", [
    (["--pipeline", "--accelerator", "cpu,tpu"], "expected cpu, edgetpu, gpu or a list"),
    (["--accelerator", "cpu,gpu"], "need --pipeline"),
])
def test_accelerator_list_argument_errors(args, message, capsys):
    with pytest.raises(SystemExit) as e:  # argparse prints its message; a SystemExit(str) carries it
        cli.main(["bench", *args])
    assert message in capsys.readouterr().err + str(e.value.code)


# --------------------------------------------------------------------------- --profile
def test_bench_profile_tables(tmp_path, resnet8_model, blazeface_model):
    """--profile: the operator types the profiler saw, their shares, the time outside
    XNNPACK (ResNet-8 int8: its AVERAGE_POOL_2D and SOFTMAX; BlazeFace: none)."""
    from edgerun.model.inspect import inspect

    doc, r = _bench(tmp_path, resnet8_model, blazeface_model, "--threads", 1, "--profile", "--profile-runs", 12,
                    "--frames", 4, "--rounds", 1, "--source", "160x120", "--head", "none")
    res8, face = doc["configs"]
    for c in (res8, face):
        p = c["profile"]
        assert p["runs"] == 12 and p["delegate"] == "XNNPACK"
        assert abs(sum(o["share"] for o in p["operators"]) - 1.0) < 1e-6
        assert [o["ms_per_run"] for o in p["operators"]] == sorted((o["ms_per_run"] for o in p["operators"]),
                                                                  reverse=True)
        assert p["interpreter_invoke_ms_per_run"] > 0 and p["invoke_ms_unprofiled"]["p50"] > 0
        assert p["operator_ms_per_run_statistic"] == "median of per-run sums"
    not_taken = sorted({op for _, op in inspect(str(resnet8_model)).xnnpack.not_taken})
    assert res8["profile"]["outside_delegate_ops"] == not_taken and res8["profile"]["outside_delegate_share"] > 0
    assert face["profile"]["outside_delegate_ops"] == [] and face["profile"]["outside_delegate_share"] == 0
    conv = {o["op"]: o for o in face["profile"]["operators"]}["Convolution (NHWC, F32) DWConv"]
    assert conv["count_per_run"] == 16 and conv["where"] == "XNNPACK"
    assert "per-operator profile (LiteRT profiler, 12 runs, each beside an unprofiled run; ms_per_run: median " \
           "over runs)" in r.stdout
    assert "outside XNNPACK: 0.0% of the interpreter's invoke" in r.stdout
    assert "in TFLite kernels (" + ", ".join(not_taken) + ")" in r.stdout
    # plain bench too
    r = subprocess.run([sys.executable, "-m", "edgerun", "bench", str(resnet8_model), "--frames", "5", "--warmup", "1",
                        "--profile", "--profile-runs", "5", "--json"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    p = json.loads(r.stdout)["profile"]
    assert p["runs"] == 5 and p["outside_delegate_ops"] == not_taken


def test_bench_profile_without_the_profiler_falls_back(tmp_path, monkeypatch, capsys, resnet8_model):
    """A runtime without the profiler's functions: the reason, then what can be measured
    without it (Interpreter with and without XNNPACK, XNNPACK's coverage), never an empty table."""
    import edgerun.session

    class NoProfiler(edgerun.session.Session):
        def __init__(self, model, *, profile=False, **kw):
            if profile:
                raise edgerun.RuntimeLoadError("profile=True needs the LiteRT profiler, and the loaded runtime x "
                                               "does not export LiteRtGetProfilerEvents")
            super().__init__(model, **kw)

    monkeypatch.setattr(edgerun.session, "Session", NoProfiler)
    out = tmp_path / "r.json"
    assert cli.main(["bench", "--pipeline", str(resnet8_model), "--profile", "--profile-runs", "3", "--frames", "2",
                     "--warmup", "0", "--rounds", "1", "--source", "64x48", "-o", str(out)]) == 0
    p = json.loads(out.read_text())["configs"][0]["profile"]
    assert "does not export LiteRtGetProfilerEvents" in p["error"]
    fb = p["fallback"]
    assert fb["invoke_ms_xnnpack"] > 0 and fb["invoke_ms_without_xnnpack"] > 0
    x = edgerun.inspect(str(resnet8_model)).xnnpack
    assert fb["xnnpack_operators"] == f"{x.delegated}/{x.total}"
    assert fb["not_on_xnnpack"] == [f"{i}:{op}" for i, op in x.not_taken]
    text = capsys.readouterr().out
    assert "per-operator profile: unavailable: profile=True needs the LiteRT profiler" in text
    assert "runtime kernels only" in text
