"""edgerun's version (a leaf module, so that any module can import it without a cycle).

The version is written once, in pyproject.toml; the installed distribution's metadata
carries it here.
"""

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("edgerun")
except _metadata.PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"
