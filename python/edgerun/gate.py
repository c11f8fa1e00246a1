"""Selective execution for camera loops: run the model only on frames that need it.

    gate = edgerun.ChangeGate(threshold=8, max_skip=30)
    pipe = edgerun.Pipeline(session, pre, head, gate=gate)
    r = pipe(frame)          # r.skipped: the scene did not change, r.output is frame r.reused_frame_id's

    # Cascade: a cheap model on every frame, the expensive one only when it fires
    person = edgerun.Pipeline(edgerun.Session("tiny_classifier.tflite"), pre, edgerun.heads.Classifier(top_k=1))
    pipe = edgerun.Pipeline(big_session, pre, head,
                            gate=edgerun.Cascade(person, lambda r: r.output["class_id"][0] == 1, max_skip=30))
"""

from __future__ import annotations

import operator
from typing import Any, Callable

from .errors import InputError

__all__ = ["ChangeGate", "Cascade"]


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
    from RGB/BGR/RGBA/BGRA, the gray plane; each cell the mean of up to 8x4
    sampled pixels: about 10 us per VGA frame on a 2-core x86, computed in C++). A frame
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
            noise of standard deviation s, cells move by about s/6); 8 keeps
            noisy static scenes skipped while a hand or face entering a cell is
            seen.
        max_skip: frames in a row that may reuse a result (>= 1).
    """

    __slots__ = ("threshold", "max_skip")

    def __init__(self, threshold: int = 8, max_skip: int = 30) -> None:
        self.threshold = _int_option("threshold", threshold, 0, 254)
        self.max_skip = _int_option("max_skip", max_skip, 1, 2**31 - 1)

    def __repr__(self) -> str:
        return f"edgerun.ChangeGate(threshold={self.threshold}, max_skip={self.max_skip})"


class Cascade:
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

    The cheap model runs on the thread that calls ``pipe(frame)`` or
    ``pipe.submit(frame)``; its result is in ``FrameResult.gate_output``. A
    frame whose predicate is false reuses the expensive model's last result
    (``skipped=True``); the first frame always runs.
    """

    __slots__ = ("cheap", "predicate", "max_skip")

    def __init__(self, cheap: Any, predicate: Callable[[Any], Any], *, max_skip: int = 30) -> None:
        from .pipeline import Pipeline
        from .session import Session

        if not isinstance(cheap, (Pipeline, Session)):
            raise InputError(f"cheap: expected an edgerun.Pipeline or edgerun.Session, got {type(cheap).__name__}")
        if not callable(predicate):
            raise InputError(f"predicate: expected a callable taking the cheap model's FrameResult, got "
                             f"{type(predicate).__name__}")
        self.cheap = cheap
        self.predicate = predicate
        self.max_skip = _int_option("max_skip", max_skip, 1, 2**31 - 1)

    def __repr__(self) -> str:
        return f"edgerun.Cascade({self.cheap!r}, {self.predicate!r}, max_skip={self.max_skip})"
