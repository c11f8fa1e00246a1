"""edgerun.Session: a compiled model with zero-copy, session-owned I/O buffers."""

from __future__ import annotations

import dataclasses
import operator
import os
import warnings
from typing import Any, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from . import _core
from ._runtime import ensure_runtime
from .delegates import AcceleratorFallbackWarning, Delegate, OpPlacement, options_pairs
from .errors import InputError, ModelError
from .model.info import ModelInfo
from .model.memory import MemoryEstimate, memory_estimate
from .model.tflite_file import op_name

__all__ = ["Session", "TensorSpec", "InputView", "SessionMemory", "Profile", "ProfileEvent"]

ModelSource = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview]


@dataclasses.dataclass(frozen=True)
class TensorSpec:
    """Description of one model input or output."""

    name: str
    shape: Tuple[int, ...]
    dtype: np.dtype
    scale: float = 0.0
    zero_point: int = 0
    #: per-channel quantization (empty unless the tensor is per-channel quantized)
    scales: Tuple[float, ...] = ()
    zero_points: Tuple[int, ...] = ()
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


class InputView(np.ndarray):
    """A writable numpy view of a session-owned input buffer (``session.input(i)``).

    A plain ``ndarray`` in every respect, plus ``spec`` (the input's
    :class:`TensorSpec`) and its ``scale`` / ``zero_point``, so that
    ``Preprocessor(...)(frame, session.input(0))`` quantizes for that tensor.
    """

    spec: Optional[TensorSpec] = None

    def __array_finalize__(self, obj: Any) -> None:
        if obj is not None and self.spec is None:
            self.spec = getattr(obj, "spec", None)

    @property
    def scale(self) -> Optional[float]:
        return self.spec.scale if self.spec is not None else None

    @property
    def zero_point(self) -> Optional[int]:
        return self.spec.zero_point if self.spec is not None else None


@dataclasses.dataclass(frozen=True)
class SessionMemory:
    """What a session's memory is made of (``Session.memory``), in bytes.

    ``model_bytes``: the model (``model_mapped``: a read-only file mapping, whose
    pages the kernel may share and drop, else a private copy); ``io_bytes``: the
    session-owned input/output buffers; ``load_rss_bytes``: measured growth of
    the process's resident set while the session was verified, compiled and
    warmed up (process-wide, so exact only when no other thread allocated
    meanwhile; None if unknown); ``arena_bytes``: the runtime's tensor arena and
    XNNPACK workspace, None because the LiteRT C API does not report them;
    ``estimate``: the static estimate from the file (:func:`edgerun.memory_estimate`),
    what ``memory_limit`` checks.
    """

    model_bytes: int
    model_mapped: bool
    io_bytes: int
    load_rss_bytes: Optional[int]
    arena_bytes: Optional[int]
    estimate: MemoryEstimate


@dataclasses.dataclass(frozen=True)
class ProfileEvent:
    """One event of the runtime's profiler (``Session(..., profile=True)``).

    ``kind``: ``"operator"``, a model operator run by the runtime's own (TFLite)
    kernel, outside any delegate (``name`` is its builtin name, e.g. ``"SOFTMAX"``;
    ``node`` its index in the execution plan, i.e. the model's operator index
    for operators the delegates left alone); ``"delegate_operator"``, an operator
    inside a delegate (with the CPU accelerator: XNNPACK's own operator names,
    e.g. ``"Convolution (NHWC, F32) IGEMM"``; ``node`` is the index in the
    delegate's graph, not the model's); ``"runtime"``, a span around operators
    (``"invoke"`` is the whole interpreter invoke, ``"LiteRT::Run[...]"`` the
    runtime's buffer handling; ``node`` -1). Times in microseconds.
    """

    name: str
    kind: str
    node: int
    start_us: int
    elapsed_us: int


@dataclasses.dataclass(frozen=True)
class Profile:
    """What ``Session.profile()`` returns: the events of ``runs`` runs."""

    runs: int
    events: Tuple[ProfileEvent, ...]

    def operators(self) -> List[ProfileEvent]:
        """The operator events (``"operator"`` and ``"delegate_operator"``), in order."""
        return [e for e in self.events if e.kind != "runtime"]

    def operator_ms_per_run(self) -> float:
        """Sum of the operator times divided by the runs, in milliseconds."""
        return sum(e.elapsed_us for e in self.operators()) / 1e3 / max(self.runs, 1)


def _memory_limit_arg(limit: Any) -> Optional[int]:
    if limit is None:
        return None
    try:
        if isinstance(limit, bool):
            raise TypeError
        v = operator.index(limit)
    except TypeError:
        raise InputError(f"memory_limit: expected a number of bytes (int > 0) or None, got {limit!r}") from None
    if v <= 0:
        raise InputError(f"memory_limit: expected a number of bytes (int > 0) or None, got {v}")
    return v


def check_memory_limit(source: Any, limit: Optional[int], what: str = "model") -> Optional[MemoryEstimate]:
    """The estimate of `source` (path or bytes) when a limit is set; ModelError when it exceeds the limit."""
    if limit is None:
        return None
    est = memory_estimate(source)
    if est.total > limit:
        name = source if isinstance(source, str) else f"<{len(source)} bytes>"
        raise ModelError(f"{what} {name}: its estimated memory, {est.total} bytes ({est}), exceeds "
                         f"memory_limit={limit} bytes; not compiled")
    return est


def _spec(t: Tuple[Any, ...]) -> TensorSpec:
    name, shape, dtype, scale, zp, scales, zps, qdim = t
    return TensorSpec(name, tuple(shape), np.dtype(dtype), float(scale), int(zp),
                      tuple(scales), tuple(zps), int(qdim))


class Session(_core.Session):
    """A model loaded, verified, compiled and warmed up, ready to run frames.

    Args:
        model: path to a ``.tflite`` file (memory-mapped) or the model's bytes.
        threads: CPU threads for XNNPACK; ``None`` = one per physical core (1 on machines with two cores or
            fewer, see docs/power.md).
        accelerator: ``"cpu"`` (XNNPACK); ``"edgetpu"`` (Coral's libedgetpu.so.1,
            found in the standard library locations or at ``$EDGERUN_EDGETPU_LIB``;
            see docs/edgetpu.md); ``"gpu"`` (the LiteRT GPU accelerator of the
            ai-edge-litert wheel: WebGPU over Vulkan on Linux).
        signature: signature key (str) or index (int); ``None`` = the first.
        verify: check the flatbuffer before the runtime sees it (keep this on:
            the runtime itself crashes the process on many corrupted files).
        accelerator_options: options for ``accelerator="edgetpu"``, passed to
            libedgetpu: ``{"device": "usb:0"}`` (``""``, ``"usb"``, ``"pci"``,
            ``":N"``, ``"usb:N"``, ``"pci:N"``; one Session per device),
            ``"Performance"``, ``"Usb.AlwaysDfu"``, ``"Usb.MaxBulkInQueueLength"``.
        delegates: :class:`~edgerun.Delegate` plugins to attach, in order.
        input_shapes: ``{input name or index: shape}``: shapes the inputs get
            before the model is first run, for models with dynamic (``-1``)
            dimensions (e.g. an audio model taking ``[1, -1]`` samples). A
            dynamic input not named here gets each ``-1`` set to 1; when the
            model cannot run like that, a :class:`~edgerun.ModelError` names the
            input and its dynamic shape. ``resize_input()`` changes shapes later;
            ``input_shape_signatures`` lists the declared shapes (``-1`` = dynamic).
        fallback: ``"cpu"`` to run on the CPU (with an
            :class:`~edgerun.AcceleratorFallbackWarning`) when the accelerator or
            a delegate cannot be used and the model can run on the CPU;
            ``None`` (default): raise :class:`~edgerun.DelegateError`.
        profile: record per-operator times with LiteRT's profiler, read with
            :meth:`profile`. Every run then costs more (the runtime measures
            memory around each invoke), and the profiler's buffer takes about
            70 MB (ai-edge-litert 2.3.0): use it to see where time goes, not to
            time the model or in production.
        memory_limit: bytes this session may take: a model whose static
            estimate (:func:`edgerun.memory_estimate`) exceeds it raises
            :class:`~edgerun.ModelError` (naming both numbers) before it is
            compiled, so a device running several models does not run out of
            memory mid-stream. ``Pipeline.swap`` applies the same limit.

    A model compiled for the Edge TPU (``edgetpu-custom-op``) opened without a
    usable Edge TPU raises :class:`~edgerun.DelegateError` here, before any frame.

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
        accelerator_options: Optional[Mapping[str, Any]] = None,
        delegates: Sequence[Delegate] = (),
        fallback: Optional[str] = None,
        input_shapes: Optional[Mapping[Union[str, int], Sequence[int]]] = None,
        memory_limit: Optional[int] = None,
        profile: bool = False,
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
        accel_opts = options_pairs(accelerator_options, "accelerator_options")
        if isinstance(delegates, (Delegate, str, bytes)) or not isinstance(delegates, Sequence):
            raise InputError("delegates must be a list of edgerun.Delegate, got "
                             f"{type(delegates).__name__}")
        for d in delegates:
            if not isinstance(d, Delegate):
                raise InputError("delegates must be a list of edgerun.Delegate, got an item of type "
                                 f"{type(d).__name__}")
        limit = _memory_limit_arg(memory_limit)
        estimate = check_memory_limit(source, limit)
        ensure_runtime()
        # threads, accelerator, signature, verify and fallback are converted and
        # checked by the core (Session::Create), nowhere else.
        super().__init__(source, threads, accelerator, signature, verify, accel_opts,
                         [d._core_spec() for d in delegates], fallback,
                         dict(input_shapes) if isinstance(input_shapes, Mapping) else input_shapes, profile)
        self._spec_cache: Optional[Tuple[List[TensorSpec], List[TensorSpec]]] = None
        self._model_info_cache: Optional[ModelInfo] = None
        self._verified = bool(verify)  # the bytes passed edgerun's verifier (no second check needed)
        self._memory_limit = limit
        self._memory_estimate: Optional[MemoryEstimate] = estimate
        if self._fallback_reason:
            warnings.warn(f"edgerun: running on the CPU instead: {self._fallback_reason}",
                          AcceleratorFallbackWarning, stacklevel=2)

    @classmethod
    def _adopt(cls, handle: Any, verified: bool, memory_limit: Optional[int] = None) -> "Session":
        """Wrap a session created in C++ (a pipeline's hot swap); ``verified``: whether
        its options had ``verify`` on."""
        obj = cls.__new__(cls)
        _core.Session.__init__(obj, handle)
        obj._spec_cache = None
        obj._model_info_cache = None
        obj._verified = bool(verified)
        obj._memory_limit = memory_limit
        obj._memory_estimate = None
        return obj

    @property
    def model_info(self) -> ModelInfo:
        """sha256, size and the embedded name/version of the model (:class:`edgerun.ModelInfo`);
        computed once per session, from the bytes the session runs."""
        if self._model_info_cache is None:
            self._model_info_cache = ModelInfo.from_bytes(self._model_bytes, self._origin, verified=self._verified)
        return self._model_info_cache

    @property
    def memory(self) -> SessionMemory:
        """The session's memory: model bytes, I/O buffers, the measured growth at
        load and the static estimate side by side (:class:`SessionMemory`)."""
        model_bytes, mapped, io_bytes, load_rss = self._memory()
        if self._memory_estimate is None:
            self._memory_estimate = memory_estimate(bytes(self._model_bytes))
        return SessionMemory(int(model_bytes), bool(mapped), int(io_bytes), int(load_rss) if load_rss >= 0 else None,
                             None, self._memory_estimate)

    # -- descriptions ---------------------------------------------------------
    def _specs_cached(self) -> Tuple[List[TensorSpec], List[TensorSpec]]:
        if self._spec_cache is None:
            self._spec_cache = (
                [_spec(t) for t in self._specs(True)],
                [_spec(t) for t in self._specs(False)],
            )
        return self._spec_cache

    @property
    def inputs(self) -> List[TensorSpec]:
        """The model's inputs, as :class:`TensorSpec` (current shapes)."""
        return list(self._specs_cached()[0])

    @property
    def outputs(self) -> List[TensorSpec]:
        """The model's outputs, as :class:`TensorSpec` (current shapes)."""
        return list(self._specs_cached()[1])

    def input(self, key: Union[int, str]) -> InputView:
        """Writable zero-copy view of input ``key``'s buffer (index or name).

        Write a frame there (or let a :class:`edgerun.Preprocessor` write it) and
        call ``run()`` with no arguments: nothing is copied. The view keeps the
        buffer alive after the session is gone.
        """
        base = super().input(key)  # validates the key, raises InputError
        specs = self._specs_cached()[0]
        if isinstance(key, str):
            idx = [t.name for t in specs].index(key)
        else:
            idx = int(key) % len(specs)
        view = base.view(InputView)
        view.spec = specs[idx]
        return view

    @property
    def fallback_reason(self) -> Optional[str]:
        """Why the session runs on the CPU after ``fallback="cpu"`` (None if it did not fall back)."""
        return self._fallback_reason or None

    def placement(self) -> List[OpPlacement]:
        """Which accelerator runs each operator, as a list of :class:`~edgerun.OpPlacement`.

        ``accelerator`` is ``"edgetpu"`` or ``"delegate:<file name>"`` for the
        operators a delegate plugin took over (edgerun records what the plugin
        claims while the model is compiled), ``"cpu"`` for the rest (XNNPACK or
        the runtime's own kernels: the C API does not say which), and
        ``"gpu|cpu"`` for ``accelerator="gpu"`` sessions, where the runtime does
        not report which operators its GPU delegate took. Operator indices are
        the model's; for models with several subgraphs, a plugin's claims are
        attributed to subgraphs in the order the runtime prepared them.
        """
        return [OpPlacement(sg, i, op_name(code, custom), acc)
                for sg, i, code, custom, acc in self._placement()]

    def profile(self) -> Profile:
        """The profiler's events of the runs since the last call (or since the
        session was created; the warm-up run is not included), then clears them.

        Needs ``Session(..., profile=True)`` (else :class:`~edgerun.InputError`).
        A runtime without the profiler's functions fails at ``Session(...,
        profile=True)`` already, with :class:`~edgerun.RuntimeLoadError` naming them.
        """
        runs, events = self._take_profile()
        return Profile(int(runs), tuple(ProfileEvent(*e) for e in events))

    def resize_input(self, key: Union[int, str], shape: Sequence[int]) -> None:
        """Changes the shape of an input (models with dynamic dimensions); outputs follow."""
        # The binding converts: a sequence of ints (numpy integers too); a float
        # or an int beyond int64 is an InputError naming "shape", never truncated.
        super().resize_input(key, shape)
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
        accel = "" if self.accelerator == "cpu" else f" accelerator={self.accelerator!r}"
        sig = "" if self.signature is None else f" signature={self.signature!r}"
        return (f"<edgerun.Session {self._origin!s}{sig} "
                f"threads={self.threads}{accel} inputs=[{ins}] outputs=[{outs}]>")
