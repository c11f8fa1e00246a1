"""Exceptions raised by edgerun.

Every error edgerun raises derives from :class:`Error`; each also derives from the
builtin exception a caller would naturally catch (``ValueError`` for bad models and
bad inputs, ``RuntimeError`` for failures while running).
"""

from __future__ import annotations

__all__ = [
    "Error",
    "ModelError",
    "InputError",
    "InferenceError",
    "DelegateError",
    "RuntimeLoadError",
    "BusyError",
    "ClosedError",
    "DependencyError",
]


class Error(Exception):
    """Base class of all edgerun errors."""


class ModelError(Error, ValueError):
    """The model is corrupted, malformed, or uses something the runtime cannot run."""


class InputError(Error, ValueError):
    """An argument (array, index, name, shape, option) is not what was expected."""


class InferenceError(Error, RuntimeError):
    """The runtime failed while running the model (its own message is included)."""


class DelegateError(Error, RuntimeError):
    """An accelerator or delegate could not be loaded or applied."""


class RuntimeLoadError(Error, ImportError):
    """The LiteRT runtime (libLiteRt.so) could not be found, loaded or resolved."""


class BusyError(Error, RuntimeError):
    """The operation would replace memory that live zero-copy views still point at."""


class ClosedError(Error, RuntimeError):
    """The session (or pipeline) was closed."""


class DependencyError(Error, ImportError):
    """An optional dependency is missing (the message says what to install)."""
