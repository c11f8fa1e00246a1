"""Pipeline: camera frame in, decoded result out; pipelined, with hot model swap.

    pipe = edgerun.Pipeline(session, pre, edgerun.heads.BlazeFace(), depth=2, drop="oldest")
    r = pipe(frame)                  # synchronous: frame in, result out
    pipe.submit(frame, meta=None)    # asynchronous, non-blocking
    for r in pipe.results(): ...     # or pipe.get(timeout=)
    pipe.swap("new_model.tflite")    # hot swap between two frames
    edgerun.Pipeline(..., max_fps=10)                  # at most 10 frames per second; sleeps in between
    edgerun.Pipeline(..., gate=edgerun.ChangeGate())   # unchanged scenes reuse the last result

Asynchronous mode runs two C++ threads with the GIL released: one runs the model
back to back, the other preprocesses the next frame and decodes the previous one
meanwhile. ``depth`` is how many submitted frames may wait for the engine; when
the queue is full, ``drop="oldest"`` discards the oldest waiting frame (counted in
``stats()["dropped"]``), ``drop="none"`` makes ``submit`` wait for room.
"""

from __future__ import annotations

import atexit
import dataclasses
import operator
import os
import threading
import time
import weakref
from typing import Any, Callable, Dict, Generic, Iterator, List, Optional, Tuple, Union, cast, overload

import numpy as np

from . import _core
from ._types import PipelineStats
from .errors import ClosedError, Error, InputError, ModelError
from .heads import Head, ResultT
from .model import tflite_file
from .model.info import ModelInfo
from .preprocess import Preprocessor, Transform
from .session import Session, check_memory_limit

__all__ = ["Pipeline", "FrameResult", "FrameTimings", "SwapFuture", "ModelInfo", "model_info", "ChangeGate",
           "ModelGate"]


def model_info(session: Session) -> ModelInfo:
    """The :class:`ModelInfo` of a session's model (``session.model_info``, computed once per session)."""
    return session.model_info


@dataclasses.dataclass(frozen=True)
class FrameTimings:
    """Per-frame timings in milliseconds. ``total`` runs from submit to result;
    ``gate`` is the change gate's share of ``preprocess`` (0 without a gate)."""

    queue: float
    preprocess: float
    invoke: float
    decode: float
    total: float
    gate: float = 0.0


class FrameResult(Generic[ResultT]):
    """One frame's outcome.

    ``output`` is what the head decoded (e.g. :class:`edgerun.heads.Detections`),
    or the list of raw output arrays when the pipeline has no head. ``error`` is
    the exception for a frame that failed (``output`` is then None); ``ok`` says
    which. ``model`` is the :class:`ModelInfo` of the model that produced it.
    ``skipped`` is True for a frame the gate (:class:`ChangeGate`,
    :class:`ModelGate`) did not run: ``output`` is then a read-only copy of the
    result of frame ``reused_frame_id``, one copy shared by every frame that
    reuses it (nothing is copied per skipped frame). ``gate_output`` is a
    :class:`ModelGate`'s cheap model result for this frame (None otherwise).
    """

    __slots__ = ("frame_id", "meta", "output", "error", "model", "model_generation", "transform", "_timings",
                 "skipped", "reused_frame_id", "gate_output")

    def __init__(self, frame_id: int, meta: Any, output: Any, error: Optional[BaseException], model: ModelInfo,
                 model_generation: int, transform: Optional[Transform], timings: Any, skipped: bool = False,
                 reused_frame_id: Optional[int] = None, gate_output: Any = None) -> None:
        self.frame_id: int = frame_id
        self.meta: Any = meta
        self.output: ResultT = output  # None when error is set
        self.error: Optional[BaseException] = error
        self.model: ModelInfo = model
        self.model_generation: int = model_generation
        self.transform: Optional[Transform] = transform
        self._timings = timings  # FrameTimings, or the binding's tuple of them (converted when first read)
        self.skipped: bool = skipped
        self.reused_frame_id: Optional[int] = reused_frame_id
        self.gate_output: Any = gate_output

    @property
    def timings(self) -> FrameTimings:
        t = self._timings
        if not isinstance(t, FrameTimings):
            t = self._timings = FrameTimings(*t)
        return t

    @property
    def ok(self) -> bool:
        return self.error is None

    def unwrap(self) -> ResultT:
        """The output, or raise this frame's error."""
        if self.error is not None:
            raise self.error
        return self.output

    def __repr__(self) -> str:
        what = f"error={self.error!r}" if self.error is not None else f"output={type(self.output).__name__}"
        if self.skipped:
            what += f" skipped(reuses frame {self.reused_frame_id})"
        return (f"<FrameResult frame_id={self.frame_id} {what} model={self.model.sha256[:12]} "
                f"total={self.timings.total:.3f}ms>")


class SwapFuture:
    """The outcome of :meth:`Pipeline.swap`: ``result()`` gives the new model's
    :class:`ModelInfo` once it is current, or raises why it was not swapped in."""

    def __init__(self, pipe: "Pipeline[Any]", ticket: Any, session: Optional[Session], verified: bool) -> None:
        self._pipe = pipe
        self._ticket = ticket
        self._session = session  # the Session the caller passed, if any
        self._verified = verified  # whether a session made from a path/bytes verifies them (current options)
        self._memory_limit: Optional[int] = None  # the current session's, inherited by a session made here
        self._outcome: Optional[Tuple[Optional[ModelInfo], Optional[BaseException]]] = None

    def done(self) -> bool:
        return self._ticket.done()

    def _finish(self, timeout: Optional[float]) -> Tuple[Optional[ModelInfo], Optional[BaseException]]:
        if self._outcome is None:
            if not self._ticket.wait(_timeout_arg(timeout)):
                raise TimeoutError("the new model is still loading")
            ticket = self._ticket
            generation, error = ticket.model, ticket.error
            info = None
            if error is None:
                session = self._session if self._session is not None else Session._adopt(
                    ticket.session, self._verified, self._memory_limit)
                info = self._pipe._register(generation, session)
            self._outcome = (info, error)
            self._pipe._forget(self)
        return self._outcome

    def result(self, timeout: Optional[float] = None) -> ModelInfo:
        info, error = self._finish(timeout)
        if error is not None:
            raise error
        return cast(ModelInfo, info)  # set whenever error is None

    def exception(self, timeout: Optional[float] = None) -> Optional[BaseException]:
        return self._finish(timeout)[1]


def _timeout_arg(timeout: Any) -> float:
    """Seconds for the core's waits: None or inf -> -1 (forever), negative -> 0; anything
    that is not a number (or NaN) is an InputError naming ``timeout``."""
    if timeout is None:
        return -1.0
    if isinstance(timeout, (bool, str, bytes)):
        raise InputError(f"timeout: expected a number of seconds or None, got {timeout!r}")
    try:
        t = float(timeout)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"timeout: expected a number of seconds or None, got {timeout!r}") from None
    if t != t:
        raise InputError("timeout: expected a number of seconds or None, got nan")
    if t >= 1e9:  # ~31 years: as good as forever (and no overflow in the core's clock arithmetic)
        return -1.0
    return max(0.0, t)


# ---------------------------------------------------------------------------
# Selective execution: run the model only on frames that need it
# ---------------------------------------------------------------------------
def _int_option(name: str, value: Any, lo: int, hi: int) -> int:
    try:
        if isinstance(value, bool):
            raise TypeError
        v = operator.index(value)
    except TypeError:
        raise InputError(f"{name}: expected an int in [{lo}, {hi}], got {value!r}") from None
    if not lo <= v <= hi:
        raise InputError(f"{name}: expected an int in [{lo}, {hi}], got {v}")
    return v


class ChangeGate:
    """Skips frames whose scene did not change since the last frame that ran.

    Each frame gets a 16x16 luma thumbnail (the Y plane of YUV formats, luma
    from RGB/BGR/RGBA/BGRA, the gray plane; each cell the mean of up to 24
    pixels of the row through its middle: 5-25 us per VGA frame on a 2-core
    x86, computed in C++; in ``submit()`` on the caller's thread). A frame
    whose thumbnail differs from the reference (the last frame that ran) by at
    most ``threshold`` luma levels in every cell reuses that frame's result:
    nothing is preprocessed, run or decoded, and its :class:`FrameResult` has
    ``skipped=True`` and ``reused_frame_id``. After ``max_skip`` frames in a
    row reused one result, the next frame runs anyway, so a change the
    thumbnail cannot see (smaller than a cell's share of the frame, or slower
    than ``threshold`` per ``max_skip`` frames) is answered within
    ``max_skip`` frames.

    Args:
        threshold: the largest change of a cell's mean luma (0..254) that still
            counts as the same scene. Sensor noise averages out over a cell (for
            noise of standard deviation s, cells move by about s/5); 8 keeps
            noisy static scenes skipped while a hand or face entering a cell is
            seen.
        max_skip: frames in a row that may reuse a result (>= 1).
    """

    __slots__ = ("threshold", "max_skip")

    def __init__(self, threshold: int = 8, max_skip: int = 30) -> None:
        self.threshold: int = _int_option("threshold", threshold, 0, 254)
        self.max_skip: int = _int_option("max_skip", max_skip, 1, 2**31 - 1)

    def __repr__(self) -> str:
        return f"edgerun.ChangeGate(threshold={self.threshold}, max_skip={self.max_skip})"


class ModelGate:
    """Runs a cheap model on every frame and the pipeline's model only when
    ``predicate(cheap_result)`` is true.

    Args:
        cheap: an :class:`edgerun.Pipeline` (its own Preprocessor and head) or
            an :class:`edgerun.Session` (fed by the gated pipeline's
            Preprocessor; the predicate then gets the raw output arrays).
        predicate: called with the cheap model's :class:`FrameResult`; true
            means "run the expensive model on this frame".
        max_skip: frames in a row that may reuse the expensive model's last
            result when the predicate says no (>= 1); then it runs anyway.

    ``pipe.submit(frame)`` returns at once: the cheap model runs on the
    pipeline's worker thread (while the expensive model runs the frame before,
    when the pipeline overlaps stages), the predicate with the GIL taken there;
    ``pipe(frame)`` runs both on the calling thread. The cheap model's result
    is in ``FrameResult.gate_output``. A frame whose predicate is false reuses
    the expensive model's last result (``skipped=True``); the first frame
    always runs, and so does a frame the cheap model fails on. An exception
    raised by the predicate is that frame's error.
    """

    __slots__ = ("cheap", "predicate", "max_skip")

    def __init__(self, cheap: Union["Pipeline[Any]", Session], predicate: Callable[[Any], Any], *,
                 max_skip: int = 30) -> None:
        if not isinstance(cheap, (Pipeline, Session)):
            raise InputError(f"cheap: expected an edgerun.Pipeline or edgerun.Session, got {type(cheap).__name__}")
        if not callable(predicate):
            raise InputError(f"predicate: expected a callable taking the cheap model's FrameResult, got "
                             f"{type(predicate).__name__}")
        self.cheap: Union[Pipeline[Any], Session] = cheap
        self.predicate: Callable[[Any], Any] = predicate
        self.max_skip: int = _int_option("max_skip", max_skip, 1, 2**31 - 1)

    def __repr__(self) -> str:
        return f"edgerun.ModelGate({self.cheap!r}, {self.predicate!r}, max_skip={self.max_skip})"


class _GateFailure:
    """A ModelGate predicate's exception for one frame (the frame fails with it)."""

    __slots__ = ("result", "error")

    def __init__(self, result: "FrameResult", error: BaseException) -> None:
        self.result = result
        self.error = error


def _gate_callback(pipe_ref: "weakref.ref[Pipeline]", cheap: "Pipeline", predicate: Callable[[Any], Any]
                   ) -> Callable[[int, Any], int]:
    """The core's ModelGate callback: the cheap pipeline's result for frame ``frame_id`` -> that
    frame's force (1: may reuse, 2: run, 3: fail). A frame the cheap model failed on runs (the
    gate never hides a frame); its result stays available as ``gate_output``. Holds the gated
    pipeline by a weak reference (the core holds this callback)."""

    def decide(frame_id: int, raw: Any) -> int:
        result = cheap._wrap(raw, None)
        out: Any = result
        if result.error is not None:
            force = 2
        else:
            try:
                force = 2 if predicate(result) else 1
            except Exception as e:
                out, force = _GateFailure(result, e), 3
        pipe = pipe_ref()
        if pipe is not None:
            pipe._gate_out[frame_id] = out
        return force

    return decide


# ModelInfos kept for generations just below the oldest one in use (see _prune_models_locked).
_KEEP_OLD_MODELS = 4

_live: "weakref.WeakSet[Pipeline[Any]]" = weakref.WeakSet()

# The options' defaults, names and checks live in C++ (edgerun::PipelineOptions,
# Pipeline::Create); Pipeline passes its keywords through unchanged.
_DEFAULTS = _core.PipelineOptions()


@atexit.register
def _close_all() -> None:  # interpreter shutdown with live pipelines: stop their threads first
    for p in list(_live):
        try:
            p.close()
        except Exception:
            pass


class Pipeline(Generic[ResultT]):
    """Frame -> preprocess -> invoke -> decode, synchronously or pipelined.

    Args:
        session: the :class:`Session` to run (its input ``input_index`` is fed).
        pre: the :class:`Preprocessor` that writes frames into the model input.
        head: an ``edgerun.heads`` decoder, or None for the raw outputs.
        depth: frames that may wait for the engine (>= 1).
        drop: ``"oldest"`` (real-time cameras: the oldest waiting frame is
            discarded when the queue is full) or ``"none"`` (``submit`` waits).
        max_results: results kept until read. With ``drop="oldest"`` the oldest
            unread one is discarded beyond this (``stats()["results_discarded"]``);
            with ``drop="none"`` no result is ever lost: ``submit`` raises
            :class:`~edgerun.BusyError` while this many results are unread or in flight.
        overlap: asynchronous mode overlaps preprocessing/decoding of one frame
            with inference of another on two threads (True), or runs the stages in
            turn on one worker thread (False). None (default): overlap only when the
            session's threads leave a CPU core free; when inference already uses
            every core, a third busy thread stalls it more than overlapping gains.
        max_fps: at most this many frames start per second (None or 0: no
            limit). The worker sleeps until the next frame may start (no
            spinning, near-zero CPU in between); asynchronous frames arriving
            faster wait in the queue, where ``drop`` applies (``"oldest"``: the
            newest frame is the one that runs); ``pipe(frame)`` sleeps before it
            starts a frame.
        gate: run the model only on frames that need it: an
            :class:`edgerun.ChangeGate` (unchanged scenes reuse the last
            result) or an :class:`edgerun.ModelGate` (a cheap model decides).
            Skipped frames have ``FrameResult.skipped``; the decisions are in
            ``stats()`` (``gate_ran``, ``gate_skipped``, ...).
    """

    @overload
    def __init__(self: "Pipeline[List[np.ndarray]]", session: Session, pre: Preprocessor, head: None = None, *,
                 depth: int = ..., drop: str = ..., max_results: int = ..., overlap: Optional[bool] = ...,
                 max_fps: Optional[float] = ..., gate: Union[ChangeGate, ModelGate, None] = ...) -> None: ...
    @overload
    def __init__(self, session: Session, pre: Preprocessor, head: Head[ResultT], *,
                 depth: int = ..., drop: str = ..., max_results: int = ..., overlap: Optional[bool] = ...,
                 max_fps: Optional[float] = ..., gate: Union[ChangeGate, ModelGate, None] = ...) -> None: ...
    def __init__(self, session: Session, pre: Preprocessor, head: Optional[Head[Any]] = None, *, depth: int = _DEFAULTS.depth,
                 drop: str = _DEFAULTS.drop, max_results: int = _DEFAULTS.max_results,
                 overlap: Optional[bool] = _DEFAULTS.overlap, max_fps: Optional[float] = _DEFAULTS.max_fps,
                 gate: Union[ChangeGate, ModelGate, None] = None) -> None:
        if not isinstance(session, Session):
            raise InputError(f"session: expected an edgerun.Session, got {type(session).__name__}")
        if not isinstance(pre, Preprocessor):
            raise InputError(f"pre: expected an edgerun.Preprocessor, got {type(pre).__name__}")
        impl = None
        if head is not None:
            impl = getattr(head, "_impl", None)
            if not isinstance(impl, getattr(_core, "Head")):
                raise InputError(f"head: expected an edgerun.heads decoder or None, got {type(head).__name__}")
        self._head = head
        self._pre = pre
        if max_fps is None:
            max_fps = 0.0
        elif isinstance(max_fps, bool) or not isinstance(max_fps, (int, float, np.integer, np.floating)):
            raise InputError(f"max_fps: expected a number of frames per second or None, got {max_fps!r}")
        gate_opts: Dict[str, Any] = {}
        self._cascade: Optional[ModelGate] = None
        self._cheap: Any = None
        if isinstance(gate, ChangeGate):
            gate_opts = dict(change_gate=True, gate_threshold=gate.threshold, gate_max_skip=gate.max_skip)
        elif isinstance(gate, ModelGate):
            gate_opts = dict(gate_max_skip=gate.max_skip)
            self._cascade = gate
            # A Session is fed by this pipeline's Preprocessor (raw outputs to the predicate).
            self._cheap = gate.cheap if isinstance(gate.cheap, Pipeline) else Pipeline(gate.cheap, pre)
        elif gate is not None:
            raise InputError(f"gate: expected an edgerun.ChangeGate, an edgerun.ModelGate or None, got "
                             f"{type(gate).__name__}")
        self._gate = gate
        options = _core.PipelineOptions(depth=depth, drop=drop, max_results=max_results, overlap=overlap,
                                        max_fps=float(max_fps), **gate_opts)
        # ModelGate: the core runs the cheap pipeline on each frame where the frame is prepared (a worker
        # for submit(), the caller for pipe(frame)) and asks _gate_callback (GIL taken) what to do.
        self._gate_out: Dict[int, Any] = {}  # frame id -> the cheap model's result, until its result is taken
        cheap_impl = self._cheap._impl if self._cheap is not None else None
        callback = (_gate_callback(weakref.ref(self), self._cheap, gate.predicate)
                    if isinstance(gate, ModelGate) else None)
        self._impl = _core._Pipeline(session, pre, impl, options, cheap_impl, callback)  # validates the options
        self._overlapped = bool(self._impl.overlapped)  # decided at start; still readable after close()
        self._lock = threading.Lock()
        self._frames: Dict[int, Any] = {}  # frame id -> array, until the engine no longer reads it
        self._meta: Dict[int, Any] = {}    # frame id -> meta, until its result is taken (or dropped)
        self._sessions: Dict[int, Session] = {1: session}
        self._models: Dict[int, ModelInfo] = {1: session.model_info}  # computed once, by the session
        self._last_transform: Tuple[Any, Optional[Transform]] = (None, None)  # (_core.Transform, Transform)
        self._shared_output: Tuple[Any, Any] = (None, None)  # a reused result: (the binding's array, the head's result)
        self._swaps: List[SwapFuture] = []
        _live.add(self)

    # -- helpers ---------------------------------------------------------------
    def _release(self) -> None:
        released = self._impl.take_released()
        if released:
            with self._lock:
                for fid, dropped in released:
                    self._frames.pop(fid, None)
                    if dropped:
                        self._meta.pop(fid, None)
                        self._gate_out.pop(fid, None)

    def _transform(self, raw: Any) -> Optional[Transform]:
        if raw is None:  # the frame was not preprocessed
            return None
        last = self._last_transform  # one read: consistent across threads
        if last[0] is raw:  # same geometry -> the binding hands back the same _core.Transform
            return last[1]
        t = Transform._wrap(raw)
        self._last_transform = (raw, t)
        return t

    def _register(self, generation: int, session: Session) -> ModelInfo:
        info = session.model_info
        with self._lock:
            # Only the newest session is kept (what `session` returns): the old one
            # goes as soon as the C++ side is done with it and the user holds none.
            if generation >= max(self._sessions, default=0):
                self._sessions = {generation: session}
            self._models[generation] = info
            self._swaps = [f for f in self._swaps if f._outcome is None]  # settled futures are done with
            self._prune_models_locked()
        return info

    def _forget(self, fut: "SwapFuture") -> None:
        """A settled swap (applied or failed) needs no more tracking."""
        with self._lock:
            self._swaps = [f for f in self._swaps if f is not fut and f._outcome is None]

    def _prune_models_locked(self) -> None:
        """Forgets the ModelInfo of generations no frame in flight or unread result
        uses any more (keeping a few recent ones for a result being wrapped on
        another thread right now). Call with self._lock held."""
        if len(self._models) <= _KEEP_OLD_MODELS + 1:
            return
        try:
            oldest = self._impl.oldest_model()
        except Error:  # closed: results already taken name their models
            return
        for g in [g for g in self._models if g < oldest - _KEEP_OLD_MODELS]:
            del self._models[g]

    def _model_for(self, generation: int) -> ModelInfo:
        info = self._models.get(generation)
        if info is None:
            # A swap finished but nobody asked its future yet: settle them now.
            for fut in list(self._swaps):
                if fut.done():
                    fut._finish(0)
            info = self._models.get(generation)
        return info if info is not None else ModelInfo(sha256="?" * 64, size=0)

    def _wrap(self, raw: Any, meta: Any, gate_output: Any = None) -> FrameResult[ResultT]:
        """A FrameResult from the binding's result tuple (python/bindings/pipeline.cc, ToPython)."""
        frame_id, generation, error, output, transform, skipped, reused_id, timings = raw
        if gate_output.__class__ is _GateFailure:  # the ModelGate's predicate raised: that is the frame's error
            gate_output, error = gate_output.result, gate_output.error
        if error is None and self._head is not None and output is not None:
            if skipped:
                # Frames reusing one result get the binding's same read-only array: finish it once.
                shared = self._shared_output
                if shared[0] is not output:
                    shared = self._shared_output = (output, self._head._finish(output))
                output = shared[1]
            else:
                output = self._head._finish(output)
        models = self._models
        model = models.get(generation)
        if model is None:
            model = self._model_for(generation)
        if len(models) > _KEEP_OLD_MODELS + 1:
            with self._lock:
                self._prune_models_locked()
        last = self._last_transform  # one read: consistent across threads
        transform = last[1] if last[0] is transform else self._transform(transform)
        return FrameResult(frame_id, meta, output, error, model, generation, transform, timings,
                           skipped, reused_id if skipped else None, gate_output)

    # -- synchronous -------------------------------------------------------------
    def __call__(self, frame: np.ndarray, meta: Any = None) -> FrameResult[ResultT]:
        """Preprocess, run and decode one frame on this thread; raises the frame's error."""
        raw = self._impl.process(frame, 0)
        r = self._wrap(raw, meta, self._gate_out.pop(raw[0], None) if self._cheap is not None else None)
        if r.error is not None:
            raise r.error
        return r

    # -- asynchronous --------------------------------------------------------------
    def submit(self, frame: np.ndarray, meta: Any = None) -> int:
        """Queue a frame and return its id at once (``drop="none"``: waits while the queue is full).

        The pipeline keeps a reference to ``frame`` until it has been read; do not
        write into it before its result arrives. A frame that is not a valid image
        for the Preprocessor's format is not raised here: its result carries the error.
        """
        self._release()
        # The lock covers the native submit and the bookkeeping: once the frame is
        # queued, the workers may finish (or drop) it before this thread runs
        # again, and the reader (get, _release) pops under the same lock, so it
        # always finds the meta and the frame stored (before: meta=None results
        # and entries leaked for frames dropped before they were recorded).
        # The native submit releases the GIL; with drop="none" it may wait for
        # room, which the C++ workers make without this lock.
        with self._lock:
            fid, accepted = self._impl.submit(frame, 0)
            if accepted:
                self._frames[fid] = frame
            self._meta[fid] = meta
        return fid

    def get(self, timeout: Optional[float] = None) -> FrameResult[ResultT]:
        """The next result in frame order; waits up to ``timeout`` seconds (None: forever).

        Raises TimeoutError when none arrived in time, ClosedError when the
        pipeline is closed and every result has been taken.
        """
        raw = self._impl.get(_timeout_arg(timeout))
        self._release()
        if raw is None:
            raise TimeoutError(f"no result within {timeout} s")
        with self._lock:
            meta = self._meta.pop(raw[0], None)
        return self._wrap(raw, meta, self._gate_out.pop(raw[0], None) if self._cheap is not None else None)

    def results(self, timeout: Optional[float] = None, *, stop: Any = None,
                poll: float = 0.1) -> Iterator[FrameResult[ResultT]]:
        """Yields results in frame order as they arrive, until the pipeline is closed
        and drained, or until none arrives within ``timeout`` seconds (None: no limit;
        0: only the results that are complete now).

        ``stop`` (a :class:`threading.Event`, or a callable returning true to stop) ends
        the loop of a reader thread as well: it is checked every ``poll`` seconds while
        no result arrives, so the results that keep coming are still read::

            reader = threading.Thread(target=lambda: [show(r) for r in pipe.results(stop=done)])
        """
        limit = _timeout_arg(timeout)  # checked here, not at the first next()
        if stop is None:
            return self._results(timeout)
        is_set = getattr(stop, "is_set", stop)
        if not callable(is_set):
            raise InputError(f"stop: expected a threading.Event or a callable returning true to stop, got "
                             f"{type(stop).__name__}")
        step = _timeout_arg(poll)
        if not step > 0:
            raise InputError(f"poll: expected a positive number of seconds, got {poll!r}")
        return self._results_until(limit, is_set, step)

    def _results(self, timeout: Optional[float]) -> Iterator[FrameResult[ResultT]]:
        while True:
            try:
                yield self.get(timeout)
            except (ClosedError, TimeoutError):
                return

    def _results_until(self, limit: float, is_set: Callable[[], Any], step: float) -> Iterator[FrameResult[ResultT]]:
        clock = time.monotonic
        deadline = None if limit < 0 else clock() + limit
        while True:
            wait = step if deadline is None else min(step, max(0.0, deadline - clock()))
            try:
                r = self.get(wait)
            except ClosedError:
                return
            except TimeoutError:
                if is_set() or (deadline is not None and clock() >= deadline):
                    return
                continue
            yield r
            if deadline is not None:
                deadline = clock() + limit

    # -- hot swap ------------------------------------------------------------------
    def swap(self, model: Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, Session], *,
             wait: bool = True, timeout: Optional[float] = None, expect_sha256: Optional[str] = None,
             check: Optional[Callable[[bytes], Any]] = None) -> Union[ModelInfo, SwapFuture]:
        """Replace the model while frames keep flowing.

        The new model (a path, its bytes, or a :class:`Session`) is verified,
        compiled with the current session's options and warmed up in the
        background, checked against the Preprocessor and the head, and becomes
        current between two frames. If any step fails, the old model keeps running
        and the error is raised here (``wait=True``) or by the returned
        :class:`SwapFuture` (``wait=False``).

        Models that arrive over the network should be authenticated before anything
        parses them (see docs/security.md): ``expect_sha256`` (hex) refuses bytes
        with another digest, and ``check(data)`` -- e.g. a signature check of your
        own -- refuses them by raising or by returning ``False``. Both see exactly the
        bytes that are then loaded (a path is read once, into memory), and both run
        before the verifier or the runtime sees a byte; a refusal raises
        :class:`edgerun.ModelError` here, whatever ``wait`` says, and the old model
        keeps running.
        """
        if isinstance(model, os.PathLike):
            model = os.fsdecode(os.fspath(model))
        if not isinstance(model, (str, bytes, bytearray, memoryview, Session)):
            raise InputError(f"model: expected a path, bytes or an edgerun.Session, got {type(model).__name__}")
        if expect_sha256 is not None or check is not None:
            model = _authenticate(model, expect_sha256, check)
        current = self.session
        verified = current._verified  # a new session from a path or bytes gets the current one's options
        if isinstance(model, (str, bytes, bytearray, memoryview)) and current._memory_limit is not None:
            # The current session's memory_limit holds for what replaces it (checked before compiling).
            check_memory_limit(model if isinstance(model, str) else bytes(model), current._memory_limit,
                               "new model")
        fut = SwapFuture(self, self._impl.swap(model), model if isinstance(model, Session) else None, verified)
        fut._memory_limit = current._memory_limit
        with self._lock:
            self._swaps.append(fut)
        if wait:
            return fut.result(timeout)
        return fut

    # -- state -----------------------------------------------------------------------
    @property
    def session(self) -> Session:
        """The session of the current model."""
        generation = self._impl.model()
        self._model_for(generation)
        return self._sessions[generation]

    @property
    def model(self) -> ModelInfo:
        """The :class:`ModelInfo` of the current model."""
        return self._model_for(self._impl.model())

    def stats(self) -> PipelineStats:
        """Counters (submitted, completed, failed, dropped, swaps, ...) and, over the
        last results, latency p50/p90/p99, per-stage medians (ms) and FPS.

        Energy proxy, since the pipeline was created: ``cpu_s`` (CPU time of the
        whole process: every thread, the runtime's included), ``worker_cpu_s``
        (this pipeline's worker threads), ``cpu_ms_per_frame`` and
        ``worker_cpu_ms_per_frame`` (per result), ``cpu_load`` (cores busy on
        average), ``voluntary_switches`` / ``involuntary_switches`` (context
        switches of the process: a wake-up proxy) and ``switches_per_frame``.
        Gate decisions: ``gate_ran`` (= ``gate_first`` + ``gate_changed`` +
        ``gate_forced``: no reference yet, scene changed or cascade fired,
        max_skip reached), ``gate_skipped`` and ``gate_p50_ms`` (thumbnail cost)."""
        return cast(PipelineStats, self._impl.stats())

    @property
    def overlapped(self) -> bool:
        """Whether asynchronous frames overlap stages on two worker threads."""
        return self._overlapped

    @property
    def in_flight(self) -> int:
        return self._impl.in_flight()

    def close(self) -> None:
        """Finish the queued frames, stop the worker threads and join them (idempotent)."""
        self._impl.close()
        self._release()
        with self._lock:
            self._frames.clear()

    @property
    def closed(self) -> bool:
        return self._impl.closed

    def __enter__(self) -> "Pipeline[ResultT]":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self._impl.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"model={self.model}"
        return f"<edgerun.Pipeline {state} head={self._head!r}>"


def _authenticate(model: Union[str, bytes, bytearray, memoryview, Session], expect_sha256: Optional[str],
                  check: Optional[Callable[[bytes], Any]]) -> Union[bytes, Session]:
    """Pipeline.swap's integrity checks; returns what to load (bytes, so that what was checked
    is what is loaded)."""
    import hashlib

    if expect_sha256 is not None:
        if not isinstance(expect_sha256, str) or len(expect_sha256) != 64 or any(
                c not in "0123456789abcdefABCDEF" for c in expect_sha256):
            raise InputError(f"expect_sha256: expected 64 hex digits, got {expect_sha256!r}")
    if check is not None and not callable(check):
        raise InputError(f"check: expected a callable taking the model bytes, got {type(check).__name__}")
    if isinstance(model, Session):
        data = np.asarray(model._model_bytes).tobytes()
        what = "the session's model"
    elif isinstance(model, str):
        data = tflite_file.read_file(model)
        what = repr(model)
    else:
        data = bytes(model)
        what = "the model bytes"
    if expect_sha256 is not None:
        got = hashlib.sha256(data).hexdigest()
        if got != expect_sha256.lower():
            raise ModelError(f"swap refused: {what} ({len(data)} bytes) has sha256 {got}, expected "
                             f"{expect_sha256.lower()}; the current model keeps running")
    if check is not None:
        try:
            ok = check(data)
        except Exception as e:  # the user's check said no
            raise ModelError(f"swap refused by check {getattr(check, '__name__', check)!r}: {type(e).__name__}: "
                             f"{e}; the current model keeps running") from e
        if ok is False:
            raise ModelError(f"swap refused by check {getattr(check, '__name__', check)!r} (it returned False); "
                             f"the current model keeps running")
    return model if isinstance(model, Session) else data
