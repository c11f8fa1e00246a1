"""Preprocessor.crop: rotated-ROI crops (the second stage of a detector -> landmark
cascade) against a NumPy bilinear reference written here (float64, half-pixel
centres, constant border = pad_value) and OpenCV's warpAffine."""

from __future__ import annotations

import numpy as np
import pytest

import edgerun


def roi_matrix(roi, out_w, out_h):
    """input pixel (continuous) -> source pixel, for roi = (cx, cy, w, h, angle degrees)."""
    cx, cy, w, h, ang = roi
    a = np.deg2rad(ang)
    c, s = np.cos(a), np.sin(a)
    A = np.array([[c * w / out_w, -s * h / out_h], [s * w / out_w, c * h / out_h]])
    b = np.array([cx, cy]) - A @ np.array([out_w / 2, out_h / 2])
    return np.hstack([A, b[:, None]])


def ref_crop(frame, roi, out_w, out_h, pad):
    """float64 (out_h, out_w, C) source values sampled bilinearly at each output pixel centre."""
    m = roi_matrix(roi, out_w, out_h)
    v, u = np.mgrid[0:out_h, 0:out_w] + 0.5
    sx = m[0, 0] * u + m[0, 1] * v + m[0, 2] - 0.5
    sy = m[1, 0] * u + m[1, 1] * v + m[1, 2] - 0.5
    img = frame.reshape(frame.shape[0], frame.shape[1], -1).astype(np.float64)
    H, W, C = img.shape
    padded = np.empty((H + 4, W + 4, C))
    padded[:] = np.asarray(pad, np.float64)[:C]
    padded[2:-2, 2:-2] = img
    x0, y0 = np.floor(sx), np.floor(sy)
    wx, wy = (sx - x0)[..., None], (sy - y0)[..., None]
    xi = np.clip(x0.astype(int) + 2, 0, W + 2)
    yi = np.clip(y0.astype(int) + 2, 0, H + 2)
    far = (x0 < -2) | (y0 < -2) | (x0 > W + 1) | (y0 > H + 1)
    out = ((1 - wx) * (1 - wy) * padded[yi, xi] + wx * (1 - wy) * padded[yi, xi + 1]
           + (1 - wx) * wy * padded[yi + 1, xi] + wx * wy * padded[yi + 1, xi + 1])
    out[far] = np.asarray(pad, np.float64)[:C]
    return out


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(51)
    f = rng.integers(0, 256, (97, 131, 3), dtype=np.int64).astype(np.uint8)
    f[20:60, 30:90] = [200, 40, 90]  # a patch with edges
    return f


@pytest.mark.parametrize("roi", [
    (65.5, 48.5, 60.0, 40.0, 0.0),
    (70.0, 50.0, 64.0, 64.0, 30.0),
    (40.0, 30.0, 90.0, 50.0, -135.0),
    (120.0, 90.0, 80.0, 80.0, 90.0),   # reaches past the frame: padding
])
def test_crop_float_matches_numpy_and_transform(frame, roi):
    pre = edgerun.Preprocessor("rgb", mean=(10, 20, 30), std=(50, 60, 70), pad_value=(1, 2, 3))
    out = np.zeros((1, 48, 56, 3), np.float32)
    t = pre.crop(frame, out, roi)
    ref = (ref_crop(frame, roi, 56, 48, (1, 2, 3)) - [10, 20, 30]) / [50, 60, 70]
    np.testing.assert_allclose(out[0], ref, rtol=0, atol=2e-4)  # float32 weights on 0..255 values
    np.testing.assert_allclose(t.matrix, roi_matrix(roi, 56, 48), atol=1e-9)
    assert t.input_size == (56, 48) and t.content == (0, 0, 56, 48)
    # the centre of the input is the ROI centre; heads map back through the same transform
    np.testing.assert_allclose(t.to_source([[28.0, 24.0]]), [[roi[0], roi[1]]], atol=1e-9)
    x0, y0, w, h = t.source_roi
    assert x0 >= 0 and y0 >= 0 and x0 + w <= 131 and y0 + h <= 97


def test_crop_bgr_channels_gray_and_int8(frame):
    roi = (60.0, 45.0, 50.0, 70.0, 15.0)
    bgr = np.ascontiguousarray(frame[..., ::-1])
    rgb_out = np.zeros((32, 32, 3), np.float32)
    edgerun.Preprocessor("rgb", mean=0, std=1).crop(frame, rgb_out, roi)
    bgr_out = np.zeros((32, 32, 3), np.float32)
    edgerun.Preprocessor("bgr", mean=0, std=1).crop(bgr, bgr_out, roi)
    np.testing.assert_allclose(bgr_out, rgb_out, atol=1e-4)  # a BGR frame read as RGB output
    swapped = np.zeros((32, 32, 3), np.float32)
    edgerun.Preprocessor("rgb", mean=0, std=1, channels="bgr").crop(frame, swapped, roi)
    np.testing.assert_allclose(swapped, rgb_out[..., ::-1], atol=1e-4)
    gray = np.zeros((32, 32), np.float32)
    edgerun.Preprocessor("rgb", mean=0, std=1, channels="gray").crop(frame, gray, roi)
    ref = ref_crop(frame, roi, 32, 32, (0, 0, 0)) @ [0.299, 0.587, 0.114]
    np.testing.assert_allclose(gray, ref, atol=2e-3)
    q = np.zeros((1, 32, 32, 3), np.int8)
    edgerun.Preprocessor("rgb").crop(frame, q, roi, scale=1 / 128, zero_point=0)  # (px - 127.5) / 127.5
    refq = np.clip(np.rint((ref_crop(frame, roi, 32, 32, (0, 0, 0)) - 127.5) / 127.5 * 128), -128, 127)
    assert np.abs(q[0].astype(int) - refq).max() <= 1


def test_crop_matches_opencv_warp_affine(frame):
    cv2 = pytest.importorskip("cv2")
    roi = (66.0, 47.0, 70.0, 55.0, 37.0)
    out = np.zeros((50, 60, 3), np.float32)
    edgerun.Preprocessor("rgb", mean=0, std=1).crop(frame, out, roi)
    m = roi_matrix(roi, 60, 50)
    # OpenCV maps integer output indices: shift the half-pixel centres in and out.
    M = m.copy()
    M[:, 2] = m[:, :2] @ [0.5, 0.5] + m[:, 2] - 0.5
    ref = cv2.warpAffine(frame.astype(np.float32), M, (60, 50), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    # OpenCV quantizes the bilinear weights to 1/32: within 255/32 at the sharpest edges
    assert np.abs(out - ref).max() <= 255 / 32 + 1e-3
    assert np.abs(out - ref).mean() < 0.5


def test_crop_errors(frame):
    pre = edgerun.Preprocessor("rgb")
    out = np.zeros((8, 8, 3), np.float32)
    with pytest.raises(edgerun.InputError, match=r"roi: expected \(cx, cy, width, height, angle\)"):
        pre.crop(frame, out, (1, 2, 3, 4))
    with pytest.raises(edgerun.InputError, match=r"positive size"):
        pre.crop(frame, out, (10, 10, 0, 5, 0))
    with pytest.raises(edgerun.InputError, match=r"finite"):
        pre.crop(frame, out, (10, float("nan"), 5, 5, 0))
    with pytest.raises(edgerun.InputError, match=r"rotated ROI crops take rgb, bgr, rgba, bgra or gray"):
        edgerun.Preprocessor("nv12").crop(np.zeros((12, 8), np.uint8), out, (4, 4, 4, 4, 0))
    with pytest.raises(edgerun.InputError, match=r"roi: expected"):
        pre.crop(frame, out, "centre")
