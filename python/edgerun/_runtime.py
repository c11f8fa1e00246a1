"""Finding and loading the LiteRT runtime (libLiteRt.so from the ai-edge-litert wheel)."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import sys
import threading

from . import _core

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


def ensure_runtime() -> None:
    """Loads libLiteRt.so once per process; raises edgerun.RuntimeLoadError if it cannot."""
    global _loaded
    if _loaded:
        return
    with _lock:
        if not _loaded:
            path, version = find_litert()
            _core.load_runtime(path, version)
            _loaded = True


def runtime_info() -> dict:
    """Which runtime library is loaded (after the first Session)."""
    path, version = _core.runtime_info()
    return {"library": path, "version": version, "supported": _core.supported_litert() + ".*"}
