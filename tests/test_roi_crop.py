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
    with pytest.raises(edgerun.InputError, match=r"rotated ROI crops take rgb, bgr, rgba, bgra, gray, nv12, nv21 or i420"):
        edgerun.Preprocessor("yuyv").crop(np.zeros((8, 8, 2), np.uint8), out, (4, 4, 4, 4, 0))
    with pytest.raises(edgerun.InputError, match=r"roi: expected"):
        pre.crop(frame, out, "centre")


# --- the fast path (bounds-free row interiors, AVX2 where available) against the
# per-pixel scalar reference (_isa="scalar") and the portable interior
# (EDGERUN_DISABLE_SIMD=1), over formats, output types, layouts, angles and sizes.

ROIS = [
    (65.5, 48.5, 60.0, 40.0, 0.0),       # axis-aligned, inside
    (70.0, 50.0, 64.0, 64.0, 30.0),
    (40.0, 30.0, 90.0, 50.0, -135.0),
    (120.0, 90.0, 80.0, 80.0, 90.0),     # reaches past the frame: padding
    (5.0, 3.0, 30.0, 200.0, 7.3),        # mostly outside, tall
    (66.0, 49.0, 9.0, 5.0, 181.0),       # upscaling a small patch
    (60.0, 45.0, 400.0, 300.0, 45.0),    # bigger than the frame
]


def _packed(frame, fmt):
    if fmt == "rgb":
        return frame
    if fmt == "bgr":
        return np.ascontiguousarray(frame[..., ::-1])
    if fmt == "gray":
        return np.ascontiguousarray(frame[..., 1])
    alpha = np.full(frame.shape[:2] + (1,), 77, np.uint8)
    rgba = np.concatenate([frame if fmt == "rgba" else frame[..., ::-1], alpha], axis=2)
    # row stride > width * 4: a view into wider rows (camera buffers are padded)
    wide = np.zeros((frame.shape[0], frame.shape[1] + 5, 4), np.uint8)
    wide[:, :frame.shape[1]] = rgba
    return wide[:, :frame.shape[1]]


def _out(dtype, layout, channels, h=40, w=44):
    c = 1 if channels == "gray" else 3
    shape = (1, h, w, c) if layout == "nhwc" else (1, c, h, w)
    return np.zeros(shape, dtype)


@pytest.mark.parametrize("fmt", ["rgb", "bgr", "rgba", "bgra", "gray"])
@pytest.mark.parametrize("channels", ["rgb", "bgr", "gray"])
def test_crop_fast_matches_reference_formats(frame, fmt, channels, monkeypatch):
    src = _packed(frame, fmt)
    kw = dict(mean=(10, 20, 30), std=(50, 60, 70), pad_value=(1, 2, 3), channels=channels)
    fast, ref = edgerun.Preprocessor(fmt, **kw), edgerun.Preprocessor(fmt, _isa="scalar", **kw)
    for roi in ROIS:
        a, b = _out(np.float32, "nhwc", channels), _out(np.float32, "nhwc", channels)
        ta = fast.crop(src, a, roi)
        tb = ref.crop(src, b, roi)
        # same taps and weights; float rounding of the two kernels differs: 1e-4 of a level / std
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-4, err_msg=str(roi))
        np.testing.assert_array_equal(ta.matrix, tb.matrix)
        monkeypatch.setenv("EDGERUN_DISABLE_SIMD", "1")  # the portable interior
        fast.crop(src, a, roi)
        monkeypatch.delenv("EDGERUN_DISABLE_SIMD")
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-4, err_msg=str(roi))
        if fmt == "rgb" and channels != "gray":  # and the independent NumPy reference
            r = ref_crop(frame, roi, 44, 40, (1, 2, 3))
            if channels == "bgr":
                r = r[..., ::-1]
            r = (r - [10, 20, 30]) / [50, 60, 70]  # mean/std per output channel
            np.testing.assert_allclose(a[0], r, rtol=0, atol=2e-4, err_msg=str(roi))


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.uint8, np.int8])
@pytest.mark.parametrize("layout", ["nhwc", "nchw"])
def test_crop_fast_matches_reference_types_layouts(frame, dtype, layout):
    kw = dict(mean=127.5, std=127.5, layout=layout)
    fast, ref = edgerun.Preprocessor("bgr", **kw), edgerun.Preprocessor("bgr", _isa="scalar", **kw)
    src = np.ascontiguousarray(frame[..., ::-1])
    q = dict(scale=1 / 128, zero_point=0 if dtype == np.int8 else 128) if dtype in (np.uint8, np.int8) else {}
    for roi in ROIS:
        a, b = _out(dtype, layout, "rgb"), _out(dtype, layout, "rgb")
        fast.crop(src, a, roi, **q)
        ref.crop(src, b, roi, **q)
        if dtype in (np.uint8, np.int8):
            # a value within float rounding of a .5 step may round either way: 1 step
            assert np.abs(a.astype(int) - b.astype(int)).max() <= 1, roi
            assert np.mean(a != b) < 0.01, roi
        else:
            np.testing.assert_allclose(a.astype(np.float32), b.astype(np.float32), rtol=1e-3, atol=1e-5,
                                       err_msg=str(roi))
        # against the NumPy reference, in the output's layout
        r = (ref_crop(frame, roi, 44, 40, (0, 0, 0)) - 127.5) / 127.5
        if layout == "nchw":
            r = r.transpose(2, 0, 1)
        if dtype in (np.uint8, np.int8):
            zp = q["zero_point"]
            lo, hi = (-128, 127) if dtype == np.int8 else (0, 255)
            rq = np.clip(np.rint(r * 128 + zp), lo, hi)
            assert np.abs(a[0].astype(int) - rq).max() <= 1, roi
        else:
            np.testing.assert_allclose(a[0].astype(np.float32), r, rtol=0, atol=2e-3 if dtype == np.float16 else 2e-4,
                                       err_msg=str(roi))


def test_crop_fast_many_angles_and_sizes_vs_numpy():
    rng = np.random.default_rng(7)
    f = rng.integers(0, 256, (61, 83, 3), dtype=np.int64).astype(np.uint8)
    pre = edgerun.Preprocessor("rgb", mean=0, std=1, pad_value=(9, 8, 7))
    for i in range(60):
        ow, oh = int(rng.integers(1, 70)), int(rng.integers(1, 70))
        roi = (float(rng.uniform(-20, 100)), float(rng.uniform(-20, 80)), float(rng.uniform(0.5, 120)),
               float(rng.uniform(0.5, 120)), float(rng.uniform(-360, 360)))
        out = np.zeros((oh, ow, 3), np.float32)
        pre.crop(f, out, roi)
        np.testing.assert_allclose(out, ref_crop(f, roi, ow, oh, (9, 8, 7)), rtol=0, atol=2e-3, err_msg=str(roi))


# --- YUV 4:2:0 frames: the reachable region converted to uint8 RGB, then sampled
# (= cvtColor -> warpAffine; the conversions may round a value differently by 1).

def _yuv_frames(rgb, stride):
    """(nv12, nv21, i420) arrays of shape (H*3/2, W) with row stride `stride`, from an RGB image."""
    cv2 = pytest.importorskip("cv2")
    H, W = rgb.shape[:2]
    i420 = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)  # (H*3/2, W): Y, then U, V planes
    y = i420[:H]
    u = i420[H:H + H // 4].reshape(H // 2, W // 2)
    v = i420[H + H // 4:].reshape(H // 2, W // 2)
    out = {}
    for name in ("nv12", "nv21"):
        buf = np.zeros((H * 3 // 2, stride), np.uint8)
        buf[:H, :W] = y
        uv = np.stack([u, v] if name == "nv12" else [v, u], axis=2).reshape(H // 2, W)
        buf[H:, :W] = uv
        out[name] = buf[:, :W]
    flat = np.zeros(H * 3 // 2 * stride, np.uint8)
    flat[:H * stride].reshape(H, stride)[:, :W] = y
    cs = stride // 2
    flat[H * stride:H * stride + H // 2 * cs].reshape(H // 2, cs)[:, :W // 2] = u
    flat[H * stride + H // 2 * cs:].reshape(H // 2, cs)[:, :W // 2] = v
    # I420 with a row stride: chroma rows are stride / 2 apart (not a column slice of a dense frame)
    out["i420"] = flat.reshape(H * 3 // 2, stride)[:, :W]
    dense = {k: np.ascontiguousarray(v) for k, v in out.items()}
    dense["i420"] = i420
    return out, dense


@pytest.mark.parametrize("fmt,code", [("nv12", "COLOR_YUV2RGB_NV12"), ("nv21", "COLOR_YUV2RGB_NV21"),
                                      ("i420", "COLOR_YUV2RGB_I420")])
@pytest.mark.parametrize("stride", [96, 104])
def test_crop_yuv_matches_cvtcolor_then_numpy(fmt, code, stride):
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (48, 96 // 1, 3), dtype=np.int64).astype(np.uint8)
    rgb[10:30, 20:60] = [220, 30, 80]
    frames, dense_frames = _yuv_frames(rgb, stride)
    src, dense = frames[fmt], dense_frames[fmt]
    conv = cv2.cvtColor(dense, getattr(cv2, code))  # RGB, uint8 (rounded)
    pre = edgerun.Preprocessor(fmt, mean=0, std=1, pad_value=(5, 6, 7))
    gray = edgerun.Preprocessor(fmt, mean=0, std=1, pad_value=(5, 6, 7), channels="gray")
    for roi in [(48.0, 24.0, 40.0, 30.0, 20.0), (10.0, 40.0, 50.0, 50.0, -70.0), (48.0, 24.0, 8.0, 8.0, 0.0)]:
        out = np.zeros((1, 32, 36, 3), np.float32)
        pre.crop(src, out, roi)
        ref = ref_crop(conv, roi, 36, 32, (5, 6, 7))
        # both round converted pixels to uint8; OpenCV's fixed-point and our float constants
        # may round a value differently (1 level)
        np.testing.assert_allclose(out[0], ref, rtol=0, atol=1.0, err_msg=f"{fmt} {roi}")
        assert np.abs(out[0] - ref).mean() < 0.35
        g = np.zeros((32, 36), np.float32)
        gray.crop(src, g, roi)
        np.testing.assert_allclose(g, out[0] @ [0.299, 0.587, 0.114], rtol=0, atol=1e-3)
        # the row stride is honoured: a dense copy crops the same
        out2 = np.zeros_like(out)
        pre.crop(dense, out2, roi)
        np.testing.assert_array_equal(out, out2)
        # the SIMD region conversion and interiors against the scalar reference: the same
        # uint8 RGB region (a float tie may round the other way: 1 level), then the same taps
        out3 = np.zeros_like(out)
        edgerun.Preprocessor(fmt, mean=0, std=1, pad_value=(5, 6, 7), _isa="scalar").crop(src, out3, roi)
        assert np.abs(out - out3).max() <= 1.0 + 1e-3 and np.abs(out - out3).mean() < 0.01
