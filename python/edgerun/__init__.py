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
from . import heads
from ._runtime import runtime_info
from .delegates import AcceleratorFallbackWarning, Delegate, OpPlacement, edgetpu_devices, edgetpu_runtime
from .preprocess import Preprocessor, Transform
from .session import Session, TensorSpec
from .pipeline import FrameResult, FrameTimings, ModelInfo, Pipeline, SwapFuture
from .verify import verify
from .metadata import ModelMetadata, read_metadata, write_metadata
from .modelinfo import ModelDetails, inspect
from .converter import ConvertReport, convert

def _version() -> str:
    # The version is written once, in pyproject.toml; the installed metadata carries it.
    from importlib import metadata

    try:
        return metadata.version("edgerun")
    except metadata.PackageNotFoundError:  # imported from a source tree that was never installed
        return "0+unknown"


__version__ = _version()

__all__ = [
    "heads",
    "Session",
    "TensorSpec",
    "Preprocessor",
    "Transform",
    "Pipeline",
    "FrameResult",
    "FrameTimings",
    "ModelInfo",
    "SwapFuture",
    "verify",
    "inspect",
    "ModelDetails",
    "convert",
    "ConvertReport",
    "ModelMetadata",
    "read_metadata",
    "write_metadata",
    "runtime_info",
    "Delegate",
    "OpPlacement",
    "AcceleratorFallbackWarning",
    "edgetpu_devices",
    "edgetpu_runtime",
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
