"""edgerun.draw: results drawn on frames in place, against pixel references written here
(which pixels a box outline, a disk, a score bar or a mask overlay must cover), with
OpenCV and with the NumPy fallback; the two backends must agree on rectangle pixels."""

from __future__ import annotations

import math

import numpy as np
import pytest

import edgerun
from edgerun import draw, heads

import realmodels

try:
    import cv2
except ImportError:  # the NumPy backend is tested regardless
    cv2 = None

BACKENDS = ["numpy"] + (["opencv"] if cv2 is not None else [])
GREEN = (0, 255, 0)


def ref_box(shape, box, thickness, scale=(1.0, 1.0)):
    """Pixels of a box outline: columns round(x1) .. round(x2) - 1 (pixel i covers [i, i+1)),
    rows likewise, ``thickness`` pixels inward, clipped to the frame."""
    h, w = shape
    l, t, r, b = (int(round(v * s)) for v, s in zip(box, scale * 2))
    r, b = max(r - 1, l), max(b - 1, t)
    yy, xx = np.mgrid[0:h, 0:w]
    inside = (xx >= l) & (xx <= r) & (yy >= t) & (yy <= b)
    d = np.minimum(np.minimum(xx - l, r - xx), np.minimum(yy - t, b - yy))
    return inside & (d < thickness)


def ref_disk(shape, x, y, radius):
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    return (yy - math.floor(y)) ** 2 + (xx - math.floor(x)) ** 2 <= radius * radius


def detections(rows):
    """A Detections array like the heads return, from (x1, y1, x2, y2, score, class[, keypoints])."""
    k = len(rows[0][6]) if rows and len(rows[0]) > 6 else 0
    fields = [("x1", "f4"), ("y1", "f4"), ("x2", "f4"), ("y2", "f4"), ("score", "f4"), ("class_id", "i4")]
    if k:
        fields.append(("keypoints", "f4", (k, 2)))
    a = np.zeros(len(rows), dtype=fields)
    for i, r in enumerate(rows):
        a[i] = tuple(r[:6]) + ((np.asarray(r[6], np.float32),) if k else ())
    return a.view(heads.Detections)


def changed(before, after):
    d = before != after
    return d.any(-1) if d.ndim == 3 else d


@pytest.mark.parametrize("backend", BACKENDS)
def test_box_outline_pixels(backend):
    rng = np.random.default_rng(1)
    h, w = 37, 53
    boxes = [(2.2, 3.0, 10.6, 9.0), (0.0, 0.0, 53.0, 37.0), (-5.3, -2.0, 8.4, 40.0), (40.5, 30.5, 70.0, 50.0),
             (10.0, 10.0, 10.2, 10.2), (60.0, 5.0, 80.0, 9.0), (5.0, 5.0, 8.0, 30.0)]
    boxes += [tuple(rng.uniform(-10, 60, 2)) + tuple(rng.uniform(-10, 60, 2)) for _ in range(20)]
    for box in boxes:
        x1, y1, x2, y2 = box
        box = (min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))
        for thickness in (1, 2, 3, 7):
            f = np.full((h, w, 3), 50, np.uint8)
            out = draw.detections(f, np.array([box]), color=GREEN, thickness=thickness, backend=backend)
            assert out is f
            want = ref_box((h, w), box, thickness)
            np.testing.assert_array_equal(changed(np.full_like(f, 50), f), want, err_msg=f"{box} t={thickness}")
            assert (f[want] == GREEN).all()


@pytest.mark.skipif(cv2 is None, reason="OpenCV not installed")
def test_backends_agree_on_boxes_and_keypoints_of_a_real_face():
    frame = np.ascontiguousarray(cv2.imread(str(realmodels.astronaut_path())))
    s = edgerun.Session(realmodels.blazeface_path(), threads=1)
    pre = edgerun.Preprocessor.from_model(s, "bgr", fit="letterbox")
    faces = _run(s, pre, frame)
    assert len(faces) == 1
    a, b = frame.copy(), frame.copy()
    faces.draw(a, labels=False, backend="opencv", keypoints=False, thickness=3)
    draw.detections(b, faces, labels=False, backend="numpy", keypoints=False, thickness=3)
    np.testing.assert_array_equal(a, b)
    want = ref_box(frame.shape[:2], faces.boxes[0], 3)
    np.testing.assert_array_equal(changed(frame, a), want)
    # keypoints: disks around the pixel holding each point (NumPy: exactly the reference disk)
    c = frame.copy()
    draw.detections(c, faces, labels=False, color=(255, 0, 255), thickness=1, radius=2, backend="numpy")
    want = ref_box(frame.shape[:2], faces.boxes[0], 1)
    for x, y in faces.keypoints[0]:
        want |= ref_disk(frame.shape[:2], x, y, 2)
    np.testing.assert_array_equal(changed(frame, c), want)
    d = frame.copy()
    draw.detections(d, faces, labels=False, color=(255, 0, 255), thickness=1, radius=2, backend="opencv")
    np.testing.assert_array_equal(d, c)  # OpenCV's radius-2 disk is the same 13 pixels


def _run(s, pre, frame):
    t = pre(frame, s.input(0))
    return heads.BlazeFace().bind(s)(s.run(), t)


@pytest.mark.skipif(cv2 is None, reason="OpenCV not installed")
def test_label_text_sits_above_the_box():
    f = np.full((120, 160, 3), 30, np.uint8)
    dets = detections([(40.0, 50.0, 100.0, 110.0, 0.875, 0)])
    dets.draw(f, thickness=2)
    ch = changed(np.full_like(f, 30), f)
    box = ref_box(f.shape[:2], (40, 50, 100, 110), 2)
    assert ch[box].all()
    text = ch & ~box
    ys, xs = np.nonzero(text)
    assert len(ys) > 20  # "0.88" on a filled tag
    assert ys.min() >= 50 - 22 and ys.max() < 50 and xs.min() >= 40 and xs.max() < 100
    # the NumPy backend draws no text: only the box
    g = np.full((120, 160, 3), 30, np.uint8)
    dets.draw(g, thickness=2, backend="numpy")
    np.testing.assert_array_equal(changed(np.full_like(g, 30), g), box)


@pytest.mark.parametrize("backend", BACKENDS)
def test_frames_gray_rgba_padded_rows_and_scale(backend):
    box = (3.4, 4.0, 20.7, 15.2)
    g = np.zeros((24, 32), np.uint8)
    draw.detections(g, np.array([box]), color=(30, 60, 90), thickness=2, backend=backend)
    want = ref_box(g.shape, box, 2)
    assert (g[want] == 60).all() and (g[~want] == 0).all()
    rgba = np.zeros((24, 32, 4), np.uint8)
    draw.detections(rgba, np.array([box]), color=(1, 2, 3), thickness=1, backend=backend)
    want = ref_box(g.shape, box, 1)
    assert (rgba[want] == (1, 2, 3, 255)).all() and (rgba[~want] == 0).all()
    # a view with padded rows (picamera2 / GStreamer buffers): the padding is not touched
    wide = np.zeros((24, 40, 3), np.uint8)
    view = wide[:, :32]
    draw.detections(view, np.array([(20.0, 2.0, 60.0, 10.0)]), color=GREEN, thickness=1, backend=backend)
    assert (wide[:, 32:] == 0).all()
    np.testing.assert_array_equal(changed(np.zeros_like(view), view), ref_box((24, 32), (20, 2, 60, 10), 1))
    # results of a half-size stream drawn on the full-size frame
    big = np.zeros((48, 64, 3), np.uint8)
    draw.detections(big, np.array([box]), scale=2, color=GREEN, thickness=1, backend=backend)
    np.testing.assert_array_equal(changed(np.zeros_like(big), big), ref_box((48, 64), box, 1, (2.0, 2.0)))


def test_pixels_apart_fall_back_to_numpy():
    base = np.zeros((20, 40, 3), np.uint8)
    every_other = base[:, ::2]  # OpenCV cannot draw on it; NumPy can
    draw.detections(every_other, np.array([(2.0, 2.0, 10.0, 10.0)]), color=GREEN, thickness=1)
    np.testing.assert_array_equal(changed(np.zeros_like(every_other), every_other),
                                  ref_box((20, 20), (2, 2, 10, 10), 1))
    assert (base[:, 1::2] == 0).all()
    if cv2 is not None:
        with pytest.raises(edgerun.InputError, match="strides"):
            draw.detections(every_other, np.array([(2.0, 2.0, 10.0, 10.0)]), backend="opencv")


@pytest.mark.parametrize("backend", BACKENDS)
def test_landmarks_and_nonfinite_points(backend):
    f = np.zeros((30, 30, 3), np.uint8)
    pts = np.array([[[3.7, 4.2, 0.0], [20.0, 25.9, 0.0], [np.nan, 3.0, 0.0], [-40.0, 5.0, 0.0]]], np.float32)
    heads.LandmarkPoints(pts, np.ones(1, np.float32)).draw(f, color=(9, 9, 9), radius=1, backend=backend)
    want = ref_disk((30, 30), 3.7, 4.2, 1) | ref_disk((30, 30), 20.0, 25.9, 1)
    np.testing.assert_array_equal(changed(np.zeros_like(f), f), want)


def test_classification_bars():
    cls = heads.Classifier(top_k=3)([np.array([[0.1, 0.6, 0.25, 0.05]], np.float32)])
    f = np.zeros((80, 200, 3), np.uint8)
    cls.draw(f, origin=(5, 6), bar_width=100, row_height=18, backend="numpy")
    want = np.zeros((80, 200), bool)
    for i, score in enumerate((0.6, 0.25, 0.1)):
        want[6 + 18 * i:6 + 18 * i + 16, 5:5 + int(round(score * 100))] = True
    np.testing.assert_array_equal(changed(np.zeros_like(f), f), want)
    if cv2 is not None:  # with OpenCV the names and scores go over the bars, in the same rows
        g = np.zeros((80, 200, 3), np.uint8)
        cls.draw(g, origin=(5, 6), bar_width=100, row_height=18)
        ch = changed(np.zeros_like(g), g)
        assert ch[6:6 + 54].sum() > want.sum() * 0.5 and not ch[6 + 54 + 2:].any()


def ref_overlay(frame, classes, matrix, color, alpha, background=False):
    """Each frame pixel takes the class of the mask pixel its centre maps into (inverse of
    the 2x3 continuous matrix), then blends the class colour with weight alpha in 1/256
    steps, rounded: (px * (256 - w) + colour * w + 128) // 256."""
    h, w = frame.shape[:2]
    wt = round(alpha * 256)
    out = frame.astype(np.int64)
    inv = np.linalg.inv(np.vstack([matrix, [0, 0, 1]]))
    for y in range(h):
        for x in range(w):
            u, v, _ = inv @ [x + 0.5, y + 0.5, 1.0]
            iu, iv = math.floor(u), math.floor(v)
            if 0 <= iu < classes.shape[1] and 0 <= iv < classes.shape[0]:
                k = classes[iv, iu]
                if k > 0 or (k == 0 and background):
                    out[y, x] = (out[y, x] * (256 - wt) + np.array(color[k]) * wt + 128) // 256
    return out.astype(np.uint8)


def test_mask_overlay_source_and_model_resolution():
    rng = np.random.default_rng(3)
    frame = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    classes = rng.integers(-1, 3, (12, 9)).astype(np.int32)
    colors = [(10, 20, 30), (200, 0, 0), (0, 0, 250)]
    for matrix in ([[1, 0, 5], [0, 1, -3]],            # source resolution: a translation
                   [[2.0, 0, 5.3], [0, 1.7, 7.6]],     # model resolution: scaled
                   [[1.5, -0.4, 20.2], [0.5, 1.2, 1.1]],   # any affine one (a rotated crop)
                   [[1.5, 0, 2.2], [0.4, 1.2, 1.1]]):      # a shear
        seg = heads.SegmentationMask(classes, None, matrix)
        for alpha, background in ((1.0, False), (0.4, True)):
            got = frame.copy()
            seg.draw(got, alpha=alpha, colors=colors, background=background)
            want = ref_overlay(frame, classes, np.array(matrix, np.float64), colors, alpha, background)
            np.testing.assert_array_equal(got, want, err_msg=f"{matrix} alpha={alpha}")


def test_result_dispatch_and_errors():
    f = np.zeros((20, 20, 3), np.uint8)
    dets = detections([(2.0, 2.0, 8.0, 8.0, 0.9, 0)])
    draw.result(f, [dets, None], backend="numpy", labels=False)
    assert changed(np.zeros_like(f), f).sum() == ref_box((20, 20), (2, 2, 8, 8), 2).sum()
    # each result type goes to its own function
    cls = heads.Classifier(top_k=2)([np.array([[0.3, 0.7]], np.float32)])
    pts = heads.LandmarkPoints(np.array([[[5.5, 6.5, 0.0]]], np.float32), np.ones(1, np.float32))
    seg = heads.SegmentationMask(np.ones((4, 4), np.int32), None, [[2, 0, 3], [0, 2, 1]])
    for obj, direct in ((cls, lambda g: draw.classifications(g, cls, backend="numpy")),
                        (pts, lambda g: draw.landmarks(g, pts, backend="numpy")),
                        (seg, lambda g: draw.mask(g, seg))):
        a, b = np.zeros((20, 30, 3), np.uint8), np.zeros((20, 30, 3), np.uint8)
        draw.result(a, obj, backend="numpy")
        direct(b)
        assert b.any()
        np.testing.assert_array_equal(a, b)
    for bad, what in ((np.zeros((4, 4, 3), np.float32), "frame"), (np.zeros((4, 4, 2), np.uint8), "frame"),
                      ([[0, 0, 0]], "frame")):
        with pytest.raises(edgerun.InputError, match=what):
            draw.detections(bad, dets)
    ro = np.zeros((4, 4, 3), np.uint8)
    ro.flags.writeable = False
    with pytest.raises(edgerun.InputError, match="read-only"):
        dets.draw(ro)
    with pytest.raises(edgerun.InputError, match="color"):
        dets.draw(f, color=(0, 300, 0))
    with pytest.raises(edgerun.InputError, match="thickness"):
        dets.draw(f, thickness=0)
    with pytest.raises(edgerun.InputError, match="backend"):
        dets.draw(f, backend="pil")
    with pytest.raises(edgerun.InputError, match="scale"):
        dets.draw(f, scale=-1)
    with pytest.raises(edgerun.InputError, match="dets"):
        draw.detections(f, np.zeros((3, 2)))
    with pytest.raises(edgerun.InputError, match="output"):
        draw.result(f, "boxes")
    with pytest.raises(edgerun.InputError, match="alpha"):
        heads.SegmentationMask(np.zeros((2, 2), np.int32), None, [[1, 0, 0], [0, 1, 0]]).draw(f, alpha=2)


def test_without_opencv_numpy_draws(monkeypatch):
    """OpenCV not importable: the default backend is NumPy (no text), backend='opencv' says why not."""
    monkeypatch.setattr(draw, "_cv2", False)  # as after a failed import
    f = np.zeros((30, 40, 3), np.uint8)
    dets = detections([(4.0, 12.0, 30.0, 28.0, 0.9, 0)])
    dets.draw(f, thickness=1)  # labels=True: nothing to write them with
    np.testing.assert_array_equal(changed(np.zeros_like(f), f), ref_box((30, 40), (4, 12, 30, 28), 1))
    with pytest.raises(edgerun.InputError, match="OpenCV is not installed"):
        dets.draw(f, backend="opencv")
