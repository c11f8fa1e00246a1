"""Benchmark: edgerun.Preprocessor against the OpenCV + NumPy chain.

The four cases of issue 6, single thread, each chain writing into preallocated
buffers, measured interleaved (one call of each per round) so that both see the
same machine state; prints median microseconds and the speed ratio.

    python bench/preprocess.py [--rounds 300] [--case N] [--exact] [--kernel scalar]
    python bench/preprocess.py --sweep 60 --seed 1 [--threads 2] [--cold]

--sweep N draws N random configurations (format, camera size, model size, fit,
interpolation, output dtype and layout, rotation, flip; seeded, so a seed names
the same set in every run) and prints one line per configuration (ratio, both
medians), then the geometric mean, the worst case and the count under 4x.

--cold: every call (either chain's) reads the next of enough copies of the frame
to fill 64 MiB, so no call finds its frame in the CPU caches: a camera loop's
frames arrive by DMA, not from cache. Without it both chains re-read one frame
that stays in the last-level cache between calls.

The OpenCV chain of a sweep configuration is what a user would write with
OpenCV + NumPy, into preallocated buffers, in the cheap order:
    cv2.cvtColor(frame, COLOR_<fmt>2RGB)            (skipped for rgb sources)
    [centre crop: a slice of the converted frame]   (fit="crop")
    cv2.resize(..., (w, h), interpolation)          (INTER_LINEAR / INTER_NEAREST_EXACT /
                                                     INTER_AREA; to the rotated size)
    [cv2.flip / cv2.rotate of the small image]      (flip, rotate)
    [paste into a pad-filled output]                (fit="letterbox")
    normalize: float32/float16 (x - 127.5) / 127.5; uint8: the pixels (mean 0, std 1);
               int8: x - 128 (scale 1/128); nchw: one transposed copy
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

    def opencv(frame=frame):
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

    def opencv(frame=frame):
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

    def opencv(frame=frame):
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

    def opencv(frame=frame):
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


# ---------------------------------------------------------------------------
# --sweep: random configurations
# ---------------------------------------------------------------------------
SWEEP_FORMATS = ["rgb", "bgr", "rgba", "bgra", "gray", "nv12", "nv21", "i420", "yuyv", "uyvy"]
SWEEP_CAMERAS = [(320, 240), (640, 480), (800, 600), (1280, 720), (1640, 1232), (1920, 1080)]
SWEEP_MODELS = [96, 128, 160, 192, 224, 256, 300, 320, 384, 416, 448, 512, 640]
CV_TO_RGB = {"bgr": cv2.COLOR_BGR2RGB, "rgba": cv2.COLOR_RGBA2RGB, "bgra": cv2.COLOR_BGRA2RGB,
             "gray": cv2.COLOR_GRAY2RGB, "nv12": cv2.COLOR_YUV2RGB_NV12, "nv21": cv2.COLOR_YUV2RGB_NV21,
             "i420": cv2.COLOR_YUV2RGB_I420, "yuyv": cv2.COLOR_YUV2RGB_YUYV, "uyvy": cv2.COLOR_YUV2RGB_UYVY}
CV_INTERP = {"bilinear": cv2.INTER_LINEAR, "nearest": cv2.INTER_NEAREST_EXACT, "area": cv2.INTER_AREA}
CV_ROTATE = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}


def sweep_configs(n, seed):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        w, h = SWEEP_CAMERAS[rng.integers(len(SWEEP_CAMERAS))]
        mw = int(SWEEP_MODELS[rng.integers(len(SWEEP_MODELS))])
        mh = mw if rng.random() < 0.8 else int(SWEEP_MODELS[rng.integers(len(SWEEP_MODELS))])
        out.append(dict(format=SWEEP_FORMATS[rng.integers(len(SWEEP_FORMATS))], src=(w, h), dst=(mw, mh),
                        fit=["stretch", "letterbox", "crop"][rng.integers(3)],
                        interpolation=["bilinear", "bilinear", "nearest", "area"][rng.integers(4)],
                        dtype=["float32", "float32", "uint8", "int8", "float16"][rng.integers(5)],
                        layout="nchw" if rng.random() < 0.2 else "nhwc",
                        rotate=int([0, 0, 90, 180, 270][rng.integers(5)]), flip=bool(rng.random() < 0.2)))
    return out


def sweep_frame(rng, fmt, w, h):
    if fmt in ("nv12", "nv21", "i420"):
        return rng.integers(0, 256, (h * 3 // 2, w), dtype=np.uint8)
    if fmt in ("yuyv", "uyvy"):
        return rng.integers(0, 256, (h, w, 2), dtype=np.uint8)
    rgb = bgr_frame(rng, w, h)
    if fmt == "gray":
        return np.ascontiguousarray(rgb[..., 1])
    if fmt in ("rgba", "bgra"):
        return np.ascontiguousarray(np.concatenate([rgb, np.full((h, w, 1), 255, np.uint8)], -1))
    return rgb


def sweep_case(rng, c):
    """(label, opencv chain, frame, out, Preprocessor kwargs, call kwargs) of one configuration."""
    fmt, (w, h), (W, H) = c["format"], c["src"], c["dst"]
    frame = sweep_frame(rng, fmt, w, h)
    rot, flip, fit, dtype, nchw = c["rotate"], c["flip"], c["fit"], c["dtype"], c["layout"] == "nchw"
    interp = CV_INTERP[c["interpolation"]]
    rgb = frame if fmt == "rgb" else np.empty((h, w, 3), np.uint8)
    sw, sh = (h, w) if rot in (90, 270) else (w, h)  # oriented source size
    # fit geometry in oriented pixels, as docs/preprocessing.md defines it
    crop = None
    cw, ch, cx, cy = W, H, 0, 0
    if fit == "crop":
        s = max(W / sw, H / sh)
        ow, oh = min(sw, max(1, round(W / s))), min(sh, max(1, round(H / s)))
        ox, oy = (sw - ow) // 2, (sh - oh) // 2
        # the same region of the unrotated frame (rotation maps centred crops to centred crops)
        if rot in (90, 270):
            crop = (slice(ox if rot == 270 else h - ox - ow, (ox if rot == 270 else h - ox - ow) + ow),
                    slice(oy if rot == 90 else w - oy - oh, (oy if rot == 90 else w - oy - oh) + oh))
        else:
            crop = (slice(oy if rot == 0 else h - oy - oh, (oy if rot == 0 else h - oy - oh) + oh),
                    slice(ox if rot == 0 else w - ox - ow, (ox if rot == 0 else w - ox - ow) + ow))
    elif fit == "letterbox":
        s = min(W / sw, H / sh)
        cw, ch = min(W, max(1, round(sw * s))), min(H, max(1, round(sh * s)))
        cx, cy = (W - cw) // 2, (H - ch) // 2
    rw, rh = (ch, cw) if rot in (90, 270) else (cw, ch)  # resize target before rotation
    small = np.empty((rh, rw, 3), np.uint8)
    flipped = np.empty_like(small) if flip else small
    oriented = np.empty((ch, cw, 3), np.uint8) if rot else flipped
    canvas = np.full((H, W, 3), 0, np.uint8) if fit == "letterbox" else oriented
    float_out = dtype in ("float32", "float16")
    tmp = np.empty((H, W, 3), np.float32 if float_out else np.int16)
    shape = (3, H, W) if nchw else (H, W, 3)
    ref = np.empty(shape, dtype)
    ref_t = ref.transpose(1, 2, 0) if nchw else ref
    scale = np.float32(1 / 127.5)

    def opencv(frame=frame):
        src = frame
        if fmt != "rgb":
            cv2.cvtColor(frame, CV_TO_RGB[fmt], dst=rgb)
            src = rgb
        if crop is not None:
            src = src[crop]
        cv2.resize(src, (rw, rh), dst=small, interpolation=interp)
        img = small
        if flip:  # mirror of the source = mirror of the small image before rotating
            cv2.flip(small, 1, dst=flipped)
            img = flipped
        if rot:
            cv2.rotate(img, CV_ROTATE[rot], dst=oriented)
            img = oriented
        if fit == "letterbox":
            canvas[cy:cy + ch, cx:cx + cw] = img
            img = canvas
        if float_out:
            np.subtract(img, np.float32(127.5), out=tmp, dtype=np.float32)
            np.multiply(tmp, scale, out=tmp)
            np.copyto(ref_t, tmp, casting="unsafe")
        elif dtype == "uint8":
            np.copyto(ref_t, img)
        else:
            np.subtract(img, 128, out=tmp, dtype=np.int16)
            np.copyto(ref_t, tmp, casting="unsafe")

    out = np.empty(shape, dtype)
    spec = dict(format=fmt, fit=fit, interpolation=c["interpolation"], layout=c["layout"], rotate=rot, flip=flip)
    qargs = {}
    if dtype == "uint8":
        spec.update(mean=0, std=1)
        qargs = dict(scale=1.0, zero_point=0)
    elif dtype == "int8":
        qargs = dict(scale=1 / 128, zero_point=0)
    label = (f"{fmt:4s} {w}x{h} -> {W}x{H} {dtype:7s} {fit:9s} {c['interpolation']:8s} {c['layout']} "
             f"rot{rot}{' flip' if flip else ''}")
    return label, opencv, frame, out, spec, qargs


class FrameRing:
    """Copies of a frame filling `mib` MiB (at least two); each call returns the next one."""

    def __init__(self, frame, mib=64):
        n = max(2, int(np.ceil(mib * 2**20 / frame.nbytes)))
        self.frames = [frame.copy() for _ in range(n)]
        self.i = 0

    def __call__(self):
        self.i = (self.i + 1) % len(self.frames)
        return self.frames[self.i]


def chains(opencv, pre, frame, out, qargs, cold):
    """The two timed callables and the frame source they share: with `cold`, each call takes
    the next frame of one ring, else the frame itself."""
    src = FrameRing(frame) if cold else (lambda: frame)
    return {"opencv": lambda: opencv(src()), "edgerun": lambda: pre(src(), out, **qargs)}, src


def time_interleaved(fns, rounds=None, budget=0.6):
    for f in fns.values():  # warm-up: plans, caches, page faults
        for _ in range(2):
            f()
    if rounds is None:  # enough rounds for a stable median within the time budget
        t0 = time.perf_counter()
        for f in fns.values():
            f()
        rounds = int(min(200, max(15, budget / max(time.perf_counter() - t0, 1e-6))))
    times = {k: [] for k in fns}
    for _ in range(rounds):
        for k, f in fns.items():
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    return {k: float(np.median(v)) * 1e6 for k, v in times.items()}


def run_sweep(args) -> int:
    rng = np.random.default_rng(args.seed)
    configs = sweep_configs(args.sweep, args.seed)
    print(f"edgerun {edgerun.__version__}, OpenCV {cv2.__version__}, {os.cpu_count()} CPUs; sweep of {len(configs)} "
          f"configurations, seed {args.seed}, edgerun threads={args.threads}, OpenCV single thread, "
          f"{'cold frames (--cold), ' if args.cold else ''}"
          f"interleaved rounds, median us")
    ratios = []
    for i, c in enumerate(configs, 1):
        label, opencv, frame, out, spec, qargs = sweep_case(rng, c)
        pre = Preprocessor(**spec, threads=args.threads, _isa=args.kernel)
        med = time_interleaved(chains(opencv, pre, frame, out, qargs, args.cold)[0],
                               rounds=args.rounds if args.rounds_given else None)
        r = med["opencv"] / med["edgerun"]
        ratios.append((r, label))
        flag = "  <4x" if r < 4 else ""
        print(f"{i:3d}. {label:70s} {r:6.2f}x  edgerun {med['edgerun']:8.1f} us  opencv {med['opencv']:8.1f} us  "
              f"[{pre.kernel}]{flag}", flush=True)
    rs = np.array([r for r, _ in ratios])
    worst = min(ratios)
    print(f"\ngeometric mean {float(np.exp(np.log(rs).mean())):.2f}x; worst {worst[0]:.2f}x ({worst[1].strip()}); "
          f"{int((rs < 4).sum())} of {len(rs)} under 4x; {int((rs < 1).sum())} slower than OpenCV")
    return 0


CASES = [case_nv12_256_f32, case_bgr_128_f32, case_bgr_letterbox_u8, case_nv12_1080_rot90_i8]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=300)
    ap.add_argument("--case", type=int, action="append", help="run only case N (1-4); repeatable")
    ap.add_argument("--exact", action="store_true", help="also time yuv_sampling='rgb' (OpenCV-order YUV)")
    ap.add_argument("--kernel", default="auto", help="force a kernel: auto, scalar, avx2, neon")
    ap.add_argument("--sweep", type=int, default=0, help="time N random configurations (see above)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the --sweep configurations")
    ap.add_argument("--threads", type=int, default=1, help="edgerun threads= in --sweep (OpenCV stays at 1)")
    ap.add_argument("--cold", action="store_true", help="every call reads a frame that is not in cache (see above)")
    args = ap.parse_args()
    args.rounds_given = any(a.startswith("--rounds") for a in sys.argv[1:])
    cv2.setNumThreads(1)
    if args.sweep:
        return run_sweep(args)
    rng = np.random.default_rng(0)
    print(f"edgerun {edgerun.__version__}, OpenCV {cv2.__version__}, numpy {np.__version__}, "
          f"{os.cpu_count()} CPUs, single thread, {args.rounds} interleaved rounds, "
          f"{'cold frames (--cold), ' if args.cold else ''}median us")
    rows = []
    for i, make in enumerate(CASES, 1):
        if args.case and i not in args.case:
            continue
        name, opencv, frame, out, spec, qargs = make(rng)
        pre = Preprocessor(**spec, _isa=args.kernel)
        fns, src = chains(opencv, pre, frame, out, qargs, args.cold)
        if args.exact and spec["format"] == "nv12":
            exact = Preprocessor(**spec, yuv_sampling="rgb", _isa=args.kernel)
            fns["edgerun rgb-taps"] = lambda exact=exact: exact(src(), out, **qargs)
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
