"""heads.Segmentation and heads.Landmarks against NumPy references written here.

Segmentation reference: every source pixel centre of the transform's source_roi
is mapped into the model input with the inverse of the transform's matrix
(numpy.linalg.inv), rejected outside the letterboxed content, scaled to mask
coordinates and sampled (nearest, or bilinear between pixel centres with the
borders clamped), then argmax / activation / threshold. Landmark reference: the
raw output reshaped to (N, D), scaled when normalized, mapped with the matrix.
Tolerances: scores 1e-5, points 1e-4 px; classes exactly equal wherever the
reference's two best classes differ by more than 1e-4 (float32 vs float64 ties).
"""

from __future__ import annotations

import numpy as np
import pytest

import edgerun
from edgerun import heads

import realmodels

POINT_TOL = 1e-4


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def ref_classify(vals, kind, act, thr):
    """vals (..., C) float64 -> (classes, scores, margin between the two best)."""
    if kind == "binary":
        s = sigmoid(vals[..., 0]) if act == "sigmoid" else vals[..., 0]
        return (s >= thr).astype(np.int32), s, np.abs(s - thr)
    cls = np.argmax(vals, axis=-1).astype(np.int32)
    top = np.take_along_axis(vals, cls[..., None], -1)[..., 0]
    srt = np.sort(vals, axis=-1)
    margin = srt[..., -1] - srt[..., -2]
    if act == "softmax":
        s = 1.0 / np.exp(vals - top[..., None]).sum(-1)
    elif act == "sigmoid":
        s = sigmoid(top)
    else:
        s = top
    return cls, s, margin


def ref_segmentation_source(out, t, kind, act="none", thr=0.5, interp="bilinear"):
    """Mask over t.source_roi in source pixels (classes, scores, margin, inside)."""
    H, W = out.shape[1], out.shape[2]
    vals = out.reshape(H, W, -1).astype(np.float64)
    in_w, in_h = t.input_size
    m3 = np.vstack([t.matrix, [0, 0, 1]])
    inv = np.linalg.inv(m3)
    x0, y0, rw, rh = t.source_roi
    ys, xs = np.mgrid[0:rh, 0:rw]
    sx, sy = x0 + xs + 0.5, y0 + ys + 0.5
    u = inv[0, 0] * sx + inv[0, 1] * sy + inv[0, 2]
    v = inv[1, 0] * sx + inv[1, 1] * sy + inv[1, 2]
    cx, cy, cw, ch = t.content
    inside = (u >= cx) & (u < cx + cw) & (v >= cy) & (v < cy + ch)
    mu, mv = u * W / in_w, v * H / in_h
    if interp == "nearest" or kind == "ids":
        ix = np.clip(np.floor(mu).astype(int), 0, W - 1)
        iy = np.clip(np.floor(mv).astype(int), 0, H - 1)
        sample = vals[iy, ix]
        if kind == "ids":
            cls = np.rint(sample[..., 0]).astype(np.int32)
            return np.where(inside, cls, -1), None, np.full(cls.shape, np.inf), inside
        cls, s, margin = ref_classify(sample, kind, act, thr)
    else:
        fx = np.clip(mu - 0.5, 0, W - 1)
        fy = np.clip(mv - 0.5, 0, H - 1)
        xa, ya = np.floor(fx).astype(int), np.floor(fy).astype(int)
        xb, yb = np.minimum(xa + 1, W - 1), np.minimum(ya + 1, H - 1)
        wx, wy = (fx - xa)[..., None], (fy - ya)[..., None]
        if kind == "binary":  # the activated probability is resampled
            vals = sigmoid(vals) if act == "sigmoid" else vals
        sample = ((1 - wx) * (1 - wy) * vals[ya, xa] + wx * (1 - wy) * vals[ya, xb]
                  + (1 - wx) * wy * vals[yb, xa] + wx * wy * vals[yb, xb])
        cls, s, margin = ref_classify(sample, kind, "none" if kind == "binary" else act, thr)
    return np.where(inside, cls, -1), np.where(inside, s, 0.0), margin, inside


def assert_mask(mask, classes, scores, margin, score_tol=1e-5):
    assert isinstance(mask, heads.SegmentationMask)
    assert mask.classes.shape == classes.shape and mask.classes.dtype == np.int32
    decided = margin > 1e-4
    np.testing.assert_array_equal(mask.classes[decided], classes[decided])
    assert decided.mean() > 0.99
    if scores is None:
        assert mask.scores is None
    else:
        np.testing.assert_allclose(mask.scores, scores, rtol=0, atol=score_tol)


TRANSFORMS = [
    dict(fit="letterbox", rotate=90, roi=(7, 5, 70, 50)),
    dict(fit="crop", flip=True),
    dict(fit="stretch", rotate=270, roi=(3, 9, 51, 40)),
]


@pytest.mark.parametrize("pre", TRANSFORMS)
@pytest.mark.parametrize("act,interp", [("softmax", "bilinear"), ("none", "nearest"), ("sigmoid", "bilinear")])
def test_multiclass_scores_to_source(pre, act, interp):
    rng = np.random.default_rng(31)
    out = rng.normal(0, 2, (1, 24, 32, 5)).astype(np.float32)  # mask half the input's resolution
    t = edgerun.Preprocessor("rgb", **pre).transform((96, 72), (64, 48))
    mask = heads.Segmentation(act, interpolation=interp)([out], t)
    cls, s, margin, inside = ref_segmentation_source(out, t, "scores", act, interp=interp)
    assert mask.classes.shape == (t.source_roi[3], t.source_roi[2])
    assert mask.origin == (t.source_roi[0], t.source_roi[1])
    assert_mask(mask, cls, s, margin)
    # the source_roi maps onto the image inside the input: every pixel was seen
    assert inside.mean() > 0.98 and (mask.classes >= 0).mean() > 0.98


def test_binary_probability_to_source_and_full_frame():
    rng = np.random.default_rng(32)
    prob = rng.uniform(0, 1, (1, 40, 40, 1)).astype(np.float32)
    t = edgerun.Preprocessor("rgb", fit="letterbox", roi=(10, 4, 80, 60)).transform((100, 70), (40, 40))
    for thr in (0.5, 0.3):
        mask = heads.Segmentation(threshold=thr)([prob], t)
        cls, s, margin, _ = ref_segmentation_source(prob, t, "binary", thr=thr)
        assert_mask(mask, cls, s, margin)
        assert set(np.unique(mask.classes)) <= {-1, 0, 1}
    # one channel as [1, H, W] and as logits through a sigmoid
    logits = rng.normal(0, 3, (1, 40, 40)).astype(np.float32)
    mask = heads.Segmentation("sigmoid")([logits], t)
    cls, s, margin, _ = ref_segmentation_source(logits, t, "binary", "sigmoid")
    assert_mask(mask, cls, s, margin)
    full = mask.full_frame(100, 70)
    assert full.shape == (70, 100)
    np.testing.assert_array_equal(full[4:64, 10:90], mask.classes)
    assert (full[:4] == -1).all() and (full[:, :10] == -1).all() and (full[:, 90:] == -1).all()


def test_class_ids_and_quantized_scores():
    rng = np.random.default_rng(33)
    ids = rng.integers(0, 21, (1, 33, 33), dtype=np.int64).astype(np.int32)
    t = edgerun.Preprocessor("rgb", fit="letterbox", rotate=180).transform((80, 60), (33, 33))
    mask = heads.Segmentation()([ids], t)
    cls, _, margin, _ = ref_segmentation_source(ids, t, "ids")
    assert_mask(mask, cls, None, margin)
    # uint8 class ids (not quantized) need no quantization=
    mask8 = heads.Segmentation()([ids.astype(np.uint8)], t)
    np.testing.assert_array_equal(mask8.classes, mask.classes)
    # quantized uint8 scores: dequantized before argmax / resampling
    q = rng.integers(0, 256, (1, 20, 20, 4), dtype=np.int64).astype(np.uint8)
    scale, zp = 0.05, 100
    t2 = edgerun.Preprocessor("rgb", fit="crop").transform((50, 40), (20, 20))
    mask = heads.Segmentation("softmax")([q], t2, quantization=[(scale, zp)])
    deq = (q.astype(np.float32) - zp) * np.float32(scale)
    cls, s, margin, _ = ref_segmentation_source(deq, t2, "scores", "softmax")
    assert_mask(mask, cls, s, margin)


def test_model_resolution_and_mapping():
    rng = np.random.default_rng(34)
    out = rng.normal(0, 1, (1, 16, 12, 3)).astype(np.float32)
    t = edgerun.Preprocessor("rgb", fit="letterbox", rotate=90).transform((64, 40), (24, 32))
    mask = heads.Segmentation("softmax", resolution="model")([out], t)
    cls, s, _ = ref_classify(out[0].astype(np.float64), "scores", "softmax", 0.5)
    np.testing.assert_array_equal(mask.classes, cls)
    np.testing.assert_allclose(mask.scores, s, atol=1e-6)
    # mask pixel -> input pixel (x 2, y 2) -> source
    expect = np.vstack([t.matrix, [0, 0, 1]]) @ np.diag([24 / 12, 32 / 16, 1.0])
    np.testing.assert_allclose(mask.matrix, expect[:2], atol=1e-12)
    pts = np.array([[0.5, 0.5], [11.5, 15.5]])
    np.testing.assert_allclose(mask.to_source(pts), t.to_source(pts * [2, 2]), atol=POINT_TOL)
    with pytest.raises(edgerun.InputError, match="not at source resolution"):
        mask.full_frame(64, 40)
    # without a transform: model resolution, matrix = the scale to input pixels when known
    plain = heads.Segmentation("softmax")([out], input_size=(24, 32))
    np.testing.assert_array_equal(plain.classes, cls)
    np.testing.assert_allclose(plain.matrix, [[2, 0, 0], [0, 2, 0]])


def test_segmentation_errors():
    f = np.zeros((1, 8, 8, 2), np.float32)
    with pytest.raises(edgerun.InputError, match=r"several maps: choose one with output="):
        heads.Segmentation()([f, f])
    with pytest.raises(edgerun.InputError, match=r"expected one output \[1, H, W, C\] scores"):
        heads.Segmentation()([np.zeros((1, 10), np.float32)])
    with pytest.raises(edgerun.InputError, match=r"class ids: expected \[1, H, W\]"):
        heads.Segmentation()([np.zeros((1, 8, 8, 3), np.int32)])
    with pytest.raises(edgerun.InputError, match=r"softmax over one value"):
        heads.Segmentation("softmax")([np.zeros((1, 8, 8, 1), np.float32)])
    with pytest.raises(edgerun.InputError, match=r"resolution: expected 'source' or 'model'; got 'frame'"):
        heads.Segmentation(resolution="frame")
    # with output= one of several maps is chosen
    m = heads.Segmentation(output=1)([np.zeros((1, 4, 4, 2), np.float32), f], input_size=(8, 8))
    assert m.classes.shape == (8, 8)
    assert repr(heads.Segmentation()).startswith("Segmentation(score_activation=none")


# --------------------------------------------------------------------------- landmarks
def ref_landmarks(raw, n, dims, t=None, normalized=False, size=None, vis_act="none"):
    p = raw.reshape(-1, n, dims).astype(np.float64).copy()
    if normalized:
        p[..., 0] *= size[0]
        p[..., 1] *= size[1]
        if dims > 2:
            p[..., 2] *= size[0]
    if t is not None:
        m = t.matrix
        x, y = p[..., 0].copy(), p[..., 1].copy()
        p[..., 0] = m[0, 0] * x + m[0, 1] * y + m[0, 2]
        p[..., 1] = m[1, 0] * x + m[1, 1] * y + m[1, 2]
        if dims > 2:
            p[..., 2] *= np.sqrt(abs(np.linalg.det(m[:, :2])))
    if vis_act == "sigmoid":
        p[..., 3:5] = sigmoid(p[..., 3:5])
    return p


@pytest.mark.parametrize("pre", TRANSFORMS)
def test_face_mesh_layout_to_source(pre):
    rng = np.random.default_rng(41)
    raw = (rng.uniform(0, 192, (1, 1, 1, 468 * 3))).astype(np.float32)
    flag = np.array([[[[2.0]]]], np.float32)
    t = edgerun.Preprocessor("rgb", **pre).transform((96, 72), (192, 192))
    head = heads.Landmarks(468, 3, score_output=1, score_activation="sigmoid")
    lm = head([raw, flag], t)
    assert isinstance(lm, heads.LandmarkPoints) and len(lm) == 1 and lm.points.shape == (1, 468, 3)
    np.testing.assert_allclose(lm.points, ref_landmarks(raw, 468, 3, t), rtol=0, atol=POINT_TOL)
    np.testing.assert_allclose(lm.scores, sigmoid(np.array([2.0])), atol=1e-6)
    assert lm.xy.shape == (1, 468, 2) and lm.visibility is None
    # threshold on the flag drops the instance
    low = heads.Landmarks(468, 3, score_output=1, score_activation="sigmoid", score_threshold=0.9)([raw, flag], t)
    assert len(low) == 0 and low.points.shape == (0, 468, 3)


def test_rotated_roi_transform():
    # A rotated ROI crop (MediaPipe's face/hand ROI: centre, size, angle) as an affine Transform.
    cx, cy, w, h, angle = 300.0, 200.0, 120.0, 90.0, np.deg2rad(30)
    in_w, in_h = 224, 224
    c, s = np.cos(angle), np.sin(angle)
    # input pixel (u, v) -> source: centre + R @ ((u / in_w - 0.5) * w, (v / in_h - 0.5) * h)
    a = np.array([[c * w / in_w, -s * h / in_h], [s * w / in_w, c * h / in_h]])
    b = np.array([cx, cy]) - a @ np.array([in_w / 2, in_h / 2])
    t = edgerun.Transform(matrix=[a[0, 0], a[0, 1], b[0], a[1, 0], a[1, 1], b[1]], input_size=(in_w, in_h),
                          content=(0, 0, in_w, in_h), source_roi=(200, 100, 200, 200))
    rng = np.random.default_rng(42)
    raw = rng.uniform(0, 224, (1, 63)).astype(np.float32)  # hand: 21 x 3
    lm = heads.Landmarks(21, 3)([raw], t)
    np.testing.assert_allclose(lm.points, ref_landmarks(raw, 21, 3, t), rtol=0, atol=POINT_TOL)
    # the input centre lands on the ROI centre
    centre = np.array([[[112.0, 112.0, 0.0] * 21]], np.float32).reshape(1, 63)
    np.testing.assert_allclose(heads.Landmarks(21, 3)([centre], t).xy[0, 0], [cx, cy], atol=POINT_TOL)
    # z scales like x: |det| = w * h / (in_w * in_h)
    np.testing.assert_allclose(lm.z, raw.reshape(1, 21, 3)[..., 2] * np.sqrt(w * h / (in_w * in_h)), rtol=1e-5)


def test_pose_layout_normalized_quantized_and_batches():
    rng = np.random.default_rng(43)
    raw = rng.normal(0, 2, (1, 39 * 5)).astype(np.float32)
    raw.reshape(39, 5)[:, :3] = rng.uniform(0, 1, (39, 3))
    t = edgerun.Preprocessor("rgb", fit="letterbox").transform((320, 240), (256, 256))
    lm = heads.Landmarks(39, 5, normalized=True, visibility_activation="sigmoid")([raw, np.zeros((1, 117), np.float32)], t)
    np.testing.assert_allclose(lm.points, ref_landmarks(raw, 39, 5, t, True, (256, 256), "sigmoid"),
                               rtol=0, atol=POINT_TOL)
    assert lm.visibility.shape == (1, 39) and lm.presence.shape == (1, 39)
    # quantized uint8, [1, N, D] layout, no transform: input pixels
    q = rng.integers(0, 256, (1, 21, 3), dtype=np.int64).astype(np.uint8)
    lmq = heads.Landmarks(21, 3)([q], quantization=[(0.9, 3)])
    np.testing.assert_allclose(lmq.points, ref_landmarks((q.astype(np.float32) - 3) * np.float32(0.9), 21, 3),
                               rtol=0, atol=POINT_TOL)
    # a batch of 3 instances, one score each
    batch = rng.uniform(0, 100, (3, 63)).astype(np.float32)
    scores = np.array([[0.9], [0.2], [0.7]], np.float32)
    lb = heads.Landmarks(21, 3, score_output=1, score_threshold=0.5)([batch, scores], t)
    assert len(lb) == 2
    np.testing.assert_allclose(lb.points, ref_landmarks(batch, 21, 3, t)[[0, 2]], rtol=0, atol=POINT_TOL)
    np.testing.assert_allclose(lb.scores, [0.9, 0.7])


def test_landmarks_output_selection_and_errors():
    pts = np.zeros((1, 63), np.float32)
    flag = np.zeros((1, 1), np.float32)
    world = np.ones((1, 63), np.float32)
    # hand_landmark's order: screen landmarks first, world landmarks last: the first largest wins
    lm = heads.Landmarks(21, 3)([pts, flag, flag, world])
    assert (lm.points == 0).all()
    lm = heads.Landmarks(21, 3, landmarks_output=3)([pts, flag, flag, world])
    assert (lm.points == 1).all()
    # a segmentation map is never taken for landmarks
    with pytest.raises(edgerun.InputError, match=r"Landmarks: expected an output of 39 x 5 values"):
        heads.Landmarks(39, 5)([np.zeros((1, 256, 256, 1), np.float32), flag])
    with pytest.raises(edgerun.InputError, match=r"dims must be in 2\.\.8"):
        heads.Landmarks(dims=1)
    with pytest.raises(edgerun.InputError, match=r"score_output .*expected one value per instance"):
        heads.Landmarks(21, 3, score_output=1)([pts, np.zeros((1, 2), np.float32)])
    with pytest.raises(edgerun.InputError, match=r"score_threshold needs score_output"):
        heads.Landmarks(21, 3, score_threshold=0.5)([pts])
    with pytest.raises(edgerun.InputError, match=r"normalized but the model input size is unknown"):
        heads.Landmarks(21, 3, normalized=True)([pts])


# --------------------------------------------------------------------------- real models
@pytest.fixture(scope="module")
def astronaut_frame():
    cv2 = pytest.importorskip("cv2")
    img = cv2.imread(str(realmodels.astronaut_path()))  # 512x512 BGR, one person (Eileen Collins)
    return np.ascontiguousarray(img[:, 32:])  # 480 x 512: letterbox pads


def test_selfie_segmentation_real_model(astronaut_frame):
    path = realmodels.selfie_segmentation_path()
    with edgerun.Session(path, threads=1) as s:
        pre = edgerun.Preprocessor("bgr", fit="letterbox", mean=0, std=255)
        t = pre(astronaut_frame, s.input(0))
        outs = s.run(copy=True)
        head = heads.Segmentation().bind(s)
        mask = head(outs, t)
        h, w = astronaut_frame.shape[:2]
        assert mask.classes.shape == (h, w) and t.source_roi == (0, 0, w, h)
        cls, sc, margin, _ = ref_segmentation_source(outs[0], t, "binary")
        assert_mask(mask, cls, sc, margin)
        # She fills the lower half of the photo; her face is person, the top corners are not.
        assert mask.classes[90:150, 170:230].mean() > 0.95
        assert (mask.classes[:30, :60] == 0).all() and (mask.classes[:30, 420:] == 0).all()
        assert 0.3 < (mask.classes == 1).mean() < 0.8
        nearest = heads.Segmentation(interpolation="nearest").bind(s)(outs, t)
        assert (nearest.classes == mask.classes).mean() > 0.97


def test_face_landmark_real_model(astronaut_frame):
    path = realmodels.face_landmark_path()
    with edgerun.Session(path, threads=1) as s:
        roi = (150, 50, 150, 150)  # around the face (x 180-270, y 80-175)
        pre = edgerun.Preprocessor("bgr", roi=roi, mean=0, std=255)
        t = pre(astronaut_frame, s.input(0))
        outs = s.run(copy=True)
        head = heads.Landmarks(468, 3, score_output=1, score_activation="sigmoid").bind(s)
        lm = head(outs, t)
        np.testing.assert_allclose(lm.points, ref_landmarks(outs[0], 468, 3, t), rtol=0, atol=POINT_TOL)
        assert lm.scores[0] > 0.5  # a face
        xy = lm.xy[0]
        assert 180 < xy[:, 0].mean() < 270 and 80 < xy[:, 1].mean() < 175
        assert (xy[:, 0] > roi[0]).all() and (xy[:, 0] < roi[0] + roi[2]).all()


def test_pixels_outside_the_content_are_minus_one():
    # A transform whose source_roi reaches beyond what the model input's content shows.
    t = edgerun.Transform(matrix=[2, 0, 0, 0, 2, 0], input_size=(20, 20), content=(0, 5, 20, 10),
                          source_roi=(0, 0, 40, 40))
    prob = np.random.default_rng(44).uniform(0, 1, (1, 20, 20, 1)).astype(np.float32)
    mask = heads.Segmentation()([prob], t)
    cls, s, margin, inside = ref_segmentation_source(prob, t, "binary")
    assert_mask(mask, cls, s, margin)
    assert (mask.classes[~inside] == -1).all() and (mask.classes[inside] >= 0).all()
    assert (mask.classes[:10] == -1).all() and (mask.classes[30:] == -1).all()


def test_heads_in_a_pipeline(astronaut_frame):
    with edgerun.Session(realmodels.selfie_segmentation_path(), threads=1) as s:
        pre = edgerun.Preprocessor("bgr", fit="letterbox", mean=0, std=255)
        with edgerun.Pipeline(s, pre, heads.Segmentation()) as pipe:
            r = pipe(astronaut_frame)
        direct = heads.Segmentation().bind(s)(s.run(*[_input(pre, astronaut_frame, s)], copy=True),
                                              pre.transform(astronaut_frame.shape[1::-1], (256, 256)))
        assert isinstance(r.output, heads.SegmentationMask)
        np.testing.assert_array_equal(r.output.classes, direct.classes)
        np.testing.assert_allclose(r.output.scores, direct.scores, atol=1e-6)


def _input(pre, frame, session):
    x = np.zeros(session.inputs[0].shape, np.float32)
    pre(frame, x)
    return x
