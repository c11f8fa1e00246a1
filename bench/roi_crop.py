"""Rotated ROI crop (Preprocessor.crop) vs OpenCV, interleaved in one process.

A 640x480 frame, a 200x200 ROI at 17 degrees sampled into 192x192 (the face-mesh
crop of bench/cascade.py). Variants, per call (best of --rounds x --calls):

  reference     Preprocessor(_isa="scalar"): the per-pixel scalar kernel
  portable      EDGERUN_DISABLE_SIMD=1: bounds-free interiors, no SIMD
  edgerun       the default (AVX2 / NEON interiors)
  edgerun-u8    the same into a uint8 output (quantized store)
  cv2-u8        cv2.warpAffine (WARP_INVERSE_MAP), uint8
  cv2-u8-1t     the same with cv2.setNumThreads(1) (OpenCV splits warpAffine over its
                threads; edgerun's crop runs on the calling thread)
  cv2-f32       cv2.warpAffine then astype(float32) / 255 (what a float model needs)
  i420          Preprocessor("i420").crop of the same frame as I420
  cv2-i420      cv2.cvtColor(I420 -> RGB) + warpAffine + float conversion

    python bench/roi_crop.py [--rounds 7] [--calls 200]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

import edgerun


def main(argv=None) -> int:
    import cv2

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--calls", type=int, default=200)
    args = ap.parse_args(argv)

    rng = np.random.default_rng(0)
    rgb = cv2.GaussianBlur(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8), (5, 5), 0)
    i420 = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)
    roi = (320.0, 240.0, 200.0, 200.0, 17.0)
    out = np.zeros((1, 192, 192, 3), np.float32)
    out8 = np.zeros((1, 192, 192, 3), np.uint8)
    pre = edgerun.Preprocessor("rgb", mean=0, std=255)
    ref = edgerun.Preprocessor("rgb", mean=0, std=255, _isa="scalar")
    yuv = edgerun.Preprocessor("i420", mean=0, std=255)
    # the ROI's matrix in OpenCV's integer-index form
    a = np.deg2rad(roi[4])
    A = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) * (200 / 192)
    b = np.array(roi[:2]) - A @ [96.0, 96.0]
    M = np.hstack([A, (A @ [0.5, 0.5] + b - 0.5)[:, None]])
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP

    def portable():
        os.environ["EDGERUN_DISABLE_SIMD"] = "1"
        try:
            pre.crop(rgb, out, roi)
        finally:
            del os.environ["EDGERUN_DISABLE_SIMD"]

    nthreads = cv2.getNumThreads()

    def cv2_one_thread():
        cv2.setNumThreads(1)
        try:
            cv2.warpAffine(rgb, M, (192, 192), flags=flags)
        finally:
            cv2.setNumThreads(nthreads)

    variants = {
        "reference": lambda: ref.crop(rgb, out, roi),
        "portable": portable,
        "edgerun": lambda: pre.crop(rgb, out, roi),
        "edgerun-u8": lambda: pre.crop(rgb, out8, roi, scale=1 / 255, zero_point=0),
        "cv2-u8": lambda: cv2.warpAffine(rgb, M, (192, 192), flags=flags),
        "cv2-u8-1t": cv2_one_thread,
        "cv2-f32": lambda: cv2.warpAffine(rgb, M, (192, 192), flags=flags).astype(np.float32) / 255,
        "i420": lambda: yuv.crop(i420, out, roi),
        "cv2-i420": lambda: cv2.warpAffine(cv2.cvtColor(i420, cv2.COLOR_YUV2RGB_I420), M, (192, 192),
                                           flags=flags).astype(np.float32) / 255,
    }
    best = {k: float("inf") for k in variants}
    for _ in range(args.rounds):
        for k, fn in variants.items():
            t0 = time.perf_counter()
            for _ in range(args.calls):
                fn()
            best[k] = min(best[k], (time.perf_counter() - t0) / args.calls * 1e3)
    pre.crop(rgb, out, roi)
    ours = out[0]
    theirs = cv2.warpAffine(rgb, M, (192, 192), flags=flags).astype(np.float32) / 255
    print(f"edgerun {edgerun.__version__} | {os.cpu_count()} logical CPUs | cv2 threads {cv2.getNumThreads()} | "
          f"640x480 -> 192x192 at 17 deg | best of {args.rounds} x {args.calls}, interleaved")
    for k, v in best.items():
        print(f"  {k:11s} {v:7.3f} ms")
    print(f"  edgerun / cv2-f32 = {best['edgerun'] / best['cv2-f32']:.2f}   edgerun / cv2-u8 = "
          f"{best['edgerun'] / best['cv2-u8']:.2f}   edgerun / cv2-u8-1t = {best['edgerun'] / best['cv2-u8-1t']:.2f}"
          f"\n  edgerun / reference = {best['edgerun'] / best['reference']:.2f}"
          f"   i420 / cv2-i420 = {best['i420'] / best['cv2-i420']:.2f}")
    print(f"  max |edgerun - cv2-f32| = {np.abs(ours - theirs).max() * 255:.2f} levels (OpenCV: 1/32 weights)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
