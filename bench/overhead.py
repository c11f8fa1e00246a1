"""Per-call overhead of edgerun.Session.run() against the classic Interpreter.

Same model, same threads, all variants interleaved in one run (round-robin
batches), per-call medians and ratios printed against the Interpreter anchors:

  invoke        Interpreter.invoke() with inputs already set (the bare anchor)
  set/inv/get   set_tensor(x) + invoke() + get_tensor() with a different frame each call
  run()         Session.run() on pre-filled session buffers (no arguments)
  run(x)        Session.run(x) with a different (fresh) numpy frame each call
  run(x,copy)   the same, outputs copied out (what get_tensor gives you)

Targets (issue 2): run() within 2% or 10 us of invoke; run(x) at least 10% faster
than set/inv/get on a small model.

    python bench/overhead.py [MODEL.tflite ...] [--threads 2] [--rounds 30] [--batch 50]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

import edgerun
from edgerun.model import builder


def _frames(specs, n, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        xs = []
        for t in specs:
            if t.dtype.kind == "f":
                xs.append(rng.uniform(-1, 1, t.shape).astype(t.dtype))
            else:
                info = np.iinfo(t.dtype)
                xs.append(rng.integers(max(info.min, -128), min(info.max, 127) + 1, t.shape).astype(t.dtype))
        out.append(xs)
    return out


def bench_model(label, model_bytes, threads, rounds, batch):
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=model_bytes, num_threads=threads)
    it.allocate_tensors()
    in_idx = [d["index"] for d in it.get_input_details()]
    out_idx = [d["index"] for d in it.get_output_details()]
    s = edgerun.Session(model_bytes, threads=threads)
    frames = _frames(s.inputs, 64)
    for i, x in zip(in_idx, frames[0]):
        it.set_tensor(i, x)
    for v, x in zip([s.input(k) for k in range(len(s.inputs))], frames[0]):
        v[...] = x
    clock = time.perf_counter_ns
    fi = [0]

    def v_invoke():
        it.invoke()

    def v_set_invoke_get():
        xs = frames[fi[0] % 64]
        fi[0] += 1
        for i, x in zip(in_idx, xs):
            it.set_tensor(i, x)
        it.invoke()
        for o in out_idx:
            it.get_tensor(o)

    def v_run():
        s.run()

    def v_run_x():
        xs = frames[fi[0] % 64]
        fi[0] += 1
        s.run(*xs)

    def v_run_x_copy():
        xs = frames[fi[0] % 64]
        fi[0] += 1
        s.run(*xs, copy=True)

    variants = [("invoke", v_invoke), ("set/inv/get", v_set_invoke_get), ("run()", v_run),
                ("run(x)", v_run_x), ("run(x,copy)", v_run_x_copy)]
    samples = {name: [] for name, _ in variants}
    for fn in (f for _, f in variants):  # warm up every path
        for _ in range(20):
            fn()
    for r in range(rounds):
        order = variants if r % 2 == 0 else variants[::-1]
        for name, fn in order:
            for _ in range(batch):
                t = clock()
                fn()
                samples[name].append(clock() - t)
    med = {k: float(np.median(v)) / 1e3 for k, v in samples.items()}
    base, loop = med["invoke"], med["set/inv/get"]
    print(f"\n{label}  (threads={threads}, {rounds}x{batch} calls per variant, median us/call)")
    print(f"  {'variant':<13}{'us':>10}{'vs invoke':>12}{'vs set/inv/get':>16}")
    for name, _ in variants:
        print(f"  {name:<13}{med[name]:>10.2f}{med[name] / base:>11.3f}x{med[name] / loop:>15.3f}x")
    over = med["run()"] - base
    ok1 = over <= max(0.02 * base, 10.0)
    gain = 1 - med["run(x)"] / loop
    print(f"  run() - invoke = {over:+.2f} us ({over / base * 100:+.1f}%)  target <= 2% or 10 us: "
          f"{'met' if ok1 else 'NOT met'}")
    print(f"  run(x) vs set/inv/get: {gain * 100:+.1f}% faster  target >= 10%: "
          f"{'met' if gain >= 0.10 else 'NOT met'}")
    return med


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="*", help=".tflite files (default: built-in int8 and float models, "
                                              "plus the cached real test models if present)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=30)
    p.add_argument("--batch", type=int, default=50)
    a = p.parse_args(argv)
    models = []
    for path in a.models:
        with open(path, "rb") as f:
            models.append((os.path.basename(path), f.read()))
    if not models:
        models.append(("built-in int8 96x96", builder.builtin_image_model(dtype="int8")))
        models.append(("built-in float32 96x96", builder.builtin_image_model()))
        cache = os.environ.get("EDGERUN_TEST_CACHE", os.path.expanduser("~/.cache/edgerun/test-models"))
        if os.path.isdir(cache):
            for name in sorted(os.listdir(cache)):
                if name.endswith(".tflite"):
                    with open(os.path.join(cache, name), "rb") as f:
                        models.append((name, f.read()))
    print(f"edgerun {edgerun.__version__}, {os.cpu_count()} logical CPUs, python {sys.version.split()[0]}")
    for label, data in models:
        bench_model(label, data, a.threads, a.rounds, a.batch)


if __name__ == "__main__":
    main()
