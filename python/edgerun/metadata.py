"""Deprecated: this module moved to :mod:`edgerun.model.metadata` (this name keeps working for now)."""

from typing import Any

from ._compat import warn_moved
from .model.metadata import *  # noqa: F401,F403
from .model import metadata as _new

warn_moved(__name__, "edgerun.model.metadata")


def __getattr__(name: str) -> Any:  # the rest, private names included
    return getattr(_new, name)
