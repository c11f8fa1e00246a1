"""Typed shapes of the dictionaries edgerun returns (for type checkers; at run time they
are plain ``dict``). Re-exported from :mod:`edgerun`."""

from __future__ import annotations

from typing import TypedDict

__all__ = ["PipelineStats", "RuntimeInfo", "EdgeTpuRuntime", "EdgeTpuDevice"]


class PipelineStats(TypedDict):
    """:meth:`edgerun.Pipeline.stats`: counters since the pipeline was created, and
    percentiles / FPS over the last ``window`` results (times in milliseconds)."""

    submitted: int
    completed: int
    failed: int
    dropped: int
    results_discarded: int
    swaps: int
    swap_failures: int
    #: generation of the current model (1 = the first; each swap adds one)
    model: int
    #: results the percentiles and ``fps`` are computed over
    window: int
    latency_p50_ms: float
    latency_p90_ms: float
    latency_p99_ms: float
    preprocess_p50_ms: float
    invoke_p50_ms: float
    decode_p50_ms: float
    fps: float
    #: results produced (completed + failed, skipped included)
    frames: int
    wall_s: float
    #: CPU time of the whole process (every thread) since the pipeline was created
    cpu_s: float
    #: CPU time of this pipeline's worker threads
    worker_cpu_s: float
    #: cores busy on average (``cpu_s / wall_s``)
    cpu_load: float
    cpu_ms_per_frame: float
    worker_cpu_ms_per_frame: float
    voluntary_switches: int
    involuntary_switches: int
    switches_per_frame: float
    gate_ran: int
    gate_skipped: int
    gate_changed: int
    gate_forced: int
    gate_first: int
    gate_p50_ms: float


class RuntimeInfo(TypedDict):
    """:func:`edgerun.runtime_info`: the LiteRT runtime edgerun uses."""

    #: path of libLiteRt.so ("" if none was found)
    library: str
    #: version of the installed ai-edge-litert distribution ("" if none)
    version: str
    #: the ai-edge-litert versions edgerun was checked against, e.g. "2.3.*"
    supported: str
    loaded: bool
    #: why the runtime could not be loaded ("" when it was)
    error: str


class EdgeTpuRuntime(TypedDict):
    """:func:`edgerun.edgetpu_runtime`: which libedgetpu would be used."""

    available: bool
    library: str
    version: str
    error: str


class EdgeTpuDevice(TypedDict):
    """One entry of :func:`edgerun.edgetpu_devices`."""

    #: "usb" or "pci"
    type: str
    path: str
