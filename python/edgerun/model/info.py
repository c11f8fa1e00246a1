"""What edgerun knows about a model: who it is (:class:`ModelInfo`) and what is
inside it (:class:`ModelDetails`, the result of :func:`edgerun.inspect`).

Names, one per idea:

- :class:`ModelInfo`: the identity of a loaded model (sha256, size, embedded
  name/version, where it came from). Cheap; every Session has one
  (``Session.model_info``) and every pipeline result names its model with it.
- :class:`ModelDetails`, :class:`TensorDetails`, :class:`SignatureDetails`,
  :class:`XnnpackReport`: the full static description :func:`edgerun.inspect`
  reads from the file (tensors, operators, weights, memory, XNNPACK coverage).
  ``TensorInfo`` and ``SignatureInfo`` are the old names of the two middle ones.
- :class:`edgerun.ModelMetadata` (edgerun.model.metadata): what the file's
  metadata entries say (normalization, labels, ...).
- :class:`edgerun.TensorSpec` (edgerun.session): a tensor of a live Session
  (current shape, numpy dtype, quantization).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from typing import Any, Dict, Optional, Tuple

from . import tflite_file
from .metadata import BUILTIN_MODEL_NAME, ModelMetadata, metadata_from_entries

__all__ = ["ModelInfo", "ModelDetails", "TensorDetails", "SignatureDetails", "XnnpackReport",
           "TensorInfo", "SignatureInfo", "INSPECT_SCHEMA"]


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """Which model produced a result: content hash, size and embedded name/version."""

    sha256: str
    size: int
    name: Optional[str] = None
    version: Optional[str] = None
    origin: Optional[str] = None  # path it was loaded from, or "<bytes>"

    def __str__(self) -> str:
        label = self.name or (os.path.basename(self.origin) if self.origin else "model")
        ver = f" v{self.version}" if self.version else ""
        return f"{label}{ver} ({self.sha256[:12]}, {self.size} bytes)"

    @classmethod
    def from_bytes(cls, data: Any, origin: Optional[str] = None, *, verified: bool = False) -> "ModelInfo":
        """The ModelInfo of model bytes (anything with the buffer protocol): one
        sha256 pass, one walk over the metadata entries. ``verified``: the bytes
        passed edgerun's verifier already (a Session that verified its model),
        so they are not checked again."""
        digest = hashlib.sha256(data).hexdigest()
        buf = bytes(data)
        name, version = _name_version(buf, verified)
        return cls(sha256=digest, size=len(buf), name=name, version=version, origin=origin)


def _name_version(data: bytes, verified: bool) -> Tuple[Optional[str], Optional[str]]:
    """(name, version) from the model's metadata entries (edgerun's entry, the TFLite
    standard metadata, the built-in model's entry), else its description."""
    try:
        entries = tflite_file.read_metadata_entries(data, verified=verified)  # one walk over the metadata
        meta = metadata_from_entries(entries, data)
        if meta.name is not None:
            return meta.name, meta.version
        if entries.get(BUILTIN_MODEL_NAME):
            info = json.loads(entries[BUILTIN_MODEL_NAME].decode("utf-8"))
            v = info.get("version")
            return info.get("name"), (None if v is None else str(v))
        desc = tflite_file.schema().Model.GetRootAs(data, 0).Description()
        if desc:
            return desc.decode("utf-8", "replace"), None
    except Exception:  # metadata is informational: never fail a load over it
        pass
    return None, None


#: version of the ``to_dict()`` / ``--json`` layout
INSPECT_SCHEMA = "edgerun.inspect/1"
EDGETPU_CUSTOM_OP = "edgetpu-custom-op"


@dataclasses.dataclass(frozen=True)
class TensorDetails:
    """One input or output tensor of the main subgraph, as the file describes it
    (a live Session describes its tensors as :class:`edgerun.TensorSpec`)."""

    name: str
    #: index in the subgraph's tensor list
    index: int
    shape: Tuple[int, ...]
    #: shape with -1 for dynamic dimensions (the same as shape when all are static)
    shape_signature: Tuple[int, ...]
    dtype: str
    #: per-tensor: one scale and zero point; per-channel: one per channel along ``quantized_dimension``
    scales: Tuple[float, ...] = ()
    zero_points: Tuple[int, ...] = ()
    quantized_dimension: int = 0
    #: where ``shape`` comes from: ``"file"`` (the flatbuffer), or ``"runtime"`` when the file
    #: stores none (e.g. the outputs of TFLite_Detection_PostProcess) and the runtime sized
    #: the tensor when the model was compiled (``inspect(..., xnnpack=True)``)
    shape_from: str = "file"

    @property
    def shape_known(self) -> bool:
        """False when the file stores no shape and no compile supplied one (``shape`` is
        then ``()``, which does not mean a scalar)."""
        return self.shape_from == "runtime" or bool(self.shape) or bool(self.shape_signature)

    @property
    def quantization(self) -> str:
        """``none``, ``per-tensor`` or ``per-channel``."""
        if not self.scales:
            return "none"
        return "per-channel" if len(self.scales) > 1 else "per-tensor"

    def to_dict(self) -> Dict[str, Any]:
        q: Optional[Dict[str, Any]]
        if not self.scales:
            q = None
        elif len(self.scales) == 1:
            q = {"type": "per-tensor", "scale": self.scales[0], "zero_point": self.zero_points[0]}
        else:
            q = {"type": "per-channel", "axis": self.quantized_dimension, "scales": list(self.scales),
                 "zero_points": list(self.zero_points)}
        known = self.shape_known
        return {"name": self.name, "index": self.index, "shape": list(self.shape) if known else None,
                "shape_signature": list(self.shape_signature) if known else None, "shape_from": self.shape_from,
                "dtype": self.dtype, "quantization": q}


@dataclasses.dataclass(frozen=True)
class SignatureDetails:
    """One SignatureDef of the model: key, subgraph, input and output names."""

    key: str
    subgraph: int
    inputs: Tuple[str, ...]
    outputs: Tuple[str, ...]

    def to_dict(self) -> Dict[str, Any]:
        return {"key": self.key, "subgraph": self.subgraph, "inputs": list(self.inputs),
                "outputs": list(self.outputs)}


@dataclasses.dataclass(frozen=True)
class XnnpackReport:
    """Which operators of the main subgraph XNNPACK takes, found by compiling the model.

    ``checked`` is False (and ``error`` says why) when the model could not be
    compiled for the check, e.g. because it has custom operators that only a
    delegate provides.
    """

    checked: bool
    #: operators XNNPACK took / operators of subgraph 0
    delegated: int = 0
    total: int = 0
    #: XNNPACK partitions (each runs as one delegate kernel)
    partitions: int = 0
    #: (operator index, operator name) of the operators left to the reference kernels
    not_taken: Tuple[Tuple[int, str], ...] = ()
    error: Optional[str] = None

    def not_taken_histogram(self) -> Dict[str, int]:
        h: Dict[str, int] = {}
        for _, op in self.not_taken:
            h[op] = h.get(op, 0) + 1
        return h

    def to_dict(self) -> Dict[str, Any]:
        return {"checked": self.checked, "subgraph": 0, "delegated": self.delegated, "total": self.total,
                "partitions": self.partitions,
                "not_taken": [{"index": i, "op": op} for i, op in self.not_taken],
                "error": self.error}


@dataclasses.dataclass(frozen=True)
class ModelDetails:
    """Everything :func:`edgerun.inspect` found out about a model."""

    path: Optional[str]
    size: int
    sha256: str
    #: Model.version (the schema version, 3) and Model.description (converter's text)
    schema_version: int
    description: str
    subgraphs: int
    signatures: Tuple[SignatureDetails, ...]
    inputs: Tuple[TensorDetails, ...]
    outputs: Tuple[TensorDetails, ...]
    #: operator name -> count over all subgraphs; custom operators by their custom code
    operators: Dict[str, int]
    custom_operators: Tuple[str, ...]
    edgetpu_compiled: bool
    #: bytes of constant tensors (weights, biases, lookup tables) by dtype, each buffer counted once
    weights: Dict[str, int]
    #: activation memory estimate, see docs/tools.md
    activations_total: int
    activations_peak: int
    xnnpack: Optional[XnnpackReport]
    metadata: ModelMetadata

    @property
    def weights_total(self) -> int:
        return sum(self.weights.values())

    @property
    def operator_count(self) -> int:
        return sum(self.operators.values())

    def to_dict(self) -> Dict[str, Any]:
        return {
            "schema": INSPECT_SCHEMA,
            "path": self.path,
            "size": self.size,
            "sha256": self.sha256,
            "schema_version": self.schema_version,
            "description": self.description,
            "subgraphs": self.subgraphs,
            "signatures": [s.to_dict() for s in self.signatures],
            "inputs": [t.to_dict() for t in self.inputs],
            "outputs": [t.to_dict() for t in self.outputs],
            "operators": dict(self.operators),
            "operator_count": self.operator_count,
            "custom_operators": list(self.custom_operators),
            "edgetpu_compiled": self.edgetpu_compiled,
            "weights": {"total": self.weights_total, "by_dtype": dict(self.weights)},
            "activations": {"total": self.activations_total, "peak": self.activations_peak},
            "xnnpack": self.xnnpack.to_dict() if self.xnnpack is not None else None,
            "metadata": self.metadata.to_dict(),
        }


#: the old names (edgerun.modelinfo.TensorInfo, ...)
TensorInfo = TensorDetails
SignatureInfo = SignatureDetails
