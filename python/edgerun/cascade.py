"""edgerun.Cascade: detector -> rotated ROI per detection -> second model, in one call.

    faces = edgerun.Pipeline(face_session, edgerun.Preprocessor("bgr", fit="letterbox"),
                             edgerun.heads.BlazeFace())
    mesh = edgerun.Session("face_landmark.tflite")
    cascade = edgerun.Cascade(faces, mesh, edgerun.heads.Landmarks(468, 3, score_output=1,
                                                                   score_activation="sigmoid"),
                              edgerun.Preprocessor("bgr", mean=0, std=255), roi_from="face")
    r = cascade(frame)
    r.detections            # the detector's Detections (source pixels)
    r.rois                  # (cx, cy, w, h, angle) per detection used
    r.results[0].xy         # the second head's result for ROI 0, in source pixels

Pipelined (a camera loop): ``cascade.submit(frame)`` queues the frame on the
detector Pipeline's worker threads and ``cascade.get()`` / ``cascade.results()``
run the second stage on the caller's thread, so the detector works on frame N+1
while the landmark model runs on frame N::

    for frame in camera:
        cascade.submit(frame)          # returns at once (drop="oldest" drops stale frames)
        for r in cascade.ready():      # the results that are complete, in frame order
            draw(r.results)

The ROI of each detection (``roi_from``) is cropped from the frame by
:meth:`edgerun.Preprocessor.crop` (a rotated rectangle, straight into the second
session's input buffer), the second model runs, and its head decodes through
that crop's Transform, so results come out in source-frame pixels. A second
model with a dynamic batch dimension runs all ROIs in one invoke.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from typing import Any, Callable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from .errors import InputError
from .preprocess import Preprocessor, Transform
from .session import Session

__all__ = ["Cascade", "CascadeResult", "face_roi", "box_roi"]

Roi = Tuple[float, float, float, float, float]
RoiFrom = Union[str, Callable[[np.ndarray, np.ndarray], Sequence[float]]]


def face_roi(box: np.ndarray, keypoints: np.ndarray, scale: float = 1.5) -> Roi:
    """MediaPipe's face-landmark ROI from a BlazeFace detection: centred on the box,
    a square of ``scale`` x its longer side, rotated so that the eyes (keypoints 0 and 1:
    right eye, left eye) lie level in the crop (MediaPipe's DetectionsToRects with
    target angle 0, then RectTransformation with scale 1.5 and square_long)."""
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    if keypoints.shape[0] < 2:
        raise InputError("roi_from='face': the detections carry no eye keypoints (use a BlazeFace head, or "
                         "roi_from='box')")
    (ex0, ey0), (ex1, ey1) = keypoints[0], keypoints[1]
    angle = math.degrees(math.atan2(float(ey1 - ey0), float(ex1 - ex0)))
    side = max(x2 - x1, y2 - y1) * scale
    return ((x1 + x2) / 2, (y1 + y2) / 2, side, side, angle)


def box_roi(box: np.ndarray, keypoints: np.ndarray, scale: float = 1.0, square: bool = True) -> Roi:
    """An axis-aligned ROI: the box scaled by ``scale`` about its centre (a square of
    its longer side with ``square``)."""
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    w, h = (x2 - x1) * scale, (y2 - y1) * scale
    if square:
        w = h = max(w, h)
    return ((x1 + x2) / 2, (y1 + y2) / 2, w, h, 0.0)


@dataclasses.dataclass
class CascadeResult:
    """One frame through a :class:`Cascade`."""

    #: the detector's result (e.g. :class:`edgerun.heads.Detections`), all of them
    detections: Any
    #: (cx, cy, w, h, angle) of each ROI that went through the second model
    rois: List[Roi]
    #: the crop of each ROI (model input of the second model -> source pixels)
    transforms: List[Transform]
    #: the second head's result per ROI, in source pixels
    results: List[Any]
    #: pipelined (:meth:`Cascade.get`): the detector Pipeline's frame id and the meta passed to submit
    frame_id: Optional[int] = None
    meta: Any = None

    def __len__(self) -> int:
        return len(self.results)


class Cascade:
    """A detector followed by a second model on each detection's (rotated) ROI.

    Args:
        detector: an :class:`edgerun.Pipeline` (called synchronously: ``pipe(frame)``)
            or any callable ``frame -> Detections``.
        session: the second model's :class:`edgerun.Session` (input 0 is the image).
        head: the second model's head (e.g. :class:`edgerun.heads.Landmarks`).
        pre: a :class:`edgerun.Preprocessor` for the second model (the frame's format,
            the second model's normalization); its :meth:`~edgerun.Preprocessor.crop`
            samples each ROI.
        roi_from: ``"face"`` (:func:`face_roi`: MediaPipe's face-mesh ROI from BlazeFace's
            eyes), ``"box"`` (:func:`box_roi`: the box, square, unrotated) or a callable
            ``(box (4,), keypoints (K, 2)) -> (cx, cy, w, h, angle)`` in source pixels.
        scale: ROI scale for ``"face"`` (default 1.5) / ``"box"`` (default 1.0).
        max_rois: at most this many detections (best first) go through the second
            model per frame.
    """

    def __init__(self, detector: Any, session: Session, head: Any, pre: Preprocessor, *,
                 roi_from: RoiFrom = "face", scale: Optional[float] = None, max_rois: int = 1) -> None:
        if not callable(detector):
            raise InputError(f"detector: expected an edgerun.Pipeline or a callable frame -> detections, got "
                             f"{type(detector).__name__}")
        if not isinstance(session, Session):
            raise InputError(f"session: expected an edgerun.Session, got {type(session).__name__}")
        if not isinstance(pre, Preprocessor):
            raise InputError(f"pre: expected an edgerun.Preprocessor, got {type(pre).__name__}")
        if not callable(head):
            raise InputError(f"head: expected an edgerun.heads decoder, got {type(head).__name__}")
        if isinstance(max_rois, bool) or not isinstance(max_rois, int) or max_rois < 1:
            raise InputError(f"max_rois: expected an int >= 1, got {max_rois!r}")
        if roi_from == "face":
            s = 1.5 if scale is None else float(scale)
            self._roi_from: Callable = lambda b, k: face_roi(b, k, s)
        elif roi_from == "box":
            s = 1.0 if scale is None else float(scale)
            self._roi_from = lambda b, k: box_roi(b, k, s)
        elif callable(roi_from):
            if scale is not None:
                raise InputError("scale: applies to roi_from='face' or 'box'; a callable roi_from sizes its ROIs")
            self._roi_from = roi_from
        else:
            raise InputError(f"roi_from: expected 'face', 'box' or a callable (box, keypoints) -> "
                             f"(cx, cy, w, h, angle), got {roi_from!r}")
        self.detector = detector
        self.session = session
        self.head = head
        self.pre = pre
        self.max_rois = max_rois
        self._frames: dict = {}  # pipelined: frame id -> frame, until its result is read
        self._lock = threading.Lock()
        spec = session.inputs[0]
        sig = session.input_shape_signatures[0]
        self._batchable = len(sig) == 4 and sig[0] < 0 and len(session.inputs) == 1
        self._shape1 = (1,) + tuple(spec.shape[1:]) if len(spec.shape) == 4 else tuple(spec.shape)
        if hasattr(head, "bind"):
            head.bind(session)

    def _detect(self, frame: np.ndarray) -> Any:
        r = self.detector(frame)
        return getattr(r, "output", r)

    def __call__(self, frame: np.ndarray) -> CascadeResult:
        """Runs the detector, then the second model on up to ``max_rois`` ROIs."""
        return self._second(frame, self._detect(frame))

    # -- pipelined -------------------------------------------------------------------
    def _pipeline(self, what: str) -> Any:
        if not (hasattr(self.detector, "submit") and hasattr(self.detector, "get")):
            raise InputError(f"{what}: the pipelined loop needs an edgerun.Pipeline detector (submit/get), got "
                             f"{type(self.detector).__name__}; call the Cascade per frame instead")
        return self.detector

    def submit(self, frame: np.ndarray, meta: Any = None) -> int:
        """Queues ``frame`` on the detector Pipeline (its ``submit``: returns at once,
        its ``drop`` policy applies) and returns the frame id. The second stage runs
        in :meth:`get`, on the caller's thread. Do not write into ``frame`` until its
        result has been read (it is cropped then)."""
        pipe = self._pipeline("submit")
        if not isinstance(frame, np.ndarray):
            raise InputError(f"frame: expected a numpy uint8 array, got {type(frame).__name__}")
        fid = pipe.submit(frame, meta)
        with self._lock:
            self._frames[fid] = frame
        return fid

    def get(self, timeout: Optional[float] = None) -> CascadeResult:
        """The next frame's result in frame order: waits for its detections (up to
        ``timeout`` seconds; TimeoutError, or ClosedError once the detector pipeline
        is closed and drained), then runs the second model on its ROIs here. A frame
        whose detection failed raises its error."""
        pipe = self._pipeline("get")
        r = pipe.get(timeout)
        with self._lock:
            frame = self._frames.pop(r.frame_id, None)
            # frames the pipeline dropped (drop="oldest") never come back: forget them
            for k in [k for k in self._frames if k < r.frame_id]:
                del self._frames[k]
        if r.error is not None:
            raise r.error
        if frame is None:
            raise InputError(f"frame {r.frame_id}: submitted to the detector Pipeline directly, not through "
                             "Cascade.submit (the Cascade has no frame to crop)")
        out = self._second(frame, r.output)
        out.frame_id, out.meta = r.frame_id, r.meta
        return out

    def ready(self) -> Iterator[CascadeResult]:
        """Yields the results that are complete now (no waiting), in frame order."""
        from .errors import ClosedError

        while True:
            try:
                yield self.get(0)
            except (ClosedError, TimeoutError):
                return

    def results(self, timeout: Optional[float] = None) -> Iterator[CascadeResult]:
        """Yields results until the detector pipeline is closed and drained (or none
        arrives within ``timeout`` seconds, when given)."""
        from .errors import ClosedError

        while True:
            try:
                yield self.get(timeout)
            except (ClosedError, TimeoutError):
                return

    def _second(self, frame: np.ndarray, det: Any) -> CascadeResult:
        boxes = np.asarray(getattr(det, "boxes", np.zeros((0, 4), np.float32)))
        kps = np.asarray(getattr(det, "keypoints", np.zeros((len(boxes), 0, 2), np.float32)))
        n = min(len(boxes), self.max_rois)
        rois: List[Roi] = [tuple(float(v) for v in self._roi_from(boxes[i], kps[i])) for i in range(n)]  # type: ignore[misc]  # length checked below
        for r in rois:
            if len(r) != 5:
                raise InputError(f"roi_from returned {r!r}; expected (cx, cy, w, h, angle)")
        s = self.session
        transforms: List[Transform] = []
        results: List[Any] = []
        if n > 1 and self._batchable:
            shape = (n,) + self._shape1[1:]
            if tuple(s.inputs[0].shape) != shape:
                s.resize_input(0, shape)
            buf = s.input(0)
            for i, r in enumerate(rois):
                transforms.append(self.pre.crop(frame, buf[i], r, spec=s.inputs[0]))
            del buf
            outs = s.run()
            for i, t in enumerate(transforms):
                results.append(self.head([o[i:i + 1] for o in outs], t, quantization=self._quant(s)))
            return CascadeResult(det, rois, transforms, results)
        if self._batchable and tuple(s.inputs[0].shape) != self._shape1:
            s.resize_input(0, self._shape1)
        for r in rois:
            buf = s.input(0)
            t = self.pre.crop(frame, buf, r)
            del buf
            transforms.append(t)
            results.append(self.head(s.run(), t))
        return CascadeResult(det, rois, transforms, results)

    @staticmethod
    def _quant(s: Session) -> Optional[list]:
        outs = s.outputs
        if not any(o.dtype.kind in "iu" and o.scale for o in outs):
            return None
        return [(o.scale, o.zero_point) for o in outs]

    def __repr__(self) -> str:
        return (f"<edgerun.Cascade detector={self.detector!r} second={self.session._origin!s} "
                f"head={self.head!r} max_rois={self.max_rois}>")
