"""Fused preprocessing: camera frame -> model input in one pass.

    pre = edgerun.Preprocessor("nv12", fit="letterbox", mean=127.5, std=127.5)
    transform = pre(frame, session.input(0))        # writes the model input in place
    boxes_in_camera_pixels = transform.to_source(boxes)

Colour conversion, roi/crop, rotation/flip, resampling, normalization and
quantization happen in one C++ pass at output resolution (AVX2 / NEON kernels,
GIL released). Semantics and accuracy: docs/preprocessing.md.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Tuple, Union

import numpy as np

from . import _core
from .errors import InputError

__all__ = ["Preprocessor", "Transform"]

# The option defaults, names and checks live in C++ (edgerun::preprocess::Spec,
# Preprocessor::Create); this module passes the keywords through unchanged.
_DEFAULTS = _core.PreprocessSpec()


class Transform:
    """Maps coordinates between the model input and the source frame.

    Coordinates are continuous pixel coordinates (pixel ``i`` covers ``[i, i+1)``;
    its centre is ``i + 0.5``), through roi, crop, flip, rotation, scaling and
    letterbox padding: ``source = matrix @ [x, y, 1]``.

    Attributes:
        matrix: 2x3 float64 array, model input -> source frame.
        input_size: (width, height) of the model input.
        content: (x, y, w, h) of the image inside the model input (letterbox).
        source_roi: (x, y, w, h) of the frame region that was sampled.
    """

    __slots__ = ("_t", "_m", "input_size", "content", "source_roi", "_mat", "_inv")

    def __init__(self, matrix: Sequence[float], input_size: Tuple[int, int], content: Tuple[int, int, int, int],
                 source_roi: Tuple[int, int, int, int]):
        # The binding converts and checks (InputError naming the argument).
        self._init(_core.Transform(matrix=matrix, input_size=input_size, content=content, source_roi=source_roi))

    @classmethod
    def _wrap(cls, t: Any) -> "Transform":
        """The Transform of a ``_core.Transform`` (what the C++ core returned)."""
        obj = cls.__new__(cls)
        obj._init(t)
        return obj

    def _init(self, t: Any) -> None:
        self._t = t  # the C++ struct, handed back to the core (heads) without conversion
        self._m: Tuple[float, float, float, float, float, float] = t.matrix
        self.input_size: Tuple[int, int] = t.input_size
        self.content: Tuple[int, int, int, int] = t.content
        self.source_roi: Tuple[int, int, int, int] = t.source_roi
        self._mat: Optional[np.ndarray] = None
        self._inv: Optional[np.ndarray] = None

    @property
    def matrix(self) -> np.ndarray:
        if self._mat is None:
            m = np.array(self._m, dtype=np.float64).reshape(2, 3)
            m.setflags(write=False)
            self._mat = m
        return self._mat

    @property
    def inverse(self) -> np.ndarray:
        """2x3 float64 array, source frame -> model input."""
        if self._inv is None:
            a, b, c, d, e, f = self._m
            det = a * e - b * d
            inv = np.array([[e / det, -b / det, (b * f - e * c) / det],
                            [-d / det, a / det, (d * c - a * f) / det]], dtype=np.float64)
            inv.setflags(write=False)
            self._inv = inv
        return self._inv

    @staticmethod
    def _apply(mat: np.ndarray, coords: Any, what: str) -> np.ndarray:
        arr = np.asarray(coords, dtype=np.float64)
        if arr.ndim == 0 or arr.shape[-1] not in (2, 4):
            raise InputError(f"{what}: expected points (..., 2) as (x, y) or boxes (..., 4) as (x1, y1, x2, y2), "
                             f"got shape {arr.shape}")
        if arr.shape[-1] == 2:
            x, y = arr[..., 0], arr[..., 1]
            out = np.empty_like(arr)
            out[..., 0] = mat[0, 0] * x + mat[0, 1] * y + mat[0, 2]
            out[..., 1] = mat[1, 0] * x + mat[1, 1] * y + mat[1, 2]
            return out
        p1 = Transform._apply(mat, arr[..., 0:2], what)
        p2 = Transform._apply(mat, arr[..., 2:4], what)
        out = np.empty_like(arr)
        out[..., 0:2] = np.minimum(p1, p2)  # rotation / flip may swap corners
        out[..., 2:4] = np.maximum(p1, p2)
        return out

    def to_source(self, coords: Any, normalized: bool = False) -> np.ndarray:
        """Model-input points (..., 2) or boxes (..., 4) -> source-frame pixels.

        ``normalized=True``: the input coordinates are fractions of the model input
        size (as many detectors output them).
        """
        arr = np.asarray(coords, dtype=np.float64)
        if normalized:
            arr = arr * self._scale_vector(arr)
        return self._apply(self.matrix, arr, "to_source")

    def to_input(self, coords: Any, normalized: bool = False) -> np.ndarray:
        """Source-frame points (..., 2) or boxes (..., 4) -> model-input coordinates
        (fractions of the input size with ``normalized=True``)."""
        out = self._apply(self.inverse, coords, "to_input")
        if normalized:
            out = out / self._scale_vector(out)
        return out

    def _scale_vector(self, arr: np.ndarray) -> np.ndarray:
        w, h = self.input_size
        n = arr.shape[-1] if arr.ndim else 0
        if n not in (2, 4):
            raise InputError(f"expected points (..., 2) or boxes (..., 4), got shape {arr.shape}")
        return np.array([w, h] * (n // 2), dtype=np.float64)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Transform):
            return NotImplemented
        return (self._m, self.input_size, self.content, self.source_roi) == (
            other._m, other.input_size, other.content, other.source_roi)

    def __hash__(self) -> int:
        return hash((self._m, self.input_size, self.content, self.source_roi))

    def __reduce__(self) -> Tuple[Any, ...]:  # pickles by value (the C++ struct is rebuilt)
        return (Transform, (self._m, self.input_size, self.content, self.source_roi))

    def __repr__(self) -> str:
        m = self._m
        return (f"Transform(input={self.input_size[0]}x{self.input_size[1]}, content={self.content}, "
                f"source_roi={self.source_roi}, matrix=[[{m[0]:.6g}, {m[1]:.6g}, {m[2]:.6g}], "
                f"[{m[3]:.6g}, {m[4]:.6g}, {m[5]:.6g}]])")


class Preprocessor:
    """Converts camera frames into model inputs in one fused pass.

    Args:
        format: source pixel format: ``rgb``, ``bgr``, ``rgba``, ``bgra``, ``gray``
            (H x W x C uint8), ``nv12``, ``nv21``, ``i420`` ((H*3/2) x W uint8),
            ``yuyv``, ``uyvy`` (H x W x 2). Rows may be padded (row stride > width).
        fit: ``stretch``, ``letterbox`` (keep aspect, pad) or ``crop`` (keep aspect,
            centre crop).
        roi: ``(x, y, w, h)`` in source pixels, applied first.
        rotate: 0/90/180/270 degrees clockwise; ``flip`` mirrors the source
            horizontally before rotating.
        interpolation: ``bilinear`` (half-pixel centres, OpenCV INTER_LINEAR),
            ``nearest`` (half-pixel centres, OpenCV 4.x INTER_NEAREST_EXACT's index rule;
            OpenCV 5.x differs at exact ties, see docs/preprocessing.md) or ``area``
            (OpenCV INTER_AREA's weights when downscaling, exact integer box sums;
            SIMD except with ``yuv_sampling="rgb"`` on YUV sources).
        mean: scalar or per output channel, in 0..255 pixel units:
            ``out = (px - mean) / std``.
        std: scalar or per output channel, in 0..255 pixel units.
        channels: ``rgb``, ``bgr`` or ``gray`` (order written).
        layout: ``nhwc`` or ``nchw``.
        color: YUV matrix ``bt601`` or ``bt709``; ``yuv_range``: ``limited`` or ``full``.
        yuv_sampling: ``yuv`` (default, fastest: Y/U/V are interpolated and converted
            once per output pixel) or ``rgb`` (every source pixel is converted to RGB
            first, the order of OpenCV's cvtColor -> resize; differs from ``yuv`` only
            where colours saturate, e.g. sharp edges between saturated colours).
        pad_value: letterbox border colour (RGB pixel units 0..255, scalar or 3 values).
        threads: split rows across this many threads (worth it for large outputs).
    """

    __slots__ = ("_impl", "_last", "_unquantized_ok")

    def __init__(self, format: str = _DEFAULTS.format, *, fit: str = _DEFAULTS.fit,
                 roi: Optional[Tuple[int, int, int, int]] = _DEFAULTS.roi, rotate: int = _DEFAULTS.rotate,
                 flip: bool = _DEFAULTS.flip, interpolation: str = _DEFAULTS.interpolation,
                 mean: Union[float, Sequence[float]] = _DEFAULTS.mean,
                 std: Union[float, Sequence[float]] = _DEFAULTS.std, channels: str = _DEFAULTS.channels,
                 layout: str = _DEFAULTS.layout, color: str = _DEFAULTS.color,
                 yuv_range: str = _DEFAULTS.yuv_range, yuv_sampling: str = _DEFAULTS.yuv_sampling,
                 pad_value: Union[float, Sequence[float]] = _DEFAULTS.pad_value, threads: int = _DEFAULTS.threads,
                 _isa: str = _DEFAULTS.isa):
        spec = _core.PreprocessSpec(format=format, fit=fit, roi=roi, rotate=rotate, flip=flip,
                                    interpolation=interpolation, mean=mean, std=std, channels=channels,
                                    layout=layout, color=color, yuv_range=yuv_range, yuv_sampling=yuv_sampling,
                                    pad_value=pad_value, threads=threads, isa=_isa)
        self._impl = _core._Preprocessor(spec)  # validates every option (InputError naming it)
        self._last: Tuple[Any, Optional[Transform]] = (None, None)  # (_core.Transform, Transform), swapped atomically
        # An integer `out` that carries no quantization (a plain array, no scale= / spec=) is
        # written with scale 1 only when std is 1 on every channel (pixel units: raw pixels
        # with mean=0, or px - 128 into int8); any other std would round the normalized
        # values to a few integers (-1/0/1 for the default std 127.5), so __call__ raises.
        # Decided here, once: a call pays nothing for it.
        self._unquantized_ok = all(v == 1.0 for v in self._impl.spec.to_dict()["std"])

    @classmethod
    def from_model(cls, model: Any, format: Optional[str] = None, **overrides: Any) -> "Preprocessor":
        """A Preprocessor configured from a model's metadata.

        ``model``: an :class:`edgerun.Session`, a path, or the model's bytes. Normalization (``mean``/``std``), ``channels``, ``fit`` and
        ``layout`` come from the model's metadata (edgerun's
        ``edgerun_preprocessing`` entry, written by ``edgerun convert``, or the
        TFLite Metadata standard's NormalizationOptions and colour space); the
        layout, if not recorded, from the first input's shape. ``format`` is the
        camera's pixel format; None = the format recorded in the metadata.
        ``overrides`` (any Preprocessor keyword) win over the metadata.

        ``fit`` can only come from edgerun's entry (``edgerun convert --fit``,
        :func:`edgerun.write_metadata` ``fit=``): TFLite Metadata has no field for it.
        Where neither records it the default ``stretch`` applies, which distorts
        frames of another aspect: models trained on letterboxed inputs (BlazeFace,
        most detectors) need ``fit="letterbox"`` here or in their metadata.

        Raises :class:`edgerun.ModelError` when the model records no normalization
        and none is given, :class:`edgerun.InputError` when no format is known,
        :class:`edgerun.ClosedError` for a closed session.
        """
        from .errors import ModelError
        from .model import tflite_file
        from .model.metadata import infer_layout, metadata_from
        from .session import Session

        shape = None
        verified = False
        if isinstance(model, Session):
            if model.closed:
                from .errors import ClosedError

                raise ClosedError("Preprocessor.from_model: the session is closed")
            shape = tuple(model.inputs[0].shape) if model.inputs else None
            held = getattr(model, "_model_bytes", None)  # the bytes the session runs
            if held is not None:
                verified = model._verified  # the session checked these bytes already
                model = np.asarray(held).tobytes()
            elif model._origin and not model._origin.startswith("<"):
                model = model._origin
            else:  # pragma: no cover - every session holds its bytes
                raise InputError("Preprocessor.from_model: cannot read this session's model; pass the "
                                 "model's path or bytes instead")
        data, path = tflite_file.read_source(model)
        m = tflite_file.unpack(data, path or "model", verified=verified)
        meta = metadata_from(m, data)
        if shape is None and m.subgraphs and m.subgraphs[0].inputs is not None and len(m.subgraphs[0].inputs):
            t = m.subgraphs[0].tensors[m.subgraphs[0].inputs[0]]
            shape = tuple(int(d) for d in (t.shape if t.shape is not None else ()))
        kwargs: Dict[str, Any] = dict(meta.preprocessing())
        if "layout" not in kwargs and shape is not None:
            layout = infer_layout(shape)
            if layout is not None:
                kwargs["layout"] = layout
        if "channels" not in kwargs and shape is not None and len(shape) == 4:
            c = shape[3] if kwargs.get("layout", "nhwc") == "nhwc" else shape[1]
            if c == 1:
                kwargs["channels"] = "gray"
        kwargs.update(overrides)
        fmt = format if format is not None else meta.format
        where = path or "the model"
        if fmt is None:
            raise InputError(f"Preprocessor.from_model: give the camera's pixel format (one of "
                             f"{', '.join(_core.PreprocessSpec.choices('format'))}); {where} records none")
        missing = [k for k in ("mean", "std") if k not in kwargs]
        if missing:
            raise ModelError(f"Preprocessor.from_model: {where} records no input normalization "
                             f"(no {' / '.join(missing)} in its metadata"
                             f"{': it has ' + ', '.join(n for n, _ in meta.entries) if meta.entries else ''}); "
                             "pass mean= and std= (0..255 pixel units)")
        return cls(fmt, **kwargs)

    def __call__(self, frame: np.ndarray, out: np.ndarray, *, scale: Optional[float] = None,
                 zero_point: Optional[int] = None, spec: Any = None) -> Transform:
        """Writes ``frame`` into ``out`` and returns the :class:`Transform`.

        ``out`` is any C-contiguous float32/float16/uint8/int8 array of shape
        (H, W, C) / (1, H, W, C), or (C, H, W) / (1, C, H, W) with ``layout="nchw"``
        (for example ``session.input(0)``). For integer outputs
        ``q = clamp(round((px - mean) / std / scale) + zero_point)``; scale and
        zero point come from the keywords, else from ``spec`` (anything with
        ``.scale`` / ``.zero_point``, e.g. a TensorSpec), else from attributes of
        ``out`` (``session.input(i)`` carries its tensor's); a tensor that is not
        quantized (scale 0) means scale 1, zero point 0. An integer ``out`` with no
        quantization at all (a plain array, no ``scale=``) raises InputError unless
        ``std`` is 1 on every channel (pixel units, e.g. raw pixels with ``mean=0,
        std=1``): other normalizations would round to a few integers. Pass the
        quantization, or ``scale=1`` to round ``(px - mean) / std`` as it is.
        """
        if not isinstance(out, np.ndarray):
            raise InputError(f"out: expected a numpy array, got {type(out).__name__}")
        if not isinstance(frame, np.ndarray):
            raise InputError(f"frame: expected a numpy uint8 array, got {type(frame).__name__}")
        s, zp = 1.0, 0
        if out.dtype.kind in "iu":
            src = spec if spec is not None else out
            if scale is None:
                implied = getattr(src, "scale", None)
                if implied is None and not self._unquantized_ok and out.dtype.itemsize == 1:
                    # a plain int8/uint8 array and no quantization given (other dtypes: the core rejects them)
                    raise InputError(self._unquantized_message(out.dtype, spec is not None))
                s = float(implied) if implied else 1.0  # 0: a session tensor that is not quantized
            else:
                s = scale  # converted (and checked) by the binding: InputError naming "scale"
            if zero_point is None:
                zero_point = getattr(src, "zero_point", None)
            zp = zero_point if zero_point is not None else 0  # the binding refuses 1.5 and out-of-range ints
        raw = self._impl.run(frame, out, s, zp)
        last = self._last  # one read: consistent even when threads share this Preprocessor
        if last[0] is raw and last[1] is not None:  # same geometry -> the binding hands back the same _core.Transform object
            return last[1]
        t = Transform._wrap(raw)
        self._last = (raw, t)
        return t

    def crop(self, frame: np.ndarray, out: np.ndarray, roi: Sequence[float], *, scale: Optional[float] = None,
             zero_point: Optional[int] = None, spec: Any = None) -> Transform:
        """Writes the rotated rectangle ``roi = (cx, cy, width, height, angle)`` of
        ``frame`` into ``out`` and returns its :class:`Transform` (model input ->
        source, a rotating one: heads map landmarks back through it).

        The second stage of a detector -> landmark cascade (MediaPipe's face and hand
        ROIs). Centre and size in source pixels; ``angle`` in degrees, clockwise as
        seen in the image (the rectangle's x axis points along (cos, sin) of it in
        y-down pixel coordinates; MediaPipe's rect rotation in radians is the same
        angle). This Preprocessor's format (rgb, bgr, rgba, bgra, gray, nv12, nv21,
        i420; row strides honoured), mean, std, channels, layout and pad_value apply
        (pixels outside the frame read pad_value); its fit, roi, rotate and flip do
        not. Bilinear, half-pixel centres, as OpenCV's ``warpAffine`` with
        ``WARP_INVERSE_MAP``; YUV frames as ``cvtColor`` then ``warpAffine`` (the
        region the ROI reaches is converted to uint8 RGB, then sampled). A kernel of
        its own (cpp/src/preprocess/roi_crop*.cc: AVX2 / NEON row interiors).
        ``out``, ``scale``, ``zero_point``, ``spec``: as for ``__call__``.
        """
        if not isinstance(out, np.ndarray):
            raise InputError(f"out: expected a numpy array, got {type(out).__name__}")
        if not isinstance(frame, np.ndarray):
            raise InputError(f"frame: expected a numpy uint8 array, got {type(frame).__name__}")
        try:
            r = [float(v) for v in roi]
        except (TypeError, ValueError):
            raise InputError(f"roi: expected (cx, cy, width, height, angle), got {roi!r}") from None
        s, zp = 1.0, 0
        if out.dtype.kind in "iu":
            src = spec if spec is not None else out
            implied = getattr(src, "scale", None) if scale is None else scale
            if implied is None and not self._unquantized_ok and out.dtype.itemsize == 1:
                raise InputError(self._unquantized_message(out.dtype, spec is not None))
            s = float(implied) if implied else 1.0
            if zero_point is None:
                zero_point = getattr(src, "zero_point", None)
            zp = zero_point if zero_point is not None else 0
        return Transform._wrap(self._impl.crop_rotated(frame, out, r, s, zp))

    def _unquantized_message(self, dtype: np.dtype, had_spec: bool) -> str:
        opts = self._impl.spec.to_dict()
        mean, std = opts["mean"], opts["std"]
        lo = min((0.0 - m) / d for m, d in zip(mean, std))
        hi = max((255.0 - m) / d for m, d in zip(mean, std))
        lo, hi = min(lo, hi), max(lo, hi)
        levels = sorted({int(np.clip(np.rint(v), np.iinfo(dtype).min, np.iinfo(dtype).max))
                         for v in (lo, hi, 0.0) if lo <= v <= hi})
        few = (f" and would round to {'/'.join(str(v) for v in range(levels[0], levels[-1] + 1))}"
               if levels and levels[-1] - levels[0] <= 4 else "")
        where = "spec= has no scale" if had_spec else "no scale= given and out carries none"
        return (f"out: {dtype} array with no quantization ({where}): the normalized values "
                f"(px - mean) / std lie in [{lo:.4g}, {hi:.4g}]{few}. Pass scale= and zero_point= (the "
                f"model input's quantization; or spec=session.inputs[i], or write into session.input(i)), "
                f"or scale=1 to round the normalized values as they are; for raw pixels use mean=0, std=1")

    def transform(self, frame_size: Tuple[int, int], input_size: Tuple[int, int]) -> Transform:
        """The Transform for a (width, height) frame and (width, height) model input,
        without converting any pixels."""
        try:
            fw, fh = frame_size
            iw, ih = input_size
        except (TypeError, ValueError):
            raise InputError("transform: expected frame_size and input_size as (width, height) pairs, got "
                             f"{frame_size!r} and {input_size!r}") from None
        return Transform._wrap(self._impl.transform(fw, fh, iw, ih))  # ints checked by the binding

    @property
    def options(self) -> Dict[str, Any]:
        """The settings this Preprocessor was made with (mean/std/pad_value as 3 values)."""
        opts = self._impl.spec.to_dict()
        del opts["isa"]  # a testing knob (_isa), not a setting
        return opts

    @property
    def kernel(self) -> str:
        """The kernel ISA used on this machine: ``avx2``, ``neon`` or ``scalar``."""
        return self._impl.kernel

    def kernel_path(self, frame: np.ndarray, out: np.ndarray) -> str:
        """The kernel path a call with this frame and output geometry runs, chosen once
        per geometry: ``scalar`` or ``<isa>/<path>`` with path ``area``, ``area-uniform``
        (integer ratios), ``windows``
        (16-byte windows + byte shuffles), ``packed`` or ``packed-uniform`` (AVX2
        per-pixel loads for 3/4-byte pixels). Nothing is written to ``out``."""
        return self._impl.kernel_path(frame, out)

    def __repr__(self) -> str:
        opts, defaults = self.options, _DEFAULTS.to_dict()
        parts = [repr(opts.pop("format"))] + [f"{k}={v!r}" for k, v in opts.items() if v != defaults[k]]
        return f"Preprocessor({', '.join(parts)})"
