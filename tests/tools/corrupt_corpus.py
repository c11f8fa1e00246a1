#!/usr/bin/env python3
"""Corrupted-model corpus: checks edgerun's model verifier against the LiteRT runtime.

The LiteRT C API does not verify model flatbuffers, so corrupted bytes can crash or
hang the process that loads them. edgerun verifies model bytes in C++
(cpp/src/model/verify.cc) before the runtime sees them. This tool makes seeded
corrupted copies of real models and checks that every copy the verifier ACCEPTS
loads and runs (or fails cleanly) in LiteRT, in a subprocess, without a crash
(death by signal) or a hang.

    python tests/tools/corrupt_corpus.py [-n 300] [--seed 1] [--verifier PATH]
        [--run-rejected] [--save-dir DIR] MODEL.tflite...

Without --verifier, the verifier CLI (cpp/tests/verify_tool.cc) is built with g++
into a temporary directory. --run-rejected also runs the rejected copies in LiteRT
to count how many of them would have crashed or hung (slow: one process each).
Exit status 1 when an accepted copy crashed or hung, or the verifier itself died.

The runner uses ai_edge_litert's CompiledModel, whose output buffers are sized from
the shapes declared in the model: a valid model whose runtime output shape is larger
(e.g. a dynamic-batch input stored with batch 30) overruns them. When edgerun is
importable, every accepted copy that crashed or hung is run again through
edgerun.Session (which sizes buffers from the shapes the runtime computes) and the
outcome is appended to the report line.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

KINDS = ("truncate", "flip1", "flipN", "head", "tables")


def _data_ranges(data: bytes) -> list[tuple[int, int]]:
    """Byte ranges of the Buffer.data vectors (weights), best effort; [] if unknown."""
    try:
        from ai_edge_litert import schema_py_generated as schema  # type: ignore

        model = schema.Model.GetRootAs(data, 0)
        ranges = []
        for i in range(model.BuffersLength()):
            buf = model.Buffers(i)
            n = buf.DataLength()
            if n > 0:
                o = buf._tab.Offset(4)
                start = buf._tab.Vector(o)
                ranges.append((start, start + n))
        ranges.sort()
        return ranges
    except Exception:  # noqa: BLE001 - any failure just disables the targeting
        return []


def _structure_positions(data: bytes, ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Complement of the weight ranges: where tables, vtables, vectors and strings live."""
    out, pos = [], 0
    for a, b in ranges:
        if a > pos:
            out.append((pos, a))
        pos = max(pos, b)
    if pos < len(data):
        out.append((pos, len(data)))
    return out


def labeled_variants(data: bytes, n: int, seed: int) -> list[tuple[str, bytes]]:
    """Like corrupt_variants, with a short description of each copy."""
    rng = random.Random(seed)
    size = len(data)
    if size == 0:
        return [("empty", b"")] * n
    head = max(64, size // 10)
    struct = _structure_positions(data, _data_ranges(data))
    struct_total = sum(b - a for a, b in struct)

    def flip(buf: bytearray, pos: int) -> None:
        buf[pos] ^= rng.randrange(1, 256)

    def struct_pos() -> int:
        k = rng.randrange(struct_total)
        for a, b in struct:
            if k < b - a:
                return a + k
            k -= b - a
        return rng.randrange(size)

    out = []
    for i in range(n):
        kind = KINDS[i % len(KINDS)]
        if kind == "truncate":
            # Half anywhere, half within the table-heavy first 10%.
            cut = rng.randrange(size) if rng.random() < 0.5 else rng.randrange(min(head, size))
            out.append((f"truncate@{cut}", data[:cut]))
            continue
        buf = bytearray(data)
        if kind == "flip1":
            positions = [rng.randrange(size)]
        elif kind == "flipN":
            positions = [rng.randrange(size) for _ in range(rng.randint(2, 16))]
        elif kind == "head":
            positions = [rng.randrange(min(head, size)) for _ in range(rng.randint(1, 8))]
        else:  # "tables": anywhere outside the weights
            if struct_total == 0:
                positions = [rng.randrange(min(head, size)) for _ in range(rng.randint(1, 8))]
            else:
                positions = [struct_pos() for _ in range(rng.randint(1, 4))]
        for p in positions:
            flip(buf, p)
        out.append((f"{kind}@{','.join(map(str, positions[:6]))}{'...' if len(positions) > 6 else ''}",
                    bytes(buf)))
    return out


def corrupt_variants(data: bytes, n: int, seed: int) -> list[bytes]:
    """n seeded corrupted copies of `data`: truncations, single and multi byte flips,
    flips concentrated in the first 10% of the file, and flips outside the weight data."""
    return [b for _, b in labeled_variants(data, n, seed)]


# --------------------------------------------------------------------------- verifier
def build_verifier(out_dir: str) -> str:
    exe = os.path.join(out_dir, "verify_tool")
    model_src = os.path.join(REPO, "cpp", "src", "model")
    cmd = ["g++", "-std=c++17", "-O2", "-I", os.path.join(REPO, "cpp", "include"), "-I", os.path.join(REPO, "cpp", "src"),
           os.path.join(REPO, "cpp", "tests", "verify_tool.cc"), os.path.join(model_src, "verify.cc"),
           os.path.join(model_src, "flatbuffer_reader.cc"), "-o", exe]
    subprocess.run(cmd, check=True)
    return exe


def run_verifier(exe: str, paths: list[str], timeout: float = 120.0) -> dict[str, tuple[str, str]]:
    """path -> (verdict, message); verdict is OK, REJECT, CRASH (signal) or HANG."""
    results: dict[str, tuple[str, str]] = {}

    def batch(chunk: list[str]) -> bool:
        try:
            p = subprocess.run([exe, *chunk], capture_output=True, text=True, errors="replace",
                               timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        if p.returncode < 0 or p.returncode > 1:
            return False
        for line in p.stdout.splitlines():
            parts = line.split("\t", 3)
            if len(parts) >= 3:
                results[parts[2]] = (parts[0], parts[3] if len(parts) > 3 else "")
        return True

    for i in range(0, len(paths), 64):
        chunk = paths[i:i + 64]
        if batch(chunk):
            continue
        for path in chunk:  # find the culprit
            try:
                p = subprocess.run([exe, path], capture_output=True, text=True, errors="replace",
                                   timeout=timeout)
            except subprocess.TimeoutExpired:
                results[path] = ("HANG", "verifier timed out")
                continue
            if p.returncode < 0 or p.returncode > 1:
                results[path] = ("CRASH", f"verifier exited with {p.returncode}")
            else:
                parts = p.stdout.strip().split("\t", 3)
                results[path] = (parts[0], parts[3] if len(parts) > 3 else "")
    return results


# --------------------------------------------------------------------------- runtime
RUNNER = r"""
import sys
from ai_edge_litert.compiled_model import CompiledModel
path, mode = sys.argv[1], sys.argv[2]
try:
    if mode == "file":
        cm = CompiledModel.from_file(path)
    else:
        cm = CompiledModel.from_buffer(open(path, "rb").read())
    ins = cm.create_input_buffers(0)
    outs = cm.create_output_buffers(0)
    cm.run_by_index(0, ins, outs)
except Exception as e:  # a clean failure is fine
    print("ERROR", type(e).__name__, str(e)[:200])
    sys.exit(3)
print("RAN")
"""


# The same through edgerun.Session (which sizes output buffers from the shapes the
# runtime computes, where the CompiledModel Python API uses the declared shapes).
SESSION_RUNNER = r"""
import sys
import numpy as np
import edgerun
try:
    s = edgerun.Session(sys.argv[1], threads=1)
    s.run(*[np.zeros(t.shape, t.dtype) for t in s.inputs])
except edgerun.Error as e:
    print("ERROR", type(e).__name__, str(e)[:200])
    sys.exit(3)
print("RAN")
"""


def have_edgerun() -> bool:
    p = subprocess.run([sys.executable, "-c", "import edgerun"], capture_output=True)
    return p.returncode == 0


def run_litert(path: str, mode: str, timeout: float, script: str = RUNNER) -> tuple[str, str]:
    """(outcome, detail): RAN, ERROR (clean failure), CRASH (signal) or HANG."""
    try:
        p = subprocess.run([sys.executable, "-c", script, path, mode], capture_output=True, text=True,
                           errors="replace", timeout=timeout)
    except subprocess.TimeoutExpired:
        return "HANG", f"no result after {timeout:.0f} s"
    if p.returncode < 0:
        return "CRASH", f"signal {-p.returncode}"
    if p.returncode == 0:
        return "RAN", ""
    tail = [line for line in (p.stdout + p.stderr).splitlines() if "ERROR" in line or "rror" in line]
    return "ERROR", (tail[-1] if tail else f"exit {p.returncode}")[:160]


# --------------------------------------------------------------------------- main
def check_model(model: str, args, exe: str, work: str) -> dict:
    data = open(model, "rb").read()
    name = os.path.basename(model)
    variants = labeled_variants(data, args.n, args.seed)
    vdir = os.path.join(work, name)
    os.makedirs(vdir, exist_ok=True)
    paths = []
    for i, (_, blob) in enumerate(variants):
        p = os.path.join(vdir, f"v{i:04d}.tflite")
        with open(p, "wb") as f:
            f.write(blob)
        paths.append(p)
    orig_path = os.path.join(vdir, "original.tflite")
    with open(orig_path, "wb") as f:
        f.write(data)

    t0 = time.time()
    verdicts = run_verifier(exe, [orig_path] + paths)
    vtime = time.time() - t0
    summary = {"model": name, "n": len(paths), "accepted": 0, "rejected": 0, "identical": 0,
               "verifier_failures": [], "accepted_crash": [], "accepted_hang": [], "accepted_ran": 0,
               "accepted_error": 0, "rejected_would_crash": 0, "rejected_would_hang": 0, "rejected_run": 0,
               "rejections": [], "slow": [], "rejected_slow": []}
    orig = verdicts.get(orig_path, ("?", ""))
    summary["original"] = orig[0] + (": " + orig[1] if orig[1] else "")

    accepted, rejected = [], []
    for i, p in enumerate(paths):
        verdict, msg = verdicts.get(p, ("?", "missing"))
        if variants[i][1] == data:
            summary["identical"] += 1
        if verdict == "OK":
            accepted.append(i)
        elif verdict == "REJECT":
            rejected.append(i)
            summary["rejections"].append((variants[i][0], msg))
        else:
            summary["verifier_failures"].append((variants[i][0], verdict, msg))
    summary["accepted"], summary["rejected"] = len(accepted), len(rejected)

    to_run = [(i, "accepted") for i in accepted]
    if args.run_rejected:
        to_run += [(i, "rejected") for i in rejected]
    t0 = time.time()
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futs = {pool.submit(run_litert, paths[i], "file" if i % 2 else "buffer", args.timeout): (i, side)
                for i, side in to_run}
        for fut in concurrent.futures.as_completed(futs):
            i, side = futs[fut]
            outcome, detail = fut.result()
            label = variants[i][0]
            if outcome == "HANG":
                # Under load a huge-but-valid model (e.g. a corrupted batch size) can pass
                # the limit: run it again with a 4x longer limit before calling it a hang.
                outcome2, detail2 = run_litert(paths[i], "file" if i % 2 else "buffer", args.timeout * 4)
                if outcome2 != "HANG":
                    summary["slow" if side == "accepted" else "rejected_slow"].append((label, outcome2))
                    outcome, detail = outcome2, detail2
            if side == "accepted" and outcome in ("CRASH", "HANG") and args.session_recheck:
                outcome3, _ = run_litert(paths[i], "file", args.timeout * 4, SESSION_RUNNER)
                detail += f"; through edgerun.Session: {outcome3}"
            if side == "accepted":
                if outcome == "CRASH":
                    summary["accepted_crash"].append((label, detail))
                elif outcome == "HANG":
                    summary["accepted_hang"].append((label, detail))
                elif outcome == "RAN":
                    summary["accepted_ran"] += 1
                else:
                    summary["accepted_error"] += 1
                if outcome in ("CRASH", "HANG") and args.save_dir:
                    os.makedirs(args.save_dir, exist_ok=True)
                    shutil.copy(paths[i], os.path.join(args.save_dir, f"{name}.{i:04d}.{outcome}.tflite"))
            else:
                summary["rejected_run"] += 1
                summary["rejected_would_crash"] += outcome == "CRASH"
                summary["rejected_would_hang"] += outcome == "HANG"
    summary["verify_s"] = round(vtime, 2)
    summary["runtime_s"] = round(time.time() - t0, 1)
    return summary


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+")
    ap.add_argument("-n", type=int, default=300, help="variants per model")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--verifier", help="verify_tool executable (default: build one with g++)")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds before a LiteRT run counts as a hang")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--run-rejected", action="store_true", help="also run rejected variants in LiteRT")
    ap.add_argument("--save-dir", help="copy accepted variants that crashed or hung here")
    ap.add_argument("--show-rejections", type=int, default=0, help="print this many rejection messages per model")
    args = ap.parse_args()
    # A crash or hang of an accepted copy is run again through edgerun.Session when edgerun is importable.
    args.session_recheck = have_edgerun()

    work = tempfile.mkdtemp(prefix="edgerun_corpus_")
    bad = False
    try:
        exe = args.verifier or build_verifier(work)
        for model in args.models:
            s = check_model(model, args, exe, work)
            print(f"== {s['model']}: original {s['original']}")
            print(f"   {s['n']} variants ({s['identical']} identical to the original): "
                  f"{s['rejected']} rejected, {s['accepted']} accepted "
                  f"(ran {s['accepted_ran']}, clean error {s['accepted_error']}, "
                  f"CRASH {len(s['accepted_crash'])}, HANG {len(s['accepted_hang'])}); "
                  f"verify {s['verify_s']} s, runtime {s['runtime_s']} s")
            if args.run_rejected:
                print(f"   rejected variants run unverified: {s['rejected_run']}, would crash "
                      f"{s['rejected_would_crash']}, would hang {s['rejected_would_hang']}")
            for label, detail in s["accepted_crash"] + s["accepted_hang"]:
                print(f"   ACCEPTED BUT FAILED: {label}: {detail}")
            for label, outcome in s["slow"]:
                print(f"   accepted, slow (over {args.timeout:.0f} s under load, finished alone: {outcome}): {label}")
            for label, verdict, msg in s["verifier_failures"]:
                print(f"   VERIFIER {verdict}: {label}: {msg}")
            for label, msg in s["rejections"][:args.show_rejections]:
                print(f"   rejected {label}: {msg}")
            failed = s["accepted_crash"] or s["accepted_hang"] or s["verifier_failures"]
            if failed or not s["original"].startswith("OK"):
                bad = True
            sys.stdout.flush()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
