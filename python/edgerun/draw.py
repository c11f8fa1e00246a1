"""Drawing results on frames, in place.

    faces = head(session.run(), transform)
    faces.draw(frame)                                # boxes, scores, keypoints
    edgerun.draw.result(frame, r.output)             # any result: Detections, Classifications,
                                                     # LandmarkPoints, SegmentationMask, CascadeResult

Frames are uint8 numpy arrays, (H, W, 3) BGR or RGB, (H, W, 4) RGBA/BGRA or (H, W) gray,
drawn on in place (a view with padded rows is fine) and returned. Colours are given in the
frame's channel order (a 3-tuple; the alpha byte of 4-channel frames is set to 255, gray
frames get the tuple's mean). ``color=None`` takes a colour per class from a fixed palette.

Results are in source-frame pixels (continuous coordinates: pixel ``i`` covers ``[i, i+1)``),
which is what heads return when given the frame's :class:`~edgerun.Transform`. A box's
edges are drawn on the pixels next to its rounded edges, inside the box: a box from
x1 = 10 to x2 = 20 has its left line on column 10 and its right line on column 19, and
``thickness`` grows inward. ``scale=(sx, sy)`` (or one number) multiplies coordinates
first: results of a small stream drawn on a larger one showing the same view (picamera2's
lores and main streams).

Backends: OpenCV when it is importable (``backend="opencv"``), else a small NumPy one
(``backend="numpy"``). Both draw the same rectangle and mask pixels; points are disks of
``radius`` in both (OpenCV's may differ by a pixel at some radii). Text (labels, scores,
class names) needs OpenCV: the NumPy backend draws boxes, points, score bars and masks, but
no text.
"""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence, Tuple, Union

import numpy as np

from .errors import InputError

__all__ = ["detections", "classifications", "landmarks", "mask", "result", "PALETTE"]

Color = Optional[Sequence[int]]
Scale = Union[float, Tuple[float, float], None]

#: colours per class id (cycled): bright, distinct, readable on camera images
PALETTE: Tuple[Tuple[int, int, int], ...] = (
    (0, 255, 0), (255, 128, 0), (0, 128, 255), (255, 0, 255), (0, 255, 255), (255, 255, 0),
    (128, 0, 255), (255, 0, 128), (0, 255, 128), (128, 255, 0), (255, 64, 64), (64, 64, 255),
)

_cv2: Any = None


def _opencv() -> Any:
    global _cv2
    if _cv2 is None:
        try:
            import cv2  # noqa: F401
        except ImportError:
            _cv2 = False
        else:
            _cv2 = cv2
    return _cv2 or None


def _frame(frame: Any) -> int:
    """Checks ``frame`` and returns its channel count (1 for (H, W))."""
    if not isinstance(frame, np.ndarray):
        raise InputError(f"frame: expected a uint8 numpy array (H, W, 3), (H, W, 4) or (H, W), got "
                         f"{type(frame).__name__}")
    if frame.dtype != np.uint8 or frame.ndim not in (2, 3) or (frame.ndim == 3 and frame.shape[2] not in (1, 3, 4)):
        raise InputError(f"frame: expected a uint8 array (H, W, 3), (H, W, 4) or (H, W), got {frame.dtype} "
                         f"{frame.shape}")
    if not frame.flags.writeable:
        raise InputError("frame: the array is read-only; drawing is in place (pass a writable copy)")
    return 1 if frame.ndim == 2 else int(frame.shape[2])


def _backend(backend: Optional[str], frame: np.ndarray) -> Any:
    """The cv2 module to draw with, or None for NumPy."""
    if backend not in (None, "auto", "opencv", "numpy"):
        raise InputError(f"backend: expected 'opencv', 'numpy' or None (OpenCV when installed), got {backend!r}")
    if backend == "numpy":
        return None
    cv2 = _opencv()
    if cv2 is None:
        if backend == "opencv":
            raise InputError("backend='opencv': OpenCV is not installed (pip install opencv-python-headless)")
        return None
    # OpenCV needs contiguous pixels within a row (padded rows are fine)
    c = 1 if frame.ndim == 2 else frame.shape[2]
    if frame.strides[1] != c or (frame.ndim == 3 and frame.strides[2] != 1) or frame.strides[0] < 0:
        if backend == "opencv":
            raise InputError(f"frame: OpenCV cannot draw on an array with strides {frame.strides}; pixels within "
                             "a row must be contiguous")
        return None
    return cv2


def _color(color: Color, channels: int, class_id: int = 0) -> Tuple[int, ...]:
    if color is None:
        color = PALETTE[int(class_id) % len(PALETTE)]
    try:
        c = tuple(int(v) for v in color)
    except (TypeError, ValueError):
        raise InputError(f"color: expected a tuple of 3 ints in [0, 255] (the frame's channel order), got "
                         f"{color!r}") from None
    if len(c) not in (1, 3, 4) or not all(0 <= v <= 255 for v in c):
        raise InputError(f"color: expected a tuple of 3 ints in [0, 255] (the frame's channel order), got {color!r}")
    if channels == 1:
        return (int(round(sum(c[:3]) / len(c[:3]))),)
    if len(c) == 1:
        c = c * 3
    if channels == 4:
        return c[:3] + ((c[3],) if len(c) == 4 else (255,))
    return c[:3]


def _scale(scale: Scale) -> Tuple[float, float]:
    if scale is None:
        return 1.0, 1.0
    try:
        if np.ndim(scale) == 0:
            sx = sy = float(scale)  # type: ignore[arg-type]
        else:
            sx, sy = (float(v) for v in scale)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise InputError(f"scale: expected a number or (sx, sy), got {scale!r}") from None
    if not (sx > 0 and sy > 0 and math.isfinite(sx) and math.isfinite(sy)):
        raise InputError(f"scale: expected positive finite factors, got {scale!r}")
    return sx, sy


def _thickness(thickness: Any) -> int:
    if isinstance(thickness, bool) or not isinstance(thickness, (int, np.integer)) or thickness < 1:
        raise InputError(f"thickness: expected an int >= 1, got {thickness!r}")
    return int(thickness)


def _put(frame: np.ndarray, rows: slice, cols: slice, color: Tuple[int, ...]) -> None:
    if frame.ndim == 2:
        frame[rows, cols] = color[0]
    else:
        frame[rows, cols] = color[:frame.shape[2]] if frame.shape[2] > 1 else color[0]


def _rect(frame: np.ndarray, cv2: Any, l: int, t: int, r: int, b: int, color: Tuple[int, ...],
          thickness: int) -> None:
    """Outline of pixel columns l..r and rows t..b (inclusive), ``thickness`` rings inward."""
    h, w = frame.shape[:2]
    for i in range(thickness):
        li, ti, ri, bi = l + i, t + i, r - i, b - i
        if li > ri or ti > bi:
            break
        if cv2 is not None:
            # clamped just outside the frame (OpenCV clips; huge values would overflow its fixed point)
            p1 = (min(max(li, -1), w), min(max(ti, -1), h))
            p2 = (min(max(ri, -1), w), min(max(bi, -1), h))
            cv2.rectangle(frame, p1, p2, color, 1, cv2.LINE_8)
            continue
        xs, xe = max(li, 0), min(ri, w - 1) + 1
        ys, ye = max(ti, 0), min(bi, h - 1) + 1
        if xs < xe:
            for y in (ti, bi):
                if 0 <= y < h:
                    _put(frame, slice(y, y + 1), slice(xs, xe), color)
        if ys < ye:
            for x in (li, ri):
                if 0 <= x < w:
                    _put(frame, slice(ys, ye), slice(x, x + 1), color)


def _disk(frame: np.ndarray, cv2: Any, x: float, y: float, radius: int, color: Tuple[int, ...]) -> None:
    """A filled disk of ``radius`` pixels around the pixel that holds (x, y)."""
    if not (math.isfinite(x) and math.isfinite(y)):
        return
    h, w = frame.shape[:2]
    cx, cy = math.floor(x), math.floor(y)
    if cx < -radius or cy < -radius or cx >= w + radius or cy >= h + radius:
        return
    if cv2 is not None:
        cv2.circle(frame, (int(cx), int(cy)), radius, color, -1, cv2.LINE_8)
        return
    ys, ye = max(cy - radius, 0), min(cy + radius, h - 1) + 1
    xs, xe = max(cx - radius, 0), min(cx + radius, w - 1) + 1
    yy, xx = np.mgrid[ys:ye, xs:xe]
    inside = (yy - cy) ** 2 + (xx - cx) ** 2 <= radius * radius
    region = frame[ys:ye, xs:xe]
    if frame.ndim == 2:
        region[inside] = color[0]
    else:
        region[inside] = color[:frame.shape[2]] if frame.shape[2] > 1 else color[0]


def _text(frame: np.ndarray, cv2: Any, text: str, x: int, y_top: int, color: Tuple[int, ...],
          font_scale: float) -> None:
    """``text`` on a filled ``color`` background whose top-left corner is (x, y_top) (OpenCV only)."""
    if cv2 is None or not text:
        return
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, 1)
    h, w = frame.shape[:2]
    x = min(max(x, 0), max(w - tw - 2, 0))
    y_top = min(max(y_top, 0), max(h - th - base - 2, 0))
    cv2.rectangle(frame, (x, y_top), (x + tw + 1, y_top + th + base + 1), color, -1)
    luma = sum(color[:3]) / 3 if len(color) >= 3 else color[0]
    ink = (0,) * len(color) if luma > 110 else (255,) * len(color)
    if len(color) == 4:
        ink = ink[:3] + (255,)
    cv2.putText(frame, text, (x + 1, y_top + th), cv2.FONT_HERSHEY_SIMPLEX, font_scale, ink, 1, cv2.LINE_AA)


def _box_pixels(x1: float, y1: float, x2: float, y2: float, sx: float, sy: float) -> Optional[Tuple[int, ...]]:
    """Inclusive pixel columns/rows (l, t, r, b) of a box in continuous coordinates, None if not finite."""
    v = (x1 * sx, y1 * sy, x2 * sx, y2 * sy)
    if not all(math.isfinite(a) and abs(a) < 1e9 for a in v):
        return None
    l, t, r, b = (int(round(a)) for a in v)
    return l, t, max(r - 1, l), max(b - 1, t)


def detections(frame: np.ndarray, dets: Any, *, color: Color = None, thickness: int = 2, labels: bool = True,
               keypoints: bool = True, radius: int = 2, scale: Scale = None, font_scale: float = 0.45,
               backend: Optional[str] = None) -> np.ndarray:
    """Draws boxes (and their keypoints, and with OpenCV a "label score" tag) in place.

    Args:
        frame: the frame the results belong to (see the module's notes on formats).
        dets: :class:`edgerun.heads.Detections`, or an (N, 4) array of (x1, y1, x2, y2).
        color: one colour for every box, or None for one per class (:data:`PALETTE`).
        thickness: box line width in pixels, drawn inside the box.
        labels: the class name (or id, when the model has several classes and the head
            no labels) and the score above each box; OpenCV only.
        keypoints: disks of ``radius`` at each detection's keypoints.
        scale: multiplies coordinates first (results of a smaller stream).
    Returns:
        ``frame``.
    """
    ch = _frame(frame)
    cv2 = _backend(backend, frame)
    sx, sy = _scale(scale)
    thickness = _thickness(thickness)
    if isinstance(dets, np.ndarray) and dets.dtype.names and "x1" in dets.dtype.names:
        base = dets.view(np.ndarray)
        boxes = np.stack([base["x1"], base["y1"], base["x2"], base["y2"]], -1).reshape(-1, 4)
        scores = base["score"] if "score" in base.dtype.names else None
        classes = base["class_id"] if "class_id" in base.dtype.names else np.zeros(len(boxes), np.int32)
        kps = base["keypoints"] if "keypoints" in base.dtype.names else None
        names = getattr(dets, "labels", None)
    else:
        boxes = np.asarray(dets, dtype=np.float64)
        if boxes.ndim != 2 or boxes.shape[1] < 4:
            raise InputError(f"dets: expected edgerun.heads.Detections or an (N, 4) array of boxes, got "
                             f"{type(dets).__name__} of shape {boxes.shape}")
        scores, kps, names = None, None, None
        classes = np.zeros(len(boxes), np.int32)
    several = names is not None or (len(classes) > 0 and int(np.max(classes)) > 0)
    for i in range(len(boxes)):
        c = _color(color, ch, int(classes[i]))
        x1, y1, x2, y2 = (float(v) for v in boxes[i, :4])
        px = _box_pixels(x1, y1, x2, y2, sx, sy)
        if px is None:
            continue
        l, t, r, b = px
        _rect(frame, cv2, l, t, r, b, c, thickness)
        if keypoints and kps is not None:
            for x, y in kps[i]:
                _disk(frame, cv2, float(x) * sx, float(y) * sy, radius, c)
        if labels and cv2 is not None:
            parts = []
            if names is not None:
                parts.append(str(names[i]))
            elif several:
                parts.append(str(int(classes[i])))
            if scores is not None:
                parts.append(f"{float(scores[i]):.2f}")
            th = cv2.getTextSize("Ag", cv2.FONT_HERSHEY_SIMPLEX, font_scale, 1)[0][1] + 4
            _text(frame, cv2, " ".join(parts), l, t - th if t >= th else t + thickness, c, font_scale)
    return frame


def classifications(frame: np.ndarray, cls: Any, *, color: Color = None, origin: Tuple[int, int] = (4, 4),
                    bar_width: int = 120, row_height: int = 18, font_scale: float = 0.45,
                    backend: Optional[str] = None) -> np.ndarray:
    """Draws the top-k of a :class:`edgerun.heads.Classifications` in place: one row per
    class from ``origin`` (x, y) down, a bar of ``score * bar_width`` pixels and, with
    OpenCV, "name score" over it."""
    ch = _frame(frame)
    cv2 = _backend(backend, frame)
    base = np.asarray(cls).view(np.ndarray) if isinstance(cls, np.ndarray) else None
    if base is None or not base.dtype.names or "score" not in base.dtype.names:
        raise InputError(f"cls: expected edgerun.heads.Classifications, got {type(cls).__name__}")
    names = getattr(cls, "labels", None)
    x0, y0 = (int(v) for v in origin)
    h, w = frame.shape[:2]
    for i in range(len(base)):
        score, cid = float(base["score"][i]), int(base["class_id"][i])
        c = _color(color, ch, cid)
        top = y0 + i * row_height
        if top >= h:
            break
        n = int(round(min(max(score, 0.0), 1.0) * bar_width)) if math.isfinite(score) else 0
        rows = slice(max(top, 0), min(top + row_height - 2, h))
        cols = slice(max(x0, 0), min(x0 + n, w))
        if rows.start < rows.stop and cols.start < cols.stop:
            _put(frame, rows, cols, c)
        name = str(names[i]) if names is not None else str(cid)
        _text(frame, cv2, f"{name} {score:.2f}", x0, top, c, font_scale)
    return frame


def landmarks(frame: np.ndarray, points: Any, *, color: Color = None, radius: int = 1, scale: Scale = None,
              min_visibility: Optional[float] = None, backend: Optional[str] = None) -> np.ndarray:
    """Draws landmarks in place: :class:`edgerun.heads.LandmarkPoints`, or an array
    (L, 2+) / (N, L, 2+) of (x, y, ...). With ``min_visibility`` points whose visibility
    (the 4th value, when the model has one) is below it are left out."""
    ch = _frame(frame)
    cv2 = _backend(backend, frame)
    sx, sy = _scale(scale)
    p = np.asarray(getattr(points, "points", points), dtype=np.float64)
    if p.ndim == 2:
        p = p[None]
    if p.ndim != 3 or p.shape[-1] < 2:
        raise InputError(f"points: expected edgerun.heads.LandmarkPoints or an (N, L, 2+) array of (x, y), got "
                         f"shape {p.shape}")
    for n in range(p.shape[0]):
        c = _color(color, ch, n)
        for pt in p[n]:
            if min_visibility is not None and p.shape[-1] > 3 and pt[3] < min_visibility:
                continue
            _disk(frame, cv2, pt[0] * sx, pt[1] * sy, int(radius), c)
    return frame


def mask(frame: np.ndarray, seg: Any, *, alpha: float = 0.5, colors: Optional[Sequence[Sequence[int]]] = None,
         background: bool = False, scale: Scale = None) -> np.ndarray:
    """Blends a :class:`edgerun.heads.SegmentationMask` into ``frame`` in place, where the
    mask has a class: ``frame = (frame * (256 - w) + colour * w + 128) >> 8`` with
    ``w = round(alpha * 256)`` (alpha in steps of 1/256, integer arithmetic).

    Class ``k`` gets ``colors[k]`` (default :data:`PALETTE`, cycled); class 0 (background,
    or "not foreground" for one-channel models) is left alone unless ``background``;
    pixels the model did not see (-1) and pixels outside the mask are never touched.
    Masks at model resolution are mapped through their matrix (the nearest mask pixel of
    each frame pixel's centre). NumPy only (same result with or without OpenCV); about
    10 ms for a 640x480 frame on a busy 2-core x86 (a rotated mask: about 40)."""
    ch = _frame(frame)
    classes = getattr(seg, "classes", None)
    matrix = getattr(seg, "matrix", None)
    if not isinstance(classes, np.ndarray) or classes.ndim != 2 or matrix is None:
        raise InputError(f"seg: expected an edgerun.heads.SegmentationMask, got {type(seg).__name__}")
    a = float(alpha)
    if not 0.0 <= a <= 1.0:
        raise InputError(f"alpha: expected a number in [0, 1], got {alpha!r}")
    sx, sy = _scale(scale)
    m = np.diag([sx, sy]) @ np.asarray(matrix, dtype=np.float64).reshape(2, 3)  # mask pixel -> frame pixel
    h, w = frame.shape[:2]
    mh, mw = classes.shape
    lin, off = m[:, :2], m[:, 2]
    if not np.isfinite(m).all() or abs(np.linalg.det(lin)) < 1e-12:
        raise InputError(f"seg: its matrix does not map the mask onto the frame: {matrix!r}")
    palette = np.array([_color(c, ch) for c in (colors if colors is not None else PALETTE)], np.uint16)
    if palette.size == 0:
        raise InputError("colors: expected at least one colour")
    # the frame region the mask covers, from its four corners
    corners = np.array([[0, 0], [mw, 0], [0, mh], [mw, mh]], np.float64) @ lin.T + off
    x0, y0 = np.floor(corners.min(0)).astype(int)
    x1, y1 = np.ceil(corners.max(0)).astype(int)
    xs, xe, ys, ye = max(x0, 0), min(x1, w), max(y0, 0), min(y1, h)
    if xs >= xe or ys >= ye:
        return frame
    inv = np.linalg.inv(lin)
    cx = np.arange(xs, xe) + 0.5 - off[0]  # frame pixel centres relative to the mask's origin
    cy = np.arange(ys, ye) + 0.5 - off[1]
    if np.allclose(lin, np.eye(2)) and np.allclose(off, np.round(off)):  # source resolution: a translation
        ox, oy = int(round(off[0])), int(round(off[1]))
        sub = classes[ys - oy:ye - oy, xs - ox:xe - ox]
    elif lin[0, 1] == 0 and lin[1, 0] == 0:  # scaled, not rotated: rows and columns map apart
        u = np.floor(cx * inv[0, 0]).astype(np.int64)
        v = np.floor(cy * inv[1, 1]).astype(np.int64)
        sub = classes.take(np.clip(v, 0, mh - 1), axis=0).take(np.clip(u, 0, mw - 1), axis=1)
        sub = np.where(((v >= 0) & (v < mh))[:, None] & ((u >= 0) & (u < mw))[None, :], sub, -1)
    else:  # any affine map (a rotated crop)
        gx, gy = np.meshgrid(cx, cy)
        u = np.floor(inv[0, 0] * gx + inv[0, 1] * gy).astype(np.int64)
        v = np.floor(inv[1, 0] * gx + inv[1, 1] * gy).astype(np.int64)
        ok = (u >= 0) & (u < mw) & (v >= 0) & (v < mh)
        sub = np.where(ok, classes[np.clip(v, 0, mh - 1), np.clip(u, 0, mw - 1)], -1)
    top = int(sub.max())
    if top < (0 if background else 1):
        return frame
    # per class (index k + 1; 0 for -1): its colour and its weight (0: the pixel stays as it is,
    # exactly: (px * 256 + 128) >> 8 == px), looked up per pixel with no branch
    wt = int(round(a * 256))
    ks = np.arange(-1, top + 1)
    lut = palette[np.maximum(ks, 0) % len(palette)]
    weights = np.where(ks > 0, wt, 0).astype(np.uint16)
    if background:
        weights[1] = wt
    region = frame[ys:ye, xs:xe]
    view = region[..., None] if region.ndim == 2 else region
    idx = np.maximum(sub, -1) + 1
    col = np.take(lut, idx, axis=0)[..., :view.shape[2]].astype(np.uint16)  # (h, w, C)
    wp = np.take(weights, idx)[..., None]
    view[...] = ((view.astype(np.uint16) * (256 - wp) + col * wp + 128) >> 8).astype(np.uint8)
    return frame


def result(frame: np.ndarray, output: Any, **options: Any) -> np.ndarray:
    """Draws any result in place by its type: :class:`edgerun.heads.Detections`,
    ``Classifications``, ``LandmarkPoints``, ``SegmentationMask``, an
    :class:`edgerun.FrameResult` (its output), an :class:`edgerun.CascadeResult` (its
    detections, then each ROI's result) or a list of these. ``options`` go to the
    function for the type (``scale`` and ``backend`` to all)."""
    # by what the results hold (edgerun.heads imports this module, not the other way round)
    common = {k: v for k, v in options.items() if k in ("scale", "backend")}
    if output is None:
        return frame
    names = output.dtype.names if isinstance(output, np.ndarray) else None
    if names and "x1" in names:  # Detections
        return detections(frame, output, **options)
    if names and "class_id" in names:  # Classifications
        return classifications(frame, output, **{k: v for k, v in options.items() if k != "scale"})
    if hasattr(output, "points") and hasattr(output, "xy"):  # LandmarkPoints
        return landmarks(frame, output, **options)
    if hasattr(output, "classes") and hasattr(output, "matrix"):  # SegmentationMask
        return mask(frame, output, **{k: v for k, v in options.items() if k != "backend"})
    if hasattr(output, "detections") and hasattr(output, "results"):  # CascadeResult
        result(frame, output.detections, **options)
        for i, r in enumerate(output.results):
            # one colour per ROI, apart from the boxes' first one (unless a colour was given)
            color = options.get("color") or PALETTE[(i + 4) % len(PALETTE)]
            result(frame, r, **dict(common, color=color))
        return frame
    if hasattr(output, "output") and hasattr(output, "frame_id"):  # FrameResult
        return result(frame, output.output, **options)
    if isinstance(output, (list, tuple)):
        for o in output:
            result(frame, o, **options)
        return frame
    raise InputError(f"output: expected a result of edgerun.heads (Detections, Classifications, LandmarkPoints, "
                     f"SegmentationMask), a FrameResult or a CascadeResult, got {type(output).__name__}")
