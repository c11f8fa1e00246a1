"""Finding and loading the LiteRT runtime (libLiteRt.so from the ai-edge-litert wheel)."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import sys
import threading
import warnings

from . import _core
from ._types import RuntimeInfo

_lock = threading.Lock()
_loaded = False

_LIB_NAMES = {
    "linux": "libLiteRt.so",
    "darwin": "libLiteRt.dylib",
    "win32": "LiteRt.dll",
}


def find_litert() -> tuple[str, str]:
    """Returns (library path, installed ai-edge-litert version); ("", "") parts when absent.

    Does not import ai_edge_litert (its import pulls in much more than the library).
    """
    try:
        version = importlib.metadata.version("ai-edge-litert")
    except importlib.metadata.PackageNotFoundError:
        version = ""
    spec = importlib.util.find_spec("ai_edge_litert")
    path = ""
    if spec is not None and spec.submodule_search_locations:
        name = _LIB_NAMES.get(sys.platform, "libLiteRt.so")
        for folder in spec.submodule_search_locations:
            candidate = os.path.join(folder, name)
            if os.path.exists(candidate):
                path = candidate
                break
    return path, version


#: values of $EDGERUN_LITERT_LOG (the runtime's minimum log severity; "error" is the default)
LOG_LEVELS = ("verbose", "info", "warning", "error", "silent")


def check_log_level() -> str:
    """$EDGERUN_LITERT_LOG as the core reads it; warns (RuntimeWarning) when it is set to
    something else than one of LOG_LEVELS, which the core would ignore silently."""
    value = os.environ.get("EDGERUN_LITERT_LOG")
    if value is None:
        return "error"
    if value not in LOG_LEVELS:
        warnings.warn(f"EDGERUN_LITERT_LOG={value!r} is not a log level and is ignored (the runtime "
                      f"logs errors only, the default); valid values: {', '.join(LOG_LEVELS)}",
                      RuntimeWarning, stacklevel=3)
        return "error"
    return value


def ensure_runtime() -> None:
    """Loads libLiteRt.so once per process; raises edgerun.RuntimeLoadError if it cannot."""
    global _loaded
    if _loaded:
        return
    with _lock:
        if not _loaded:
            check_log_level()
            path, version = find_litert()
            _core.load_runtime(path, version)
            _loaded = True


def runtime_info() -> RuntimeInfo:
    """Which LiteRT runtime edgerun uses: ``library`` (path of libLiteRt.so), ``version``
    (of the ai-edge-litert distribution), ``supported`` (the versions edgerun was checked
    against), ``loaded`` and ``error``.

    Loads the runtime if no Session has yet (as the first Session would), so the answer is
    the same before and after. Never raises: when the runtime cannot be loaded, ``loaded``
    is False, ``error`` says why, and ``library`` / ``version`` are what was found ("" if
    nothing)."""
    error = ""
    try:
        ensure_runtime()
    except Exception as e:  # RuntimeLoadError and whatever dlopen may raise
        error = str(e)
    path, version = _core.runtime_info()
    if not _loaded:
        path, version = find_litert()
        path = os.environ.get("EDGERUN_LITERT_LIB") or path
    return {"library": path, "version": version, "supported": _core.supported_litert() + ".*",
            "loaded": _loaded, "error": error}
