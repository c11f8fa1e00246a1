"""A model's memory before it runs: a static estimate from the file alone.

    est = edgerun.memory_estimate("model.tflite")
    est.total        # bytes the process is expected to grow by when a Session loads it

The estimate adds up what a CPU (XNNPACK) session keeps resident:

    model bytes          the file (mapped and read in full while compiling)
    + 2 x weights        XNNPACK's packed copy of the constant tensors (repacking pads)
    + 3 x activations    peak of a liveness walk over the non-constant tensors
                         (inspect's ``activations_peak``): the runtime's arena plus
                         XNNPACK's own workspace for the delegated part
    + 2 x I/O tensors    edgerun's 64-byte aligned buffers and the runtime's own
    + 512 KiB            per-session bookkeeping (interpreter, delegate, plans)

The coefficients are empirical, fitted as an upper bound on five real models
(BlazeFace short and full range, MediaPipe hand re-crop and selfie segmentation,
ResNet-8; ai-edge-litert 2.3, x86_64): the estimate was 1.2x-1.6x the measured
resident-set growth of loading each (see docs/power.md). Delegates (Edge TPU, GPU)
allocate elsewhere and are not covered.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

__all__ = ["MemoryEstimate", "memory_estimate"]

WEIGHTS_FACTOR = 2
ACTIVATIONS_FACTOR = 3
IO_FACTOR = 2
SESSION_OVERHEAD = 512 * 1024


@dataclasses.dataclass(frozen=True)
class MemoryEstimate:
    """Static estimate of a CPU session's resident memory, in bytes (see module doc)."""

    model_bytes: int
    weights_bytes: int
    activations_peak: int
    io_bytes: int
    total: int

    def __str__(self) -> str:
        from .inspect import human_bytes

        return (f"{human_bytes(self.total)} (model {human_bytes(self.model_bytes)} + {WEIGHTS_FACTOR} x weights "
                f"{human_bytes(self.weights_bytes)} + {ACTIVATIONS_FACTOR} x activations "
                f"{human_bytes(self.activations_peak)} + {IO_FACTOR} x I/O {human_bytes(self.io_bytes)} + "
                f"{human_bytes(SESSION_OVERHEAD)})")


def _tensor_bytes(t: Any) -> int:
    try:
        item = np.dtype(t.dtype).itemsize
    except TypeError:
        item = 1  # string / resource tensors: sized at run time
    n = 1
    for d in t.shape:
        n *= max(int(d), 1)
    return n * item


def estimate_from_details(details: Any) -> MemoryEstimate:
    """The estimate from an :class:`edgerun.ModelDetails` (``edgerun.inspect``)."""
    io = sum(_tensor_bytes(t) for t in details.inputs) + sum(_tensor_bytes(t) for t in details.outputs)
    weights = int(details.weights_total)
    act = int(details.activations_peak)
    total = (int(details.size) + WEIGHTS_FACTOR * weights + ACTIVATIONS_FACTOR * act + IO_FACTOR * io +
             SESSION_OVERHEAD)
    return MemoryEstimate(int(details.size), weights, act, io, total)


def memory_estimate(model: Any) -> MemoryEstimate:
    """Static memory estimate of a model (path or bytes), without compiling it;
    raises :class:`edgerun.ModelError` for an invalid file."""
    from .inspect import inspect

    return estimate_from_details(inspect(model, xnnpack=False))
