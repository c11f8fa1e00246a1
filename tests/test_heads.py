"""edgerun.heads: decoding heads against straightforward NumPy implementations.

Every reference here (anchor generation, box decoding, hard/weighted NMS, YOLO
decoding, coordinate mapping) is written independently in this file, the way a
user would write it in NumPy (float64 unless stated). Tolerances: boxes and
keypoints within 1e-4 pixels, scores within 1e-6, unless a test says otherwise.
"""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest

import edgerun
from edgerun import heads

import models as modelgen

BOX_TOL = 1e-4
SCORE_TOL = 1e-6


# ============================================================================ references
def ref_ssd_anchors(num_layers, min_scale, max_scale, input_w, input_h, strides, aspect_ratios=(1.0,),
                    offset_x=0.5, offset_y=0.5, reduce_lowest=False, interp=1.0, fixed=False,
                    fm_w=None, fm_h=None):
    """MediaPipe SsdAnchorsCalculator, as documented: (N, 4) of (y, x, h, w)."""
    n = len(strides)

    def scale(i):
        return (min_scale + max_scale) / 2 if n == 1 else min_scale + (max_scale - min_scale) * i / (n - 1)

    rows = []
    layer = 0
    while layer < num_layers:
        shapes = []  # (h, w) per anchor at each location
        j = layer
        while j < num_layers and strides[j] == strides[layer]:
            s = scale(j)
            if j == 0 and reduce_lowest:
                pairs = [(1.0, 0.1), (2.0, s), (0.5, s)]
            else:
                pairs = [(a, s) for a in aspect_ratios]
                if interp > 0:
                    nxt = 1.0 if j == n - 1 else scale(j + 1)
                    pairs.append((interp, math.sqrt(s * nxt)))
            shapes += [(sc / math.sqrt(a), sc * math.sqrt(a)) for a, sc in pairs]
            j += 1
        fh = fm_h[layer] if fm_h else math.ceil(input_h / strides[layer])
        fw = fm_w[layer] if fm_w else math.ceil(input_w / strides[layer])
        yy, xx, kk = np.meshgrid(np.arange(fh), np.arange(fw), np.arange(len(shapes)), indexing="ij")
        hw = np.array(shapes, np.float64)
        a = np.empty(yy.shape + (4,))
        a[..., 0] = (yy + offset_y) / fh
        a[..., 1] = (xx + offset_x) / fw
        a[..., 2] = 1.0 if fixed else hw[kk, 0]
        a[..., 3] = 1.0 if fixed else hw[kk, 1]
        rows.append(a.reshape(-1, 4))
        layer = j
    return np.concatenate(rows)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def ref_ssd_candidates(raw_boxes, raw_scores, anchors, coder, size, *, scales=None, keypoints=0,
                       activation="sigmoid", clip=None, threshold=0.5, background=False):
    """Decodes every anchor, then keeps the ones whose best class passes.
    Returns (index, boxes xyxy in input pixels, score, class, keypoints (n, K, 2))."""
    W, H = size
    b = raw_boxes.reshape(anchors.shape[0], -1).astype(np.float64)
    s = raw_scores.reshape(anchors.shape[0], -1).astype(np.float64)
    if activation == "sigmoid":
        s = sigmoid(np.clip(s, -clip, clip) if clip else s)
    elif activation == "softmax":
        e = np.exp(s - s.max(axis=1, keepdims=True))
        s = e / e.sum(axis=1, keepdims=True)
    c0 = 1 if background else 0
    cls = np.argmax(s[:, c0:], axis=1)
    best = s[np.arange(len(s)), c0 + cls]
    ya, xa, ha, wa = (anchors[:, k].astype(np.float64) for k in range(4))
    if coder == "tf":
        sy, sx, sh, sw = scales or (10.0, 10.0, 5.0, 5.0)
        yc = b[:, 0] / sy * ha + ya
        xc = b[:, 1] / sx * wa + xa
        h = np.exp(b[:, 2] / sh) * ha
        w = np.exp(b[:, 3] / sw) * wa
        kx, ky = b[:, 5:4 + 2 * keypoints:2], b[:, 4:4 + 2 * keypoints:2]
    else:
        sy, sx, sh, sw = scales or (H, W, H, W)
        xc = b[:, 0] / sx * wa + xa
        yc = b[:, 1] / sy * ha + ya
        w = b[:, 2] / sw * wa
        h = b[:, 3] / sh * ha
        kx, ky = b[:, 4:4 + 2 * keypoints:2], b[:, 5:4 + 2 * keypoints:2]
    boxes = np.stack([(xc - w / 2) * W, (yc - h / 2) * H, (xc + w / 2) * W, (yc + h / 2) * H], axis=1)
    kps = np.stack([(kx / sx * wa[:, None] + xa[:, None]) * W, (ky / sy * ha[:, None] + ya[:, None]) * H], axis=2)
    keep = np.nonzero((best >= threshold) & (w >= 0) & (h >= 0))[0]
    return keep, boxes[keep], best[keep], cls[keep], kps[keep]


def iou_one_to_many(box, boxes):
    ix = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    iy = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = ix * iy
    area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])  # noqa: E731
    union = area(box) + area(boxes) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def ref_hard_nms(index, boxes, scores, classes, iou, max_det, agnostic):
    """Greedy NMS per class (or over all), merged by score, then truncated.
    Returns positions into the candidate arrays, best first (ties: lower index)."""
    groups = [np.arange(len(scores))] if agnostic else [np.nonzero(classes == c)[0] for c in np.unique(classes)]
    kept = []
    for g in groups:
        order = g[np.lexsort((index[g], -scores[g]))]
        alive = np.ones(len(order), bool)
        for a in range(len(order)):
            if not alive[a]:
                continue
            kept.append(order[a])
            alive[a + 1:] &= iou_one_to_many(boxes[order[a]], boxes[order[a + 1:]]) <= iou
    kept = np.array(kept, dtype=np.int64)
    if len(kept):
        kept = kept[np.lexsort((index[kept], -scores[kept]))]
    return kept[:max_det] if max_det else kept


def ref_weighted_nms(index, boxes, scores, kps, iou):
    """MediaPipe's weighted NMS (class agnostic, no detection limit)."""
    order = list(np.lexsort((index, -scores)))
    out = []
    while order:
        top = order[0]
        sim = iou_one_to_many(boxes[top], boxes[order])
        group = [order[k] for k in range(len(order)) if sim[k] > iou]
        w = scores[group][:, None]
        out.append((top, (boxes[group] * w).sum(0) / w.sum(), (kps[group] * w[:, :, None]).sum(0) / w.sum()))
        order = [order[k] for k in range(len(order)) if not sim[k] > iou]
    return out


def ref_to_source(boxes, matrix):
    """Maps xyxy boxes through a 2x3 matrix: all four corners, axis-aligned bounds."""
    m = np.asarray(matrix, np.float64).reshape(2, 3)
    xs = np.stack([boxes[:, 0], boxes[:, 2], boxes[:, 0], boxes[:, 2]], 1)
    ys = np.stack([boxes[:, 1], boxes[:, 1], boxes[:, 3], boxes[:, 3]], 1)
    sx = m[0, 0] * xs + m[0, 1] * ys + m[0, 2]
    sy = m[1, 0] * xs + m[1, 1] * ys + m[1, 2]
    return np.stack([sx.min(1), sy.min(1), sx.max(1), sy.max(1)], 1)


def ref_points_to_source(pts, matrix):
    m = np.asarray(matrix, np.float64).reshape(2, 3)
    return np.stack([m[0, 0] * pts[..., 0] + m[0, 1] * pts[..., 1] + m[0, 2],
                     m[1, 0] * pts[..., 0] + m[1, 1] * pts[..., 1] + m[1, 2]], -1)


def ref_yolo(out, version, size, threshold, iou, max_det, agnostic, layout="auto", normalized=None):
    """YOLO the NumPy way: (boxes xyxy, scores, classes), best first. ``out`` is float."""
    p = out.reshape(out.shape[-2:]).astype(np.float32)
    if layout == "features_first" or (layout == "auto" and p.shape[0] < p.shape[1]):
        p = p.T
    xywh = p[:, :4].astype(np.float64)
    if version == 5:
        obj, cls_scores = p[:, 4], p[:, 5:]
        cls = np.argmax(cls_scores, axis=1)
        score = obj * cls_scores[np.arange(len(p)), cls]  # float32, as the model's dtype
        keep = (obj >= threshold) & (score >= threshold)
    else:
        cls = np.argmax(p[:, 4:], axis=1)
        score = p[np.arange(len(p)), 4 + cls]
        keep = score >= threshold
    if normalized is None:
        normalized = bool(np.all(xywh <= 1.5))
    if normalized:
        xywh = xywh * [size[0], size[1], size[0], size[1]]
    boxes = np.stack([xywh[:, 0] - xywh[:, 2] / 2, xywh[:, 1] - xywh[:, 3] / 2,
                      xywh[:, 0] + xywh[:, 2] / 2, xywh[:, 1] + xywh[:, 3] / 2], 1)
    idx = np.nonzero(keep)[0]
    k = ref_hard_nms(idx, boxes[idx], score[idx].astype(np.float64), cls[idx], iou, max_det, agnostic)
    return boxes[idx][k], score[idx][k], cls[idx][k]


def ref_yolo_pose(out, num_classes, num_keypoints, size, threshold, iou, max_det):
    """YOLOv8-pose the NumPy way: rows (xc, yc, w, h, C class scores, K x (x, y, visibility))
    in input pixels, features first. Returns (boxes, scores, classes, keypoints (N, K, 2))."""
    p = out.reshape(out.shape[-2:]).astype(np.float32).T
    C = num_classes
    cls = np.argmax(p[:, 4:4 + C], axis=1)
    score = p[np.arange(len(p)), 4 + cls]
    xywh = p[:, :4].astype(np.float64)
    boxes = np.stack([xywh[:, 0] - xywh[:, 2] / 2, xywh[:, 1] - xywh[:, 3] / 2,
                      xywh[:, 0] + xywh[:, 2] / 2, xywh[:, 1] + xywh[:, 3] / 2], 1)
    kps = p[:, 4 + C:].reshape(len(p), num_keypoints, 3)[:, :, :2].astype(np.float64)
    idx = np.nonzero(score >= threshold)[0]
    k = ref_hard_nms(idx, boxes[idx], score[idx].astype(np.float64), cls[idx], iou, max_det, False)
    return boxes[idx][k], score[idx][k], cls[idx][k], kps[idx][k]


def ref_yolo_e2e(out, size, threshold, max_det, normalized, num_keypoints=0):
    """End-to-end (YOLOv10 / YOLO26) rows (x1, y1, x2, y2, score, class[, K x (x, y, v)]):
    threshold, best first (ties: lower row), at most max_det; no NMS."""
    p = out.reshape(out.shape[-2:]).astype(np.float64)
    scale = np.array([size[0], size[1]] * 2, np.float64) if normalized else np.ones(4)
    score = out.reshape(out.shape[-2:])[:, 4]
    idx = np.nonzero(score >= threshold)[0]
    idx = idx[np.argsort(-score[idx].astype(np.float64), kind="stable")]
    if max_det:
        idx = idx[:max_det]
    boxes = p[idx, :4] * scale
    kps = p[idx, 6:].reshape(len(idx), num_keypoints, 3)[:, :, :2] * scale[:2]
    return boxes, score[idx], np.rint(p[idx, 5]).astype(np.int32), kps


def dequantize(q, scale, zp):
    return (q.astype(np.float32) - np.float32(zp)) * np.float32(scale)


def quantize(x, scale, zp, dtype):
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale) + zp, info.min, info.max).astype(dtype)


def assert_detections(det, boxes, scores, classes, kps=None, box_tol=BOX_TOL, score_tol=SCORE_TOL):
    assert isinstance(det, heads.Detections)
    assert len(det) == len(boxes), f"{len(det)} detections, reference has {len(boxes)}"
    np.testing.assert_array_equal(det.classes, np.asarray(classes, np.int32))
    np.testing.assert_allclose(det.scores, scores, rtol=0, atol=score_tol)
    np.testing.assert_allclose(det.boxes, boxes, rtol=0, atol=box_tol)
    if kps is not None:
        np.testing.assert_allclose(det.keypoints, kps, rtol=0, atol=box_tol)


def random_anchors(rng, n):
    return np.stack([rng.uniform(0.05, 0.95, n), rng.uniform(0.05, 0.95, n),
                     rng.uniform(0.05, 0.5, n), rng.uniform(0.05, 0.5, n)], 1).astype(np.float32)


def spec(name, shape, dtype, scale=0.0, zp=0):
    return edgerun.TensorSpec(name, tuple(shape), np.dtype(dtype), scale, zp)


# ============================================================================ classifier
def test_classifier_float_topk_ties_and_softmax():
    rng = np.random.default_rng(0)
    logits = rng.integers(-20, 20, size=(1, 1000)).astype(np.float32)  # many exact ties
    head = heads.Classifier(top_k=7)
    r = head([logits])
    expect = np.argsort(-logits[0], kind="stable")[:7]
    assert isinstance(r, heads.Classifications)
    np.testing.assert_array_equal(r.classes, expect)
    np.testing.assert_array_equal(r.scores, logits[0, expect])
    assert r.dtype.names == ("class_id", "score") and r.labels is None

    sm = heads.Classifier(top_k=3, softmax=True)(logits.reshape(1000))
    e = np.exp(logits[0].astype(np.float64) - logits.max())
    np.testing.assert_allclose(sm.scores, (e / e.sum())[expect[:3]], rtol=1e-5, atol=0)


def test_classifier_int8_real_model(resnet8_model):
    cifar = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    with edgerun.Session(resnet8_model, threads=1) as s:
        out_spec = s.outputs[0]
        assert out_spec.dtype == np.int8 and out_spec.quantized
        head = heads.Classifier(top_k=4, labels=cifar).bind(s)
        rng = np.random.default_rng(1)
        for _ in range(3):
            x = rng.integers(-128, 128, size=s.inputs[0].shape, dtype=np.int8)
            q = s.run(x)[0]
            r = head(s.run(x))
            deq = dequantize(q[0], out_spec.scale, out_spec.zero_point)
            expect = np.argsort(-deq, kind="stable")[:4]
            np.testing.assert_array_equal(r.classes, expect)
            np.testing.assert_array_equal(r.scores, deq[expect])  # exact: same float32 arithmetic
            assert r.labels == [cifar[c] for c in expect]
        # An unbound head needs the quantization of int8 outputs.
        with pytest.raises(edgerun.InputError, match="quantization"):
            heads.Classifier()([q])
        r2 = heads.Classifier(top_k=4)([q], quantization=[out_spec])
        np.testing.assert_array_equal(r2.classes, r.classes)


def test_classifier_labels_file_and_mismatch(tmp_path):
    path = tmp_path / "labels.txt"
    path.write_text("zero\none\ntwo\n\n")
    head = heads.Classifier(top_k=2, labels=path)
    r = head([np.array([[0.1, 0.7, 0.2]], np.float32)])
    assert r.labels == ["one", "two"]
    assert r[:1].labels == ["one"]  # slices keep the label table
    with pytest.raises(edgerun.InputError, match="4 classes"):
        head([np.zeros((1, 4), np.float32)])
    with pytest.raises(edgerun.InputError, match="labels file"):
        heads.Classifier(labels=tmp_path / "missing.txt")
    with pytest.raises(edgerun.InputError, match="top_k"):
        heads.Classifier(top_k=0)


# ============================================================================ anchors
@pytest.mark.parametrize("opts", [
    dict(num_layers=4, min_scale=0.1484375, max_scale=0.75, input_size=(128, 128), strides=[8, 16, 16, 16],
         fixed_anchor_size=True),
    dict(num_layers=6, min_scale=0.2, max_scale=0.95, input_size=(300, 300), strides=[16, 32, 64, 128, 256, 512],
         aspect_ratios=[1.0, 2.0, 0.5, 3.0, 0.3333], reduce_boxes_in_lowest_layer=True),
    dict(num_layers=5, min_scale=0.1171875, max_scale=0.75, input_size=(256, 192), strides=[8, 16, 32, 32, 32],
         interpolated_scale_aspect_ratio=0.0, anchor_offset_x=0.25),
    dict(num_layers=2, min_scale=0.3, max_scale=0.6, strides=[4, 4], feature_map_width=[5, 5],
         feature_map_height=[3, 3], aspect_ratios=[1.0, 2.0]),
])
def test_ssd_anchor_generation_matches_numpy(opts):
    a = heads.SsdAnchors(**opts).generate()
    w, h = opts.get("input_size", (0, 0))
    ref = ref_ssd_anchors(opts["num_layers"], opts["min_scale"], opts["max_scale"], w, h, opts["strides"],
                          opts.get("aspect_ratios", (1.0,)), opts.get("anchor_offset_x", 0.5), 0.5,
                          opts.get("reduce_boxes_in_lowest_layer", False),
                          opts.get("interpolated_scale_aspect_ratio", 1.0), opts.get("fixed_anchor_size", False),
                          opts.get("feature_map_width"), opts.get("feature_map_height"))
    assert a.shape == ref.shape and a.dtype == np.float32
    np.testing.assert_allclose(a, ref, rtol=0, atol=1e-6)


def test_blazeface_anchors():
    a = heads.BlazeFace().anchors
    assert a.shape == (896, 4)
    np.testing.assert_allclose(a, ref_ssd_anchors(4, 0.1484375, 0.75, 128, 128, [8, 16, 16, 16], fixed=True),
                               rtol=0, atol=1e-6)


# ============================================================================ SSD
@pytest.mark.parametrize("agnostic", [False, True])
def test_ssd_explicit_anchors_tf_coder(agnostic):
    rng = np.random.default_rng(2)
    n, c, size = 600, 4, (320, 240)
    anchors = random_anchors(rng, n)
    raw_b = (rng.normal(size=(1, n, 4)) * [1, 1, 0.5, 0.5]).astype(np.float32)
    raw_s = (rng.normal(size=(1, n, c)) * 2 - 1.5).astype(np.float32)
    head = heads.SSD(anchors, "tf", score_threshold=0.6, iou_threshold=0.4, max_detections=25,
                     class_agnostic=agnostic)
    det = head([raw_b, raw_s], input_size=size)
    idx, boxes, scores, cls, _ = ref_ssd_candidates(raw_b, raw_s, anchors, "tf", size, threshold=0.6)
    k = ref_hard_nms(idx, boxes, scores, cls, 0.4, 25, agnostic)
    assert len(idx) > 40 and len(k) == 25  # enough candidates for NMS to matter
    assert_detections(det, boxes[k], scores[k], cls[k])
    # The outputs are found by shape in any order (scores [N, C=4] vs boxes [N, 4]: by name then order).
    det2 = heads.SSD(anchors, "tf", score_threshold=0.6, iou_threshold=0.4, max_detections=25,
                     class_agnostic=agnostic).bind(outputs=[spec("scores", raw_s.shape, np.float32),
                                                            spec("box_encodings", raw_b.shape, np.float32)],
                                                   input_size=size)([raw_s, raw_b])
    np.testing.assert_array_equal(det2, det)


def test_ssd_softmax_background_keypoints_and_scales():
    rng = np.random.default_rng(3)
    n, c, size, kp = 300, 3, (200, 100), 2
    anchors = random_anchors(rng, n)
    raw_b = (rng.normal(size=(1, n, 4 + 2 * kp + 1)) * 0.5).astype(np.float32)  # one extra trailing value
    raw_s = (rng.normal(size=(1, n, c)) * 3).astype(np.float32)
    scales = (8.0, 9.0, 4.0, 6.0)
    head = heads.SSD(anchors, "tf", score_threshold=0.55, iou_threshold=0.5, max_detections=0,
                     scales=scales, num_keypoints=kp, score_activation="softmax", background_class=True)
    det = head([raw_b, raw_s], input_size=size)
    idx, boxes, scores, cls, kps = ref_ssd_candidates(raw_b, raw_s, anchors, "tf", size, scales=scales,
                                                      keypoints=kp, activation="softmax", threshold=0.55,
                                                      background=True)
    k = ref_hard_nms(idx, boxes, scores, cls, 0.5, 0, False)
    assert len(k) > 10 and set(np.unique(cls[k])) == {0, 1}
    assert_detections(det, boxes[k], scores[k], cls[k], kps[k], score_tol=1e-5)
    assert det.dtype.names[-1] == "keypoints" and det.keypoints.shape == (len(k), kp, 2)


def test_ssd_quantized_outputs():
    rng = np.random.default_rng(4)
    n, c, size = 500, 2, (300, 300)
    anchors = random_anchors(rng, n)
    bs, bzp, ss, szp = 0.02, 3, 0.05, 128
    qb = quantize(rng.normal(size=(1, n, 4)) * 0.6, bs, bzp, np.int8)
    qs = quantize(rng.normal(size=(1, n, c)) * 2, ss, szp, np.uint8)
    # No detection limit: candidates right at the (quantized) threshold reach the result.
    head = heads.SSD(anchors, "tf", score_threshold=0.7, iou_threshold=0.5, max_detections=0)
    head.bind(outputs=[spec("boxes", qb.shape, np.int8, bs, bzp), spec("scores", qs.shape, np.uint8, ss, szp)],
              input_size=size)
    det = head([qb, qs])
    idx, boxes, scores, cls, _ = ref_ssd_candidates(dequantize(qb, bs, bzp), dequantize(qs, ss, szp), anchors,
                                                    "tf", size, threshold=0.7)
    k = ref_hard_nms(idx, boxes, scores, cls, 0.5, 0, False)
    assert len(k) > 10
    # The lowest quantized score that passes the threshold is among the results.
    q_first = np.nonzero(sigmoid(dequantize(np.arange(256), ss, szp).astype(np.float64)) >= 0.7)[0][0]
    assert np.isclose(scores[k].min(), sigmoid(np.float64(dequantize(np.array(q_first), ss, szp))), atol=1e-6)
    assert_detections(det, boxes[k], scores[k], cls[k])
    # Same through `quantization=` on an unbound head.
    det2 = heads.SSD(anchors, "tf", score_threshold=0.7, iou_threshold=0.5, max_detections=0)(
        [qb, qs], input_size=size, quantization=[(bs, bzp), (ss, szp)])
    np.testing.assert_array_equal(det2, det)


def test_ssd_float16_outputs():
    rng = np.random.default_rng(15)
    n, c, size = 400, 3, (256, 256)
    anchors = random_anchors(rng, n)
    hb = (rng.normal(size=(1, n, 4)) * 0.5).astype(np.float16)
    hs = (rng.normal(size=(1, n, c)) * 2).astype(np.float16)
    det = heads.SSD(anchors, "tf", score_threshold=0.8, iou_threshold=0.5, max_detections=0)([hb, hs],
                                                                                              input_size=size)
    idx, boxes, scores, cls, _ = ref_ssd_candidates(hb.astype(np.float32), hs.astype(np.float32), anchors, "tf",
                                                    size, threshold=0.8)
    k = ref_hard_nms(idx, boxes, scores, cls, 0.5, 0, False)
    assert len(k) > 10
    assert_detections(det, boxes[k], scores[k], cls[k])


def test_ssd_against_tflite_detection_postprocess_op():
    """The runtime's own TFLite_Detection_PostProcess (fast NMS) and our SSD head
    decode the same raw outputs to the same detections; DetectionPostProcess
    passes the op's outputs through unchanged."""
    rng = np.random.default_rng(5)
    n, c, size = 120, 3, (320, 320)
    anchors = random_anchors(rng, n)
    model = modelgen.detection_postprocess_model(anchors, c, max_detections=12, score_threshold=0.4,
                                                 iou_threshold=0.45)
    be = (rng.normal(size=(1, n, 4)) * 0.7).astype(np.float32)
    cp = rng.uniform(0, 1, size=(1, n, c + 1)).astype(np.float32)
    with edgerun.Session(model, threads=1) as s:
        outs = s.run(be, cp, copy=True)
        passthrough = heads.DetectionPostProcess().bind(s)(outs, input_size=size)
    count = int(outs[3][0])
    assert count == 12
    ymin, xmin, ymax, xmax = (outs[0][0, :count, k].astype(np.float64) for k in range(4))
    op_boxes = np.stack([xmin * size[0], ymin * size[1], xmax * size[0], ymax * size[1]], 1)
    assert_detections(passthrough, op_boxes, outs[2][0, :count], outs[1][0, :count].astype(np.int32))
    ours = heads.SSD(anchors, "tf", score_threshold=0.4, iou_threshold=0.45, max_detections=12,
                     class_agnostic=True, score_activation="none", background_class=True)([be, cp], input_size=size)
    # The op decodes in float32: boxes agree to float32 precision of 320 px.
    assert_detections(ours, op_boxes, outs[2][0, :count], outs[1][0, :count].astype(np.int32), box_tol=2e-3)


# ============================================================================ BlazeFace
def _blazeface_ref(raw_b, raw_s, transform_matrix, threshold=0.5):
    anchors = ref_ssd_anchors(4, 0.1484375, 0.75, 128, 128, [8, 16, 16, 16], fixed=True)
    idx, boxes, scores, cls, kps = ref_ssd_candidates(raw_b, raw_s, anchors, "mediapipe", (128, 128),
                                                      scales=(128, 128, 128, 128), keypoints=6, clip=100.0,
                                                      threshold=threshold)
    kept = ref_weighted_nms(idx, boxes, scores, kps, 0.3)
    b = np.array([k[1] for k in kept]).reshape(-1, 4)
    p = np.array([k[2] for k in kept]).reshape(-1, 6, 2)
    s = scores[[k[0] for k in kept]]
    if transform_matrix is not None:
        b, p = ref_to_source(b, transform_matrix), ref_points_to_source(p, transform_matrix)
    return b, s, p


def test_blazeface_real_model_on_photo(blazeface_model, face_photo):
    cv2 = pytest.importorskip("cv2")
    img = cv2.imread(str(face_photo))  # 512x512 BGR, one face (Eileen Collins)
    assert img.shape == (512, 512, 3)
    frame = np.ascontiguousarray(img[:, 32:])  # 480 wide: letterbox pads
    with edgerun.Session(blazeface_model, threads=1) as s:
        head = heads.BlazeFace().bind(s)
        pre = edgerun.Preprocessor("bgr", fit="letterbox")
        t = pre(frame, s.input(0))
        outs = s.run(copy=True)
        det = head(outs, t)
        b, sc, kp = _blazeface_ref(outs[0], outs[1], t.matrix)
        assert_detections(det, b, sc, np.zeros(len(b)), kp)
        # One face, where it is in the photo (the face spans about x 180-270, y 80-175 of the
        # 512x512 image; this frame starts 32 px to the right).
        assert len(det) == 1 and det.scores[0] > 0.8
        cx, cy = (det.boxes[0, 0] + det.boxes[0, 2]) / 2 + 32, (det.boxes[0, 1] + det.boxes[0, 3]) / 2
        assert 200 < cx < 250 and 100 < cy < 150, det.boxes
        assert 60 < det.boxes[0, 2] - det.boxes[0, 0] < 140

        # The same frame turned 90 degrees counter-clockwise, turned back by the
        # Preprocessor (rotate=90): the model sees the same face, and the head maps
        # the box into the rotated frame's pixels.
        rot = np.ascontiguousarray(np.rot90(frame))  # (480, 512): x' = y, y' = 480 - x
        pre_r = edgerun.Preprocessor("bgr", fit="letterbox", rotate=90)
        tr = pre_r(rot, s.input(0))
        outs_r = s.run(copy=True)
        det_r = head(outs_r, tr)
        b_r, sc_r, kp_r = _blazeface_ref(outs_r[0], outs_r[1], tr.matrix)
        assert_detections(det_r, b_r, sc_r, np.zeros(len(b_r)), kp_r)
        assert len(det_r) == 1
        x1, y1, x2, y2 = det.boxes[0]
        np.testing.assert_allclose(det_r.boxes[0], [y1, 480 - x2, y2, 480 - x1], atol=1.5)
        np.testing.assert_allclose(det_r.keypoints[0], np.stack([det.keypoints[0, :, 1],
                                                                 480 - det.keypoints[0, :, 0]], 1), atol=1.5)

        # Hard NMS keeps the best raw box instead of the blend.
        hard = heads.BlazeFace(nms="hard").bind(s)(outs, t)
        assert len(hard) == 1 and not np.allclose(hard.boxes, det.boxes, atol=1e-3)


def test_blazeface_synthetic_weighted_nms_groups():
    """Synthetic BlazeFace outputs with several overlapping clusters."""
    rng = np.random.default_rng(6)
    anchors = ref_ssd_anchors(4, 0.1484375, 0.75, 128, 128, [8, 16, 16, 16], fixed=True)
    raw_s = np.full((1, 896, 1), -8.0, np.float32)
    raw_b = (rng.normal(size=(1, 896, 16)) * 2).astype(np.float32)
    # Three faces: every anchor near a centre regresses to roughly the same box.
    for cx, cy, sz in [(30, 40, 24), (80, 70, 40), (100, 30, 16)]:
        near = np.nonzero((np.abs(anchors[:, 1] * 128 - cx) < 12) & (np.abs(anchors[:, 0] * 128 - cy) < 12))[0]
        raw_s[0, near, 0] = rng.uniform(0.5, 6, size=len(near))
        raw_b[0, near, 0] = cx - anchors[near, 1] * 128 + rng.normal(size=len(near))
        raw_b[0, near, 1] = cy - anchors[near, 0] * 128 + rng.normal(size=len(near))
        raw_b[0, near, 2:4] = sz + rng.normal(size=(len(near), 2))
    raw_s[0, :5, 0] = 200.0  # clipped at 100 before the sigmoid
    t = edgerun.Preprocessor("rgb", fit="letterbox", rotate=270).transform((640, 480), (128, 128))
    det = heads.BlazeFace()([raw_b, raw_s], t)
    b, sc, kp = _blazeface_ref(raw_b, raw_s, t.matrix)
    assert len(b) >= 4
    assert_detections(det, b, sc, np.zeros(len(b)), kp)
    assert det.scores[0] == np.float32(1.0)


# ============================================================================ YOLO
def _yolo_output(rng, n, c, version, normalized, features_first):
    size = 1.0 if normalized else 640.0
    xy = rng.uniform(0.1, 0.9, size=(n, 2)) * size
    wh = rng.uniform(0.02, 0.2, size=(n, 2)) * size
    cls = rng.uniform(0, 1, size=(n, c)) ** 4
    parts = [xy, wh] + ([rng.uniform(0, 1, size=(n, 1))] if version == 5 else []) + [cls]
    p = np.concatenate(parts, 1).astype(np.float32)
    return (p.T if features_first else p)[None]


@pytest.mark.parametrize("version,features_first,normalized,agnostic", [
    (8, True, False, False),
    (8, True, True, False),
    (8, False, True, True),
    (5, False, False, False),
    (5, False, True, True),
])
def test_yolo_float(version, features_first, normalized, agnostic):
    rng = np.random.default_rng(7 + version)
    out = _yolo_output(rng, 2100, 6, version, normalized, features_first)
    head = heads.YOLO(version, score_threshold=0.3, iou_threshold=0.45, max_detections=40, class_agnostic=agnostic)
    det = head([out], input_size=(640, 640))
    boxes, scores, cls = ref_yolo(out, version, (640, 640), 0.3, 0.45, 40, agnostic)
    assert len(boxes) == 40
    assert_detections(det, boxes, scores, cls, score_tol=0)


@pytest.mark.parametrize("version,dtype", [(8, np.int8), (8, np.uint8), (5, np.uint8), (5, np.int8)])
def test_yolo_quantized(version, dtype):
    rng = np.random.default_rng(11)
    out = _yolo_output(rng, 1500, 5, version, True, version == 8)
    scale, zp = 1.0 / 255, (-128 if dtype == np.int8 else 0)
    q = quantize(out, scale, zp, dtype)
    head = heads.YOLO(version, score_threshold=0.35, iou_threshold=0.5, max_detections=0)
    det = head([q], input_size=(320, 320), quantization=[(scale, zp)])
    boxes, scores, cls = ref_yolo(dequantize(q, scale, zp), version, (320, 320), 0.35, 0.5, 0, False)
    assert len(boxes) > 10
    assert_detections(det, boxes, scores, cls, score_tol=0)


def test_quantized_threshold_is_inclusive_on_raw_values():
    # int8, scale 0.1: q = 5 dequantizes to exactly 0.5 (kept at threshold 0.5), q = 4 to 0.4.
    rows = np.zeros((1, 6, 5), np.int8)  # boxes first: xc, yc, w, h, class score
    rows[0, :, 0] = [10, 30, 50, 70, 90, 110]
    rows[0, :, 1:4] = [10, 10, 10]
    rows[0, :, 4] = [5, 4, 6, 5, 10, 0]
    det = heads.YOLO(8, score_threshold=0.5, layout="boxes_first", normalized=False)([rows], quantization=[(0.1, 0)])
    # Rows 4, 2, 0, 3 (equal scores: lower row first); boxes are 1 px wide around xc = q * 0.1.
    np.testing.assert_allclose(det.boxes[:, 0], [8.5, 4.5, 0.5, 6.5], atol=1e-5)
    np.testing.assert_allclose(det.scores, np.float32([1.0, 0.6, 0.5, 0.5]))


def test_yolo_coordinates_and_layout_overrides():
    rng = np.random.default_rng(12)
    out = _yolo_output(rng, 50, 100, 8, True, False)  # [1, 50, 104]: N < F, auto would misread
    head = heads.YOLO(8, score_threshold=0.2, layout="boxes_first", normalized=False)
    det = head([out])
    boxes, scores, cls = ref_yolo(out, 8, (1, 1), 0.2, 0.45, 100, False, layout="boxes_first", normalized=False)
    assert len(boxes) > 5
    assert_detections(det, boxes, scores, cls, score_tol=0)
    assert det.boxes.max() < 1.5  # pixels as given: not scaled
    with pytest.raises(edgerun.InputError, match="input size is unknown"):
        heads.YOLO(8, score_threshold=0.2, layout="boxes_first")([out])


def _e2e_output(rng, n, rows_used, classes, normalized, num_keypoints=0):
    """[1, n, 6 + 3K]: `rows_used` detections (x1, y1, x2, y2, score, class) sorted by
    score as the exporters emit them, then zero rows (padding up to max_det)."""
    size = 1.0 if normalized else 640.0
    out = np.zeros((n, 6 + 3 * num_keypoints), np.float32)
    xy = rng.uniform(0.05, 0.7, (rows_used, 2)) * size
    wh = rng.uniform(0.02, 0.25, (rows_used, 2)) * size
    out[:rows_used, 0:2] = xy
    out[:rows_used, 2:4] = xy + wh
    out[:rows_used, 4] = np.sort(rng.uniform(0.05, 1.0, rows_used))[::-1]
    out[:rows_used, 5] = rng.integers(0, classes, rows_used)
    if num_keypoints:
        kp = out[:rows_used, 6:].reshape(rows_used, num_keypoints, 3)
        kp[:, :, 0:2] = rng.uniform(0.05, 0.95, (rows_used, num_keypoints, 2)) * size
        kp[:, :, 2] = rng.uniform(0, 1, (rows_used, num_keypoints))
    return out[None]


@pytest.mark.parametrize("version,normalized,max_det", [(10, True, 300), (26, False, 300), (10, True, 7)])
def test_yolo_end_to_end_float(version, normalized, max_det):
    rng = np.random.default_rng(21)
    out = _e2e_output(rng, 300, 40, 80, normalized)
    out[0, 5, 4] = out[0, 6, 4]  # a tie: the lower row first
    head = heads.YOLO(version, score_threshold=0.3, max_detections=max_det)
    det = head([out], input_size=(640, 480))
    boxes, scores, cls, _ = ref_yolo_e2e(out, (640, 480), 0.3, max_det, normalized)
    assert len(boxes) == (7 if max_det == 7 else int((out[0, :, 4] >= 0.3).sum())) and len(boxes) > 5
    assert_detections(det, boxes, scores, cls, score_tol=0)
    # Overlapping boxes are not suppressed: the model did that already.
    out2 = out.copy()
    out2[0, 1, :4] = out2[0, 0, :4] + 0.001 * (1 if normalized else 640)
    out2[0, 1, 5] = out2[0, 0, 5]
    det2 = head([out2], input_size=(640, 480))
    assert len(det2) == len(det)


def test_yolo_end_to_end_through_transform():
    rng = np.random.default_rng(22)
    out = _e2e_output(rng, 300, 25, 3, True)
    t = edgerun.Preprocessor("rgb", fit="letterbox", rotate=90, roi=(10, 20, 600, 440)).transform((640, 480),
                                                                                                 (320, 320))
    det = heads.YOLO(10, score_threshold=0.25)([out], t)
    boxes, scores, cls, _ = ref_yolo_e2e(out, (320, 320), 0.25, 100, True)
    assert len(boxes) > 5
    assert_detections(det, ref_to_source(boxes, t.matrix), scores, cls, score_tol=0)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
def test_yolo_end_to_end_quantized(dtype):
    # One scale for the whole tensor (boxes in pixels, scores, class ids): class ids come
    # back by rounding; scores are compared after dequantization.
    rng = np.random.default_rng(23)
    out = _e2e_output(rng, 100, 30, 12, False) * np.float32(0.25)  # pixels up to ~200
    scale, zp = 1.0, (-128 if dtype == np.int8 else 0)
    out[0, :, 4] = out[0, :, 4] * 0  # scores set below on the raw grid
    q = quantize(out, scale, zp, dtype)
    q[0, :30, 4] = np.clip(rng.integers(0, 2, 30) + zp, np.iinfo(dtype).min, np.iinfo(dtype).max)  # score 0 or 1
    det = heads.YOLO(10, score_threshold=0.5, normalized=False)([q], quantization=[(scale, zp)])
    boxes, scores, cls, _ = ref_yolo_e2e(dequantize(q, scale, zp), (1, 1), 0.5, 100, False)
    assert len(boxes) > 5
    assert_detections(det, boxes, scores, cls, score_tol=0)
    # A finer scale (normalized boxes, ids up to 11): ids still round to the right class.
    out = _e2e_output(rng, 100, 30, 12, True)
    scale2 = 12.0 / 255
    q2 = quantize(out, scale2, 0, np.uint8)
    det2 = heads.YOLO(10, score_threshold=0.4)([q2], input_size=(320, 320), quantization=[(scale2, 0)])
    b2, s2, c2, _ = ref_yolo_e2e(dequantize(q2, scale2, 0), (320, 320), 0.4, 100, True)
    # the ids survive quantization (the reference rounds the dequantized column too)
    np.testing.assert_array_equal(np.rint(dequantize(q2, scale2, 0)[0, :, 5]), out[0, :, 5])
    assert_detections(det2, b2, s2, c2, score_tol=0)


def test_yolo_pose_v8_and_end_to_end():
    rng = np.random.default_rng(24)
    n, K = 2100, 17
    base = _yolo_output(rng, n, 1, 8, False, True)[0]  # [5, n]: xc, yc, w, h, person score
    kps = np.concatenate([rng.uniform(0, 640, (2, K, n)), rng.uniform(0, 1, (1, K, n))], 0)
    kps = kps.transpose(1, 0, 2).reshape(3 * K, n)  # per keypoint: x, y, visibility
    out = np.concatenate([base, kps], 0).astype(np.float32)[None]  # [1, 56, 2100]
    det = heads.YOLO(8, score_threshold=0.4, num_keypoints=K)([out])
    boxes, scores, cls, kp = ref_yolo_pose(out, 1, K, (640, 640), 0.4, 0.45, 100)
    assert len(boxes) > 10 and det.keypoints.shape == (len(boxes), K, 2)
    assert_detections(det, boxes, scores, cls, kp, score_tol=0)
    # v11 is the same layout
    assert_detections(heads.YOLO(11, score_threshold=0.4, num_keypoints=K)([out]), boxes, scores, cls, kp,
                      score_tol=0)
    # End-to-end pose (YOLO26-pose): [1, 300, 6 + 51], through a transform
    e2e = _e2e_output(rng, 300, 20, 1, True, num_keypoints=K)
    t = edgerun.Preprocessor("rgb", fit="crop").transform((640, 480), (320, 320))
    det = heads.YOLO(26, score_threshold=0.2, num_keypoints=K)([e2e], t)
    b, s_, c, k = ref_yolo_e2e(e2e, (320, 320), 0.2, 100, True, num_keypoints=K)
    assert len(b) > 5
    assert_detections(det, ref_to_source(b, t.matrix), s_, c, ref_points_to_source(k, t.matrix), score_tol=0)


def test_yolo_refuses_what_it_cannot_interpret():
    rng = np.random.default_rng(25)
    e2e = _e2e_output(rng, 300, 40, 80, False)
    # The case: an end-to-end output read with the defaults.
    with pytest.raises(edgerun.InputError, match=r"could be an end-to-end .*use version=10.*num_classes=2"):
        heads.YOLO()([e2e])
    # ... or forced to the v8 layout: class ids are not probabilities.
    with pytest.raises(edgerun.InputError, match=r"YOLO \(version 8\): output 0 .*class scores reach \d+.*"
                                                 r"need version=10"):
        heads.YOLO(8, layout="boxes_first")([e2e])
    # A v8 output read as end-to-end: wrong row length.
    v8 = _yolo_output(rng, 2100, 80, 8, False, True)
    with pytest.raises(edgerun.InputError, match=r"has 8400|expected an output|values per box; version 10 expects 6"):
        heads.YOLO(10)([v8])
    # Logits instead of probabilities.
    logits = v8.copy()
    logits[0, 4:] = rng.normal(0, 4, logits[0, 4:].shape)
    with pytest.raises(edgerun.InputError, match=r"class scores (reach|go down to) .*logits"):
        heads.YOLO(8)([logits])
    # v5 objectness outside [0, 1]
    v5 = _yolo_output(rng, 500, 3, 5, True, False)
    v5[0, 7, 4] = 3.0
    with pytest.raises(edgerun.InputError, match=r"objectness scores reach 3 \(row 7\)"):
        heads.YOLO(5)([v5], input_size=(64, 64))
    # Quantized: the check is on dequantized values (uint8 scale 0.01: 255 -> 2.55).
    q = quantize(v8[:, :, :50], 0.01, 0, np.uint8)
    q[0, 10, 3] = 255
    with pytest.raises(edgerun.InputError, match=r"class scores reach 2\.55"):
        heads.YOLO(8)([q], quantization=[(0.01, 0)])
    # Unknown channel counts: num_classes / num_keypoints that do not match the shape.
    with pytest.raises(edgerun.InputError, match=r"has 84 values per box; version 8, num_classes=20 expects 24"):
        heads.YOLO(8, num_classes=20, layout="features_first")([v8])
    with pytest.raises(edgerun.InputError, match=r"has 84 values per box; version 8, num_classes=1, num_keypoints=17 expects 56"):
        heads.YOLO(8, num_keypoints=17, num_classes=1)([v8])
    # Class column holding no class ids (an end-to-end read of something else).
    bad = e2e.copy()
    bad[0, 2, 5] = 3.4
    with pytest.raises(edgerun.InputError, match=r"row 2 has class 3\.4 \(column 5\), expected a class id"):
        heads.YOLO(10)([bad])
    with pytest.raises(edgerun.InputError, match=r"expected a class id in 0\.\.4"):
        heads.YOLO(10, num_classes=5)([e2e])
    # num_classes matching the shape is accepted (and picks the layout).
    ok = heads.YOLO(8, num_classes=80, score_threshold=0.5)([v8])
    assert len(ok) > 0


# ============================================================================ NMS semantics
def test_nms_class_aware_vs_agnostic_and_tie_order():
    # v8 boxes-first rows: xc, yc, w, h, class0, class1 (pixels).
    rows = np.array([
        [50, 50, 40, 40, 0.90, 0.00],   # 0: class 0
        [52, 50, 40, 40, 0.00, 0.80],   # 1: class 1, overlaps 0 (IoU ~0.9)
        [51, 50, 40, 40, 0.70, 0.00],   # 2: class 0, overlaps 0: suppressed either way
        [150, 50, 40, 40, 0.60, 0.00],  # 3: alone
        [250, 50, 40, 40, 0.60, 0.00],  # 4: alone, same score as 3 (tie: lower index first)
    ], np.float32)[None]
    aware = heads.YOLO(8, score_threshold=0.5, layout="boxes_first")([rows])
    agnostic = heads.YOLO(8, score_threshold=0.5, layout="boxes_first", class_agnostic=True)([rows])
    np.testing.assert_array_equal(aware.classes, [0, 1, 0, 0])
    np.testing.assert_allclose(aware.boxes[:, 0], [30, 32, 130, 230])
    np.testing.assert_array_equal(agnostic.classes, [0, 0, 0])
    np.testing.assert_allclose(agnostic.boxes[:, 0], [30, 130, 230])
    limited = heads.YOLO(8, score_threshold=0.5, layout="boxes_first", max_detections=2)([rows])
    np.testing.assert_allclose(limited.boxes[:, 0], [30, 32])


# ============================================================================ DetectionPostProcess
def test_detection_postprocess_passthrough_synthetic():
    boxes = np.array([[[0.1, 0.2, 0.5, 0.6], [0.0, 0.0, 1.0, 1.0], [0.3, 0.3, 0.4, 0.4], [0, 0, 0, 0]]],
                     np.float32)
    classes = np.array([[3, 1, 7, 0]], np.float32)
    scores = np.array([[0.9, 0.6, 0.3, 0.0]], np.float32)
    count = np.array([3], np.float32)
    t = edgerun.Preprocessor("rgb", fit="letterbox").transform((640, 480), (300, 300))
    # TF2 exports list the outputs by name: scores first, classes later.
    names = ["detection_scores", "detection_boxes", "num_detections", "detection_classes"]
    arrays = [scores, boxes, count, classes]
    head = heads.DetectionPostProcess(score_threshold=0.5, labels=[str(i) for i in range(10)])
    head.bind(outputs=[spec(nm, a.shape, np.float32) for nm, a in zip(names, arrays)], input_size=(300, 300))
    det = head(arrays, t)
    px = np.stack([boxes[0, :2, 1] * 300, boxes[0, :2, 0] * 300, boxes[0, :2, 3] * 300, boxes[0, :2, 2] * 300], 1)
    assert_detections(det, ref_to_source(px.astype(np.float64), t.matrix), [0.9, 0.6], [3, 1])
    assert det.labels == ["3", "1"]
    # Without a threshold every `count` detection passes; max_detections limits.
    all3 = heads.DetectionPostProcess()([boxes, classes, scores, count], input_size=(300, 300))
    np.testing.assert_array_equal(all3.classes, [3, 1, 7])
    assert len(heads.DetectionPostProcess(max_detections=1)([boxes, classes, scores, count],
                                                            input_size=(300, 300))) == 1


# ============================================================================ transform mapping
@pytest.mark.parametrize("rotate,flip", [(0, False), (90, False), (180, True), (270, False)])
def test_transform_letterbox_rotate_to_source(rotate, flip):
    rng = np.random.default_rng(13)
    out = _yolo_output(rng, 800, 3, 8, False, True) * np.array([0.5, 0.5, 0.5, 0.5, 1, 1, 1],
                                                               np.float32)[None, :, None]
    t = edgerun.Preprocessor("nv12", fit="letterbox", rotate=rotate, flip=flip,
                             roi=(16, 8, 600, 460)).transform((640, 480), (320, 320))
    det = heads.YOLO(8, score_threshold=0.5)([out], t)
    boxes, scores, cls = ref_yolo(out, 8, (320, 320), 0.5, 0.45, 100, False)
    assert len(boxes) > 10
    assert_detections(det, ref_to_source(boxes, t.matrix), scores, cls, score_tol=0)
    # The boxes lie in the frame region that was sampled.
    assert det.boxes[:, [0, 2]].min() >= 16 - 40 and det.boxes[:, [0, 2]].max() <= 616 + 40


# ============================================================================ results, threads, errors
def test_detections_views_share_memory():
    rows = np.array([[[10, 20, 4, 6, 0.9, 0.1], [60, 20, 4, 6, 0.2, 0.8]]], np.float32)
    det = heads.YOLO(8, score_threshold=0.5, layout="boxes_first", labels=["cat", "dog"])([rows])
    assert det.dtype.names == ("x1", "y1", "x2", "y2", "score", "class_id")
    assert det.dtype.itemsize == 24 and det.keypoints.shape == (2, 0, 2)
    np.testing.assert_allclose(det.boxes, [[8, 17, 12, 23], [58, 17, 62, 23]])
    det.boxes[0, 0] = -1.0
    assert det["x1"][0] == -1.0  # a view, not a copy
    assert det.labels == ["cat", "dog"] and det[1:].labels == ["dog"]
    assert det[det.scores > 0.85].labels == ["cat"]


def test_decoder_is_thread_safe():
    rng = np.random.default_rng(14)
    frames = [_yolo_output(rng, 3000, 8, 8, True, True) for _ in range(4)]
    head = heads.YOLO(8, score_threshold=0.3).bind(outputs=[spec("out", frames[0].shape, np.float32)],
                                                   input_size=(640, 640))
    expect = [head([f]) for f in frames]
    errors = []

    def work(k):
        try:
            for j in range(30):
                i = (k + j) % 4
                np.testing.assert_array_equal(head([frames[i]]), expect[i])
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors[0]


def test_bad_arguments_raise_input_error():
    anchors = np.zeros((10, 4), np.float32)
    with pytest.raises(edgerun.InputError, match=r"anchors: expected an \(N, 4\)"):
        heads.SSD(np.zeros((10, 3)))
    with pytest.raises(edgerun.InputError, match="anchors"):
        heads.SSD(None)
    with pytest.raises(edgerun.InputError, match="box_coder"):
        heads.SSD(anchors, box_coder="yolo")
    with pytest.raises(edgerun.InputError, match="nms"):
        heads.SSD(anchors, nms="soft")
    with pytest.raises(edgerun.InputError, match="iou_threshold"):
        heads.YOLO(iou_threshold=1.5)
    with pytest.raises(edgerun.InputError, match="version"):
        heads.YOLO(version=7)
    with pytest.raises(edgerun.InputError, match="strides"):
        heads.SsdAnchors(num_layers=2, min_scale=0.1, max_scale=0.9, strides=[8], input_size=(64, 64)).generate()
    # Model outputs that do not fit the head: the message names what arrived.
    with pytest.raises(edgerun.InputError, match=r"has 12 boxes but 10 anchors"):
        heads.SSD(anchors)([np.zeros((1, 12, 4), np.float32), np.zeros((1, 12, 2), np.float32)],
                           input_size=(64, 64))
    with pytest.raises(edgerun.InputError, match=r"no output named 'nope'.*'output_0'"):
        heads.SSD(anchors, scores_output="nope")([np.zeros((1, 10, 4), np.float32),
                                                   np.zeros((1, 10, 2), np.float32)], input_size=(64, 64))
    with pytest.raises(edgerun.InputError, match=r"expected the 4 outputs"):
        heads.DetectionPostProcess()([np.zeros((1, 10, 4), np.float32)], input_size=(64, 64))
    with pytest.raises(edgerun.InputError, match=r"float32\[1, 10\]\): expected \[1, 4 \+ C, N\]"):
        heads.YOLO()([np.zeros((1, 10), np.float32)])
    with pytest.raises(edgerun.InputError, match=r"YOLO: expected an output \[1, N, 5 \+ C\]"):
        heads.YOLO(5)([np.zeros((1, 10), np.float32), np.zeros((1, 3, 4), np.float32)])
    with pytest.raises(edgerun.InputError, match="not a score vector"):
        heads.Classifier()([np.zeros((1, 3, 4), np.float32)])
    with pytest.raises(edgerun.InputError, match="list of numpy arrays"):
        heads.Classifier()("x")
    with pytest.raises(edgerun.InputError, match="transform"):
        heads.Classifier()([np.zeros((1, 3), np.float32)], transform=(1, 2))
    # A bound head checks every frame's arrays against the model.
    head = heads.YOLO().bind(outputs=[spec("out", (1, 84, 100), np.float32)], input_size=(64, 64))
    with pytest.raises(edgerun.InputError, match=r"output 0: expected float32, got float64"):
        head._bound[1].decode([np.zeros((1, 84, 100))])
    with pytest.raises(edgerun.InputError, match=r"expected shape \(1, 84, 100\), got \(1, 84, 99\)"):
        head._bound[1].decode([np.zeros((1, 84, 99), np.float32)])


def test_repr_describes_the_head():
    assert repr(heads.BlazeFace()).startswith("SSD(anchors=896, box_coder='mediapipe'")
    assert "nms='weighted'" in repr(heads.BlazeFace())
    assert repr(heads.YOLO(5)).startswith("YOLO(version=5")
    assert repr(heads.Classifier(top_k=3)) == "Classifier(top_k=3)"
    assert isinstance(heads.BlazeFace()._impl, edgerun._core.Head)
