"""Support for the deprecated module paths of edgerun 0.1 (edgerun.cli, edgerun.converter,
edgerun.metadata, edgerun.modelinfo, edgerun.tflite_file, edgerun.modelgen)."""

from __future__ import annotations

import sys
import types
import warnings
from typing import Optional


def warn_moved(old: str, new: str) -> None:
    """A DeprecationWarning attributed to the code that imported ``old`` (not to the
    import machinery, so Python's default filters show it in __main__ and in tests)."""
    # warnings.warn skips the import machinery's frames itself when it counts stacklevel
    level = 1
    frame: Optional[types.FrameType] = sys._getframe(0)
    while frame is not None and frame.f_globals.get("__name__") in (__name__, old):
        frame = frame.f_back
        level += 1
    warnings.warn(f"{old} is deprecated and will be removed: import {new} instead",
                  DeprecationWarning, stacklevel=level)
