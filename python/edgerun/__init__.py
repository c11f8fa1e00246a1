"""edgerun: run TensorFlow Lite / LiteRT models from camera loops, fast and safely.

    import edgerun
    session = edgerun.Session("model.tflite")
    outputs = session.run(frame)
"""

from __future__ import annotations

from .errors import (
    BusyError,
    ClosedError,
    DelegateError,
    DependencyError,
    Error,
    InferenceError,
    InputError,
    ModelError,
    RuntimeLoadError,
)
from . import _core
from . import draw, heads
from ._runtime import runtime_info
from ._types import EdgeTpuDevice, EdgeTpuRuntime, PipelineStats, RuntimeInfo
from ._version import __version__
from .delegates import AcceleratorFallbackWarning, Delegate, OpPlacement, edgetpu_devices, edgetpu_runtime
from .preprocess import Preprocessor, Transform
from .session import Session, SessionMemory, TensorSpec
from .model.memory import MemoryEstimate, memory_estimate
from .pipeline import ChangeGate, FrameResult, FrameTimings, ModelGate, Pipeline, SwapFuture
from .cascade import Cascade, CascadeResult
from .verify import verify
from .model.info import ModelDetails, ModelInfo
from .model.inspect import inspect
from .model.metadata import ModelMetadata, read_metadata, write_metadata
from .tools.convert import ConvertReport, convert

__all__ = [
    "heads",
    "draw",
    "Session",
    "TensorSpec",
    "SessionMemory",
    "MemoryEstimate",
    "memory_estimate",
    "Preprocessor",
    "Transform",
    "Pipeline",
    "FrameResult",
    "FrameTimings",
    "PipelineStats",
    "ChangeGate",
    "ModelGate",
    "ModelInfo",
    "SwapFuture",
    "Cascade",
    "CascadeResult",
    "verify",
    "inspect",
    "ModelDetails",
    "convert",
    "ConvertReport",
    "ModelMetadata",
    "read_metadata",
    "write_metadata",
    "runtime_info",
    "RuntimeInfo",
    "Delegate",
    "OpPlacement",
    "AcceleratorFallbackWarning",
    "edgetpu_devices",
    "edgetpu_runtime",
    "EdgeTpuRuntime",
    "EdgeTpuDevice",
    "Error",
    "ModelError",
    "InputError",
    "InferenceError",
    "DelegateError",
    "RuntimeLoadError",
    "BusyError",
    "ClosedError",
    "DependencyError",
    "__version__",
]
