"""Power: CPU-seconds per frame (an energy proxy) of a BlazeFace camera loop.

1. Threads: for threads=1/2/4, latency against CPU time per frame, back to back
   and at a camera's frame rate (30 FPS, paced by sleeping between frames, the way
   frames arrive from a camera), plus the CPU the process burns while the caller
   sleeps right after an invoke (runtime worker threads spinning) and context
   switches per frame (wake-up proxy).
2. Change gate: a static scene (one frame plus sensor-like noise) at 30 FPS through
   the gated and the ungated pipeline: CPU time per frame, ratio (target >= 10x
   lower). A changing scene (every frame different) back to back: the gate's
   thumbnail + decision time against the frame time (target <= 3%).
3. Peak RSS of the process.

CPU time is the process clock (time.process_time: every thread, the runtime's
included). The configurations being compared take turns in interleaved rounds
(the load of a shared machine drifts) and the rows are medians over the rounds;
the ratios are what to compare.

    python bench/power.py [--frames 150] [--fps 30] [--threads-list 1,2,4] [--gate-threads 1,2]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import threading
import time

import numpy as np

import edgerun

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
sys.path.insert(0, HERE)
import realmodels  # noqa: E402
from camera_loop import load_frames  # noqa: E402


class _Skipped:  # what run_loop reads from a result, for the empty loop
    skipped = False


def thread_cpu() -> dict:
    """{thread id: CPU seconds} of every thread of this process (/proc/self/task/*/schedstat, ns)."""
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/schedstat") as f:
                out[int(tid)] = int(f.read().split()[0]) * 1e-9
        except (OSError, ValueError, IndexError):
            pass
    return out


def switches() -> int:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_nvcsw + ru.ru_nivcsw


def run_loop(pipe, frame_at, n: int, fps: float) -> dict:
    """n frames through pipe(frame); fps > 0: one frame every 1/fps s (sleeping in between)."""
    lat = np.empty(n)
    period = 1.0 / fps if fps > 0 else 0.0
    t_next = time.perf_counter()
    c0, s0, w0, t0 = time.process_time(), switches(), time.perf_counter(), thread_cpu()
    skipped = 0
    for i in range(n):
        if period:
            now = time.perf_counter()
            if now < t_next:
                time.sleep(t_next - now)
            t_next += period
        f = frame_at(i)
        t = time.perf_counter()
        r = pipe(f)
        lat[i] = time.perf_counter() - t
        skipped += r.skipped
    wall = time.perf_counter() - w0
    cpu = time.process_time() - c0
    t1 = thread_cpu()
    me = threading.get_native_id()
    caller = t1.get(me, 0.0) - t0.get(me, 0.0)
    others = sum(v - t0.get(k, 0.0) for k, v in t1.items() if k != me)
    return {"lat_ms": float(np.median(lat) * 1e3), "cpu_ms": cpu * 1e3 / n, "switches": (switches() - s0) / n,
            "wall_s": wall, "skipped": skipped, "load": cpu / wall,
            "caller_ms": caller * 1e3 / n, "other_threads_ms": others * 1e3 / n}


def idle_after_invoke(session, x, idle_s: float, reps: int = 20) -> float:
    """CPU ms the process uses while the caller sleeps idle_s right after a run."""
    total = 0.0
    for _ in range(reps):
        session.run(x)
        c0 = time.process_time()
        time.sleep(idle_s)
        total += time.process_time() - c0
    return total * 1e3 / reps


def gate_section(model, pre, head, frame0, frames_changing, args, threads) -> None:
    s = edgerun.Session(model, threads=threads)
    print(f"\n2. change gate (threads={s.threads}, ChangeGate(threshold=8, max_skip=30))")
    rng = np.random.default_rng(0)
    static = [np.clip(frame0 + rng.normal(0, args.noise, frame0.shape), 0, 255).astype(np.uint8) for _ in range(16)]
    gate = edgerun.ChangeGate(threshold=8, max_skip=30)
    # Interleaved rounds (the load of a shared machine drifts): ungated, gated, gated with
    # max_skip=90 and the bare paced loop take turns, 93 frames each per round (3 forced runs
    # of the max_skip=30 gate), on pipelines kept across rounds.
    rounds = max(1, args.frames // 93)
    pipes = {"ungated": edgerun.Pipeline(s, pre, head), "gated": edgerun.Pipeline(s, pre, head, gate=gate),
             "max_skip=90": edgerun.Pipeline(s, pre, head, gate=edgerun.ChangeGate(threshold=8, max_skip=90)),
             "loop alone": lambda f: _Skipped}
    # The same gate through the asynchronous path (submit, then get: the worker threads do the frame).
    async_pipe = edgerun.Pipeline(s, pre, head, gate=gate)

    def submit_get(f):
        async_pipe.submit(f)
        return async_pipe.get(timeout=10)

    pipes["gated, submit+get"] = submit_get
    cpu = {k: [] for k in pipes}
    for _ in range(rounds):
        for k, p in pipes.items():
            cpu[k].append(run_loop(p, lambda i: static[i % 16], 93, args.fps)["cpu_ms"])
    gst = pipes["gated"].stats()
    for p in pipes.values():
        if isinstance(p, edgerun.Pipeline):
            p.close()
    async_pipe.close()
    med = {k: float(np.median(v)) for k, v in cpu.items()}
    ratios = [u / g for u, g in zip(cpu["ungated"], cpu["gated"])]
    print(f"  static scene (noise std {args.noise:g}) at {args.fps:g} FPS, {rounds} interleaved rounds of 93 frames, "
          f"medians: ungated {med['ungated']:.3f} CPU ms/frame, gated {med['gated']:.3f} CPU ms/frame "
          f"({gst['gate_ran']} ran, {gst['gate_skipped']} reused)")
    print(f"  CPU per frame, ungated / gated: median of rounds {np.median(ratios):.1f}x (rounds "
          f"{min(ratios):.1f}-{max(ratios):.1f}x; target >= 10)")
    loop = med["loop alone"]
    print(f"  same with max_skip=90: gated {med['max_skip=90']:.3f} CPU ms/frame, "
          f"{med['ungated'] / med['max_skip=90']:.1f}x; the paced loop alone (sleep + wake, no pipeline): "
          f"{loop:.3f} CPU ms/frame; the pipeline's own CPU (minus the loop), ungated / gated: "
          f"{(med['ungated'] - loop) / max(med['gated'] - loop, 1e-9):.1f}x")
    print(f"  asynchronous (submit, then get): gated {med['gated, submit+get']:.3f} CPU ms/frame, "
          f"{med['ungated'] / med['gated, submit+get']:.1f}x lower than the synchronous ungated loop")
    # Changing scene, back to back, interleaved rounds.
    gated_lat, ungated_lat, skipped = [], [], 0
    with edgerun.Pipeline(s, pre, head) as ungated, edgerun.Pipeline(s, pre, head, gate=gate) as gated:
        for _ in range(5):
            ungated_lat.append(run_loop(ungated, lambda i: frames_changing[i % 32], args.frames // 3, 0)["lat_ms"])
            r = run_loop(gated, lambda i: frames_changing[i % 32], args.frames // 3, 0)
            gated_lat.append(r["lat_ms"])
            skipped += r["skipped"]
        gate_ms = gated.stats()["gate_p50_ms"]
    fu, fg = float(np.median(ungated_lat)), float(np.median(gated_lat))
    print(f"  changing scene, back to back: ungated {fu:.3f} ms/frame, gated {fg:.3f} ms/frame "
          f"({(fg / fu - 1) * 100:+.1f}%); thumbnail + decision {gate_ms * 1e3:.1f} us = "
          f"{gate_ms / fg * 100:.2f}% of the frame (target <= 3%); {skipped} of {5 * (args.frames // 3)} "
          f"changing frames skipped")
    s.close()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=150, help="frames per configuration")
    ap.add_argument("--fps", type=float, default=30.0, help="camera frame rate of the paced runs")
    ap.add_argument("--threads-list", default="1,2,4")
    ap.add_argument("--gate-threads", default="1,2",
                    help="threads of the gate benchmark, comma-separated ('default': the Session default)")
    ap.add_argument("--noise", type=float, default=2.0, help="sensor noise (std, levels) of the static scene")
    args = ap.parse_args(argv)

    model = str(realmodels.blazeface_path())
    bgr, _, is_photo = load_frames()
    frame0 = bgr[0]
    print(f"edgerun {edgerun.__version__}, {os.cpu_count()} logical CPUs, BlazeFace 128x128 float32, "
          f"640x480 BGR {'photo' if is_photo else 'synthetic'} frames, {args.frames} frames per row")

    # -- 1. threads -------------------------------------------------------------------------
    print(f"\n1. threads: back to back vs paced at {args.fps:g} FPS (process CPU per frame)")
    hdr = (f"  {'threads':>7} | {'b2b lat ms':>10} {'CPU ms/f':>8} {'sw/f':>6} | {'30fps lat ms':>12} "
           f"{'CPU ms/f':>8} {'sw/f':>6} | {'idle CPU ms in 1/fps after run':>30}")
    print(hdr.replace("30fps", f"{args.fps:g}fps"))
    pre = edgerun.Preprocessor("bgr", mean=127.5, std=127.5)
    head = edgerun.heads.BlazeFace()
    frames_changing = [np.roll(frame0, 3 * k, axis=1) for k in range(32)]
    # Interleaved rounds (the load of a shared machine drifts): each thread count runs a block
    # back to back and a block paced, in turn; per-row numbers are medians over the rounds.
    threads = [int(v) for v in args.threads_list.split(",")]
    rounds = max(1, args.frames // 60)
    sessions = {t: edgerun.Session(model, threads=t) for t in threads}
    pipes = {t: edgerun.Pipeline(sessions[t], pre, head) for t in threads}
    for t in threads:
        run_loop(pipes[t], lambda i: frames_changing[i % 32], 20, 0)  # warm
    per = {t: {"b2b": [], "paced": []} for t in threads}
    for _ in range(rounds):
        for t in threads:
            per[t]["b2b"].append(run_loop(pipes[t], lambda i: frames_changing[i % 32], 60, 0))
            per[t]["paced"].append(run_loop(pipes[t], lambda i: frames_changing[i % 32], 60, args.fps))

    def med(t, mode, key):
        return float(np.median([r[key] for r in per[t][mode]]))

    rows = {}
    for t in threads:
        x = np.zeros(sessions[t].inputs[0].shape, np.float32)
        pre(frame0, x)
        idle = idle_after_invoke(sessions[t], x, 1.0 / args.fps)
        b2b = {k: med(t, "b2b", k) for k in ("lat_ms", "cpu_ms", "switches")}
        paced = {k: med(t, "paced", k) for k in ("lat_ms", "cpu_ms", "switches", "caller_ms", "other_threads_ms")}
        rows[t] = (b2b, paced, idle)
        print(f"  {t:>7} | {b2b['lat_ms']:>10.3f} {b2b['cpu_ms']:>8.3f} {b2b['switches']:>6.1f} | "
              f"{paced['lat_ms']:>12.3f} {paced['cpu_ms']:>8.3f} {paced['switches']:>6.1f} | {idle:>30.3f}")
    for t in threads:
        pipes[t].close()
        sessions[t].close()
    print(f"  ({rounds} interleaved rounds of 60 frames per mode; default threads here: "
          f"{edgerun._core.default_threads()})")
    print(f"  where the CPU of a paced frame goes (per-thread clocks, /proc/self/task/*/schedstat): the calling "
          f"thread (preprocessing, XNNPACK's share of the work, decoding) vs the runtime's worker threads")
    for t, (b2b, paced, idle) in rows.items():
        print(f"    threads={t}: caller {paced['caller_ms']:.3f} ms/frame, other threads "
              f"{paced['other_threads_ms']:.3f} ms/frame")
    base = rows[min(rows)]
    for t, (b2b, paced, idle) in rows.items():
        ratios = [a["lat_ms"] / b["lat_ms"] for a, b in zip(per[t]["b2b"], per[min(rows)]["b2b"])]
        print(f"  threads={t}: back-to-back latency {b2b['lat_ms'] / base[0]['lat_ms']:.2f}x (rounds "
              f"{min(ratios):.2f}-{max(ratios):.2f}x), CPU/frame at {args.fps:g} FPS "
              f"{paced['cpu_ms'] / base[1]['cpu_ms']:.2f}x of threads={min(rows)}")

    # -- 2. change gate ------------------------------------------------------------------------
    for spec in args.gate_threads.split(","):
        gate_section(model, pre, head, frame0, frames_changing, args, None if spec == "default" else int(spec))

    # -- 3. memory -----------------------------------------------------------------------------
    print(f"\n3. peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
