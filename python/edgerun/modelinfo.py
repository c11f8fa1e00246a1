"""Deprecated: this module moved to :mod:`edgerun.model.inspect` (:func:`inspect`, its table
output) and :mod:`edgerun.model.info` (the result types; ``TensorInfo`` and
``SignatureInfo`` are now ``TensorDetails`` and ``SignatureDetails``). This name keeps working for now."""

from typing import Any

from ._compat import warn_moved
from .model.info import *  # noqa: F401,F403
from .model.inspect import *  # noqa: F401,F403
from .model import info as _info, inspect as _inspect
from .model.info import EDGETPU_CUSTOM_OP  # noqa: F401

warn_moved(__name__, "edgerun.model.inspect")


def __getattr__(name: str) -> Any:  # the rest, private names included
    for module in (_inspect, _info):
        if hasattr(module, name):
            return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
