"""examples/ on recorded frames instead of a camera.

A short clip is made here: the real photo (tests/realmodels.py ASTRONAUT, one face)
scaled and moved across a textured background, absent from the first and last two
frames. It is written as an MJPG video (cv2.VideoWriter), as picamera2's lores/main
arrays (YUV420 with padded rows, XBGR8888) and as GStreamer NV12 buffers with a padded
stride, each layout built here from OpenCV's compact I420 conversion. Each example runs
on it (in this process, or as a script) and its per-frame JSON lines are checked against
where the photo was put: one face found in each frame that shows the photo, overlapping
the photo's face (located by eye) by IoU > 0.6; none in the others; boxes inside the
frame; landmarks inside the face.
"""

from __future__ import annotations

import importlib
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import realmodels

cv2 = pytest.importorskip("cv2")

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"
SCRIPTS = ["picamera2_faces.py", "opencv_camera.py", "gstreamer_nv12.py", "video_file.py",
           "face_landmarks_cascade.py"]
W, H = 640, 480          # the scene (video, NV12, picamera2 main)
LW, LH, LSTRIDE = 320, 240, 384   # picamera2 lores and its padded row stride
NV12_STRIDE = 704
N = 20
# the photo's face, checked by eye (eyebrows to chin, cheek to cheek), photo pixels
FACE = np.array([180.0, 80.0, 272.0, 175.0])


def placement(k: int):
    """(scale, x offset, y offset) of the photo in frame k, or None (no photo)."""
    if k < 2 or k >= N - 2:
        return None
    t = (k - 2) / (N - 5)
    return 0.95 + 0.1 * t, 10 + int(140 * t), int(15 * t)


def expected_face(k: int, scale: float = 1.0):
    p = placement(k)
    if p is None:
        return None
    s, ox, oy = p
    return (FACE * s + [ox, oy, ox, oy]) * scale


@pytest.fixture(scope="module")
def scenes():
    return make_scenes()


def make_scenes():
    photo = cv2.imread(str(realmodels.astronaut_path()))
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:H, 0:W]
    background = np.stack([60 + xx * 100 // W, 90 + yy * 80 // H, 120 + (xx + yy) * 60 // (W + H)], -1)
    out = []
    for k in range(N):
        f = (background + rng.integers(-6, 7, (H, W, 3))).clip(0, 255).astype(np.uint8)
        p = placement(k)
        if p is not None:
            s, ox, oy = p
            small = cv2.resize(photo, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)[max(0, -oy):, max(0, -ox):]
            y0, x0 = max(oy, 0), max(ox, 0)
            small = small[:H - y0, :W - x0]  # the frame cuts the photo
            f[y0:y0 + small.shape[0], x0:x0 + small.shape[1]] = small
        out.append(f)
    return out


@pytest.fixture(scope="module")
def clip(scenes, tmp_path_factory):
    """Paths of the recordings: video, picamera2 npz, NV12 npz."""
    d = tmp_path_factory.mktemp("clip")
    video = d / "clip.avi"
    vw = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (W, H))
    assert vw.isOpened()
    for f in scenes:
        vw.write(f)
    vw.release()

    lores, main, buffers = [], [], []
    for f in scenes:
        # picamera2 YUV420 lores: Y rows of LSTRIDE bytes, then U and V planes of LH/2 rows
        # of LSTRIDE/2 bytes (two chroma rows per array row): the (LH*3/2, LSTRIDE) array
        i420 = cv2.cvtColor(cv2.resize(f, (LW, LH), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2YUV_I420).ravel()
        y, u, v = i420[:LW * LH], i420[LW * LH:LW * LH * 5 // 4], i420[LW * LH * 5 // 4:]
        buf = np.full(LSTRIDE * LH * 3 // 2, 77, np.uint8)  # padding bytes that must not be read as pixels
        buf[:LSTRIDE * LH].reshape(LH, LSTRIDE)[:, :LW] = y.reshape(LH, LW)
        cs = LSTRIDE // 2
        ub = buf[LSTRIDE * LH:LSTRIDE * LH + cs * LH // 2].reshape(LH // 2, cs)
        vb = buf[LSTRIDE * LH + cs * LH // 2:].reshape(LH // 2, cs)
        ub[:, :LW // 2] = u.reshape(LH // 2, LW // 2)
        vb[:, :LW // 2] = v.reshape(LH // 2, LW // 2)
        lores.append(buf.reshape(LH * 3 // 2, LSTRIDE))
        main.append(cv2.cvtColor(f, cv2.COLOR_BGR2RGBA))  # XBGR8888: bytes R, G, B, X
        # GStreamer NV12: Y rows, then interleaved U, V rows, both NV12_STRIDE apart
        yuv = cv2.cvtColor(f, cv2.COLOR_BGR2YUV_I420).ravel()
        y, u, v = yuv[:W * H], yuv[W * H:W * H * 5 // 4], yuv[W * H * 5 // 4:]
        nb = np.full(NV12_STRIDE * H * 3 // 2, 77, np.uint8)
        nb[:NV12_STRIDE * H].reshape(H, NV12_STRIDE)[:, :W] = y.reshape(H, W)
        uv = nb[NV12_STRIDE * H:].reshape(H // 2, NV12_STRIDE)
        uv[:, 0:W:2] = u.reshape(H // 2, W // 2)
        uv[:, 1:W:2] = v.reshape(H // 2, W // 2)
        buffers.append(nb)
    picam = d / "picamera2.npz"
    np.savez(picam, lores=np.stack(lores), lores_size=(LW, LH), main=np.stack(main))
    nv12 = d / "nv12.npz"
    np.savez(nv12, buffers=np.stack(buffers), width=W, height=H, stride=NV12_STRIDE, offset_uv=NV12_STRIDE * H)
    return {"video": video, "picamera2": picam, "nv12": nv12}


@pytest.fixture(scope="module")
def examples():
    sys.path.insert(0, str(EXAMPLES))
    try:
        yield lambda name: importlib.import_module(name)
    finally:
        sys.path.remove(str(EXAMPLES))
    # replays import neither picamera2 nor GStreamer's gi
    assert "picamera2" not in sys.modules and "gi" not in sys.modules


def common_args(tmp_path, name):
    return ["--model", str(realmodels.blazeface_path()), "--threads", "1", "--drop", "none",
            "--jsonl", str(tmp_path / f"{name}.jsonl"), "--quiet"]


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def check_faces(records, width, height, scale=1.0):
    """One face where the photo is (IoU > 0.6 with its face), none elsewhere, boxes in frame."""
    assert [r["frame"] for r in records] == list(range(N)), [r["frame"] for r in records]
    for r in records:
        want = expected_face(r["frame"], scale)
        if want is None:
            assert r["boxes"] == [], r
            continue
        assert len(r["boxes"]) == 1, r
        box = r["boxes"][0]
        assert iou(box, want) > 0.6, (r["frame"], box, want.tolist())
        assert 0 <= box[0] < box[2] <= width and 0 <= box[1] < box[3] <= height, box
        assert r["scores"][0] >= 0.5
        kps = np.array(r["keypoints"][0])
        assert kps.shape == (6, 2)
        eyes_nose_mouth = kps[:4]  # inside the face (the ear points may lie just outside the box)
        assert (eyes_nose_mouth[:, 0] > box[0]).all() and (eyes_nose_mouth[:, 0] < box[2]).all()
        assert (eyes_nose_mouth[:, 1] > box[1]).all() and (eyes_nose_mouth[:, 1] < box[3]).all()


def check_report(out):
    assert "FPS" in out and "invoke" in out and "latency" in out, out


def test_help_of_every_script():
    for name in SCRIPTS:
        p = subprocess.run([sys.executable, str(EXAMPLES / name), "--help"], capture_output=True, text=True,
                           timeout=60)
        assert p.returncode == 0 and "usage:" in p.stdout and "--model" in p.stdout, (name, p.stderr)


def test_picamera2_replay(examples, clip, tmp_path, capsys):
    out_video = tmp_path / "picam.avi"
    rc = examples("picamera2_faces").main(["--replay", str(clip["picamera2"]), "--output", str(out_video),
                                           "--lores", "300x200"]  # the recording's sizes win, as a camera's would
                                          + common_args(tmp_path, "picam"))
    assert rc == 0
    out = capsys.readouterr().out
    check_report(out)
    assert f"lores {LW}x{LH} YUV420 (stride {LSTRIDE})" in out
    check_faces(read_jsonl(tmp_path / "picam.jsonl"), LW, LH, scale=LW / W)
    # lores boxes drawn on the main stream, scaled to its pixels: the box's top edge is green
    cap = cv2.VideoCapture(str(out_video))
    frames = []
    while (f := cap.read()[1]) is not None:
        frames.append(f)
    assert len(frames) == N
    rec = read_jsonl(tmp_path / "picam.jsonl")[8]
    x1, y1, x2, y2 = (np.array(rec["boxes"][0]) * (W / LW)).round().astype(int)
    edge = frames[8][y1, x1 + 4:x2 - 4].astype(int)  # MJPG: colours approximately
    assert edge[:, 1].mean() > 180 and edge[:, [0, 2]].mean() < 110, edge.mean(0)


def test_opencv_camera_on_a_video(examples, clip, tmp_path, capsys, scenes):
    out_video = tmp_path / "cam.avi"
    rc = examples("opencv_camera").main(["--camera", str(clip["video"]), "--output", str(out_video)]
                                        + common_args(tmp_path, "cam"))
    assert rc == 0
    check_report(capsys.readouterr().out)
    records = read_jsonl(tmp_path / "cam.jsonl")
    check_faces(records, W, H)
    cap = cv2.VideoCapture(str(out_video))
    frames = []
    while (f := cap.read()[1]) is not None:
        frames.append(f)
    assert len(frames) == N
    x1, y1, x2, y2 = np.array(records[10]["boxes"][0]).round().astype(int)
    edge = frames[10][y1, x1 + 4:x2 - 4].astype(int)
    assert edge[:, 1].mean() > 180 and edge[:, [0, 2]].mean() < 110, edge.mean(0)
    # nothing drawn on a frame without a face: it is the input (up to MJPG losses, twice)
    assert np.abs(frames[0].astype(int) - scenes[0]).mean() < 6


def test_gstreamer_replay(examples, clip, tmp_path, capsys):
    rc = examples("gstreamer_nv12").main(["--replay", str(clip["nv12"])] + common_args(tmp_path, "gst"))
    assert rc == 0
    out = capsys.readouterr().out
    check_report(out)
    assert f"NV12 {W}x{H}, row stride {NV12_STRIDE}, chroma at byte {NV12_STRIDE * H} (used in place)" in out
    check_faces(read_jsonl(tmp_path / "gst.jsonl"), W, H)


def _gstreamer_can_parse_raw_video() -> bool:
    probe = ("import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstVideo', '1.0'); "
             "from gi.repository import Gst, GstVideo; Gst.init(None); "
             "assert all(Gst.ElementFactory.find(e) for e in "
             "('rawvideoparse', 'videoconvert', 'videoscale', 'appsink'))")
    return subprocess.run([sys.executable, "-c", probe], capture_output=True, timeout=60).returncode == 0


def test_gstreamer_for_real(scenes, tmp_path):
    """The real appsink path, when PyGObject and GStreamer are installed: the clip as raw
    I420 through rawvideoparse, videoscale to 630x480 (NV12 rows padded to 632 bytes)."""
    if not _gstreamer_can_parse_raw_video():
        pytest.skip("PyGObject (gi) with GStreamer 1.x base plugins not importable here")
    raw = tmp_path / "clip.i420"
    with open(raw, "wb") as fh:
        for f in scenes:
            fh.write(cv2.cvtColor(f, cv2.COLOR_BGR2YUV_I420).tobytes())
    source = f"filesrc location={raw} ! rawvideoparse format=i420 width={W} height={H} framerate=10/1"
    p = subprocess.run([sys.executable, str(EXAMPLES / "gstreamer_nv12.py"), "--source", source, "--size", "630x480"]
                       + common_args(tmp_path, "real_gst"), capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    check_report(p.stdout)
    assert "NV12 630x480, row stride 632" in p.stdout and "(used in place)" in p.stdout, p.stdout
    check_faces(read_jsonl(tmp_path / "real_gst.jsonl"), 630, H, scale=np.array([630 / W, 1.0, 630 / W, 1.0]))


def test_nv12_frame_layouts(examples, clip):
    sources = examples("sources")
    with np.load(clip["nv12"]) as z:
        data = z["buffers"][5].tobytes()
    view = sources.nv12_frame(data, W, H, NV12_STRIDE, NV12_STRIDE, 0, NV12_STRIDE * H)
    assert view.shape == (H * 3 // 2, W) and view.strides == (NV12_STRIDE, 1) and view.base is not None
    planes = np.frombuffer(data, np.uint8).reshape(H * 3 // 2, NV12_STRIDE)[:, :W]
    np.testing.assert_array_equal(view, planes)
    # chroma plane 16 rows further (a decoder padding the height): copied into one array
    apart = np.full(NV12_STRIDE * (H + 16 + H // 2), 5, np.uint8)
    apart[:NV12_STRIDE * H] = np.frombuffer(data, np.uint8)[:NV12_STRIDE * H]
    apart[NV12_STRIDE * (H + 16):] = np.frombuffer(data, np.uint8)[NV12_STRIDE * H:]
    copy = sources.nv12_frame(apart.tobytes(), W, H, NV12_STRIDE, NV12_STRIDE, 0, NV12_STRIDE * (H + 16))
    assert copy.base is None
    np.testing.assert_array_equal(copy, planes)
    # the last row's padding may be missing, not one of its pixels
    need = NV12_STRIDE * (H * 3 // 2 - 1) + W
    assert sources.nv12_frame(data[:need], W, H, NV12_STRIDE, NV12_STRIDE, 0, NV12_STRIDE * H).shape == view.shape
    with pytest.raises(ValueError, match="needs"):
        sources.nv12_frame(data[:need - 1], W, H, NV12_STRIDE, NV12_STRIDE, 0, NV12_STRIDE * H)


def test_video_file_script(clip, tmp_path):
    """Run as a script, as a user would (the reader thread + Pipeline.results(stop=))."""
    jsonl = tmp_path / "file.jsonl"
    p = subprocess.run([sys.executable, str(EXAMPLES / "video_file.py"), str(clip["video"]), "--model",
                        str(realmodels.blazeface_path()), "--threads", "1", "--jsonl", str(jsonl), "--quiet"],
                       capture_output=True, text=True, timeout=120, env=dict(os.environ))
    assert p.returncode == 0, p.stderr
    check_report(p.stdout)
    check_faces(read_jsonl(jsonl), W, H)


def test_cascade_landmarks_inside_the_face(examples, clip, tmp_path, capsys):
    rc = examples("face_landmarks_cascade").main(
        ["--camera", str(clip["video"]), "--landmark-model", str(realmodels.face_landmark_path())]
        + common_args(tmp_path, "cascade"))
    assert rc == 0
    out = capsys.readouterr().out
    check_report(out)
    assert "landmarks" in out
    records = read_jsonl(tmp_path / "cascade.jsonl")
    check_faces(records, W, H)
    for r in records:
        if not r["boxes"]:
            assert r["landmarks"] == []
            continue
        assert len(r["landmarks"]) == 1 and r["landmark_scores"][0] > 0.5, r["landmark_scores"]
        pts = np.array(r["landmarks"][0])
        assert pts.shape == (468, 2)
        # the mesh covers the face: inside the detection box grown by a quarter of its size
        # (the mesh reaches the forehead and jaw, beyond BlazeFace's box), centred on it
        x1, y1, x2, y2 = r["boxes"][0]
        gx, gy = (x2 - x1) / 4, (y2 - y1) / 4
        assert (pts[:, 0] > x1 - gx).all() and (pts[:, 0] < x2 + gx).all(), r["frame"]
        assert (pts[:, 1] > y1 - gy).all() and (pts[:, 1] < y2 + gy).all(), r["frame"]
        centre = pts.mean(0)
        assert abs(centre[0] - (x1 + x2) / 2) < (x2 - x1) / 5 and abs(centre[1] - (y1 + y2) / 2) < (y2 - y1) / 4
