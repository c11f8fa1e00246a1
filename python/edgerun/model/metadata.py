"""Model metadata: what a .tflite file says about how to feed it and read it.

Two sources, merged field by field (edgerun's own entry wins):

- ``edgerun_preprocessing``: edgerun's metadata entry (``Model.metadata`` ->
  buffer), UTF-8 JSON written by ``edgerun convert`` / :func:`write_metadata`::

      {"schema": 1, "name": "...", "version": "...", "description": "...",
       "format": "nv12", "fit": "letterbox", "mean": [127.5, 127.5, 127.5],
       "std": [127.5, 127.5, 127.5], "channels": "rgb", "layout": "nhwc",
       "labels": ["cat", "dog"]}

  every key optional; mean/std in 0..255 pixel units (``(px - mean) / std``),
  the convention of :class:`edgerun.Preprocessor` and of TFLite Metadata.
- ``TFLITE_METADATA``: the TFLite Metadata standard (a flatbuffer with file
  identifier ``M001``, written by tflite_support's MetadataPopulator and by
  MediaPipe): model name, version, description, author, license; the first
  input's NormalizationOptions and colour space; the first output's
  TENSOR_AXIS_LABELS file, read from the zip appended to the model.

Also reported: ``min_runtime_version`` (written by the TFLite converter).
"""

from __future__ import annotations

import dataclasses
import os
import json
import numbers
import struct
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from . import tflite_file
from .. import _core
from ..errors import InputError

__all__ = ["ModelMetadata", "read_metadata", "write_metadata", "EDGERUN_METADATA", "METADATA_SCHEMA",
           "BUILTIN_MODEL_NAME", "FORMATS", "FITS", "CHANNELS", "LAYOUTS"]

#: name of edgerun's metadata entry in ``Model.metadata``
EDGERUN_METADATA = "edgerun_preprocessing"
#: version of the JSON held by that entry
METADATA_SCHEMA = 1
#: name (and metadata entry) of the built-in bench model (edgerun.model.builder)
BUILTIN_MODEL_NAME = "edgerun-builtin"

#: values the metadata's ``format``, ``fit``, ``channels`` and ``layout`` may take
# The preprocessing vocabularies, from the core's name tables (cpp/include/edgerun/options.h).
FORMATS = tuple(_core.PreprocessSpec.choices("format"))
FITS = tuple(_core.PreprocessSpec.choices("fit"))
CHANNELS = tuple(_core.PreprocessSpec.choices("channels"))
LAYOUTS = tuple(_core.PreprocessSpec.choices("layout"))
_FORMATS, _FITS, _CHANNELS, _LAYOUTS = FORMATS, FITS, CHANNELS, LAYOUTS  # the old private names
_TEXT_FIELDS = ("name", "version", "description", "author", "license")


@dataclasses.dataclass(frozen=True)
class ModelMetadata:
    """Metadata embedded in a model (every field None when absent)."""

    name: Optional[str] = None
    version: Optional[str] = None
    description: Optional[str] = None
    author: Optional[str] = None
    license: Optional[str] = None
    #: the camera pixel format the deployment uses (a hint for Preprocessor.from_model)
    format: Optional[str] = None
    fit: Optional[str] = None
    #: per channel, 0..255 pixel units: input = (px - mean) / std
    mean: Optional[Tuple[float, ...]] = None
    std: Optional[Tuple[float, ...]] = None
    #: channel order of the model input: rgb, bgr or gray
    channels: Optional[str] = None
    layout: Optional[str] = None
    labels: Optional[Tuple[str, ...]] = None
    min_runtime_version: Optional[str] = None
    #: which entries contributed, e.g. ("edgerun_preprocessing", "TFLITE_METADATA")
    sources: Tuple[str, ...] = ()
    #: every metadata entry of the model: (name, bytes)
    entries: Tuple[Tuple[str, int], ...] = ()
    #: entries that were present but could not be read, with the reason
    problems: Tuple[str, ...] = ()

    def to_dict(self) -> Dict[str, Any]:
        d = dataclasses.asdict(self)
        for k in ("mean", "std", "labels", "sources", "problems"):
            if d[k] is not None:
                d[k] = list(d[k])
        d["entries"] = [{"name": n, "bytes": b} for n, b in self.entries]
        return d

    def preprocessing(self) -> Dict[str, Any]:
        """The Preprocessor keywords this metadata determines (fit, mean, std, channels, layout)."""
        out: Dict[str, Any] = {}
        for k in ("fit", "mean", "std", "channels", "layout"):
            v = getattr(self, k)
            if v is not None:
                out[k] = v
        return out


# --------------------------------------------------------------------------- reading
def read_metadata(model: tflite_file.ModelSource) -> ModelMetadata:
    """The metadata of a model (path or bytes); see the module docstring.

    Raises :class:`edgerun.ModelError` if the model itself is invalid. Metadata
    entries that cannot be parsed are skipped and named in ``problems``.
    """
    data, _ = tflite_file.read_source(model)
    return metadata_from_entries(tflite_file.read_metadata_entries(data), data)


def metadata_from(m: Any, data: bytes) -> ModelMetadata:
    """The metadata of an unpacked model (``ModelT``) and its bytes."""
    return metadata_from_entries(tflite_file.metadata_entries(m, data), data)


def metadata_from_entries(entries: Dict[str, bytes], data: bytes) -> ModelMetadata:
    fields: Dict[str, Any] = {}
    sources: List[str] = []
    problems: List[str] = []
    if "min_runtime_version" in entries:
        fields["min_runtime_version"] = entries["min_runtime_version"].split(b"\0", 1)[0].decode(
            "ascii", "replace") or None
    if "TFLITE_METADATA" in entries:
        try:
            std = _read_tflite_metadata(entries["TFLITE_METADATA"], data)
        except _Unreadable as e:
            problems.append(f"TFLITE_METADATA: {e}")
        else:
            fields.update({k: v for k, v in std.items() if v is not None})
            sources.append("TFLITE_METADATA")
    if EDGERUN_METADATA in entries:
        try:
            ours = _parse_edgerun(entries[EDGERUN_METADATA])
        except _Unreadable as e:
            problems.append(f"{EDGERUN_METADATA}: {e}")
        else:
            fields.update({k: v for k, v in ours.items() if v is not None})
            sources.insert(0, EDGERUN_METADATA)
    return ModelMetadata(**fields, sources=tuple(sources),
                         entries=tuple((n, len(b)) for n, b in entries.items()),
                         problems=tuple(problems))


class _Unreadable(Exception):
    pass


def _parse_edgerun(raw: bytes) -> Dict[str, Any]:
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise _Unreadable(f"not UTF-8 JSON ({e})") from None
    if not isinstance(doc, dict):
        raise _Unreadable(f"expected a JSON object, got {type(doc).__name__}")
    try:
        return _normalize_fields(doc, strict=False)
    except InputError as e:
        raise _Unreadable(str(e)) from None


def _normalize_fields(doc: Dict[str, Any], strict: bool) -> Dict[str, Any]:
    """Checks and normalizes metadata fields; unknown keys are an error when
    ``strict`` (writing) and ignored when reading (newer writers)."""
    out: Dict[str, Any] = {}
    known = set(_TEXT_FIELDS) | {"format", "fit", "mean", "std", "channels", "layout", "labels", "schema"}
    if strict:
        unknown = sorted(set(doc) - known)
        if unknown:
            raise InputError(f"unknown metadata field(s) {', '.join(unknown)}; expected some of "
                             f"{', '.join(sorted(known - {'schema'}))}")
    for k in _TEXT_FIELDS:
        v = doc.get(k)
        if v is not None:
            if not isinstance(v, str):
                raise InputError(f"metadata {k}: expected a string, got {v!r}")
            out[k] = v
    for k, allowed in (("format", FORMATS), ("fit", FITS), ("channels", CHANNELS), ("layout", LAYOUTS)):
        v = doc.get(k)
        if v is not None:
            if v not in allowed:
                raise InputError(f"metadata {k}: expected one of {', '.join(allowed)}, got {v!r}")
            out[k] = v
    for k in ("mean", "std"):
        v = doc.get(k)
        if v is not None:
            out[k] = _floats(v, k)
            if k == "std" and 0.0 in out[k]:
                raise InputError(f"metadata std: expected non-zero values, got {v!r}")
    labels = doc.get("labels")
    if labels is not None:
        if isinstance(labels, str) or not all(isinstance(x, str) for x in labels):
            raise InputError("metadata labels: expected a list of strings")
        out["labels"] = tuple(labels)
    return out


def _floats(v: Any, what: str) -> Tuple[float, ...]:
    if isinstance(v, numbers.Real) and not isinstance(v, bool):
        vals = [float(v)]
    else:
        try:
            vals = [float(x) for x in v]
        except (TypeError, ValueError):
            raise InputError(f"metadata {what}: expected a number or a list of 1 or 3 numbers, got {v!r}") from None
    if len(vals) not in (1, 3) or not all(abs(x) < float("inf") for x in vals):
        raise InputError(f"metadata {what}: expected 1 or 3 finite numbers, got {v!r}")
    if len(vals) == 1:
        vals = vals * 3
    return tuple(vals)


# TFLite Metadata (M001) ----------------------------------------------------
# Field slots of metadata_schema.fbs (a union takes two slots: type, value).
_MM_NAME, _MM_DESCRIPTION, _MM_VERSION, _MM_SUBGRAPHS, _MM_AUTHOR, _MM_LICENSE = 0, 1, 2, 3, 4, 5
_SG_INPUTS, _SG_OUTPUTS = 2, 3
_TM_CONTENT, _TM_PROCESS_UNITS, _TM_FILES = 3, 4, 6
_CT_PROPS_TYPE, _CT_PROPS = 0, 1
_IMAGE_PROPERTIES = 2  # ContentProperties union tag
_IP_COLOR_SPACE = 0
_PU_OPTIONS_TYPE, _PU_OPTIONS = 0, 1
_NORMALIZATION_OPTIONS = 1  # ProcessUnitOptions union tag
_NO_MEAN, _NO_STD = 0, 1
_AF_NAME, _AF_TYPE = 0, 2
_TENSOR_AXIS_LABELS = 2


class _Table:
    """A bounds-checked view of one flatbuffer table."""

    __slots__ = ("buf", "pos", "vt", "vt_len")

    def __init__(self, buf: bytes, pos: int) -> None:
        self.buf = buf
        self.pos = pos
        soffset = self._i32(pos)
        self.vt = pos - soffset
        self.vt_len = self._u16(self.vt)

    def _check(self, at: int, n: int) -> None:
        if at < 0 or at + n > len(self.buf):
            raise _Unreadable(f"offset {at} out of bounds ({len(self.buf)} bytes)")

    def _u16(self, at: int) -> int:
        self._check(at, 2)
        return struct.unpack_from("<H", self.buf, at)[0]

    def _i32(self, at: int) -> int:
        self._check(at, 4)
        return struct.unpack_from("<i", self.buf, at)[0]

    def _u32(self, at: int) -> int:
        self._check(at, 4)
        return struct.unpack_from("<I", self.buf, at)[0]

    def _field(self, slot: int) -> int:
        voff = 4 + 2 * slot
        if voff + 2 > self.vt_len:
            return 0
        off = self._u16(self.vt + voff)
        return self.pos + off if off else 0

    def _deref(self, at: int) -> int:
        return at + self._u32(at)

    def string(self, slot: int) -> Optional[str]:
        at = self._field(slot)
        if not at:
            return None
        start = self._deref(at)
        n = self._u32(start)
        self._check(start + 4, n)
        return bytes(self.buf[start + 4:start + 4 + n]).decode("utf-8", "replace")

    def u8(self, slot: int, default: int = 0) -> int:
        at = self._field(slot)
        if not at:
            return default
        self._check(at, 1)
        return self.buf[at]

    def table(self, slot: int) -> Optional["_Table"]:
        at = self._field(slot)
        return _Table(self.buf, self._deref(at)) if at else None

    def _vector(self, slot: int, elem: int) -> Tuple[int, int]:
        at = self._field(slot)
        if not at:
            return 0, 0
        start = self._deref(at)
        n = self._u32(start)
        self._check(start + 4, n * elem)
        return start + 4, n

    def tables(self, slot: int) -> List["_Table"]:
        start, n = self._vector(slot, 4)
        return [_Table(self.buf, self._deref(start + 4 * i)) for i in range(n)]

    def floats(self, slot: int) -> Tuple[float, ...]:
        start, n = self._vector(slot, 4)
        return struct.unpack_from(f"<{n}f", self.buf, start) if n else ()


def _read_tflite_metadata(raw: bytes, model_data: bytes) -> Dict[str, Any]:
    if len(raw) < 8 or raw[4:8] != b"M001":
        raise _Unreadable("not a TFLite Metadata flatbuffer (file identifier M001)")
    try:
        root = _Table(raw, struct.unpack_from("<I", raw, 0)[0])
        out: Dict[str, Any] = {
            "name": root.string(_MM_NAME),
            "description": root.string(_MM_DESCRIPTION),
            "version": root.string(_MM_VERSION),
            "author": root.string(_MM_AUTHOR),
            "license": root.string(_MM_LICENSE),
        }
        subgraphs = root.tables(_MM_SUBGRAPHS)
        if subgraphs:
            sg = subgraphs[0]
            inputs = sg.tables(_SG_INPUTS)
            if inputs:
                out.update(_input_preprocessing(inputs[0]))
            outputs = sg.tables(_SG_OUTPUTS)
            if outputs:
                out["labels"] = _labels(outputs[0], model_data)
    except (struct.error, RecursionError) as e:
        raise _Unreadable(str(e)) from None
    return out


def _input_preprocessing(t: _Table) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    content = t.table(_TM_CONTENT)
    if content is not None and content.u8(_CT_PROPS_TYPE) == _IMAGE_PROPERTIES:
        props = content.table(_CT_PROPS)
        if props is not None:
            cs = props.u8(_IP_COLOR_SPACE)
            out["channels"] = {1: "rgb", 2: "gray"}.get(cs)
    for unit in t.tables(_TM_PROCESS_UNITS):
        if unit.u8(_PU_OPTIONS_TYPE) != _NORMALIZATION_OPTIONS:
            continue
        opts = unit.table(_PU_OPTIONS)
        if opts is None:
            continue
        mean, std = opts.floats(_NO_MEAN), opts.floats(_NO_STD)
        if mean and std and len(mean) in (1, 3) and len(std) in (1, 3) and 0.0 not in std:
            out["mean"] = tuple(float(v) for v in (mean * 3 if len(mean) == 1 else mean))
            out["std"] = tuple(float(v) for v in (std * 3 if len(std) == 1 else std))
        break
    return out


def _labels(t: _Table, model_data: bytes) -> Optional[Tuple[str, ...]]:
    names = [n for n in (f.string(_AF_NAME) for f in t.tables(_TM_FILES) if f.u8(_AF_TYPE) == _TENSOR_AXIS_LABELS)
             if n]
    if not names:
        return None
    files = tflite_file.associated_files(model_data)
    content = files.get(names[0])
    if content is None:
        return None
    return tuple(_split_labels(content.decode("utf-8", "replace")))


def _split_labels(text: str) -> List[str]:
    lines = [ln.rstrip("\r") for ln in text.split("\n")]
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


# --------------------------------------------------------------------------- writing
def metadata_json(**fields: Any) -> bytes:
    """The bytes of an ``edgerun_preprocessing`` entry holding ``fields`` (checked)."""
    fields = {k: v for k, v in fields.items() if v is not None}
    norm = _normalize_fields(fields, strict=True)
    doc: Dict[str, Any] = {"schema": METADATA_SCHEMA}
    for k, v in norm.items():
        doc[k] = list(v) if isinstance(v, tuple) else v
    return json.dumps(doc, sort_keys=True, ensure_ascii=False).encode("utf-8")


def write_metadata(model: tflite_file.ModelSource, out: Union[str, "os.PathLike[str]", None] = None, *,
                   merge: bool = True, **fields: Any) -> bytes:
    """Writes edgerun metadata into a model; returns the new model bytes.

    ``fields``: name, version, description, author, license, format, fit,
    mean, std (number or 3 numbers, pixel units), channels, layout, labels (a
    list of strings, or a path to a text file with one label per line).
    With ``merge`` (default) fields already in the model's ``edgerun_preprocessing``
    entry are kept unless given. ``out``: where to write the result (atomically);
    None = only return it.
    """
    data, _ = tflite_file.read_source(model)
    labels = fields.get("labels")
    if labels is not None and not isinstance(labels, (list, tuple)):
        fields["labels"] = read_labels(labels)
    if merge:
        m = tflite_file.unpack(data)
        old = tflite_file.metadata_entries(m, data).get(EDGERUN_METADATA)
        if old:
            try:
                prev = _parse_edgerun(old)
            except _Unreadable:
                prev = {}
            fields = {**prev, **{k: v for k, v in fields.items() if v is not None}}
    entry = metadata_json(**fields)
    new = tflite_file.with_metadata(data, {EDGERUN_METADATA: entry})
    if out is not None:
        tflite_file.write_atomic(out, new)
    return new


def read_labels(path: Any) -> Tuple[str, ...]:
    """Labels from a text file, one per line (trailing blank lines dropped)."""
    p = os.fsdecode(os.fspath(path))
    try:
        with open(p, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise InputError(f"cannot read labels file {p!r}: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"labels file {p!r} is not UTF-8 text") from None
    labels = _split_labels(text)
    if not labels:
        raise InputError(f"labels file {p!r} holds no labels (expected one label per line)")
    return tuple(labels)


def infer_layout(shape: Sequence[int]) -> Optional[str]:
    """nhwc / nchw from an image input's shape when unambiguous, else None."""
    dims = [int(d) for d in shape]
    if len(dims) == 4:
        dims = dims[1:]
    if len(dims) != 3:
        return None
    last_c, first_c = dims[2] in (1, 3, 4), dims[0] in (1, 3, 4)
    if last_c and not first_c:
        return "nhwc"
    if first_c and not last_c:
        return "nchw"
    return None
