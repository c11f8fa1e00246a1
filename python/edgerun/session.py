"""edgerun.Session: a compiled model with zero-copy, session-owned I/O buffers."""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Optional, Sequence, Union

import numpy as np

from . import _core
from ._runtime import ensure_runtime
from .errors import InputError

__all__ = ["Session", "TensorSpec"]

ModelSource = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview]


@dataclasses.dataclass(frozen=True)
class TensorSpec:
    """Description of one model input or output."""

    name: str
    shape: tuple
    dtype: np.dtype
    scale: float = 0.0
    zero_point: int = 0
    #: per-channel quantization (empty unless the tensor is per-channel quantized)
    scales: tuple = ()
    zero_points: tuple = ()
    quantized_dimension: int = -1

    @property
    def quantized(self) -> bool:
        return self.scale != 0.0 or bool(self.scales)

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize

    def __str__(self) -> str:
        q = f" q(scale={self.scale:.6g}, zero_point={self.zero_point})" if self.scale else ""
        return f"{self.name}: {self.dtype}{list(self.shape)}{q}"


def _spec(t: tuple) -> TensorSpec:
    name, shape, dtype, scale, zp, scales, zps, qdim = t
    return TensorSpec(name, tuple(shape), np.dtype(dtype), float(scale), int(zp),
                      tuple(scales), tuple(zps), int(qdim))


class Session(_core.Session):
    """A model loaded, verified, compiled and warmed up, ready to run frames.

    Args:
        model: path to a ``.tflite`` file (memory-mapped) or the model's bytes.
        threads: CPU threads for XNNPACK; ``None`` = one per physical core.
        accelerator: ``"cpu"`` (XNNPACK).
        signature: signature key (str) or index (int); ``None`` = the first.
        verify: check the flatbuffer before the runtime sees it (keep this on:
            the runtime itself crashes the process on many corrupted files).

    ``run(*arrays, copy=False)`` returns the outputs as read-only numpy views of
    session-owned buffers that the next run overwrites; ``copy=True`` returns
    copies. ``input(i)`` is a writable view of input ``i``'s buffer: write a frame
    there and call ``run()`` with no arguments for a run with no copy at all.
    """

    def __init__(
        self,
        model: ModelSource,
        *,
        threads: Optional[int] = None,
        accelerator: str = "cpu",
        signature: Union[str, int, None] = None,
        verify: bool = True,
    ) -> None:
        if isinstance(model, (str, os.PathLike)):
            source: Any = os.fsdecode(os.fspath(model))
        elif isinstance(model, (bytes, bytearray, memoryview)):
            source = model
        else:
            raise InputError(
                "model must be a path (str or os.PathLike) or the model's bytes, got "
                f"{type(model).__name__}"
            )
        if threads is None:
            nthreads = 0
        elif isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
            raise InputError(f"threads must be a positive int or None, got {threads!r}")
        else:
            nthreads = int(threads)
        if not isinstance(accelerator, str):
            raise InputError(f"accelerator must be a str, got {type(accelerator).__name__}")
        if signature is not None and (isinstance(signature, bool)
                                      or not isinstance(signature, (str, int))):
            raise InputError(f"signature must be a str, an int or None, got {signature!r}")
        ensure_runtime()
        super().__init__(source, nthreads, accelerator, signature, bool(verify))
        self._spec_cache: Optional[tuple] = None

    # -- descriptions ---------------------------------------------------------
    def _specs_cached(self) -> tuple:
        if self._spec_cache is None:
            self._spec_cache = (
                [_spec(t) for t in self._specs(True)],
                [_spec(t) for t in self._specs(False)],
            )
        return self._spec_cache

    @property
    def inputs(self) -> list:
        """The model's inputs, as :class:`TensorSpec` (current shapes)."""
        return list(self._specs_cached()[0])

    @property
    def outputs(self) -> list:
        """The model's outputs, as :class:`TensorSpec` (current shapes)."""
        return list(self._specs_cached()[1])

    def resize_input(self, key: Union[int, str], shape: Sequence[int]) -> None:
        """Changes the shape of an input (models with dynamic dimensions); outputs follow."""
        try:
            dims = [int(d) for d in shape]
        except (TypeError, ValueError):
            raise InputError(f"shape must be a sequence of ints, got {shape!r}") from None
        super().resize_input(key, dims)
        self._spec_cache = None

    # -- lifetime ---------------------------------------------------------------
    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        if self.closed:
            return "<edgerun.Session closed>"
        ins = ", ".join(str(t) for t in self.inputs)
        outs = ", ".join(str(t) for t in self.outputs)
        return (f"<edgerun.Session {self._origin!s} signature={self.signature!r} "
                f"threads={self.threads} inputs=[{ins}] outputs=[{outs}]>")
