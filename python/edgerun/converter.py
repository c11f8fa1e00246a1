"""Deprecated: this module moved to :mod:`edgerun.tools.convert` (this name keeps working for now)."""

from typing import Any

from ._compat import warn_moved
from .tools.convert import *  # noqa: F401,F403
from .tools import convert as _new

warn_moved(__name__, "edgerun.tools.convert")


def __getattr__(name: str) -> Any:  # the rest, private names included
    return getattr(_new, name)
