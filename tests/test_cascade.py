"""edgerun.Cascade: BlazeFace -> rotated face ROI -> face mesh on a real photo, against
an independent reference (NumPy ROI from the detection, NumPy bilinear crop, the
classic Interpreter, NumPy mapping back), plus the batched path on a generated model."""

from __future__ import annotations

import math

import numpy as np
import pytest

import edgerun
from edgerun import heads

import models as mg
import realmodels
from test_roi_crop import ref_crop, roi_matrix


@pytest.fixture(scope="module")
def frame():
    cv2 = pytest.importorskip("cv2")
    return np.ascontiguousarray(cv2.imread(str(realmodels.astronaut_path()))[:, 32:])  # 480x512 BGR


@pytest.fixture(scope="module")
def cascade():
    face = edgerun.Session(realmodels.blazeface_path(), threads=2)
    pipe = edgerun.Pipeline(face, edgerun.Preprocessor("bgr", fit="letterbox"), heads.BlazeFace())
    mesh = edgerun.Session(realmodels.face_landmark_path(), threads=2)
    c = edgerun.Cascade(pipe, mesh, heads.Landmarks(468, 3, score_output=1, score_activation="sigmoid"),
                        edgerun.Preprocessor("bgr", mean=0, std=255))
    yield c
    pipe.close()


def ref_face_roi(box, kps, scale=1.5):
    """MediaPipe: box centre, square of 1.5 x the longer side, eyes level (atan2 of eye1 - eye0)."""
    x1, y1, x2, y2 = (float(v) for v in box)
    angle = math.degrees(math.atan2(kps[1, 1] - kps[0, 1], kps[1, 0] - kps[0, 0]))
    side = max(x2 - x1, y2 - y1) * scale
    return ((x1 + x2) / 2, (y1 + y2) / 2, side, side, angle)


def test_face_mesh_cascade_matches_reference(cascade, frame):
    from ai_edge_litert.interpreter import Interpreter

    r = cascade(frame)
    assert len(r) == 1 and len(r.detections) == 1
    roi = ref_face_roi(r.detections.boxes[0], r.detections.keypoints[0])
    np.testing.assert_allclose(r.rois[0], roi, rtol=0, atol=1e-3)
    np.testing.assert_allclose(r.transforms[0].matrix, roi_matrix(roi, 192, 192), atol=1e-6)
    # the reference: NumPy crop (BGR -> RGB, / 255), Interpreter, NumPy mapping
    crop = ref_crop(np.ascontiguousarray(frame[..., ::-1]), roi, 192, 192, (0, 0, 0)) / 255.0
    it = Interpreter(model_path=str(realmodels.face_landmark_path()), num_threads=2)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], crop[None].astype(np.float32))
    it.invoke()
    outs = {d["name"]: it.get_tensor(d["index"]) for d in it.get_output_details()}
    raw = outs["conv2d_21"].reshape(468, 3).astype(np.float64)
    m = roi_matrix(roi, 192, 192)
    xy = raw[:, :2] @ m[:, :2].T + m[:, 2]
    got = r.results[0]
    assert got.scores[0] > 0.99 and abs(got.scores[0] - 1 / (1 + math.exp(-float(outs["conv2d_31"].ravel()[0])))) < 1e-5
    # crops agree to float32 rounding (~1e-4 of 255): the landmarks to a few hundredths of a pixel
    np.testing.assert_allclose(got.xy[0], xy, rtol=0, atol=0.05)
    np.testing.assert_allclose(got.z[0], raw[:, 2] * roi[2] / 192, rtol=0, atol=0.05)


def test_cascade_follows_a_rotated_face(cascade, frame):
    cv2 = pytest.importorskip("cv2")
    upright = cascade(frame).results[0].xy[0]
    M = cv2.getRotationMatrix2D((240.0, 256.0), -30.0, 1.0)  # 30 degrees clockwise
    rotated = np.ascontiguousarray(cv2.warpAffine(frame, M, (480, 512)))
    r = cascade(rotated)
    assert len(r) == 1
    expect = upright @ M[:, :2].T + M[:, 2]
    err = np.linalg.norm(r.results[0].xy[0] - expect, axis=1)
    # the same face, found and measured again in the rotated frame: within a few pixels
    assert np.median(err) < 1.5 and err.max() < 5
    assert r.rois[0][4] > 15  # the crop turned with the face


def test_batched_second_stage_equals_one_at_a_time():
    rng = np.random.default_rng(61)
    frame = rng.integers(0, 256, (120, 160, 3), dtype=np.int64).astype(np.uint8)
    boxes = np.array([[10, 10, 50, 40], [60, 20, 120, 90], [30, 60, 70, 110]], np.float32)
    kps = np.array([[[15, 20], [40, 25]], [[70, 40], [100, 30]], [[35, 70], [60, 90]]], np.float32)

    class Dets:  # a detector result: boxes and keypoints
        def __init__(self):
            self.boxes, self.keypoints = boxes, kps

        def __len__(self):
            return 3

    pre = edgerun.Preprocessor("rgb", mean=0, std=1)
    batched = edgerun.Session(mg.image_mean_model(16, dynamic_batch=True))
    single = edgerun.Session(mg.image_mean_model(16, dynamic_batch=False))
    cb = edgerun.Cascade(lambda f: Dets(), batched, heads.Landmarks(1, 3), pre, max_rois=3)
    cs = edgerun.Cascade(lambda f: Dets(), single, heads.Landmarks(1, 3), pre, max_rois=3)
    rb, rs = cb(frame), cs(frame)
    assert batched.inputs[0].shape == (3, 16, 16, 3)  # one invoke for the three ROIs
    assert len(rb) == len(rs) == 3
    for i in range(3):
        assert rb.rois[i] == rs.rois[i]
        np.testing.assert_allclose(rb.results[i].points, rs.results[i].points, atol=1e-4)
        # NumPy: the mean colour of the crop, its (r, g) mapped as a point through the ROI matrix
        mean = ref_crop(frame, rb.rois[i], 16, 16, (0, 0, 0)).reshape(-1, 3).mean(0)
        m = roi_matrix(rb.rois[i], 16, 16)
        xy = m[:, :2] @ mean[:2] + m[:, 2]
        np.testing.assert_allclose(rb.results[i].xy[0, 0], xy, rtol=0, atol=2e-3)
    # fewer ROIs than the batch: the input shrinks back
    cb.max_rois = 1
    assert len(cb(frame)) == 1 and batched.inputs[0].shape == (1, 16, 16, 3)


def test_cascade_errors():
    s = edgerun.Session(mg.image_mean_model(8))
    pre = edgerun.Preprocessor("rgb")
    head = heads.Landmarks(1, 3)
    with pytest.raises(edgerun.InputError, match="roi_from: expected 'face', 'box' or a callable"):
        edgerun.Cascade(lambda f: None, s, head, pre, roi_from="hand")
    with pytest.raises(edgerun.InputError, match="max_rois: expected an int >= 1"):
        edgerun.Cascade(lambda f: None, s, head, pre, max_rois=0)
    with pytest.raises(edgerun.InputError, match="detector: expected"):
        edgerun.Cascade(None, s, head, pre)
    with pytest.raises(edgerun.InputError, match="scale: applies to roi_from='face' or 'box'"):
        edgerun.Cascade(lambda f: None, s, head, pre, roi_from=lambda b, k: (0, 0, 1, 1, 0), scale=2.0)


def test_pipelined_cascade_equals_per_frame_calls(frame):
    """submit/get: the detector runs on the Pipeline's workers, the second stage in get();
    every frame's result equals the synchronous call on the same frame, in frame order."""
    cv2 = pytest.importorskip("cv2")
    frames = []
    for ang in (0.0, -20.0, 15.0, 30.0, -10.0):
        M = cv2.getRotationMatrix2D((240.0, 256.0), ang, 1.0)
        frames.append(np.ascontiguousarray(cv2.warpAffine(frame, M, (480, 512))))
    face = edgerun.Session(realmodels.blazeface_path(), threads=2)
    pipe = edgerun.Pipeline(face, edgerun.Preprocessor("bgr", fit="letterbox"), heads.BlazeFace(), drop="none",
                            depth=2)
    mesh = edgerun.Session(realmodels.face_landmark_path(), threads=2)
    c = edgerun.Cascade(pipe, mesh, heads.Landmarks(468, 3, score_output=1, score_activation="sigmoid"),
                        edgerun.Preprocessor("bgr", mean=0, std=255))
    sync = [c(f) for f in frames]
    ids = [c.submit(f, meta=i) for i, f in enumerate(frames)]
    got = [c.get(timeout=30) for _ in frames]
    assert [r.frame_id for r in got] == ids and [r.meta for r in got] == list(range(len(frames)))
    for s, g in zip(sync, got):
        assert len(s) == len(g) == 1
        assert s.rois == g.rois
        np.testing.assert_array_equal(s.results[0].xy, g.results[0].xy)
    # ready(): only what is complete, no waiting; then the loop drains after close
    c.submit(frames[0])
    pipe.close()
    rest = list(c.results(timeout=30))
    assert len(rest) == 1 and rest[0].rois == sync[0].rois
    assert list(c.ready()) == []


def test_pipelined_cascade_needs_a_pipeline():
    s = edgerun.Session(mg.image_mean_model(8))
    c = edgerun.Cascade(lambda f: None, s, heads.Landmarks(1, 3), edgerun.Preprocessor("rgb"))
    with pytest.raises(edgerun.InputError, match="submit: the pipelined loop needs an edgerun.Pipeline"):
        c.submit(np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(edgerun.InputError, match="get: the pipelined loop needs"):
        c.get(0)
