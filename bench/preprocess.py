"""Benchmark: edgerun.Preprocessor against the OpenCV + NumPy chain.

The four cases of issue 6, single thread, each chain writing into preallocated
buffers, measured interleaved (one call of each per round) so that both see the
same machine state; prints median microseconds and the speed ratio.

    python bench/preprocess.py [--rounds 300] [--case N] [--exact] [--kernel scalar]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

try:
    import cv2
except ImportError:
    sys.exit("bench/preprocess.py needs OpenCV: pip install opencv-python-headless (the 'bench' extra)")

import edgerun
from edgerun.preprocess import Preprocessor


def nv12_frame(rng, w, h):
    return rng.integers(0, 256, (h * 3 // 2, w), dtype=np.uint8)


def bgr_frame(rng, w, h):
    # photo-like content (smooth + edges) rather than noise, so caches/branches behave as with real frames
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([(x * 255 // w), (y * 255 // h), ((x + y) % 256)], -1).astype(np.uint8)
    img[(x // 37 + y // 23) % 5 == 0] = 200
    return np.ascontiguousarray(img + rng.integers(0, 8, img.shape, dtype=np.uint8))


def case_nv12_256_f32(rng):
    frame = nv12_frame(rng, 640, 480)
    rgb = np.empty((480, 640, 3), np.uint8)
    small = np.empty((256, 256, 3), np.uint8)
    ref = np.empty((256, 256, 3), np.float32)

    def opencv():
        cv2.cvtColor(frame, cv2.COLOR_YUV2RGB_NV12, dst=rgb)
        cv2.resize(rgb, (256, 256), dst=small, interpolation=cv2.INTER_LINEAR)
        np.subtract(small, np.float32(127.5), out=ref, dtype=np.float32)
        np.multiply(ref, np.float32(1 / 127.5), out=ref)

    out = np.empty((256, 256, 3), np.float32)
    return "NV12 640x480 -> 256x256 float32 [-1,1]", opencv, frame, out, dict(format="nv12"), {}


def case_bgr_128_f32(rng):
    frame = bgr_frame(rng, 640, 480)
    rgb = np.empty_like(frame)
    small = np.empty((128, 128, 3), np.uint8)
    ref = np.empty((128, 128, 3), np.float32)

    def opencv():
        cv2.cvtColor(frame, cv2.COLOR_BGR2RGB, dst=rgb)
        cv2.resize(rgb, (128, 128), dst=small, interpolation=cv2.INTER_LINEAR)
        np.subtract(small, np.float32(127.5), out=ref, dtype=np.float32)
        np.multiply(ref, np.float32(1 / 127.5), out=ref)

    out = np.empty((128, 128, 3), np.float32)
    return "BGR 640x480 -> 128x128 float32", opencv, frame, out, dict(format="bgr"), {}


def case_bgr_letterbox_u8(rng):
    frame = bgr_frame(rng, 1280, 720)
    rgb = np.empty_like(frame)
    small = np.empty((180, 320, 3), np.uint8)
    ref = np.empty((320, 320, 3), np.uint8)

    def opencv():
        cv2.cvtColor(frame, cv2.COLOR_BGR2RGB, dst=rgb)
        cv2.resize(rgb, (320, 180), dst=small, interpolation=cv2.INTER_LINEAR)
        ref[:70] = 114
        ref[250:] = 114
        ref[70:250] = small

    out = np.empty((320, 320, 3), np.uint8)
    spec = dict(format="bgr", fit="letterbox", mean=0, std=1, pad_value=114)
    return "BGR 1280x720 -> 320x320 uint8 letterbox", opencv, frame, out, spec, dict(scale=1.0, zero_point=0)


def case_nv12_1080_rot90_i8(rng):
    frame = nv12_frame(rng, 1920, 1080)
    rgb = np.empty((1080, 1920, 3), np.uint8)
    small = np.empty((300, 300, 3), np.uint8)
    rot = np.empty((300, 300, 3), np.uint8)
    tmp = np.empty((300, 300, 3), np.int16)
    ref = np.empty((300, 300, 3), np.int8)

    def opencv():
        # rotating after the resize is the cheap order (the frame is square-resized anyway)
        cv2.cvtColor(frame, cv2.COLOR_YUV2RGB_NV12, dst=rgb)
        cv2.resize(rgb, (300, 300), dst=small, interpolation=cv2.INTER_LINEAR)
        cv2.rotate(small, cv2.ROTATE_90_CLOCKWISE, dst=rot)
        np.subtract(rot, 128, out=tmp, dtype=np.int16)  # int8 with scale 1/128 of [-1, 1): q = px - 128
        np.copyto(ref, tmp, casting="unsafe")

    out = np.empty((300, 300, 3), np.int8)
    spec = dict(format="nv12", rotate=90, mean=127.5, std=127.5)
    return ("NV12 1920x1080 -> 300x300 int8 rotate=90", opencv, frame, out, spec,
            dict(scale=1 / 128, zero_point=0))


CASES = [case_nv12_256_f32, case_bgr_128_f32, case_bgr_letterbox_u8, case_nv12_1080_rot90_i8]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=300)
    ap.add_argument("--case", type=int, action="append", help="run only case N (1-4); repeatable")
    ap.add_argument("--exact", action="store_true", help="also time yuv_sampling='rgb' (OpenCV-order YUV)")
    ap.add_argument("--kernel", default="auto", help="force a kernel: auto, scalar, avx2, neon")
    args = ap.parse_args()
    cv2.setNumThreads(1)
    rng = np.random.default_rng(0)
    print(f"edgerun {edgerun.__version__}, OpenCV {cv2.__version__}, numpy {np.__version__}, "
          f"{os.cpu_count()} CPUs, single thread, {args.rounds} interleaved rounds, median us")
    rows = []
    for i, make in enumerate(CASES, 1):
        if args.case and i not in args.case:
            continue
        name, opencv, frame, out, spec, qargs = make(rng)
        pre = Preprocessor(**spec, _isa=args.kernel)
        fns = {"opencv": opencv, "edgerun": lambda pre=pre: pre(frame, out, **qargs)}
        if args.exact and spec["format"] == "nv12":
            exact = Preprocessor(**spec, yuv_sampling="rgb", _isa=args.kernel)
            fns["edgerun rgb-taps"] = lambda exact=exact: exact(frame, out, **qargs)
        for f in fns.values():  # warm-up: plans, caches, page faults
            for _ in range(3):
                f()
        times = {k: [] for k in fns}
        for _ in range(args.rounds):
            for k, f in fns.items():
                t0 = time.perf_counter()
                f()
                times[k].append(time.perf_counter() - t0)
        med = {k: float(np.median(v)) * 1e6 for k, v in times.items()}
        print(f"\n{i}. {name}   (kernel: {pre.kernel})")
        for k, v in med.items():
            ratio = "" if k == "opencv" else f"   {med['opencv'] / v:5.2f}x faster than OpenCV"
            print(f"   {k:18s} {v:9.1f} us{ratio}")
        rows.append((name, med["opencv"], med["edgerun"]))
    print("\nsummary: " + "; ".join(f"{n.split(' ->')[0]}: {o / e:.2f}x ({e:.0f} vs {o:.0f} us)" for n, o, e in rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
