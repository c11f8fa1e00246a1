"""Model verification: is this file a structurally sound .tflite model?"""

from __future__ import annotations

import os
from typing import Union

from . import _core
from .errors import InputError

__all__ = ["verify"]


def verify(model: Union[str, "os.PathLike[str]", bytes, bytearray, memoryview]) -> None:
    """Raises :class:`edgerun.ModelError` saying what is wrong if ``model`` is not a valid model.

    Checks the whole flatbuffer structure (every table, vector, string and union
    in bounds) and its cross-references (operator codes, tensor, buffer and
    subgraph indices; buffer sizes against shapes and types), in time linear in
    the file size. This is the check every :class:`edgerun.Session` runs before
    handing the bytes to the runtime. Needs no runtime.
    """
    if isinstance(model, (str, os.PathLike)):
        _core.verify_file(os.fsdecode(os.fspath(model)))
    elif isinstance(model, (bytes, bytearray, memoryview)):
        _core.verify_model(model)
    else:
        raise InputError(f"expected a path or bytes, got {type(model).__name__}")
