"""``edgerun convert``: Keras / SavedModel -> .tflite, with post-training
quantization, embedded metadata and a report measured with edgerun.

TensorFlow (the ``convert`` extra) is imported only when a conversion runs;
``import edgerun`` and inference never import it.

    report = edgerun.convert("model.keras", "model_int8.tflite", quantize="int8",
                             calibration="calib_images/",
                             preprocess=dict(format="nv12", mean=127.5, std=127.5, fit="letterbox"),
                             metadata=dict(labels="labels.txt", name="my-classifier"))
    print(report.table())
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import tempfile
import time
import warnings
from typing import IO, Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from ..model import tflite_file
from ..errors import DependencyError, Error, InputError, ModelError
from ..model.metadata import CHANNELS, EDGERUN_METADATA, FITS, FORMATS, infer_layout, metadata_json, read_labels

__all__ = ["convert", "ConvertReport", "QUANTIZE_MODES", "CONVERT_SCHEMA"]

QUANTIZE_MODES = ("none", "dynamic", "float16", "int8", "int8-io")
IO_TYPES = ("int8", "uint8")
CONVERT_SCHEMA = "edgerun.convert/1"
_IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
_INSTALL_TF = 'pip install "edgerun[convert]"'
_INSTALL_TFMOT = "pip install tensorflow-model-optimization tf-keras"
_MODE_LABEL = {"none": "float32", "dynamic": "dynamic-range int8", "float16": "float16 weights",
               "int8": "int8, float I/O", "int8-io": "int8"}

PathLike = Union[str, "os.PathLike[str]"]


# --------------------------------------------------------------------------- report
@dataclasses.dataclass
class OutputAgreement:
    """How one output of a converted model compares with the reference."""

    name: str
    shape: Tuple[int, ...]
    #: fraction of samples whose argmax agrees (outputs shaped [1, classes]); None otherwise
    top1: Optional[float]
    max_abs: float
    mean_abs: float
    #: 10*log10(sum(ref^2) / sum((out - ref)^2)); None when the outputs are identical
    snr_db: Optional[float]

    def to_dict(self) -> Dict[str, Any]:
        return {"name": self.name, "shape": list(self.shape), "top1": self.top1, "max_abs": self.max_abs,
                "mean_abs": self.mean_abs, "snr_db": self.snr_db}


@dataclasses.dataclass
class ModelReport:
    """One side (before = float32 conversion of the source, after = the output model)."""

    label: str
    size: int
    #: median time of one run (us)
    latency_us: float
    off_xnnpack: Optional[List[str]]
    agreement: List[OutputAgreement]
    #: the spread: 25th and 75th percentiles of the timed samples (us per run)
    latency_p25_us: float = 0.0
    latency_p75_us: float = 0.0

    def to_dict(self) -> Dict[str, Any]:
        return {"label": self.label, "size": self.size, "latency_us": self.latency_us,
                "latency_p25_us": self.latency_p25_us, "latency_p75_us": self.latency_p75_us,
                "off_xnnpack": self.off_xnnpack, "agreement": [a.to_dict() for a in self.agreement]}


@dataclasses.dataclass
class ConvertReport:
    """What ``convert`` did and measured; ``to_dict()`` is the ``--report`` JSON (docs/tools.md)."""

    source: str
    source_kind: str
    source_size: Optional[int]
    output: str
    quantize: str
    io_type: Optional[str]
    calibration: Optional[Dict[str, Any]]
    validation: Dict[str, Any]
    reference: str
    threads: int
    runs: int
    before: ModelReport
    after: ModelReport
    metadata: Dict[str, Any]
    optimizations: Dict[str, Any]
    versions: Dict[str, str]
    #: after/before latency: {"ratio", "ci95": [lo, hi], "within_noise", "samples", "runs_per_sample"}
    latency: Dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "schema": CONVERT_SCHEMA,
            "source": {"path": self.source, "kind": self.source_kind, "size": self.source_size},
            "output": self.output,
            "quantize": self.quantize,
            "io_type": self.io_type,
            "calibration": self.calibration,
            "validation": self.validation,
            "reference": self.reference,
            "threads": self.threads,
            "runs": self.runs,
            "before": self.before.to_dict(),
            "after": self.after.to_dict(),
            "metadata": self.metadata,
            "optimizations": self.optimizations,
            "versions": self.versions,
            "latency": self.latency,
        }

    def table(self) -> str:
        """The table ``edgerun convert`` prints."""
        from ..model.inspect import human_bytes, table_lines

        b, a = self.before, self.after
        lines = [f"{self.source} -> {self.output}  ({_MODE_LABEL.get(self.quantize, self.quantize)}"
                 + (f", {self.io_type} I/O" if self.quantize == "int8-io" else "") + ")"]
        if self.calibration:
            c = self.calibration
            lines.append(f"calibration: {c['samples']} {c['kind']} from {c['source']}")
        v = self.validation
        lines.append(f"agreement with the {self.reference} on {v['samples']} {v['kind']} ({v['source']})")
        rows: List[Tuple[str, str, str]] = [("", f"before ({b.label})", f"after ({a.label})")]
        ratio = a.size / b.size if b.size else float("nan")
        rows.append(("size", human_bytes(b.size), f"{human_bytes(a.size)} (x{ratio:.2f})"))
        def lat(m: ModelReport) -> str:
            return f"{m.latency_us:.1f} us (IQR {m.latency_p25_us:.1f}-{m.latency_p75_us:.1f})"

        rows.append((f"latency p50 ({self.threads} thr)", lat(b), lat(a)))
        rows.append(("latency after/before", "", latency_ratio_text(self.latency)))

        def off(x: Optional[List[str]]) -> str:
            if x is None:
                return "not determined"
            return ", ".join(x) if x else "none"

        rows.append(("off XNNPACK", off(b.off_xnnpack), off(a.off_xnnpack)))
        for ob, oa in zip(b.agreement, a.agreement):
            tag = f"[{ob.name}]"
            if ob.top1 is not None:
                rows.append((f"top-1 agreement {tag}", f"{100 * ob.top1:.1f}%",
                             f"{100 * oa.top1:.1f}%" if oa.top1 is not None else "-"))
            rows.append((f"max abs error {tag}", f"{ob.max_abs:.3g}", f"{oa.max_abs:.3g}"))
            rows.append((f"mean abs error {tag}", f"{ob.mean_abs:.3g}", f"{oa.mean_abs:.3g}"))
            rows.append((f"SNR {tag}", _snr_text(ob.snr_db), _snr_text(oa.snr_db)))
        lines += table_lines(rows)
        return "\n".join(lines)


def _snr_text(v: Optional[float]) -> str:
    return "exact" if v is None else f"{v:.1f} dB"


# --------------------------------------------------------------------------- plumbing
class _Quiet:
    """Sends what TensorFlow's C++ and Python code prints (fds 1 and 2) to a
    temporary file while active; ``text()`` gives it back for error messages;
    ``write_err()`` still reaches the real stderr (progress bar)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._saved: Dict[int, int] = {}
        self._log: Optional[IO[bytes]] = None
        self._captured = ""

    def __enter__(self) -> "_Quiet":
        if not self.enabled:
            return self
        sys.stdout.flush()
        sys.stderr.flush()
        self._log = tempfile.TemporaryFile()
        for fd in (1, 2):
            self._saved[fd] = os.dup(fd)
            os.dup2(self._log.fileno(), fd)
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.enabled:
            return
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:  # pragma: no cover
            pass
        for fd, saved in self._saved.items():
            os.dup2(saved, fd)
            os.close(saved)
        self._saved.clear()
        if self._log is not None:
            self._log.seek(0)
            self._captured += self._log.read().decode("utf-8", "replace")
            self._log.close()
            self._log = None

    def text(self) -> str:
        return self._captured

    def write_err(self, text: str) -> None:
        fd = self._saved.get(2, 2)
        try:
            os.write(fd, text.encode())
        except OSError:  # pragma: no cover
            pass

    def isatty(self) -> bool:
        try:
            return os.isatty(self._saved.get(2, 2))
        except OSError:  # pragma: no cover
            return False


class _Progress:
    """A one-line progress bar on stderr (redrawn on a terminal, one final line otherwise)."""

    def __init__(self, label: str, total: int, out: Optional[_Quiet], enabled: bool):
        self.label, self.total, self.n = label, max(total, 1), 0
        self.out = out
        self.enabled = enabled
        self.tty = enabled and (out.isatty() if out is not None else sys.stderr.isatty())
        self.t0 = time.perf_counter()

    def _write(self, text: str) -> None:
        if self.out is not None and self.out.enabled:
            self.out.write_err(text)
        else:
            sys.stderr.write(text)
            sys.stderr.flush()

    def step(self) -> None:
        self.n += 1
        if self.enabled and self.tty:
            width = 30
            done = int(width * min(self.n, self.total) / self.total)
            self._write(f"\r{self.label} [{'#' * done}{'.' * (width - done)}] {self.n}/{self.total}")

    def close(self) -> None:
        if not self.enabled:
            return
        dt = time.perf_counter() - self.t0
        prefix = "\r" if self.tty else ""
        self._write(f"{prefix}{self.label}: {self.n}/{self.total} samples in {dt:.1f} s" + " " * 20 + "\n")


def _import_tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        import tensorflow as tf
    except ImportError as e:
        detail = "" if getattr(e, "name", None) == "tensorflow" else f" ({e})"
        raise DependencyError(f"edgerun convert needs TensorFlow, which could not be imported{detail}: "
                              f"{_INSTALL_TF}") from None
    try:
        tf.get_logger().setLevel("ERROR")
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
    except Exception:  # pragma: no cover - logging tweaks only
        pass
    return tf


def _first_error_line(text: str) -> str:
    """The informative part of a TensorFlow converter error."""
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    picked = [ln for ln in lines if "error:" in ln]
    if picked:
        out = []
        for ln in picked:
            msg = ln.split("error:", 1)[1].strip()
            if msg and msg not in out:
                out.append(msg)
        return "; ".join(out[:2])[:600]
    return (lines[0] if lines else "no message")[:600]


def _check_choice(value: Optional[str], allowed: Sequence[str], what: str) -> None:
    if value is not None and value not in allowed:
        raise InputError(f"{what}: expected one of {', '.join(allowed)}, got {value!r}")


# --------------------------------------------------------------------------- the source model
@dataclasses.dataclass
class _Source:
    kind: str  # "keras" | "saved_model"
    label: str
    size: Optional[int]
    model: Any  # keras.Model, or the loaded SavedModel
    path: Optional[str]

    def converter(self, tf):
        if self.kind == "keras":
            return tf.lite.TFLiteConverter.from_keras_model(self.model)
        return tf.lite.TFLiteConverter.from_saved_model(self.path)

    def reference(self, tf, input_names: List[str]) -> Optional[Callable[[Dict[str, np.ndarray]], Dict[str, np.ndarray]]]:
        """A function running the source model in TensorFlow on one sample, returning
        outputs by name; None for multi-input models (the float conversion is the
        reference then)."""
        if len(input_names) != 1:
            return None
        name = input_names[0]
        if self.kind == "keras":
            model = self.model

            def run(sample: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
                y = model(tf.constant(sample[name]), training=False)
                return _named_outputs(y)

            return run
        sigs = getattr(self.model, "signatures", {})
        if "serving_default" not in sigs:
            return None
        fn = sigs["serving_default"]
        try:
            keys = list(fn.structured_input_signature[1].keys())
        except Exception:
            return None
        if len(keys) != 1:
            return None
        key = keys[0]

        def run_sm(sample: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
            out = fn(**{key: tf.constant(sample[name])})
            return {k: _np(v) for k, v in out.items()}

        return run_sm


def _np(v: Any) -> np.ndarray:
    return np.asarray(v.numpy() if hasattr(v, "numpy") else v)


def _named_outputs(y: Any) -> Dict[str, np.ndarray]:
    if isinstance(y, Mapping):
        return {str(k): _np(v) for k, v in y.items()}
    if isinstance(y, (list, tuple)):
        return {f"output_{i}": _np(v) for i, v in enumerate(y)}
    return {"output_0": _np(y)}


def _check_source_path(src: Any) -> Optional[str]:
    """The source's kind from its path ("keras" / "saved_model"), checked without
    TensorFlow; None for an in-memory model object."""
    if not isinstance(src, (str, os.PathLike)):
        if hasattr(src, "layers") and hasattr(src, "inputs"):
            return None
        raise InputError(f"source: expected a Keras model file, a SavedModel directory or a keras.Model, "
                         f"got {type(src).__name__}")
    path = os.fsdecode(os.fspath(src))
    if not os.path.exists(path):
        raise InputError(f"source {path!r} does not exist")
    if os.path.isdir(path):
        if not os.path.isfile(os.path.join(path, "saved_model.pb")):
            raise InputError(f"source {path!r} is a directory without saved_model.pb: expected a "
                             "SavedModel directory, or a Keras model file (.keras, .h5)")
        return "saved_model"
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".keras", ".h5", ".hdf5"):
        raise InputError(f"source {path!r}: unknown model format {ext or '(no extension)'!r}; expected a "
                         "Keras model file (.keras, .h5) or a SavedModel directory")
    return "keras"


_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_MAGIC = (  # (offset, bytes, what the file is)
    (0, b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (0, b"\xff\xd8\xff", "a JPEG image"),
    (0, b"GIF8", "a GIF image"),
    (0, b"BM", "a BMP image"),
    (4, b"TFL3", "a TFLite model (already converted: edgerun inspect / bench take it as it is)"),
    (0, b"PK\x03\x04", "a zip archive"),
    (0, b"PK\x05\x06", "an empty zip archive"),
    (0, b"\x1f\x8b", "a gzip archive"),
    (0, b"%PDF", "a PDF document"),
    (0, b"\x93NUMPY", "a NumPy .npy array"),
    (0, b"\x08\x01\x12", "an ONNX or other protobuf file"),
)


def describe_file(path: str) -> str:
    """What a file is, from its first bytes ("a PNG image", "a zip archive", "an HDF5 file",
    "an empty file", "text", ...): for messages about files that are not what their name says."""
    with open(path, "rb") as f:
        head = f.read(4096)
    if not head:
        return "an empty file"
    for offset, magic, what in _MAGIC:
        if head[offset:offset + len(magic)] == magic:
            return what
    if _is_hdf5(path):
        return "an HDF5 file"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return f"data of an unknown format (first bytes {head[:8].hex(' ')})"
    first = text.lstrip()[:1]
    return "a JSON text file" if first in "{[" and first else "a text file"


def _is_hdf5(path: str) -> bool:
    """HDF5's signature sits at offset 0, or 512, 1024, 2048 ... after a user block."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        offset = 0
        while offset + 8 <= size:
            f.seek(offset)
            if f.read(8) == _HDF5_SIGNATURE:
                return True
            offset = 512 if offset == 0 else offset * 2
    return False


def _check_keras_file(path: str) -> None:
    """A .keras file is a zip archive, an .h5 file an HDF5 file: say what the file is when it
    is neither (Keras itself says "File not found" for a file that exists)."""
    ext = os.path.splitext(path)[1].lower()
    if ext == ".keras":
        with open(path, "rb") as f:
            ok = f.read(4) == b"PK\x03\x04"
        expected = "a .keras file is the zip archive that model.save('model.keras') writes"
    else:
        ok = _is_hdf5(path)
        expected = f"a {ext} file is the HDF5 file that model.save('model.h5') writes"
    if not ok:
        raise InputError(f"source {path!r} is not a Keras model file: it is {describe_file(path)}; {expected}")


def _load_source(tf, src: Any) -> _Source:
    keras = tf.keras
    if isinstance(src, keras.Model):
        return _Source("keras", f"<{type(src).__name__} {src.name}>", None, src, None)
    kind = _check_source_path(src)
    if kind is None:
        raise InputError(f"source: expected a keras.Model of this TensorFlow's Keras, got {type(src).__name__}")
    path = os.fsdecode(os.fspath(src))
    if kind == "saved_model":
        size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)
        try:
            loaded = tf.saved_model.load(path)
        except Exception as e:
            raise ModelError(f"cannot load SavedModel {path!r}: {_first_error_line(str(e))}") from None
        return _Source("saved_model", path, size, loaded, path)
    _check_keras_file(path)
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as e:
        msg = " ".join(str(e).split())
        if "file not found" in msg.lower():  # Keras's words for "exists, but not a model it can read"
            msg = f"Keras cannot read this {describe_file(path)} as a model ({msg})"
        raise ModelError(f"cannot load Keras model {path!r}: {msg[:400]}") from None
    return _Source("keras", path, os.path.getsize(path), model, path)


# --------------------------------------------------------------------------- pruning / clustering
def _import_tfmot(what: str):
    try:
        import tensorflow_model_optimization as tfmot  # noqa: F401
    except ImportError as e:
        detail = "" if getattr(e, "name", None) == "tensorflow_model_optimization" else f" ({e})"
        raise DependencyError(f"{what} needs tensorflow-model-optimization, which could not be "
                              f"imported{detail}: {_INSTALL_TFMOT}") from None
    return tfmot


def _kernels(model) -> List[Any]:
    """The kernels (weight matrices / filters, not biases or normalization
    statistics) of a Keras model: what tensorflow-model-optimization prunes and clusters."""
    out = []
    for w in model.weights:
        name = str(getattr(w, "path", None) or w.name).split(":")[0].rsplit("/", 1)[-1]
        if name.endswith("kernel") and len(w.shape) >= 2:
            out.append(w)
    return out


def _optimize(tf, source: _Source, prune: Optional[float], cluster: Optional[int]) -> Dict[str, Any]:
    """One-shot magnitude pruning and/or weight clustering of a Keras model's kernels with
    tensorflow-model-optimization's algorithms (its magnitude-threshold mask and its k-means++
    centroid initialisation, nearest-centroid assignment), without fine-tuning. Its Keras
    wrappers (prune_low_magnitude, cluster_weights) only accept tf-keras (Keras 2) layers,
    so the algorithms are applied to the model's variables directly, which works for
    Keras 2 and 3 alike. Returns what was done."""
    done: Dict[str, Any] = {}
    if prune is None and cluster is None:
        return done
    what = " and ".join(x for x, v in (("--prune", prune), ("--cluster", cluster)) if v is not None)
    if source.kind != "keras":
        raise InputError(f"{what} work on Keras models (.keras, .h5), not on a SavedModel directory")
    legacy = os.environ.get("TF_USE_LEGACY_KERAS")
    try:
        tfmot = _import_tfmot(what)
        from tensorflow_model_optimization.python.core.clustering.keras import clustering_centroids
        from tensorflow_model_optimization.python.core.clustering.keras.cluster_config import CentroidInitialization
        from tensorflow_model_optimization.python.core.sparsity.keras import pruning_impl
    finally:  # tfmot switches TensorFlow to tf-keras for later imports; keep ours as it was
        if legacy is None:
            os.environ.pop("TF_USE_LEGACY_KERAS", None)
        else:
            os.environ["TF_USE_LEGACY_KERAS"] = legacy
    kernels = _kernels(source.model)
    if not kernels:
        raise ModelError(f"{what}: the model has no kernels (Conv / Dense weights) to optimize")
    if prune is not None:
        sched = tfmot.sparsity.keras.ConstantSparsity(float(prune), begin_step=0, frequency=1)
        pruner = pruning_impl.Pruning(lambda: tf.constant(0, tf.int64), [], sched, (1, 1), "AVG")
        zeros = total = 0
        for w in kernels:
            value = np.asarray(w.numpy())
            _, mask = pruner._update_mask(tf.constant(value))
            new = value * np.asarray(mask.numpy(), value.dtype)
            w.assign(new)
            zeros += int(np.sum(new == 0))
            total += new.size
        done["prune"] = {"sparsity": float(prune), "achieved": zeros / max(total, 1), "kernels": len(kernels),
                         "fine_tuned": False}
    if cluster is not None:
        init = clustering_centroids.CentroidsInitializerFactory.get_centroid_initializer(
            CentroidInitialization.KMEANS_PLUS_PLUS)
        clustered = 0
        for w in kernels:
            value = np.asarray(w.numpy())
            if value.size <= int(cluster):
                continue
            centroids = np.asarray(init(tf.constant(value), int(cluster),
                                        preserve_sparsity=prune is not None).get_cluster_centroids().numpy(),
                                   value.dtype).ravel()
            idx = np.argmin(np.abs(value.reshape(-1, 1) - centroids.reshape(1, -1)), axis=1)
            w.assign(centroids[idx].reshape(value.shape))
            clustered += 1
        done["cluster"] = {"clusters": int(cluster), "kernels": clustered, "fine_tuned": False}
    return done


# --------------------------------------------------------------------------- data
_YUV420 = ("nv12", "nv21", "i420")
_YUV422 = ("yuyv", "uyvy")


def rgb_to_format(rgb: np.ndarray, fmt: str) -> np.ndarray:
    """An RGB image (H x W x 3 uint8) as a camera frame in ``fmt`` (what the
    Preprocessor takes): YUV formats use BT.601 limited range (the Preprocessor's
    default) with averaged chroma; odd widths/heights are cropped to even for them."""
    rgb = np.ascontiguousarray(rgb[..., :3], dtype=np.uint8)
    if fmt == "rgb":
        return rgb
    if fmt == "bgr":
        return np.ascontiguousarray(rgb[..., ::-1])
    if fmt in ("rgba", "bgra"):
        base = rgb if fmt == "rgba" else rgb[..., ::-1]
        return np.ascontiguousarray(np.concatenate([base, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], axis=2))
    f = rgb.astype(np.float64)
    r, g, b = f[..., 0], f[..., 1], f[..., 2]
    luma = 0.299 * r + 0.587 * g + 0.114 * b
    if fmt == "gray":
        return np.clip(np.rint(luma), 0, 255).astype(np.uint8)
    h, w = rgb.shape[0] & ~1, rgb.shape[1] & ~1
    if h == 0 or w == 0:
        raise InputError(f"image of {rgb.shape[1]}x{rgb.shape[0]} pixels is too small for {fmt}")
    luma, r, g, b = luma[:h, :w], r[:h, :w], g[:h, :w], b[:h, :w]
    y = 16.0 + 219.0 / 255.0 * luma
    u = 128.0 + 224.0 / 255.0 * (-0.168736 * r - 0.331264 * g + 0.5 * b)
    v = 128.0 + 224.0 / 255.0 * (0.5 * r - 0.418688 * g - 0.081312 * b)

    def q(a: np.ndarray) -> np.ndarray:
        return np.clip(np.rint(a), 0, 255).astype(np.uint8)

    if fmt in _YUV420:
        u2 = u.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
        v2 = v.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
        yq, uq, vq = q(y), q(u2), q(v2)
        if fmt == "i420":
            chroma = np.concatenate([uq.ravel(), vq.ravel()]).reshape(h // 2, w)
        else:
            first, second = (uq, vq) if fmt == "nv12" else (vq, uq)
            chroma = np.stack([first, second], axis=2).reshape(h // 2, w)
        return np.ascontiguousarray(np.concatenate([yq, chroma], axis=0))
    if fmt in _YUV422:
        u2 = q(u.reshape(h, w // 2, 2).mean(axis=2))
        v2 = q(v.reshape(h, w // 2, 2).mean(axis=2))
        yq = q(y).reshape(h, w // 2, 2)
        if fmt == "yuyv":
            packed = np.stack([yq[..., 0], u2, yq[..., 1], v2], axis=2)
        else:
            packed = np.stack([u2, yq[..., 0], v2, yq[..., 1]], axis=2)
        return np.ascontiguousarray(packed.reshape(h, w, 2))
    raise InputError(f"format: expected one of {', '.join(FORMATS)}, got {fmt!r}")


@dataclasses.dataclass
class _Data:
    """Model-ready input samples (float32, the float model's input shapes), loaded lazily."""

    source: str
    kind: str  # "images" | "arrays" | "synthetic"
    count: int
    load: Callable[[int], Dict[str, np.ndarray]]
    cache: Dict[int, Dict[str, np.ndarray]] = dataclasses.field(default_factory=dict)

    def __getitem__(self, i: int) -> Dict[str, np.ndarray]:
        if i not in self.cache:
            self.cache[i] = self.load(i)
        return self.cache[i]

    def describe(self) -> Dict[str, Any]:
        return {"source": self.source, "kind": self.kind, "samples": self.count}




def _open_data(path: PathLike, specs: List[Any], samples: int, pre: Dict[str, Any], tf, what: str) -> _Data:
    p = os.fsdecode(os.fspath(path))
    if not os.path.exists(p):
        raise InputError(f"{what} {p!r} does not exist (expected a directory of images, a .npy or a .npz file)")
    if os.path.isdir(p):
        return _image_data(p, specs, samples, pre, tf, what)
    ext = os.path.splitext(p)[1].lower()
    if ext not in (".npy", ".npz"):
        raise InputError(f"{what} {p!r}: expected a directory of images, a .npy or a .npz file")
    try:
        loaded = np.load(p, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise InputError(f"{what} {p!r} cannot be read as {ext}: {e}") from None
    if ext == ".npy":
        if len(specs) != 1:
            raise InputError(f"{what} {p!r}: the model has {len(specs)} inputs; give a .npz file with one "
                             f"array per input ({', '.join(s.name for s in specs)})")
        arrays = {specs[0].name: loaded}
    else:
        keys = list(loaded.keys())
        arrays = {}
        for i, s in enumerate(specs):
            key = s.name if s.name in keys else (f"arr_{i}" if f"arr_{i}" in keys else None)
            if key is None:
                raise InputError(f"{what} {p!r}: no array named {s.name!r} (or arr_{i}); it holds {keys}")
            arrays[s.name] = loaded[key]
    n = None
    for s in specs:
        a = arrays[s.name]
        want = tuple(s.shape[1:])
        if a.ndim != len(s.shape) or tuple(a.shape[1:]) != want:
            raise InputError(f"{what} {p!r}: input {s.name!r} expects samples of shape {list(want)} stacked "
                             f"along a first axis, i.e. [N, {', '.join(map(str, want))}]; got {list(a.shape)}")
        if a.dtype.kind not in "fiu":
            raise InputError(f"{what} {p!r}: expected numbers, got dtype {a.dtype}")
        n = a.shape[0] if n is None else min(n, a.shape[0])
    if not n:
        raise InputError(f"{what} {p!r} holds no samples")
    count = min(n, samples)
    arrs = {k: np.asarray(v) for k, v in arrays.items()}
    dtypes = {s.name: s.dtype for s in specs}
    return _Data(p, "arrays", count,
                 lambda i: {k: np.ascontiguousarray(v[i:i + 1], dtype=dtypes[k]) for k, v in arrs.items()})


def _image_data(p: str, specs: List[Any], samples: int, pre: Dict[str, Any], tf, what: str) -> _Data:
    from ..preprocess import Preprocessor

    files = sorted(f for f in os.listdir(p) if f.lower().endswith(_IMAGE_EXTS) and os.path.isfile(os.path.join(p, f)))
    if not files:
        raise InputError(f"{what} {p!r} holds no images ({', '.join(_IMAGE_EXTS)})")
    if len(specs) != 1 or len(specs[0].shape) != 4:
        shapes = ", ".join(f"{s.name} {list(s.shape)}" for s in specs)
        raise InputError(f"{what}: a directory of images needs a model with one image input "
                         f"[1, H, W, C] or [1, C, H, W]; this one has {shapes}")
    if pre.get("mean") is None or pre.get("std") is None:
        raise InputError(f"{what} {p!r} holds images: give the normalization the model expects, "
                         "--mean and --std (e.g. --mean 127.5 --std 127.5 for inputs in [-1, 1])")
    spec = specs[0]
    if spec.dtype != np.float32:
        raise InputError(f"{what}: images are fed to float32 image inputs; input {spec.name!r} is {spec.dtype}")
    fmt = pre.get("format") or "rgb"
    kwargs = {k: pre[k] for k in ("fit", "mean", "std", "channels", "layout") if pre.get(k) is not None}
    pp = Preprocessor(fmt, **kwargs)
    files = files[:samples]

    def load(i: int) -> Dict[str, np.ndarray]:
        fp = os.path.join(p, files[i])
        try:
            with open(fp, "rb") as f:
                raw = f.read()
            img = tf.io.decode_image(raw, channels=3, expand_animations=False).numpy()
        except Exception as e:
            raise InputError(f"{what}: cannot decode image {fp!r}: {_first_error_line(str(e))}") from None
        frame = rgb_to_format(img, fmt)
        out = np.empty(spec.shape, np.float32)
        pp(frame, out)
        return {spec.name: out}

    return _Data(p, "images", len(files), load)


def _synthetic_data(specs: List[Any], count: int) -> _Data:
    rng = np.random.default_rng(0)
    def one(s) -> np.ndarray:
        if s.dtype.kind == "f":
            return rng.uniform(-1.0, 1.0, size=s.shape).astype(s.dtype)
        if s.dtype.kind in "iu":
            return rng.integers(0, 10, size=s.shape).astype(s.dtype)
        return np.zeros(s.shape, s.dtype)

    samples = [{s.name: one(s) for s in specs} for _ in range(count)]
    return _Data("random: floats uniform in [-1, 1], integers in 0..9; seed 0", "synthetic inputs", count,
                 lambda i: samples[i])


# --------------------------------------------------------------------------- running converted models
def _to_input(x: np.ndarray, spec) -> np.ndarray:
    if spec.dtype.kind in "iu":
        info = np.iinfo(spec.dtype)
        scale = spec.scale or 1.0
        q = np.rint(x.astype(np.float64) / scale) + spec.zero_point
        return np.clip(q, info.min, info.max).astype(spec.dtype)
    return np.ascontiguousarray(x, dtype=spec.dtype)


def _from_output(y: np.ndarray, spec) -> np.ndarray:
    if spec.dtype.kind in "iu" and spec.scale:
        return (y.astype(np.float64) - spec.zero_point) * spec.scale
    return y.astype(np.float64)


def _run_all(session, data: _Data) -> List[List[np.ndarray]]:
    specs = session.inputs
    outs = []
    for i in range(data.count):
        sample = data[i]
        arrays = [_to_input(sample[s.name], s) for s in specs]
        ys = session.run(*arrays, copy=True)
        outs.append([_from_output(y, s) for y, s in zip(ys, session.outputs)])
    return outs


#: a timed sample lasts at least this long (us): batches of runs for fast models, so that
#: the clock's resolution and one-off hiccups do not decide the result
MIN_SAMPLE_US = 2000.0
#: ratios closer to 1 than this are reported as within noise whatever the interval says:
#: smaller differences do not survive a change of machine load
NOISE_FLOOR = 0.05


def _median_ci(values: np.ndarray, z: float = 1.96) -> Tuple[float, float]:
    """Distribution-free ~95% confidence interval of the median (order statistics)."""
    v = np.sort(np.asarray(values, np.float64))
    n = len(v)
    half = z * np.sqrt(n) / 2.0
    lo = int(np.floor(n / 2.0 - half))
    hi = int(np.ceil(n / 2.0 + half)) - 1
    return float(v[max(lo, 0)]), float(v[min(hi, n - 1)])


def measure_latency(sessions: Sequence[Any], inputs: Sequence[Sequence[Sequence[np.ndarray]]],
                    samples: int) -> Dict[str, Any]:
    """Latency of each session and the ratio of the second to the first.

    ``inputs[j]`` holds input sets for session j (used in turn). Each of ``samples`` rounds
    times one sample per session: a batch of back-to-back runs lasting >= MIN_SAMPLE_US
    (the batch size is found from untimed warm-up runs), divided by the batch size. The
    sessions take turns sample by sample, the order flipping every round, so that a slow
    spell of the machine (other processes, frequency changes) and the spinning of the
    other session's worker threads hit both alike. Returns ``{"sessions": [{p25_us,
    p50_us, p75_us, runs_per_sample}], "ratio", "ci95", "within_noise", "samples"}``:
    ``ratio`` is the median of the per-round ratios (second / first), ``ci95`` its ~95%
    interval; ``within_noise`` when that interval includes 1 or the ratio is within
    NOISE_FLOOR of 1.
    """
    clock = time.perf_counter_ns
    samples = max(int(samples), 1)
    batch = []
    for sess, ins in zip(sessions, inputs):
        ts = []
        for k in range(8):
            t = clock()
            sess.run(*ins[k % len(ins)])
            ts.append((clock() - t) / 1e3)
        per_run = max(float(np.median(ts[3:])), 0.05)
        batch.append(int(min(10000, max(1, np.ceil(MIN_SAMPLE_US / per_run)))))
    n = len(sessions)
    times = np.empty((n, samples))
    for k in range(samples):
        for j in (range(n) if k % 2 == 0 else reversed(range(n))):
            sess, ins, b = sessions[j], inputs[j], batch[j]
            t = clock()
            for r in range(b):
                sess.run(*ins[(k * b + r) % len(ins)])
            times[j, k] = (clock() - t) / 1e3 / b
    out: Dict[str, Any] = {"samples": samples, "sessions": []}
    for j in range(n):
        p25, p50, p75 = np.percentile(times[j], [25, 50, 75])
        out["sessions"].append({"p25_us": float(p25), "p50_us": float(p50), "p75_us": float(p75),
                                "runs_per_sample": batch[j]})
    if n >= 2:
        ratios = times[1] / times[0]
        ratio = float(np.median(ratios))
        lo, hi = _median_ci(ratios)
        out.update(ratio=ratio, ci95=[lo, hi],
                   within_noise=bool(lo <= 1.0 <= hi or abs(ratio - 1.0) < NOISE_FLOOR))
    return out


def latency_ratio_text(lat: Dict[str, Any]) -> str:
    """``x0.52 (95% CI x0.50-x0.55)``, with ``: within noise`` when it is."""
    if not lat or "ratio" not in lat:
        return "not measured"
    lo, hi = lat["ci95"]
    text = f"x{lat['ratio']:.2f} (95% CI x{lo:.2f}-x{hi:.2f}, {lat['samples']} samples)"
    return text + ": within noise, no measurable difference" if lat["within_noise"] else text


def _latencies(sessions: Sequence[Any], data: _Data, runs: int) -> Dict[str, Any]:
    inputs = [[[_to_input(data[i][s.name], s) for s in sess.inputs] for i in range(min(data.count, 8))]
              for sess in sessions]
    return measure_latency(sessions, inputs, runs)


def _agreement(names: List[str], shapes: List[Tuple[int, ...]], ref: List[List[np.ndarray]],
               got: List[List[np.ndarray]]) -> List[OutputAgreement]:
    out = []
    for j, (name, shape) in enumerate(zip(names, shapes)):
        r = np.stack([np.asarray(s[j], np.float64).reshape(shape) for s in ref])
        g = np.stack([np.asarray(s[j], np.float64).reshape(shape) for s in got])
        err = g - r
        top1 = None
        if len(shape) == 2 and shape[0] == 1 and shape[1] >= 2:
            top1 = float(np.mean(r.reshape(len(r), -1).argmax(1) == g.reshape(len(g), -1).argmax(1)))
        noise = float(np.sum(err * err))
        signal = float(np.sum(r * r))
        snr = None if noise == 0.0 else (10.0 * math.log10(signal / noise) if signal > 0 else -math.inf)
        if snr is not None and not math.isfinite(snr):
            snr = -999.0
        out.append(OutputAgreement(name, tuple(shape), top1, float(np.max(np.abs(err))) if err.size else 0.0,
                                   float(np.mean(np.abs(err))) if err.size else 0.0, snr))
    return out


def _match_reference(outputs: List[Any], ref: Dict[str, np.ndarray]) -> Optional[List[str]]:
    """Reference output name for each converted-model output (by name, else by a
    unique shape), or None if they cannot be matched."""
    names = [o.name for o in outputs]
    if all(n in ref for n in names):
        return names
    picked = []
    for o in outputs:
        cands = [k for k, v in ref.items() if tuple(np.shape(v)) == tuple(o.shape)]
        if len(cands) != 1:
            return None
        picked.append(cands[0])
    return picked if len(set(picked)) == len(picked) else None


# --------------------------------------------------------------------------- convert
def _parse_floats(v: Any, what: str) -> Optional[Tuple[float, ...]]:
    if v is None:
        return None
    if isinstance(v, str):
        try:
            vals = [float(x) for x in v.replace(",", " ").split()]
        except ValueError:
            raise InputError(f"{what}: expected a number or 3 comma-separated numbers, got {v!r}") from None
    elif isinstance(v, (int, float)):
        vals = [float(v)]
    else:
        vals = [float(x) for x in v]
    if len(vals) not in (1, 3):
        raise InputError(f"{what}: expected 1 or 3 values, got {len(vals)}")
    return tuple(vals * 3 if len(vals) == 1 else vals)


def convert(
    src: Any,
    out: PathLike,
    quantize: str = "none",
    *,
    io_type: Optional[str] = None,
    calibration: Optional[PathLike] = None,
    samples: int = 100,
    validation: Optional[PathLike] = None,
    preprocess: Optional[Mapping[str, Any]] = None,
    metadata: Optional[Mapping[str, Any]] = None,
    prune: Optional[float] = None,
    cluster: Optional[int] = None,
    threads: Optional[int] = None,
    runs: int = 50,
    report: Optional[PathLike] = None,
    progress: bool = False,
    quiet: bool = True,
) -> ConvertReport:
    """Converts a Keras model (file or object) or a SavedModel directory to ``out``.

    Args:
        quantize: ``none`` (float32), ``dynamic`` (int8 weights, float activations),
            ``float16`` (float16 weights), ``int8`` (full integer, float I/O),
            ``int8-io`` (full integer with ``io_type`` inputs/outputs).
        io_type: ``int8`` (default) or ``uint8``; only with ``int8-io``.
        calibration: representative data, needed by ``int8`` / ``int8-io``: a
            directory of images (fed through :class:`edgerun.Preprocessor` with
            ``preprocess``), a ``.npy`` of model-ready float inputs ``[N, ...]``, or
            a ``.npz`` with one such array per input (by input name or ``arr_<i>``).
        samples: use at most this many calibration / validation samples.
        validation: data to measure agreement on (same kinds); default: the
            calibration data, else 16 random inputs.
        preprocess: ``format`` (camera pixel format of the deployment), ``mean``,
            ``std`` (pixel units), ``fit``, ``channels``; used for image data and
            written into the output's metadata.
        metadata: ``name``, ``version``, ``description``, ``author``, ``license``,
            ``labels`` (list or path to a file with one label per line).
        prune: sparsity in (0, 1), applied to a Keras model with
            tensorflow-model-optimization (no fine-tuning).
        cluster: number of weight clusters, applied the same way.
        threads: CPU threads for the latency measurement (default: edgerun's default).
        runs: timed samples per model (each a batch of runs lasting >= 2 ms); the report
            gives the median and IQR per model and the after/before ratio with its ~95%
            interval, marked within noise when the interval includes 1 (or it is < 5% off).
        report: also write the report as JSON there.
        progress: show a calibration progress bar on stderr.
        quiet: keep TensorFlow's console output out of the way (shown in errors).

    Raises :class:`edgerun.InputError` (bad arguments, data or paths),
    :class:`edgerun.ModelError` (the model cannot be loaded or converted) and
    :class:`edgerun.DependencyError` (TensorFlow or tensorflow-model-optimization
    missing). Nothing is written unless everything succeeded; files are written
    atomically.
    """
    from ..model.inspect import inspect
    from ..session import Session

    # ---- arguments (checked before TensorFlow is imported) --------------------------
    _check_choice(quantize, QUANTIZE_MODES, "quantize")
    if io_type is not None and quantize != "int8-io":
        raise InputError(f"io_type applies to quantize='int8-io' only (got quantize={quantize!r})")
    _check_choice(io_type, IO_TYPES, "io_type")
    if quantize == "int8-io" and io_type is None:
        io_type = "int8"
    if quantize in ("int8", "int8-io") and calibration is None:
        raise InputError(f"quantize={quantize!r} needs calibration data: a directory of images or a .npy/.npz "
                         "file of model inputs (--calibration)")
    if calibration is not None and quantize not in ("int8", "int8-io"):
        raise InputError(f"calibration data is used by int8 / int8-io only (got quantize={quantize!r}); "
                         "use --validation to measure agreement on it")
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise InputError(f"samples: expected a positive integer, got {samples!r}")
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise InputError(f"runs: expected a positive integer, got {runs!r}")
    if prune is not None and not (isinstance(prune, (int, float)) and 0.0 < float(prune) < 1.0):
        raise InputError(f"prune: expected a sparsity between 0 and 1 (e.g. 0.5), got {prune!r}")
    if cluster is not None and (isinstance(cluster, bool) or not isinstance(cluster, int) or cluster < 2):
        raise InputError(f"cluster: expected a number of clusters >= 2, got {cluster!r}")
    pre = dict(preprocess or {})
    unknown = set(pre) - {"format", "mean", "std", "fit", "channels", "layout"}
    if unknown:
        raise InputError(f"preprocess: unknown option(s) {', '.join(sorted(unknown))}; expected format, mean, std, "
                         "fit, channels, layout")
    _check_choice(pre.get("format"), FORMATS, "format")
    _check_choice(pre.get("fit"), FITS, "fit")
    _check_choice(pre.get("channels"), CHANNELS, "channels")
    pre["mean"] = _parse_floats(pre.get("mean"), "mean")
    pre["std"] = _parse_floats(pre.get("std"), "std")
    if pre["std"] is not None and 0.0 in pre["std"]:
        raise InputError(f"std: expected non-zero values, got {pre['std']!r}")
    if (pre["mean"] is None) != (pre["std"] is None):
        raise InputError("give both mean and std (the normalization (px - mean) / std), or neither")
    md = dict(metadata or {})
    if md.get("labels") is not None and not isinstance(md["labels"], (list, tuple)):
        md["labels"] = list(read_labels(md["labels"]))
    metadata_json(**md, **{k: v for k, v in pre.items() if k != "layout"})  # field check
    src_kind = _check_source_path(src)
    if (prune is not None or cluster is not None) and src_kind == "saved_model":
        raise InputError("--prune / --cluster work on Keras models (.keras, .h5), not on a SavedModel directory")
    out_path = tflite_file.check_writable(out)
    report_path = tflite_file.check_writable(report) if report is not None else None
    for what, p in (("calibration", calibration), ("validation", validation)):
        if p is None:
            continue
        p = os.fsdecode(os.fspath(p))
        if not os.path.exists(p):
            raise InputError(f"{what} {p!r} does not exist (expected a directory of images, a .npy or a "
                             ".npz file)")
        if os.path.isdir(p) and (pre["mean"] is None or pre["std"] is None):
            raise InputError(f"{what} {p!r} holds images: give the normalization the model expects, "
                             "--mean and --std (e.g. --mean 127.5 --std 127.5 for inputs in [-1, 1])")

    # ---- TensorFlow ---------------------------------------------------------------
    quiet_ctx = _Quiet(quiet)
    with quiet_ctx:
        tf = _import_tf()
        source = _load_source(tf, src)

    def run_converter(mode: str, rep: Optional[Callable[[_Quiet], Iterator[Any]]] = None) -> bytes:
        """Converts the source in ``mode``; ``rep(quiet)`` yields calibration samples."""
        conv = source.converter(tf)
        q = _Quiet(quiet)
        if mode != "none":
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
        if mode == "float16":
            conv.target_spec.supported_types = [tf.float16]
        if mode in ("int8", "int8-io"):
            conv.representative_dataset = (lambda: rep(q)) if rep is not None else None
            conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if mode == "int8-io":
            conv.inference_input_type = tf.int8 if io_type == "int8" else tf.uint8
            conv.inference_output_type = tf.int8 if io_type == "int8" else tf.uint8
        try:
            with q, warnings.catch_warnings():
                # e.g. "Statistics for quantized inputs were expected": TF's own noise
                warnings.simplefilter("ignore")
                return bytes(conv.convert())
        except Error:
            raise
        except Exception as e:
            text = str(e) or q.text()
            label = _MODE_LABEL[mode]
            raise ModelError(f"TensorFlow could not convert {source.label} to {label}: "
                             f"{_first_error_line(text)}") from None

    float_bytes = run_converter("none")  # "before": the source as it is
    original_weights = None
    optimizations: Dict[str, Any] = {}
    if prune is not None or cluster is not None:
        original_weights = [np.array(w.numpy()) for w in source.model.weights]
        with _Quiet(quiet):
            optimizations = _optimize(tf, source, prune, cluster)
    before_session = Session(float_bytes, threads=threads)
    specs = list(before_session.inputs)
    layout = pre.get("layout") or (infer_layout(specs[0].shape) if len(specs) == 1 else None)
    if layout is not None:
        pre["layout"] = layout

    calib = None
    if calibration is not None:
        calib = _open_data(calibration, specs, samples, pre, tf, "calibration")

        def representative(q: _Quiet) -> Iterator[Any]:
            # The bar writes to the real stderr while TensorFlow's output is captured.
            bar = _Progress("calibration", calib.count, q, progress)
            for i in range(calib.count):
                sample = calib[i]
                yield [sample[specs[0].name]] if len(specs) == 1 else {s.name: sample[s.name] for s in specs}
                bar.step()
            bar.close()

        quant_bytes = run_converter(quantize, representative)
    elif quantize == "none" and original_weights is None:
        quant_bytes = float_bytes
    else:
        quant_bytes = run_converter(quantize)

    # ---- metadata -------------------------------------------------------------------
    fields = {k: v for k, v in {**md, **pre}.items() if v is not None}
    user_fields = {k for k, v in {**md, **(preprocess or {})}.items() if v is not None}
    labels = fields.get("labels")
    if labels is not None:
        after_outputs = Session(quant_bytes, threads=1).outputs
        if len(after_outputs) == 1 and len(after_outputs[0].shape) == 2:
            classes = after_outputs[0].shape[1]
            if classes != len(labels):
                raise InputError(f"labels: {len(labels)} labels given, but the model's output "
                                 f"{after_outputs[0].name!r} has {classes} classes")
    written: Dict[str, Any] = {}
    if user_fields:
        entry = metadata_json(**fields)
        quant_bytes = tflite_file.with_metadata(quant_bytes, {EDGERUN_METADATA: entry})
        written = json.loads(entry)

    # ---- measurements ---------------------------------------------------------------
    after_session = Session(quant_bytes, threads=threads)
    if validation is not None:
        val = _open_data(validation, specs, samples, pre, tf, "validation")
    elif calib is not None:
        val = calib
    else:
        val = _synthetic_data(specs, min(samples, 16))
    if original_weights is not None:  # agreement is measured against the model as it was given
        for w, v in zip(source.model.weights, original_weights):
            w.assign(v)
    ref_fn = source.reference(tf, [s.name for s in specs])
    reference = "source model (TensorFlow)"
    float_out = _run_all(before_session, val)
    names = [o.name for o in before_session.outputs]
    shapes = [tuple(o.shape) for o in before_session.outputs]
    ref_out: Optional[List[List[np.ndarray]]] = None
    if ref_fn is not None:
        with _Quiet(quiet):
            first = ref_fn(val[0])
            keys = _match_reference(before_session.outputs, first)
            if keys is not None:
                ref_out = [[np.asarray(r[k]) for k in keys] for r in (first, *(ref_fn(val[i]) for i in range(1, val.count)))]
    if ref_out is None:
        ref_out = float_out
        reference = "float32 conversion (the source model's outputs could not be matched by name)" \
            if ref_fn is not None else "float32 conversion (multi-input source)"
    after_names = [o.name for o in after_session.outputs]
    if after_names != names:
        order = [after_names.index(n) for n in names] if sorted(after_names) == sorted(names) else None
        if order is None:
            raise ModelError(f"the converted model's outputs {after_names} differ from the float conversion's {names}")
    else:
        order = list(range(len(names)))
    after_raw = _run_all(after_session, val)
    after_out = [[s[k] for k in order] for s in after_raw]
    before_agree = _agreement(names, shapes, ref_out, float_out)
    after_agree = _agreement(names, shapes, ref_out, after_out)
    lat = _latencies([before_session, after_session], val, runs)
    lat_before, lat_after = lat["sessions"]

    def off(data: bytes) -> Optional[List[str]]:
        x = inspect(data).xnnpack
        if x is None or not x.checked:
            return None
        return [f"{op} x{n}" if n > 1 else op for op, n in x.not_taken_histogram().items()]

    rep = ConvertReport(
        source=source.label, source_kind=source.kind, source_size=source.size, output=out_path,
        quantize=quantize, io_type=io_type if quantize == "int8-io" else None,
        calibration=calib.describe() if calib is not None else None,
        validation=val.describe() if val is not calib else {**val.describe(), "source": "calibration data"},
        reference=reference, threads=after_session.threads, runs=runs,
        before=ModelReport(_MODE_LABEL["none"], len(float_bytes), lat_before["p50_us"], off(float_bytes),
                           before_agree, lat_before["p25_us"], lat_before["p75_us"]),
        after=ModelReport(_MODE_LABEL[quantize], len(quant_bytes), lat_after["p50_us"], off(quant_bytes),
                          after_agree, lat_after["p25_us"], lat_after["p75_us"]),
        metadata=written, optimizations=optimizations, versions=_versions(tf),
        latency={k: lat[k] for k in ("ratio", "ci95", "within_noise", "samples")}
        | {"runs_per_sample": [lat_before["runs_per_sample"], lat_after["runs_per_sample"]]},
    )
    before_session.close()
    after_session.close()
    tflite_file.write_atomic(out_path, quant_bytes)
    if report_path is not None:
        try:
            tflite_file.write_atomic(report_path, (json.dumps(rep.to_dict(), indent=2) + "\n").encode())
        except InputError as e:
            raise InputError(f"the model was written to {out_path!r}, but not the report: {e}") from None
    return rep


def _versions(tf) -> Dict[str, str]:
    from .._runtime import runtime_info
    from .._version import __version__

    out = {"edgerun": __version__, "tensorflow": getattr(tf, "__version__", "?")}
    try:
        out["ai_edge_litert"] = runtime_info()["version"]
    except Exception:  # pragma: no cover
        pass
    return out
