"""Deprecated: this module moved to :mod:`edgerun.model.tflite_file` (this name keeps working for now)."""

from typing import Any

from ._compat import warn_moved
from .model.tflite_file import *  # noqa: F401,F403
from .model import tflite_file as _new

warn_moved(__name__, "edgerun.model.tflite_file")


def __getattr__(name: str) -> Any:  # the rest, private names included
    return getattr(_new, name)
