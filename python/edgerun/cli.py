"""Deprecated: the command line moved to :mod:`edgerun.tools.cli` (the ``edgerun``
console script and ``python -m edgerun`` use it; this name keeps working for now)."""

import sys

from typing import Any

from ._compat import warn_moved
from .tools import cli as _new
from .tools.cli import build_parser, main  # noqa: F401

if __name__ != "__main__":
    warn_moved(__name__, "edgerun.tools.cli")


def __getattr__(name: str) -> Any:  # the rest, private names included
    return getattr(_new, name)


if __name__ == "__main__":
    sys.exit(main())
