#!/usr/bin/env python3
"""Writes the fuzzers' seed corpus: the small models the test suite generates.

    python scripts/fuzz_seeds.py OUTDIR

Needs edgerun installed (its model builder) and tests/ (tests/models.py). The
models are regenerated at every run (same bytes every time: seeded weights), so
no binary corpus is kept in the repository. Models larger than --max-bytes are
left out: libFuzzer's speed falls with input size, and small models cover the
same verifier code.
"""

from __future__ import annotations

import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

import models  # noqa: E402  (tests/models.py)


def seeds():
    m = models
    yield "add_f32", lambda: m.add_model()
    yield "add_int8", lambda: m.add_model(dtype="int8")
    yield "add_uint8", lambda: m.add_model(dtype="uint8")
    yield "add_nosig", lambda: m.add_model(signature=False)
    yield "identity", lambda: m.identity_model()
    yield "dynamic_batch", lambda: m.dynamic_batch_model()
    yield "two_signature", lambda: m.two_signature_model()
    yield "multi_io", lambda: m.multi_io_model()
    yield "stateful_counter", lambda: m.stateful_counter_model()
    yield "custom_op", lambda: m.custom_op_model()
    yield "gather", lambda: m.gather_model()
    yield "slow", lambda: m.slow_model(1.0)
    yield "residual", lambda: m.residual_model()
    yield "add_to_custom", lambda: m.builtin_ops_to_custom(m.add_model())
    yield "edgetpu", lambda: m.edgetpu_model()
    yield "detection_postprocess", lambda: m.detection_postprocess_model(_anchors(6), 3, max_detections=4)
    yield "detection_postprocess_regular", lambda: m.detection_postprocess_model(
        _anchors(4), 2, max_detections=2, use_regular_nms=True)
    yield "ssd_postprocess", lambda: m.ssd_postprocess_model()
    yield "builtin_image", lambda: m.builtin_image_model()
    yield "builtin_image_int8", lambda: m.builtin_image_model(dtype="int8")


def _anchors(n: int):
    import numpy as np

    rng = np.random.default_rng(n)
    yx = rng.uniform(0.1, 0.9, size=(n, 2))
    hw = rng.uniform(0.05, 0.3, size=(n, 2))
    return np.concatenate([yx, hw], axis=1).astype(np.float32)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir")
    ap.add_argument("--max-bytes", type=int, default=256 * 1024)
    args = ap.parse_args()
    os.makedirs(args.outdir, exist_ok=True)
    written = 0
    for name, make in seeds():
        try:
            data = make()
        except TypeError as e:  # a generator whose signature changed: say so, go on
            print(f"fuzz_seeds: {name}: {e}", file=sys.stderr)
            continue
        if len(data) > args.max_bytes:
            print(f"fuzz_seeds: {name}: {len(data)} bytes > --max-bytes, left out")
            continue
        with open(os.path.join(args.outdir, name + ".tflite"), "wb") as f:
            f.write(data)
        written += 1
    print(f"fuzz_seeds: {written} models in {args.outdir}")
    return 0 if written else 1


if __name__ == "__main__":
    sys.exit(main())
