"""Accelerators beyond the CPU: delegate plugins, the Edge TPU, the LiteRT GPU accelerator.

    # Coral Edge TPU (libedgetpu.so.1, see docs/edgetpu.md)
    s = edgerun.Session("model_edgetpu.tflite", accelerator="edgetpu",
                        accelerator_options={"device": "usb:0"})
    # any plugin exporting tflite_plugin_create_delegate / tflite_plugin_destroy_delegate
    s = edgerun.Session("model.tflite",
                        delegates=[edgerun.Delegate("/usr/lib/libarmnnDelegate.so",
                                                    {"backends": "GpuAcc,CpuAcc"})])
    s.placement()  # which operator runs where
"""

from __future__ import annotations

import dataclasses
import os
from typing import Mapping, Union

from . import _core
from ._types import EdgeTpuDevice, EdgeTpuRuntime
from .errors import DelegateError, InputError
from .model.tflite_file import op_name  # noqa: F401  (its old home; Session.placement names ops with it)

__all__ = [
    "Delegate",
    "OpPlacement",
    "AcceleratorFallbackWarning",
    "edgetpu_devices",
    "edgetpu_runtime",
]

OptionValue = Union[str, int, float, bool]


class AcceleratorFallbackWarning(RuntimeWarning):
    """A session asked for an accelerator with ``fallback="cpu"`` runs on the CPU instead."""


def _option_str(key: str, value: OptionValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise InputError(f"option {key!r}: values must be str, int, float or bool, got "
                     f"{type(value).__name__}")


def options_pairs(options: Mapping[str, OptionValue] | None, what: str) -> list[tuple[str, str]]:
    """Key/value options as the strings a plugin receives (bools become "true"/"false")."""
    if options is None:
        return []
    if not isinstance(options, Mapping):
        raise InputError(f"{what} must be a mapping of option names to values, got "
                         f"{type(options).__name__}")
    pairs = []
    for key, value in options.items():
        if not isinstance(key, str) or not key:
            raise InputError(f"{what}: option names must be non-empty str, got {key!r}")
        pairs.append((key, _option_str(key, value)))
    return pairs


@dataclasses.dataclass(frozen=True)
class Delegate:
    """A TensorFlow Lite delegate plugin to attach to a :class:`~edgerun.Session`.

    ``library`` is the path of a shared library exporting the classic
    external-delegate entry points ``tflite_plugin_create_delegate`` and
    ``tflite_plugin_destroy_delegate`` (what ``tflite_runtime``'s
    ``load_delegate()`` loads: libedgetpu.so.1, ArmNN's delegate, vendor NPU
    delegates); a bare file name is searched like ``dlopen`` does. ``options``
    are passed to the plugin as key/value strings.

    The plugin must be built against TensorFlow Lite >= 2.16 headers. Plugins
    run before the CPU: they see the whole graph and take the operators they
    support; XNNPACK takes what is left. A failure to load or apply it raises
    :class:`~edgerun.DelegateError` naming the library and the reason.
    """

    library: Union[str, "os.PathLike[str]"]
    options: Mapping[str, OptionValue] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.library, (str, os.PathLike)):
            raise InputError(f"Delegate library must be a path, got {type(self.library).__name__}")
        object.__setattr__(self, "library", os.fsdecode(os.fspath(self.library)))
        if not self.library:
            raise InputError("Delegate library must not be empty")
        object.__setattr__(self, "options", dict(self.options or {}))
        options_pairs(self.options, f"Delegate({self.library!r}) options")

    def _core_spec(self) -> tuple[str, list[tuple[str, str]]]:
        return (str(self.library), options_pairs(self.options, "Delegate options"))


@dataclasses.dataclass(frozen=True)
class OpPlacement:
    """Where one operator of the model runs (see :meth:`edgerun.Session.placement`)."""

    subgraph: int
    index: int
    #: operator name: the builtin name ("CONV_2D") or, for custom operators, the custom code
    op: str
    #: "cpu", "edgetpu", "delegate:<library file name>", or "gpu|cpu"
    accelerator: str


def edgetpu_devices() -> list[EdgeTpuDevice]:
    """The Edge TPUs that Coral's runtime (libedgetpu.so.1) can see: a probe, it never
    raises for a missing runtime.

    Returns a list of ``{"type": "usb" | "pci", "path": ...}`` in the order that
    the ``device`` option counts them (``"usb:0"`` is the first USB one). An empty
    list when no device is attached, and also when there is no usable runtime to
    ask (:func:`edgetpu_runtime` then says why).
    """
    try:
        found = _core._edgetpu_devices()
    except DelegateError:
        return []
    return [{"type": t, "path": p} for t, p in found]


def edgetpu_runtime() -> EdgeTpuRuntime:
    """Which libedgetpu would be used: a probe, it never raises for a missing runtime.

    Returns ``{"available": bool, "library": path, "version": str, "error": str}``:
    ``available`` is True when a usable libedgetpu.so.1 was found (``library`` is its
    path, ``version`` its version string). Otherwise ``library`` and ``version``
    are ``""`` and ``error`` says why: not installed, cannot be loaded, or a build
    known not to work with LiteRT 2.3 (built against TensorFlow < 2.16 headers),
    with what to do. ``Session(..., accelerator="edgetpu")`` raises
    :class:`~edgerun.DelegateError` with the same reason.
    """
    try:
        library, version = _core._edgetpu_runtime()
    except DelegateError as e:
        return {"available": False, "library": "", "version": "", "error": str(e)}
    return {"available": True, "library": library, "version": version, "error": ""}
