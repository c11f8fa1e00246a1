"""Soak test: N frames through a Pipeline with K hot swaps; RSS, open fds and threads sampled.

    python bench/soak.py --frames 100000 --swaps 1000
    python bench/soak.py --frames 20000 --swaps 200 --sync   # synchronous pipe(frame) instead of submit/get

Frames are submitted asynchronously (drop="none" by default, so every frame is processed;
--drop oldest for camera-style dropping; a reader thread takes the results)
and every frames/swaps frames the model is swapped, alternating between two models
given as bytes (so each swap verifies, compiles and warms up a new Session). The
baseline is taken after a warm-up (the first 5% of frames and 2 swaps: allocator
pools, XNNPACK caches and the result queue settle); growth is reported from there.
Linux only (/proc). Exit status 1 when --max-rss-growth-mb is given and exceeded, or
fds/threads do not come back to the baseline.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time

import numpy as np


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def threads() -> int:
    return len(os.listdir("/proc/self/task"))


def sample() -> tuple:
    return rss_mb(), fds(), threads()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=20000)
    ap.add_argument("--swaps", type=int, default=200)
    ap.add_argument("--input-size", type=int, default=32, help="builtin model input size (small = fast frames)")
    ap.add_argument("--threads", type=int, default=1, help="XNNPACK threads per session")
    ap.add_argument("--sync", action="store_true", help="pipe(frame) on this thread instead of submit/get")
    ap.add_argument("--drop", choices=("none", "oldest"), default="none",
                    help="none (default): every frame is processed (submit waits); oldest: camera-style dropping")
    ap.add_argument("--samples", type=int, default=10, help="lines of the progress table")
    ap.add_argument("--max-rss-growth-mb", type=float, default=None)
    args = ap.parse_args(argv)

    import edgerun
    from edgerun.model import builder

    models = [builder.builtin_image_model(input_size=args.input_size, dtype="float32"),
              builder.builtin_image_model(input_size=args.input_size, dtype="int8")]
    frame = np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    session = edgerun.Session(models[0], threads=args.threads)
    pipe = edgerun.Pipeline(session, edgerun.Preprocessor("rgb"), depth=2, drop=args.drop)
    del session  # the pipeline (and nothing else) holds the first model

    got = [0]
    errors = []
    stop = threading.Event()

    def reader() -> None:
        for r in pipe.results(stop=stop, poll=0.2):
            if r.error is not None:
                errors.append(r.error)
            got[0] += 1

    rd = None
    if not args.sync:
        rd = threading.Thread(target=reader, daemon=True)
        rd.start()

    every = max(1, args.frames // max(1, args.swaps)) if args.swaps else 0
    warm_frames = max(every * 2, args.frames // 20)
    report_every = max(1, args.frames // args.samples)
    base = None
    swaps = 0
    t0 = time.perf_counter()
    print(f"{'frames':>8} {'swaps':>6} {'rss MB':>8} {'fds':>5} {'threads':>7} {'s':>7}")
    for i in range(1, args.frames + 1):
        if args.sync:
            pipe(frame)
            got[0] += 1
        else:
            while True:
                try:
                    pipe.submit(frame, meta=i)
                    break
                except edgerun.BusyError:  # drop="none": max_results unread; the reader catches up
                    time.sleep(0.001)
        if every and i % every == 0 and swaps < args.swaps:
            pipe.swap(models[(swaps + 1) % 2])
            swaps += 1
        if i == warm_frames:
            base = sample()
        if i % report_every == 0 or i == args.frames:
            r, f, t = sample()
            print(f"{i:>8} {swaps:>6} {r:>8.1f} {f:>5} {t:>7} {time.perf_counter() - t0:>7.1f}", flush=True)
    # Drain: every submitted frame gives a result (or was dropped).
    deadline = time.time() + 60
    while pipe.in_flight and time.time() < deadline:
        time.sleep(0.01)
    stats = pipe.stats()
    end_open = sample()
    internal = (len(pipe._sessions), len(pipe._models), len(pipe._meta), len(pipe._frames), len(pipe._swaps))
    pipe.close()
    stop.set()
    if rd is not None:
        rd.join()
    import gc

    gc.collect()
    end = sample()
    base = base or end
    print()
    print(f"frames {args.frames}, swaps {swaps} ({stats['swaps']} applied, {stats['swap_failures']} failed), "
          f"results {got[0]}, dropped {stats['dropped']}, frame errors {len(errors)}, "
          f"{time.perf_counter() - t0:.1f} s")
    print(f"pipeline maps at the end (sessions, models, meta, frames, swaps): {internal}")
    print(f"baseline (after {warm_frames} frames): RSS {base[0]:.1f} MB, fds {base[1]}, threads {base[2]}")
    print(f"end, pipeline open:                 RSS {end_open[0]:.1f} MB, fds {end_open[1]}, threads {end_open[2]}")
    print(f"end, pipeline closed:               RSS {end[0]:.1f} MB, fds {end[1]}, threads {end[2]}")
    growth = end_open[0] - base[0]
    print(f"growth while running: RSS {growth:+.1f} MB ({growth * 1024 / max(1, swaps):+.1f} kB/swap), "
          f"fds {end_open[1] - base[1]:+d}, threads {end_open[2] - base[2]:+d}")
    ok = end_open[1] <= base[1] and end[2] <= base[2]
    if args.max_rss_growth_mb is not None and growth > args.max_rss_growth_mb:
        ok = False
    if errors:
        print("first frame error:", errors[0])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
