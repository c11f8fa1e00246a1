"""``edgerun bench --pipeline``: the camera loop users run, stage by stage.

Synthetic camera frames (``--format``, ``--source WxH``) go through an
:class:`edgerun.Pipeline` (Preprocessor + Session + head), synchronously
(``pipe(frame)``) and asynchronously (``submit``/``get``); every frame's stage
times (queue, preprocess, invoke, decode) and its end-to-end time are kept.
``--compare-anchor`` measures, in the same rounds, the loop a user writes with
the ``ai_edge_litert`` Interpreter, OpenCV and NumPy. Several models and thread
counts run in interleaved rounds (each round runs a batch of every
configuration, in a rotated order) so that a noisy machine slows all of them
alike.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import os
import platform
import resource
import sys
import time
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

import numpy as np

from ..errors import DependencyError, Error, InputError, ModelError, RuntimeLoadError

if TYPE_CHECKING:
    from ..heads import SSD, Head
    from ..session import Profile, Session

STAGES = ("queue", "preprocess", "invoke", "decode", "total")
ACCELERATORS = ("cpu", "edgetpu", "gpu")
DEFAULT_SOURCE = (1280, 720)
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pnm")
# --frames-from decodes before timing; at most this many bytes of decoded frames are kept
FRAMES_FROM_MAX_BYTES = 256 * 2**20
HEADS = ("auto", "none", "classifier", "ssd", "blazeface", "yolo", "yolo10", "detection-postprocess",
         "segmentation", "landmarks")

# Anchor layouts `--head ssd` tries, in order; the first whose anchor count equals the
# model's box count is used. MediaPipe's SsdAnchorsCalculator options of its detectors,
# and TF Object Detection API's SSD MobileNet / SSDLite exports.
SSD_LAYOUTS: Tuple[Tuple[str, Dict[str, Any]], ...] = (
    ("mediapipe 4 layers, strides 8/16/16/16 (BlazeFace short range, palm detection)",
     dict(num_layers=4, min_scale=0.1484375, max_scale=0.75, strides=(8, 16, 16, 16), aspect_ratios=(1.0,),
          interpolated_scale_aspect_ratio=1.0, fixed_anchor_size=True)),
    ("mediapipe 1 layer, stride 4 (BlazeFace full range)",
     dict(num_layers=1, min_scale=0.1484375, max_scale=0.75, strides=(4,), aspect_ratios=(1.0,),
          interpolated_scale_aspect_ratio=0.0, fixed_anchor_size=True)),
    ("mediapipe 5 layers, strides 8/16/32/32/32 (pose detection)",
     dict(num_layers=5, min_scale=0.1484375, max_scale=0.75, strides=(8, 16, 32, 32, 32), aspect_ratios=(1.0,),
          interpolated_scale_aspect_ratio=1.0, fixed_anchor_size=True)),
    ("TF Object Detection API SSD MobileNet, 6 layers",
     dict(num_layers=6, min_scale=0.2, max_scale=0.95, strides=(16, 32, 64, 128, 256, 512),
          aspect_ratios=(1.0, 2.0, 0.5, 3.0, 0.3333), reduce_boxes_in_lowest_layer=True,
          interpolated_scale_aspect_ratio=1.0)),
)


def _ssd_outputs(session) -> Optional[tuple]:
    """(boxes count N, regressor length, class columns) when the outputs are an SSD
    pair [1, N, 4 (+2K)] and [1, N, C]; else None."""
    outs = [tuple(int(d) for d in o.shape) for o in session.outputs]
    if len(outs) != 2 or any(len(s) != 3 or s[0] != 1 for s in outs) or outs[0][1] != outs[1][1]:
        return None
    reg, cls = sorted(outs, key=lambda s: -s[-1])
    if reg[2] < 4 or (reg[2] - 4) % 2:
        return None
    return reg[1], reg[2], cls[2]


def ssd_head(session: Session) -> Tuple[SSD, str]:
    """An SSD head for a model's raw SSD outputs, its anchors chosen among SSD_LAYOUTS by
    count; (head, layout description). Raises InputError when no layout fits."""
    from .. import heads

    found = _ssd_outputs(session)
    if found is None:
        raise InputError(f"--head ssd: expected two outputs [1, N, 4 (+2K)] (boxes) and [1, N, C] (scores), "
                         f"got {[list(o.shape) for o in session.outputs]}")
    n, reg_len, classes = found
    shape = tuple(int(d) for d in session.inputs[0].shape)
    h, w = (shape[1], shape[2]) if len(shape) == 4 and shape[3] in (1, 3, 4) else (shape[-2], shape[-1])
    for name, layout in SSD_LAYOUTS:
        anchors = heads.SsdAnchors(**layout, input_size=(w, h))
        if anchors.generate().shape[0] != n:
            continue
        if name.startswith("mediapipe"):  # box regressors in input pixels, one sigmoid score
            return heads.SSD(anchors, box_coder="mediapipe", scales=(float(h), float(w), float(h), float(w)),
                             score_threshold=0.5, iou_threshold=0.3, nms="weighted", score_clipping=100.0,
                             class_agnostic=True), name
        return heads.SSD(anchors, score_threshold=0.5, background_class=classes > 1), name
    raise InputError(f"--head ssd: the model has {n} boxes, and none of the anchor layouts edgerun bench knows "
                     f"gives {n} for a {w}x{h} input ({'; '.join(n_ for n_, _ in SSD_LAYOUTS)}); build the "
                     f"head in Python with edgerun.heads.SSD(anchors=...) and time it with edgerun.Pipeline")


def stage_stats(samples_ms: np.ndarray) -> Dict[str, float]:
    """p50/p90/p99, min/max, mean and std (ms) of one stage's samples."""
    if samples_ms.size == 0:
        return {k: float("nan") for k in ("p50", "p90", "p99", "min", "max", "mean", "std")}
    p50, p90, p99 = np.percentile(samples_ms, [50, 90, 99])
    return {"p50": float(p50), "p90": float(p90), "p99": float(p99), "min": float(samples_ms.min()),
            "max": float(samples_ms.max()), "mean": float(samples_ms.mean()), "std": float(samples_ms.std())}


def parse_source(text: str) -> Tuple[int, int]:
    """``1280x720`` -> (1280, 720)."""
    import argparse

    try:
        w, h = (int(v) for v in text.lower().split("x"))
        if w < 2 or h < 2:
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT (e.g. 1280x720), got {text!r}") from None
    return w, h


def parse_threads(text: str) -> List[int]:
    """``4`` or ``1,2,4`` -> [1, 2, 4]."""
    import argparse

    try:
        values = [int(v) for v in text.split(",") if v.strip()]
        if not values or any(v < 1 for v in values):
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer or a list such as 1,2,4, "
                                         f"got {text!r}") from None
    return values


def parse_accelerators(text: str) -> List[str]:
    """``cpu`` or ``cpu,edgetpu,gpu`` -> ['cpu', 'edgetpu', 'gpu'] (each once, in order)."""
    import argparse

    values = [v.strip().lower() for v in text.split(",") if v.strip()]
    bad = [v for v in values if v not in ACCELERATORS]
    if not values or bad:
        raise argparse.ArgumentTypeError(f"expected {', '.join(ACCELERATORS)} or a list such as cpu,edgetpu, "
                                         f"got {text!r}")
    return list(dict.fromkeys(values))


def synthetic_frames(fmt: str, width: int, height: int, count: int = 4, seed: int = 0) -> List[np.ndarray]:
    """``count`` camera-like frames (smooth colour gradients with noise, not flat
    images) in pixel format ``fmt``, as a camera driver delivers them."""
    from .convert import rgb_to_format

    if fmt in ("nv12", "nv21", "i420", "yuyv", "uyvy") and (width % 2 or height % 2):
        raise InputError(f"--source {width}x{height}: {fmt} frames need an even width and height")
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    frames = []
    for i in range(count):
        phase = rng.uniform(0, 2 * math.pi, 3)
        base = np.stack([127 + 100 * np.sin(xs / (37 + 9 * c) + ys / (53 + 7 * c) + phase[c] + i)
                         for c in range(3)], axis=2)
        noise = rng.normal(0, 12, base.shape).astype(np.float32)
        rgb = np.clip(base + noise, 0, 255).astype(np.uint8)
        frames.append(np.ascontiguousarray(rgb_to_format(rgb, fmt)))
    return frames


def bgr_to_format(bgr: np.ndarray, fmt: str) -> np.ndarray:
    """A BGR frame (OpenCV's channel order, H x W x 3 uint8) as a camera delivers it
    in pixel format ``fmt``: :func:`edgerun.tools.convert.rgb_to_format` on the
    channels reversed (BT.601 limited range for the YUV formats, chroma averaged
    over each 2x2 block for 4:2:0 and each pixel pair for 4:2:2; odd sizes are
    cropped to even for them)."""
    from .convert import rgb_to_format

    if bgr.ndim != 3 or bgr.shape[2] != 3 or bgr.dtype != np.uint8:
        raise InputError(f"bgr_to_format: expected an H x W x 3 uint8 BGR image, got {bgr.dtype}{list(bgr.shape)}")
    return np.ascontiguousarray(rgb_to_format(bgr[..., ::-1], fmt))


@dataclasses.dataclass
class Frames:
    """The camera frames a bench run feeds (in ``fmt``), their size and where they came from."""

    frames: List[np.ndarray]
    size: Tuple[int, int]  # (width, height) of the frames as fed
    origin: str  # "synthetic" or the --frames-from path
    description: str


def _frames_from_files(path: str, needed: int, cv2) -> tuple:
    """Decoded BGR images of a directory (sorted by name) or a video's first frames:
    (list, what they are)."""
    bgrs: List[np.ndarray] = []
    if os.path.isdir(path):
        files = sorted(f for f in os.listdir(path) if f.lower().endswith(IMAGE_EXTENSIONS))
        if not files:
            raise InputError(f"--frames-from {path}: no image files ({', '.join(IMAGE_EXTENSIONS)}) in this "
                             f"directory")
        for name in files[:needed]:
            full = os.path.join(path, name)
            img = cv2.imread(full, cv2.IMREAD_COLOR)
            if img is None:
                raise InputError(f"--frames-from: OpenCV cannot read {full} as an image")
            if bgrs and img.shape != bgrs[0].shape:
                raise InputError(f"--frames-from {path}: {name} is {img.shape[1]}x{img.shape[0]} pixels, "
                                 f"{files[0]} is {bgrs[0].shape[1]}x{bgrs[0].shape[0]}; the frames of one run "
                                 f"must share one size, as a camera's do")
            bgrs.append(img)
            if len(bgrs) * img.nbytes >= FRAMES_FROM_MAX_BYTES:
                break
        return bgrs, f"{len(bgrs)} of {len(files)} image(s) in {path}"
    if not os.path.exists(path):
        raise InputError(f"--frames-from {path}: no such file or directory")
    cap = cv2.VideoCapture(path)
    try:
        if not cap.isOpened():
            raise InputError(f"--frames-from {path}: OpenCV cannot open it as a video (give a video file or a "
                             f"directory of images)")
        while len(bgrs) < needed:
            ok, img = cap.read()
            if not ok or img is None:
                break
            if img.ndim == 2:
                img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
            bgrs.append(np.ascontiguousarray(img[..., :3]))
            if len(bgrs) * img.nbytes >= FRAMES_FROM_MAX_BYTES:
                break
    finally:
        cap.release()
    if not bgrs:
        raise InputError(f"--frames-from {path}: OpenCV decoded no frame of this video")
    return bgrs, f"the first {len(bgrs)} frame(s) of {path}"


def load_frames(fmt: str, source: Optional[Tuple[int, int]], frames_from: Optional[str], needed: int) -> Frames:
    """Frames in ``fmt``: synthetic ones of ``source`` size (default 1280x720), or
    decoded from ``frames_from`` (a directory of images or a video file, through
    OpenCV) and converted to ``fmt``. From files, the size comes from the files:
    a ``source`` that disagrees is an error. Fewer frames than ``needed`` are
    looped by the caller."""
    if not frames_from:
        w, h = source or DEFAULT_SOURCE
        return Frames(synthetic_frames(fmt, w, h), (w, h), "synthetic", f"synthetic {fmt} {w}x{h}")
    try:
        import cv2
    except ImportError:
        raise DependencyError("--frames-from needs OpenCV to decode images and video: pip install "
                              "opencv-python-headless (or pip install 'edgerun[bench]')") from None
    bgrs, what = _frames_from_files(frames_from, max(1, needed), cv2)
    h, w = bgrs[0].shape[:2]
    if source is not None and tuple(source) != (w, h):
        raise InputError(f"--source {source[0]}x{source[1]} disagrees with --frames-from {frames_from}, whose "
                         f"frames are {w}x{h}; leave --source out (the files set it)")
    frames = [bgr_to_format(b, fmt) for b in bgrs]
    fw, fh = (w & ~1, h & ~1) if fmt in ("nv12", "nv21", "i420", "yuyv", "uyvy") else (w, h)
    note = f", cropped to {fw}x{fh} ({fmt} needs even sizes)" if (fw, fh) != (w, h) else ""
    looped = ", looped" if len(frames) < needed else ""
    return Frames(frames, (fw, fh), frames_from, f"{what} as {fmt} {fw}x{fh}{note}{looped}")


# ---------------------------------------------------------------------------
# Heads
# ---------------------------------------------------------------------------
def _shape(spec) -> tuple:
    return tuple(int(d) for d in spec.shape)


def auto_head_name(session: Session) -> str:
    """The head for a model, from its outputs (and metadata labels): BlazeFace's
    [1,896,16]+[1,896,1]; TFLite_Detection_PostProcess's 4 outputs; one [1,C]
    or [C] score vector -> classifier; a [1,N,4+] + [1,N,C] pair -> SSD with TF
    Object Detection API anchors; anything else -> none (raw outputs)."""
    outs = [_shape(o) for o in session.outputs]
    ssd = _ssd_outputs(session)
    if ssd is not None:
        if ssd[0] == 896 and ssd[1] == 16 and ssd[2] == 1 and _shape(session.inputs[0])[1:3] == (128, 128):
            return "blazeface"
        try:
            ssd_head(session)
            return "ssd"
        except InputError:
            return "none"
    if len(outs) == 4 and any(int(np.prod(s)) == 1 for s in outs) and any(len(s) == 3 and s[-1] == 4 for s in outs):
        return "detection-postprocess"
    if len(outs) == 1:
        s = outs[0]
        if len(s) == 1 or (len(s) == 2 and s[0] == 1):
            return "classifier"
        if len(s) == 3 and s[0] == 1 and min(s[1], s[2]) >= 5 and max(s[1], s[2]) >= 100:
            return "yolo"
    return "none"


def make_head(name: str, session: Session, model_path: Optional[str]) -> Tuple[Optional[Head[Any]], str]:
    """(head or None, the name it resolved to)."""
    from .. import heads

    if name == "auto":
        name = auto_head_name(session)
    if name == "none":
        return None, name
    if name == "classifier":
        try:
            return heads.Classifier.from_model(session), name
        except InputError:  # no labels in the metadata
            return heads.Classifier(), name
    if name == "blazeface":
        return heads.BlazeFace(), name
    if name == "ssd":
        return ssd_head(session)[0], name
    if name == "yolo":
        return heads.YOLO(version=8), name
    if name == "yolo10":
        return heads.YOLO(version=10), name
    if name == "detection-postprocess":
        return heads.DetectionPostProcess(), name
    if name == "segmentation":
        return heads.Segmentation(), name
    if name == "landmarks":
        return heads.Landmarks(), name
    raise InputError(f"--head: expected one of {', '.join(HEADS)}, got {name!r}")


# ---------------------------------------------------------------------------
# The anchor loop: ai_edge_litert Interpreter + OpenCV + NumPy
# ---------------------------------------------------------------------------
_CV_CODES = {"bgr": "COLOR_BGR2RGB", "rgba": "COLOR_RGBA2RGB", "bgra": "COLOR_BGRA2RGB", "gray": "COLOR_GRAY2RGB",
             "nv12": "COLOR_YUV2RGB_NV12", "nv21": "COLOR_YUV2RGB_NV21", "i420": "COLOR_YUV2RGB_I420",
             "yuyv": "COLOR_YUV2RGB_YUYV", "uyvy": "COLOR_YUV2RGB_UYVY"}


def _nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list:
    order = np.argsort(-scores, kind="stable")
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    chosen = []
    while order.size:
        i = order[0]
        chosen.append(int(i))
        rest = order[1:]
        xx1 = np.maximum(boxes[i, 0], boxes[rest, 0])
        yy1 = np.maximum(boxes[i, 1], boxes[rest, 1])
        xx2 = np.minimum(boxes[i, 2], boxes[rest, 2])
        yy2 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.clip(xx2 - xx1, 0, None) * np.clip(yy2 - yy1, 0, None)
        order = rest[inter / (area[i] + area[rest] - inter + 1e-9) <= iou]
    return chosen


class AnchorLoop:
    """What a user writes without edgerun: OpenCV converts and resizes the frame,
    NumPy normalizes (and quantizes), the Interpreter runs, NumPy decodes
    (top-k for a classifier, sigmoid + box decoding + greedy NMS for SSD and
    BlazeFace; other heads: the outputs are only fetched)."""

    interp: Any  # ai_edge_litert's Interpreter
    inp: int
    in_dtype: Any
    in_scale: float
    in_zp: int
    nchw: bool
    h: int
    w: int
    gray: bool
    bgr: bool
    fit: str
    mean: np.ndarray
    std: np.ndarray
    code: Optional[int]
    outs: List[int]
    out_details: List[Dict[str, Any]]
    decoder: str
    anchors: Optional[np.ndarray]
    mediapipe: bool

    def __init__(self, model_path: str, threads: int, fmt: str, spec: Dict[str, Any], head_name: str, head: Any) -> None:
        import cv2
        from ai_edge_litert.interpreter import Interpreter

        self.cv2 = cv2
        self.interp = Interpreter(model_path=model_path, num_threads=threads)
        self.interp.allocate_tensors()
        d = self.interp.get_input_details()[0]
        self.inp = d["index"]
        self.in_dtype = d["dtype"]
        self.in_scale, self.in_zp = d["quantization"]
        shape = [int(v) for v in d["shape"]]
        self.nchw = spec.get("layout") == "nchw"
        self.h, self.w = (shape[2], shape[3]) if self.nchw else (shape[1], shape[2])
        self.gray = spec.get("channels") == "gray"
        self.bgr = spec.get("channels") == "bgr"
        self.fit = spec.get("fit", "stretch")
        self.mean = np.asarray(spec.get("mean", 0.0), np.float32)
        self.std = np.asarray(spec.get("std", 1.0), np.float32)
        self.code = getattr(cv2, _CV_CODES[fmt]) if fmt in _CV_CODES else None
        self.outs = [o["index"] for o in self.interp.get_output_details()]
        self.out_details = self.interp.get_output_details()
        self.decoder = "outputs fetched only"
        self.anchors = None
        if head_name == "classifier":
            self.decoder = "numpy top-5"
        elif head_name in ("ssd", "blazeface") and head is not None and head.anchors is not None:
            self.anchors = np.asarray(head.anchors, np.float32)  # (N, 4) y, x, h, w normalized
            self.mediapipe = "mediapipe" in repr(head)
            self.decoder = "numpy sigmoid + box decoding + NMS"

    def preprocess(self, frame: np.ndarray) -> np.ndarray:
        cv2 = self.cv2
        rgb = cv2.cvtColor(frame, self.code) if self.code is not None else frame
        if self.gray:
            rgb = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        elif self.bgr:
            rgb = rgb[..., ::-1]
        fh, fw = rgb.shape[:2]
        if self.fit == "letterbox":
            s = min(self.w / fw, self.h / fh)
            nw, nh = max(1, round(fw * s)), max(1, round(fh * s))
            small = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_LINEAR)
            img = np.zeros((self.h, self.w) + small.shape[2:], np.uint8)
            y0, x0 = (self.h - nh) // 2, (self.w - nw) // 2
            img[y0:y0 + nh, x0:x0 + nw] = small
        elif self.fit == "crop":
            s = max(self.w / fw, self.h / fh)
            cw, ch = min(fw, round(self.w / s)), min(fh, round(self.h / s))
            x0, y0 = (fw - cw) // 2, (fh - ch) // 2
            img = cv2.resize(rgb[y0:y0 + ch, x0:x0 + cw], (self.w, self.h), interpolation=cv2.INTER_LINEAR)
        else:
            img = cv2.resize(rgb, (self.w, self.h), interpolation=cv2.INTER_LINEAR)
        if img.ndim == 2:
            img = img[..., None]
        x = (img.astype(np.float32) - self.mean) / self.std
        if np.issubdtype(self.in_dtype, np.integer):
            info = np.iinfo(self.in_dtype)
            scale = self.in_scale or 1.0
            x = np.clip(np.rint(x / scale + self.in_zp), info.min, info.max)
        x = x.astype(self.in_dtype)
        if self.nchw:
            x = x.transpose(2, 0, 1)
        return x[None]

    def invoke(self, x: np.ndarray) -> None:
        self.interp.set_tensor(self.inp, x)
        self.interp.invoke()

    def _deq(self, i: int) -> np.ndarray:
        a = self.interp.get_tensor(self.outs[i])
        scale, zp = self.out_details[i]["quantization"]
        if a.dtype != np.float32 and scale:
            return (a.astype(np.float32) - zp) * scale
        return a.astype(np.float32, copy=False)

    def decode(self) -> Any:
        if self.decoder == "numpy top-5":
            s = self._deq(0).ravel()
            top = np.argpartition(-s, min(5, s.size - 1))[:5]
            return top[np.argsort(-s[top], kind="stable")]
        if self.anchors is None:
            return [self.interp.get_tensor(i) for i in self.outs]
        outs = [self._deq(i) for i in range(len(self.outs))]
        reg, cls = sorted(outs, key=lambda a: -a.shape[-1])[:2]
        reg, cls = reg[0], cls[0]
        if self.mediapipe:
            logits = np.clip(cls[:, 0], -100, 100)
        else:  # background column 0
            logits = cls[:, 1:].max(axis=1) if cls.shape[1] > 1 else cls[:, 0]
        scores = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))  # float32 exp(100) overflows
        keep = np.nonzero(scores >= 0.5)[0]
        if keep.size == 0:
            return np.zeros((0, 5), np.float32)
        r, a = reg[keep], self.anchors[keep]
        if self.mediapipe:
            cx = r[:, 0] / self.w * a[:, 3] + a[:, 1]
            cy = r[:, 1] / self.h * a[:, 2] + a[:, 0]
            bw, bh = r[:, 2] / self.w * a[:, 3], r[:, 3] / self.h * a[:, 2]
        else:
            cy = r[:, 0] / 10.0 * a[:, 2] + a[:, 0]
            cx = r[:, 1] / 10.0 * a[:, 3] + a[:, 1]
            bh, bw = np.exp(r[:, 2] / 5.0) * a[:, 2], np.exp(r[:, 3] / 5.0) * a[:, 3]
        boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
        s = scores[keep]
        chosen = _nms(boxes, s, 0.3)
        return np.concatenate([boxes[chosen], s[chosen, None]], axis=1)


# ---------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------
@dataclasses.dataclass
class Config:
    model: str
    label: str
    threads: int
    accelerator: str = "cpu"
    session: Any = None
    pre: Any = None
    head_name: str = "none"
    normalization: str = ""
    sync: Any = None
    pipe_async: Any = None
    anchor: Any = None
    anchor_error: Optional[str] = None
    samples: Dict[str, Dict[str, List[float]]] = dataclasses.field(default_factory=dict)
    async_fps: List[float] = dataclasses.field(default_factory=list)
    sync_fps: List[float] = dataclasses.field(default_factory=list)
    anchor_fps: List[float] = dataclasses.field(default_factory=list)
    dropped: int = 0
    submitted: int = 0
    memory: Dict[str, Any] = dataclasses.field(default_factory=dict)
    profile: Optional[Dict[str, Any]] = None

    @property
    def name(self) -> str:
        return f"{self.label} t={self.threads} {self.accelerator}"


def memory_dict(session: Session) -> Dict[str, Any]:
    """The session's memory figures and the process's peak RSS so far (bytes)."""
    m = session.memory
    return {"model_bytes": m.model_bytes, "io_bytes": m.io_bytes, "load_rss_bytes": m.load_rss_bytes,
            "estimate_bytes": m.estimate.total,
            "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}


def _new_samples() -> Dict[str, List[float]]:
    return {s: [] for s in ("t",) + STAGES}


def _progress(total: int, enabled: bool, unit: str = "frame") -> Any:
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit=unit, file=sys.stderr, leave=False, dynamic_ncols=True)


def session_options(args: argparse.Namespace, threads: Optional[int], accelerator: str) -> Dict[str, Any]:
    """Session keyword arguments from the command line, for one thread count and accelerator
    (``--device`` goes to the Edge TPU only)."""
    from ..delegates import Delegate

    delegates = []
    for spec in args.delegate or []:
        lib, _, opts = spec.partition(":")
        delegates.append(Delegate(lib, dict(kv.split("=", 1) for kv in opts.split(",") if "=" in kv)))
    signature = args.signature
    if signature is not None and signature.lstrip("-").isdigit():
        signature = int(signature)
    return dict(threads=threads, accelerator=accelerator,
                accelerator_options={"device": args.device} if args.device and accelerator == "edgetpu" else None,
                delegates=delegates, signature=signature, input_shapes=dict(args.input_shape or []) or None)


def setup(model: str, label: str, threads: int, accelerator: str, args: argparse.Namespace) -> Config:
    """A configuration ready to time. Raises what Session raises when the model cannot
    be loaded on ``accelerator`` (the caller decides whether that skips it)."""
    from ..pipeline import Pipeline
    from ..preprocess import Preprocessor
    from ..session import Session

    cfg = Config(model=model, label=label, threads=threads, accelerator=accelerator)
    cfg.session = Session(model, **session_options(args, threads, accelerator))
    spec_over: Dict[str, Any] = {"fit": args.fit} if args.fit else {}
    if args.mean is not None:
        spec_over["mean"] = args.mean
    if args.std is not None:
        spec_over["std"] = args.std
    try:
        cfg.pre = Preprocessor.from_model(cfg.session, args.format, **spec_over)
        cfg.normalization = "from the model's metadata" if args.mean is None else "from --mean/--std"
    except ModelError:  # no normalization recorded: [-1, 1] for float inputs, as most image models expect
        dt = cfg.session.inputs[0].dtype
        spec_over.setdefault("mean", 127.5 if dt.kind == "f" else 0.0)
        spec_over.setdefault("std", 127.5 if dt.kind == "f" else 1.0)
        spec_over.setdefault("fit", "stretch")
        from ..model.metadata import infer_layout

        layout = infer_layout(tuple(cfg.session.inputs[0].shape))
        if layout is not None:
            spec_over["layout"] = layout
        cfg.pre = Preprocessor(args.format, **spec_over)
        cfg.normalization = (f"mean={spec_over['mean']} std={spec_over['std']} (none in the metadata; "
                             f"--mean/--std set it)")
    head, cfg.head_name = make_head(args.head, cfg.session, model)
    cfg.sync = Pipeline(cfg.session, cfg.pre, head, drop="none")
    head2, _ = make_head(cfg.head_name, cfg.session, model)
    cfg.pipe_async = Pipeline(cfg.session, cfg.pre, head2,
                                      drop="oldest" if args.source_fps else "none", depth=2)
    if args.compare_anchor and accelerator != "cpu":
        cfg.anchor_error = (f"anchor loop skipped: the ai_edge_litert Interpreter loop runs on the CPU, "
                            f"not on {accelerator}")
    elif args.compare_anchor:
        try:
            bound = head.bind(cfg.session) if head is not None else None
            cfg.anchor = AnchorLoop(model, threads, args.format, cfg.pre._impl.spec.to_dict(), cfg.head_name,
                                    bound)
        except ImportError as e:
            cfg.anchor_error = f"anchor loop skipped: {e.name or e} is not installed (pip install edgerun[bench])"
        except Exception as e:  # the Interpreter refuses the model (custom ops, Edge TPU ...): no comparison
            cfg.anchor_error = f"anchor loop skipped: the ai_edge_litert Interpreter failed: {type(e).__name__}: " \
                               f"{' '.join(str(e).split())[:300]}"
    cfg.samples = {"sync": _new_samples(), "async": _new_samples()}
    if cfg.anchor is not None:
        cfg.samples["anchor"] = _new_samples()
    cfg.memory = memory_dict(cfg.session)
    return cfg


# ---------------------------------------------------------------------------
# Per-operator profile (--profile)
# ---------------------------------------------------------------------------
def _runs_of(events: list, runs: int) -> Optional[List[list]]:
    """The operator events split into runs (each run records the same sequence of
    events, one run after the other), or None when they do not split evenly."""
    if runs <= 0 or not events or len(events) % runs:
        return None
    k = len(events) // runs
    parts = [events[i * k:(i + 1) * k] for i in range(runs)]
    names = [e.name for e in parts[0]]
    return parts if all([e.name for e in p] == names for p in parts) else None


def summarize_profile(prof: Profile, where_delegate: str, invoke_ms: List[float], run_ms: List[float]) -> Dict[str, Any]:
    """Per-operator-type table and the time outside the delegate(s), from a
    :class:`edgerun.session.Profile`; ``invoke_ms``: unprofiled run times measured
    alongside, ``run_ms``: the profiled runs' times."""
    runs = max(prof.runs, 1)
    ops = prof.operators()
    per_run = _runs_of(ops, prof.runs)

    def where(e) -> str:
        return where_delegate if e.kind == "delegate_operator" else "TFLite kernel"

    # per operator type: count and ms per run; the median over runs when the events split into
    # runs (a loaded machine's outliers then move no row), else the mean
    kinds: Dict[tuple, List[float]] = {}
    for e in ops:
        kinds.setdefault((e.name, where(e)), [0, 0.0])[0] += 1
    if per_run:
        sums = {k: [0.0] * len(per_run) for k in kinds}
        for r, part in enumerate(per_run):
            for e in part:
                sums[(e.name, where(e))][r] += e.elapsed_us / 1e3
        for k, v in sums.items():
            kinds[k][1] = float(np.median(v))
    else:
        for e in ops:
            kinds[(e.name, where(e))][1] += e.elapsed_us / 1e3 / runs
    op_total = sum(v[1] for v in kinds.values())
    table = [{"op": name, "where": w, "count_per_run": n / runs, "ms_per_run": ms,
              "share": ms / op_total if op_total else 0.0}
             for (name, w), (n, ms) in sorted(kinds.items(), key=lambda kv: -kv[1][1])]
    span_lists: Dict[str, List[float]] = {}
    for e in prof.events:
        if e.kind == "runtime":
            span_lists.setdefault(e.name, []).append(e.elapsed_us / 1e3)
    # once per run (as "Invoke" is): the median, like the operators' per-run sums; else the mean per run
    spans = {k: float(np.median(v)) if len(v) == prof.runs else sum(v) / runs for k, v in span_lists.items()}
    op_ms = float(np.median([sum(e.elapsed_us for e in p) / 1e3 for p in per_run])) if per_run else op_total
    outside_ms = sum(r["ms_per_run"] for r in table if r["where"] == "TFLite kernel")
    interp = spans.get("Invoke")  # the interpreter's subgraph invoke: every node, delegate nodes included
    base = interp if interp else op_total
    return {
        "runs": prof.runs,
        "operators": table,
        "operator_ms_per_run": op_ms,
        "operator_ms_per_run_statistic": "median of per-run sums" if per_run else "mean",
        "operators_statistic": "ms_per_run: median over runs" if per_run else "ms_per_run: mean over runs",
        "interpreter_invoke_ms_per_run": interp,
        "runtime_spans_ms_per_run": spans,
        "runtime_spans_statistic": "median per run for spans recorded once per run, else mean per run",
        "outside_delegate_ms_per_run": outside_ms,
        "outside_delegate_share": outside_ms / base if base else 0.0,
        "outside_delegate_ops": sorted({r["op"] for r in table if r["where"] == "TFLite kernel"}),
        "delegate_node_ms_per_run": (interp - outside_ms) if interp else None,
        "delegate": where_delegate,
        "invoke_ms_unprofiled": stage_stats(np.asarray(invoke_ms, np.float64)),
        "run_ms_profiled": stage_stats(np.asarray(run_ms, np.float64)),
    }


def xnnpack_fallback(model: str, threads: int, runs: int) -> Dict[str, Any]:
    """Without the runtime's profiler: the classic Interpreter's invoke time with
    XNNPACK and with the runtime's own kernels only, and which operators XNNPACK
    does not take (``edgerun inspect``'s check)."""
    import time as _time

    out: Dict[str, Any] = {}
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        for key, kind in (("invoke_ms_xnnpack", OpResolverType.AUTO),
                          ("invoke_ms_without_xnnpack", OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)):
            it = Interpreter(model_path=model, num_threads=threads, experimental_op_resolver_type=kind)
            it.allocate_tensors()
            it.invoke()
            ts = []
            for _ in range(max(3, runs)):
                t0 = _time.perf_counter()
                it.invoke()
                ts.append((_time.perf_counter() - t0) * 1e3)
            out[key] = float(np.median(ts))
    except Exception as e:  # the Interpreter cannot run it either: say so
        out["error"] = f"{type(e).__name__}: {' '.join(str(e).split())[:300]}"
    try:
        from ..model.inspect import inspect

        x = inspect(model).xnnpack
        if x is not None and x.checked:
            out["xnnpack_operators"] = f"{x.delegated}/{x.total}"
            out["not_on_xnnpack"] = [f"{i}:{name}" for i, name in x.not_taken]
    except Exception:  # pragma: no cover - inspect has its own errors; the timing above still stands
        pass
    return out


def profile_configs(configs: List[Config], frames: List[np.ndarray], args: argparse.Namespace) -> None:
    """Per configuration, a second session with the runtime's profiler on, run on the
    same preprocessed frames, each run followed by an unprofiled run of the timed
    session (the invoke time the profile is compared with). The profiler slows every
    run, so none of this is in the timed rounds. One profiled session at a time: each
    holds the runtime's profiler buffer (about 70 MB with ai-edge-litert 2.3.0)."""
    from ..session import Session

    runs = max(1, args.profile_runs)
    clock = time.perf_counter
    for c in configs:
        where = "XNNPACK" if c.accelerator == "cpu" and not args.delegate else "delegate"
        try:
            ps = Session(c.model, profile=True, **session_options(args, c.threads, c.accelerator))
        except RuntimeLoadError as e:  # a runtime without the profiler's functions
            c.profile = {"error": " ".join(str(e).split()),
                         "fallback": xnnpack_fallback(c.model, c.threads, runs)}
            continue
        inv: List[float] = []
        prof_ms: List[float] = []
        try:
            for i in range(runs):
                frame = frames[i % len(frames)]
                c.pre(frame, ps.input(0))
                t0 = clock()
                ps.run()
                prof_ms.append((clock() - t0) * 1e3)
                c.pre(frame, c.session.input(0))
                time.sleep(0.001)  # as between the timed jobs: let the worker threads settle
                t0 = clock()
                c.session.run()
                inv.append((clock() - t0) * 1e3)
            c.profile = summarize_profile(ps.profile(), where, inv, prof_ms)
        finally:
            ps.close()


def format_profile(p: Dict[str, Any], top: int) -> List[str]:
    from ..model.inspect import table_lines

    if "error" in p:
        lines = [f"per-operator profile: unavailable: {p['error']}"]
        fb = p.get("fallback", {})
        if "invoke_ms_xnnpack" in fb:
            lines.append(f"  instead (ai_edge_litert Interpreter, median invoke): with XNNPACK "
                         f"{fb['invoke_ms_xnnpack']:.3f} ms, runtime kernels only "
                         f"{fb['invoke_ms_without_xnnpack']:.3f} ms")
        if "xnnpack_operators" in fb:
            lines.append(f"  XNNPACK takes {fb['xnnpack_operators']} operators"
                         + (f"; not: {', '.join(fb['not_on_xnnpack'][:12])}" if fb["not_on_xnnpack"] else ""))
        if "error" in fb:
            lines.append(f"  fallback failed: {fb['error']}")
        return lines
    lines = [f"per-operator profile (LiteRT profiler, {p['runs']} runs, each beside an unprofiled run; "
             f"{p['operators_statistic']}):"]
    rows = [("op", "runs on", "count/run", "ms/run", "share")]
    for r in p["operators"][:top]:
        rows.append((r["op"], r["where"], f"{r['count_per_run']:g}", f"{r['ms_per_run']:.3f}",
                     f"{100 * r['share']:.1f}%"))
    rest = p["operators"][top:]
    if rest:
        rows.append((f"({len(rest)} more op types)", "", "", f"{sum(r['ms_per_run'] for r in rest):.3f}",
                     f"{100 * sum(r['share'] for r in rest):.1f}%"))
    lines.extend(table_lines(rows))
    inv, prun = p["invoke_ms_unprofiled"]["p50"], p["run_ms_profiled"]["p50"]
    lines.append(f"  operators {p['operator_ms_per_run']:.3f} ms/run ({p['operator_ms_per_run_statistic']}); "
                 f"session.run without the profiler {inv:.3f} ms p50 (operators/run "
                 f"{p['operator_ms_per_run'] / inv if inv else float('nan'):.2f}); with it {prun:.3f} ms p50")
    d = p["delegate"]
    kernels = f" ({', '.join(p['outside_delegate_ops'])})" if p["outside_delegate_ops"] else ""
    if p["interpreter_invoke_ms_per_run"]:
        lines.append(f"  outside {d}: {100 * p['outside_delegate_share']:.1f}% of the interpreter's invoke "
                     f"({p['interpreter_invoke_ms_per_run']:.3f} ms/run): "
                     f"{p['outside_delegate_ms_per_run']:.3f} ms/run in TFLite kernels{kernels}; "
                     f"{d} node(s) {p['delegate_node_ms_per_run']:.3f} ms/run")
    else:
        lines.append(f"  outside {d}: {100 * p['outside_delegate_share']:.1f}% of the operator time "
                     f"({p['outside_delegate_ms_per_run']:.3f} ms/run in TFLite kernels)")
    return lines


def run_sync(cfg: Config, frames: List[np.ndarray], n: int, t_start: float, record: bool) -> None:
    clock = time.perf_counter
    s = cfg.samples["sync"]
    t_batch = clock()
    for i in range(n):
        t0 = clock()
        r = cfg.sync(frames[i % len(frames)])
        dt = (clock() - t0) * 1e3
        if record:
            tm = r.timings
            s["t"].append(t0 - t_start)
            s["queue"].append(0.0)
            s["preprocess"].append(tm.preprocess)
            s["invoke"].append(tm.invoke)
            s["decode"].append(tm.decode)
            s["total"].append(dt)
    if record:
        cfg.sync_fps.append(n / (clock() - t_batch))


def run_async(cfg: Config, frames: List[np.ndarray], n: int, t_start: float, record: bool, source_fps: float) -> None:
    clock = time.perf_counter
    pipe = cfg.pipe_async
    st0 = pipe.stats()
    results = []
    t_batch = clock()
    if source_fps:
        period = 1.0 / source_fps
        for i in range(n):
            due = t_batch + i * period
            while True:  # read results while waiting for the camera's next frame
                try:
                    results.append((pipe.get(timeout=0), clock()))
                except TimeoutError:
                    pass
                else:
                    continue
                wait = due - clock()
                if wait <= 0:
                    break
                time.sleep(min(wait, 0.0005))
            pipe.submit(frames[i % len(frames)], meta=clock())
    else:
        for i in range(n):
            pipe.submit(frames[i % len(frames)], meta=clock())
            try:
                while True:
                    results.append((pipe.get(timeout=0), clock()))
            except TimeoutError:
                pass
    while pipe.in_flight:
        try:
            results.append((pipe.get(timeout=30), clock()))
        except TimeoutError:  # pragma: no cover - a stuck pipeline
            break
    try:
        while True:
            results.append((pipe.get(timeout=0), clock()))
    except TimeoutError:
        pass
    t_end = clock()
    st1 = pipe.stats()
    if not record:
        return
    cfg.submitted += n
    cfg.dropped += (st1["dropped"] - st0["dropped"]) + (st1["results_discarded"] - st0["results_discarded"])
    cfg.async_fps.append(len(results) / (t_end - t_batch))
    s = cfg.samples["async"]
    for r, t_got in results:
        tm = r.timings
        s["t"].append(r.meta - t_start)
        s["queue"].append(tm.queue)
        s["preprocess"].append(tm.preprocess)
        s["invoke"].append(tm.invoke)
        s["decode"].append(tm.decode)
        # submit -> result ready, by the pipeline's clock (not when this loop got round to reading it)
        s["total"].append(tm.total)


def run_anchor(cfg: Config, frames: List[np.ndarray], n: int, t_start: float, record: bool) -> None:
    clock = time.perf_counter
    a = cfg.anchor
    s = cfg.samples["anchor"]
    t_batch = clock()
    for i in range(n):
        t0 = clock()
        x = a.preprocess(frames[i % len(frames)])
        t1 = clock()
        a.invoke(x)
        t2 = clock()
        a.decode()
        t3 = clock()
        if record:
            s["t"].append(t0 - t_start)
            s["queue"].append(0.0)
            s["preprocess"].append((t1 - t0) * 1e3)
            s["invoke"].append((t2 - t1) * 1e3)
            s["decode"].append((t3 - t2) * 1e3)
            s["total"].append((t3 - t0) * 1e3)
    if record:
        cfg.anchor_fps.append(n / (clock() - t_batch))


def run(args: argparse.Namespace, models: List[Tuple[str, str]]) -> Dict[str, Any]:
    """models: [(path, label)]. Returns the results dict (every sample kept)."""
    needed = (args.frames + args.warmup) if not args.duration else 300
    src = load_frames(args.format, args.source, getattr(args, "frames_from", None), needed)
    frames = src.frames
    threads = args.threads or [None]
    accelerators = args.accelerator if isinstance(args.accelerator, list) else [args.accelerator or "cpu"]
    configs: List[Config] = []
    skipped: List[Dict[str, Any]] = []
    first_error: Optional[Error] = None
    for path, label in models:
        for t in threads:
            for acc in accelerators:
                try:
                    configs.append(setup(path, label, t, acc, args))
                except Error as e:  # this accelerator (or model) cannot be used here: say why, go on
                    if isinstance(e, InputError) and acc == "cpu":
                        raise  # a command-line mistake, not an unavailable accelerator
                    from ._words import for_cli  # the API's argument names as the command line's flags
                    from .. import _core

                    first_error = first_error or e
                    skipped.append({"model": label, "path": path, "threads": t or _core.default_threads(),
                                    "accelerator": acc,
                                    "reason": f"{type(e).__name__}: {for_cli(' '.join(str(e).split()))}"})
    if not configs:
        raise first_error  # type: ignore[misc]
    for c in configs:
        c.threads = c.session.threads
    for c in configs:  # untimed
        run_sync(c, frames, args.warmup, 0.0, False)
        run_async(c, frames, args.warmup, 0.0, False, args.source_fps)
        if c.anchor is not None:
            try:
                run_anchor(c, frames, max(1, args.warmup), 0.0, False)
            except Exception as e:  # a frame the hand-written loop cannot handle: no comparison
                c.anchor, c.anchor_error = None, (f"anchor loop skipped: it failed on a frame: {type(e).__name__}: "
                                                  f"{' '.join(str(e).split())[:300]}")
                c.samples.pop("anchor", None)
    modes = ["sync", "async"] + (["anchor"] if any(c.anchor is not None for c in configs) else [])
    rounds = max(1, args.rounds)
    duration = args.duration
    per_config = None if duration else args.frames
    batch = max(1, math.ceil(per_config / rounds)) if per_config else max(1, args.batch)
    shown = args.progress and sys.stderr.isatty()
    total = (per_config * len(configs) * len(modes)) if per_config else None
    bar = _progress(total if total else int(math.ceil(duration)), shown, "frame" if total else "s")
    t_start = time.perf_counter()
    done = {(c.name, m): 0 for c in configs for m in modes}
    rnd = 0
    jobs = [(c, m) for c in configs for m in modes if m != "anchor" or c.anchor is not None]
    while True:
        if per_config is not None and all(done[(c.name, m)] >= per_config for c, m in jobs):
            break
        if duration and time.perf_counter() - t_start >= duration:
            break
        k = rnd % len(jobs)
        for c, m in jobs[k:] + jobs[:k]:
            n = batch if per_config is None else min(batch, per_config - done[(c.name, m)])
            if n <= 0:
                continue
            time.sleep(0.002)  # let the previous job's worker threads (OpenCV, XNNPACK) settle
            if m == "sync":
                run_sync(c, frames, n, t_start, True)
            elif m == "async":
                run_async(c, frames, n, t_start, True, args.source_fps)
            else:
                run_anchor(c, frames, n, t_start, True)
            done[(c.name, m)] += n
            if bar is not None:
                if total:
                    bar.update(n)
                else:
                    bar.n = min(int(duration), int(time.perf_counter() - t_start))
                    bar.refresh()
        rnd += 1
    if bar is not None:
        bar.close()
    if getattr(args, "profile", False):
        profile_configs(configs, frames, args)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    out_configs = []
    for c in configs:
        entry: Dict[str, Any] = {
            "model": c.label, "path": c.model, "threads": c.threads, "head": c.head_name,
            "accelerator": c.session.accelerator, "normalization": c.normalization,
            "input": dict(shape=list(c.session.inputs[0].shape), dtype=str(c.session.inputs[0].dtype)),
            "overlapped": bool(c.pipe_async.overlapped), "memory": c.memory, "modes": {},
        }
        for m, s in c.samples.items():
            arr = {k: np.asarray(v, np.float64) for k, v in s.items()}
            fps_list = {"sync": c.sync_fps, "async": c.async_fps, "anchor": c.anchor_fps}[m]
            mode: Dict[str, Any] = {
                "frames": int(arr["total"].size),
                "fps": float(np.median(fps_list)) if fps_list else float("nan"),
                "fps_per_round": [float(v) for v in fps_list],
                "stages": {k: stage_stats(arr[k]) for k in STAGES},
                "samples": {k: [round(float(v), 6) for v in arr[k]] for k in ("t",) + STAGES},
            }
            if m == "async":
                mode["submitted"] = c.submitted
                mode["dropped"] = int(c.dropped)
                mode["drop"] = "oldest" if args.source_fps else "none"
            if m == "anchor":
                mode["decoder"] = c.anchor.decoder
            entry["modes"][m] = mode
        if c.anchor_error:
            entry["anchor_error"] = c.anchor_error
        if c.profile is not None:
            entry["profile"] = c.profile
        out_configs.append(entry)
    for c in configs:
        c.sync.close()
        c.pipe_async.close()
    from .._version import __version__
    from .. import _runtime

    return {
        "edgerun": __version__,
        "litert": _runtime.runtime_info()["version"],
        "machine": f"{platform.machine()}, {os.cpu_count()} logical CPUs",
        "format": args.format, "source": list(src.size),
        "frames_from": None if src.origin == "synthetic" else src.origin,
        "frames_description": src.description, "distinct_frames": len(frames),
        "fit": configs[0].pre._impl.spec.to_dict()["fit"] if len(configs) == 1 else (args.fit or "per model"),
        "source_fps": args.source_fps or None, "warmup": args.warmup, "rounds": rnd,
        "duration_s": time.perf_counter() - t_start, "peak_rss_bytes": peak,
        "configs": out_configs, "skipped": skipped,
    }


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------
def format_table(res: Dict[str, Any]) -> str:
    from ..model.inspect import table_lines

    lines = [f"edgerun {res['edgerun']} | ai-edge-litert {res['litert']} | {res['machine']}",
             f"frames: {res['frames_description']}, fit {res['fit']}"
             + (f", camera at {res['source_fps']:g} FPS" if res["source_fps"] else "")
             + f"; {res['rounds']} interleaved rounds in {res['duration_s']:.1f} s"]
    accels = {c["accelerator"] for c in res["configs"]} | {s["accelerator"] for s in res.get("skipped", [])}
    show_acc = accels != {"cpu"}
    for c in res["configs"]:
        lines.append("")
        lines.append(f"{c['model']}: {c['threads']} thread(s)" + (f" on {c['accelerator']}" if show_acc else "")
                     + f", head {c['head']}, input "
                     f"{'x'.join(map(str, c['input']['shape']))} {c['input']['dtype']}, normalization "
                     f"{c['normalization']}")
        mem = c["memory"]
        lines.append(f"memory: model {mem['model_bytes'] / 2**20:.2f} MiB, static estimate (weights + arena + I/O) "
                     f"{mem['estimate_bytes'] / 2**20:.2f} MiB"
                     + (f", RSS grew {mem['load_rss_bytes'] / 2**20:.1f} MiB at load" if mem["load_rss_bytes"]
                        is not None else "")
                     + f"; async stages {'overlapped on two threads' if c['overlapped'] else 'on one worker thread'}")
        rows: List[Tuple[str, ...]] = [("mode", "stage", "p50 ms", "p90 ms", "p99 ms", "min", "max", "std")]
        for m, mode in c["modes"].items():
            for st in STAGES:
                if st == "queue" and m != "async":
                    continue
                s = mode["stages"][st]
                rows.append((m if st == ("queue" if m == "async" else "preprocess") else "", st,
                             f"{s['p50']:.3f}", f"{s['p90']:.3f}", f"{s['p99']:.3f}", f"{s['min']:.3f}",
                             f"{s['max']:.3f}", f"{s['std']:.3f}"))
        lines.extend(table_lines(rows))
        if c.get("anchor_error"):
            lines.append(f"  {c['anchor_error']}")
        if "anchor" in c["modes"]:
            lines.append(f"  anchor decode: {c['modes']['anchor']['decoder']}")
        if "profile" in c:
            lines.extend(format_profile(c["profile"], res.get("profile_top", 10)))
    lines.append("")
    head = ("model", "threads") + (("accelerator",) if show_acc else ())
    skipped = res.get("skipped", [])
    rows = [head + ("sync FPS", "async FPS", "dropped", "anchor FPS", "sync/anchor", "p50 e2e ms", "p99 e2e ms")
            + (("note",) if skipped else ())]
    for c in res["configs"]:
        md = c["modes"]
        anchor = md.get("anchor")
        a = md["async"]
        key = (c["model"], str(c["threads"])) + ((c["accelerator"],) if show_acc else ())
        rows.append(key + (f"{md['sync']['fps']:.1f}", f"{a['fps']:.1f}",
                           f"{a['dropped']}/{a['submitted']}", f"{anchor['fps']:.1f}" if anchor else "-",
                           f"{md['sync']['fps'] / anchor['fps']:.2f}x" if anchor else "-",
                           f"{md['sync']['stages']['total']['p50']:.3f}", f"{md['sync']['stages']['total']['p99']:.3f}")
                    + (("",) if skipped else ()))
    reasons: List[str] = []
    for sk in skipped:
        key = (sk["model"], str(sk["threads"])) + ((sk["accelerator"],) if show_acc else ())
        if sk["reason"] not in reasons:
            reasons.append(sk["reason"])
        short = sk["reason"] if len(sk["reason"]) <= 90 else sk["reason"][:87] + "..."
        rows.append(key + ("-",) * 7 + (f"skipped [{reasons.index(sk['reason']) + 1}]: {short}",))
    lines.extend(table_lines(rows))
    for i, reason in enumerate(reasons):
        lines.append(f"  [{i + 1}] {reason}")
    lines.append(f"peak RSS {res['peak_rss_bytes'] / 2**20:.1f} MiB (whole process)")
    return "\n".join(lines)


def write_output(res: Dict[str, Any], path: str) -> None:
    ext = os.path.splitext(path)[1].lower()
    if ext == ".json":
        with open(path, "w") as f:
            json.dump(res, f, indent=1)
        return
    if ext == ".csv":
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["model", "threads", "accelerator", "mode", "frame", "t_s"] + [f"{s}_ms" for s in STAGES])
            for c in res["configs"]:
                for m, mode in c["modes"].items():
                    s = mode["samples"]
                    for i in range(len(s["total"])):
                        w.writerow([c["model"], c["threads"], c["accelerator"], m, i, s["t"][i]]
                                   + [s[k][i] for k in STAGES])
        return
    raise InputError(f"-o {path}: expected a .json or .csv file name")


def plot(res: Dict[str, Any], path: str) -> None:
    """latency histogram, time series and per-stage p50 bars, one PNG."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise InputError("--plot needs matplotlib: pip install 'edgerun[plot]' (or pip install matplotlib)") from None
    fig, axes = plt.subplots(3, 1, figsize=(11, 12))
    ax_h, ax_t, ax_b = axes
    series = [(f"{c['model']} t={c['threads']}" + (f" {c['accelerator']}" if c["accelerator"] != "cpu" else "")
               + f" {m}", mode) for c in res["configs"] for m, mode in c["modes"].items()]
    all_tot = np.concatenate([np.asarray(m["samples"]["total"]) for _, m in series if m["samples"]["total"]])
    hi = float(np.percentile(all_tot, 99.5)) if all_tot.size else 1.0
    bins = np.linspace(0, hi * 1.05, 60)
    # distinct colours for up to 20 series (the default cycle repeats after 10)
    cmap = plt.get_cmap("tab10" if len(series) <= 10 else "tab20")
    for i, (name, mode) in enumerate(series):
        tot = np.asarray(mode["samples"]["total"])
        color = cmap(i % cmap.N)
        ax_h.hist(np.clip(tot, 0, bins[-1]), bins=bins, histtype="step", linewidth=1.5, color=color,
                  label=f"{name} (p50 {mode['stages']['total']['p50']:.2f} ms)")
        ax_t.plot(mode["samples"]["t"], tot, ".", markersize=2, color=color, label=name)
    ax_h.set_xlabel("end-to-end latency per frame, ms (clipped at p99.5)")
    ax_h.set_ylabel("frames")
    ax_h.set_title(f"{res['format']} {res['source'][0]}x{res['source'][1]} -> model -> head: latency histogram")
    ax_h.legend(fontsize=7)
    ax_t.set_xlabel("time since the first timed frame, s")
    ax_t.set_ylabel("end-to-end ms")
    ax_t.set_ylim(0, hi * 1.2)
    ax_t.set_title("time series (interleaved rounds)")
    ax_t.legend(fontsize=7, markerscale=4)
    stages = ("queue", "preprocess", "invoke", "decode")
    bottom = np.zeros(len(series))
    x = np.arange(len(series))
    for st in stages:
        vals = np.array([m["stages"][st]["p50"] for _, m in series])
        vals = np.nan_to_num(vals)
        ax_b.bar(x, vals, bottom=bottom, label=st)
        bottom += vals
    ax_b.set_xticks(x)
    ax_b.set_xticklabels([n for n, _ in series], rotation=20, ha="right", fontsize=7)
    ax_b.set_ylabel("p50 ms per stage (stacked)")
    ax_b.set_title("per-stage medians")
    ax_b.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(args: argparse.Namespace, models: List[Tuple[str, str]]) -> int:
    if args.plot:  # fail before minutes of measuring
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise InputError("--plot needs matplotlib: pip install 'edgerun[plot]' (or pip install matplotlib)") \
                from None
    if args.output and os.path.splitext(args.output)[1].lower() not in (".json", ".csv"):
        raise InputError(f"-o {args.output}: expected a .json or .csv file name")
    res = run(args, models)
    res["profile_top"] = getattr(args, "profile_top", 10)
    if args.output:
        write_output(res, args.output)
    if args.plot:
        plot(res, args.plot)
    if args.json:
        print(json.dumps(res))
    else:
        print(format_table(res))
        for what, p in (("results", args.output), ("plot", args.plot)):
            if p:
                print(f"{what}: {p}")
    return 0
