"""The ``edgerun`` command line.

    edgerun bench [MODEL] [--frames N] [--threads N]   per-frame latency, FPS, tensors
          [--accelerator cpu|edgetpu|gpu] [--device D] [--delegate LIB[:KEY=VALUE,...]]
          [--signature NAME|INDEX] [--input-shape NAME=1x1760 ...] [--profile]
    edgerun bench MODEL [MODEL ...] --pipeline [--format nv12] [--source 1280x720]
          [--frames-from DIR|VIDEO] [--fit F] [--head auto|...] [--threads 1,2,4]
          [--accelerator cpu,edgetpu] [--compare-anchor] [--profile]
          [--frames N | --duration S] [-o r.json|r.csv] [--plot p.png]
                                                       the camera loop per stage (docs/tools.md)
    edgerun verify MODEL [MODEL ...] [--run]           structural + cross-reference check; --run:
                                                       also compile and run once
    edgerun inspect MODEL [--json] [--input-shape ..]  tensors, operators, weights, memory, XNNPACK, metadata
    edgerun convert SRC -o OUT.tflite [--quantize M]   Keras/SavedModel -> .tflite with a report
    edgerun edgetpu                                    the Edge TPU runtime and devices found
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from typing import Optional, Sequence

import numpy as np

from .._version import __version__
from ..errors import Error
from ._words import for_cli as _for_cli  # the core's argument names as the flags (bench uses it too)


def _synthetic_inputs(session, count: int, seed: int = 0) -> list:
    """`count` sets of random inputs matching the session's tensors (camera-like
    values for image inputs: uint8-range pixels mapped into the tensor's domain)."""
    rng = np.random.default_rng(seed)
    sets = []
    for _ in range(count):
        arrays = []
        for spec in session.inputs:
            dt = spec.dtype
            if dt.kind == "f":
                a = rng.uniform(-1.0, 1.0, size=spec.shape).astype(dt)
            elif dt.kind in "iu":
                info = np.iinfo(dt)
                lo, hi = max(int(info.min), -128), min(int(info.max), 255)
                a = rng.integers(lo, hi + 1, size=spec.shape, dtype=np.int64).astype(dt)
            elif dt.kind == "b":
                a = rng.integers(0, 2, size=spec.shape).astype(dt)
            else:
                a = np.zeros(spec.shape, dt)
            arrays.append(a)
        sets.append(arrays)
    return sets


def _percentiles(samples_us: np.ndarray) -> dict:
    p50, p90, p99 = np.percentile(samples_us, [50, 90, 99])
    return {
        "p50_us": float(p50),
        "p90_us": float(p90),
        "p99_us": float(p99),
        "mean_us": float(samples_us.mean()),
        "min_us": float(samples_us.min()),
        "fps": float(1e6 / samples_us.mean()),
    }


def _tensor_rows(specs, kind: str) -> list:
    rows = []
    for i, t in enumerate(specs):
        q = f"scale={t.scale:.6g} zp={t.zero_point}" if t.scale else "-"
        rows.append((f"{kind}[{i}]", t.name, str(t.dtype), "x".join(map(str, t.shape)), q))
    return rows


def _print_table(rows: list, header: Sequence[str]) -> None:
    from ..model.inspect import table_lines

    for line in table_lines([tuple(header), *rows]):
        print(line)


def cmd_bench(args: argparse.Namespace) -> int:
    from ..session import Session
    from .. import _runtime
    from .bench import memory_dict

    if args.pipeline:
        return _bench_pipeline(args)
    for flag, value in (("--compare-anchor", args.compare_anchor), ("--duration", args.duration),
                        ("-o", args.output), ("--plot", args.plot), ("--source-fps", args.source_fps),
                        ("--frames-from", args.frames_from)):
        if value:
            raise SystemExit(f"edgerun bench: {flag} measures the camera loop: add --pipeline")
    if len(args.model) > 1 or (args.threads and len(args.threads) > 1) or len(args.accelerator) > 1:
        raise SystemExit("edgerun bench: several models, thread counts or accelerators in one run need --pipeline")
    args.threads = args.threads[0] if args.threads else None
    args.accelerator = args.accelerator[0]
    args.model = args.model[0] if args.model else None
    if args.model:
        source, label = args.model, args.model
    else:
        from ..model import builder

        source = builder.builtin_image_model(dtype=args.builtin_dtype)
        label = f"built-in {builder.BUILTIN_MODEL_NAME} ({args.builtin_dtype}, generated, no download)"
    from ..delegates import Delegate

    delegates = []
    for spec in args.delegate or []:
        lib, _, opts = spec.partition(":")
        options = dict(kv.split("=", 1) for kv in opts.split(",") if "=" in kv) if opts else {}
        delegates.append(Delegate(lib, options))
    accel_opts = {"device": args.device} if args.device is not None else None
    t0 = time.perf_counter()
    signature = args.signature
    if signature is not None and signature.lstrip("-").isdigit():
        signature = int(signature)
    session = Session(source, threads=args.threads, accelerator=args.accelerator,
                      accelerator_options=accel_opts, delegates=delegates, signature=signature,
                      input_shapes=dict(args.input_shape or []) or None)
    load_ms = (time.perf_counter() - t0) * 1e3
    placement: dict = {}
    for p in session.placement():
        placement[p.accelerator] = placement.get(p.accelerator, 0) + 1
    frames = _synthetic_inputs(session, 8)
    for i in range(args.warmup):
        session.run(*frames[i % len(frames)])
    samples = np.empty(args.frames, dtype=np.float64)
    clock = time.perf_counter_ns
    energy0 = _energy()
    for i in range(args.frames):
        f = frames[i % len(frames)]
        t = clock()
        session.run(*f)
        samples[i] = (clock() - t) / 1e3
    stats = _percentiles(samples)
    power = _energy_per_frame(energy0, _energy(), args.frames)
    profile = _profile_plain(args, source, session, frames) if args.profile else None
    info = _runtime.runtime_info()
    result = {
        "model": label,
        "signature": session.signature,
        "threads": session.threads,
        "frames": args.frames,
        "load_ms": load_ms,
        "accelerator": session.accelerator,
        "placement": placement,
        "inputs": [dict(name=t.name, shape=list(t.shape), dtype=str(t.dtype),
                        scale=t.scale, zero_point=t.zero_point) for t in session.inputs],
        "outputs": [dict(name=t.name, shape=list(t.shape), dtype=str(t.dtype),
                         scale=t.scale, zero_point=t.zero_point) for t in session.outputs],
        "latency": stats,
        "power": power,
        "memory": memory_dict(session),
        "profile": profile,
        "edgerun": __version__,
        "litert": info["version"],
        "machine": f"{platform.machine()}, {os.cpu_count()} logical CPUs",
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"edgerun {__version__} | ai-edge-litert {info['version']} | {result['machine']}")
    print(f"model:   {label}")
    sig = "no signatures" if session.signature is None else f"signature '{session.signature}'"
    print(f"load:    {load_ms:.1f} ms (verify + compile + warm-up), {sig}, {session.threads} thread(s)")
    if session.accelerator != "cpu" or delegates:
        ops = ", ".join(f"{n} on {a}" for a, n in placement.items())
        print(f"ops:     {ops}")
    print("tensors:")
    _print_table(_tensor_rows(session.inputs, "in") + _tensor_rows(session.outputs, "out"),
                 ("", "name", "dtype", "shape", "quantization"))
    print(f"latency over {args.frames} frames (session.run with a fresh frame each call):")
    print(f"  p50 {stats['p50_us']:.1f} us   p90 {stats['p90_us']:.1f} us   "
          f"p99 {stats['p99_us']:.1f} us   mean {stats['mean_us']:.1f} us")
    print(f"  {stats['fps']:.1f} FPS")
    print(f"  CPU {power['cpu_ms_per_frame']:.3f} ms/frame (process, all threads; {power['cpu_load']:.2f} cores busy), "
          f"{power['switches_per_frame']:.1f} context switches/frame")
    mem = result["memory"]
    rss = f"{mem['load_rss_bytes'] / 2**20:.1f} MiB" if mem["load_rss_bytes"] is not None else "unknown"
    print(f"memory:  RSS grew {rss} at load (static estimate {mem['estimate_bytes'] / 2**20:.1f} MiB); "
          f"peak RSS {mem['peak_rss_bytes'] / 2**20:.1f} MiB")
    if profile is not None:
        from .bench import format_profile

        for line in format_profile(profile, args.profile_top):
            print(line)
    return 0


def _profile_plain(args: argparse.Namespace, source, session, frames: list) -> dict:
    """`edgerun bench MODEL --profile`: a second session with the profiler on, each of
    its runs beside an unprofiled run of the timed session (same inputs)."""
    import tempfile

    from ..errors import RuntimeLoadError
    from ..session import Session
    from . import bench

    opts = bench.session_options(args, session.threads, args.accelerator)
    where = "XNNPACK" if args.accelerator == "cpu" and not args.delegate else "delegate"
    try:
        ps = Session(source, profile=True, **opts)
    except RuntimeLoadError as e:
        path = source
        if not isinstance(source, str):  # the built-in model's bytes: the Interpreter wants a file
            with tempfile.NamedTemporaryFile(suffix=".tflite", delete=False) as f:
                f.write(bytes(source))
            path = f.name
        try:
            return {"error": " ".join(str(e).split()),
                    "fallback": bench.xnnpack_fallback(path, session.threads, args.profile_runs)}
        finally:
            if path is not source:
                os.unlink(path)
    inv, prof_ms = [], []
    clock = time.perf_counter
    for i in range(args.profile_runs):
        f = frames[i % len(frames)]
        t0 = clock()
        ps.run(*f)
        prof_ms.append((clock() - t0) * 1e3)
        t0 = clock()
        session.run(*f)
        inv.append((clock() - t0) * 1e3)
    try:
        return bench.summarize_profile(ps.profile(), where, inv, prof_ms)
    finally:
        ps.close()


def _bench_pipeline(args: argparse.Namespace) -> int:
    from . import bench

    if args.model:
        names = [os.path.basename(m) for m in args.model]
        models = [(m, n if names.count(n) == 1 else m) for m, n in zip(args.model, names)]
    else:
        import tempfile

        from ..model import builder

        data = builder.builtin_image_model(dtype=args.builtin_dtype)
        tmp = tempfile.NamedTemporaryFile(prefix="edgerun-builtin-", suffix=".tflite", delete=False)
        with tmp:
            tmp.write(data if isinstance(data, (bytes, bytearray)) else bytes(data))
        models = [(tmp.name, f"built-in {builder.BUILTIN_MODEL_NAME} ({args.builtin_dtype})")]
    args.progress = not args.json and not args.no_progress
    try:
        return bench.main(args, models)
    finally:
        if not args.model:
            os.unlink(models[0][0])


def _energy() -> tuple:
    import resource

    ru = resource.getrusage(resource.RUSAGE_SELF)
    return time.process_time(), time.perf_counter(), ru.ru_nvcsw, ru.ru_nivcsw


def _energy_per_frame(e0: tuple, e1: tuple, frames: int) -> dict:
    cpu, wall = e1[0] - e0[0], e1[1] - e0[1]
    n = max(frames, 1)
    return {"cpu_ms_per_frame": cpu * 1e3 / n, "cpu_load": cpu / wall if wall > 0 else 0.0,
            "voluntary_switches": e1[2] - e0[2], "involuntary_switches": e1[3] - e0[3],
            "switches_per_frame": (e1[2] - e0[2] + e1[3] - e0[3]) / n}


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())


def cmd_verify(args: argparse.Namespace) -> int:
    from ..verify import verify

    status = 0
    for path in args.models:
        t0 = time.perf_counter()
        try:
            verify(path)
        except Error as e:
            print(f"{path}: INVALID: {e}")
            status = 1
            continue
        except OSError as e:
            print(f"{path}: cannot read: {e}")
            status = 1
            continue
        dt = (time.perf_counter() - t0) * 1e3
        size = os.path.getsize(path)
        if not args.run:
            # Structure only: says nothing about whether this runtime can run it (custom ops,
            # an Edge TPU model without libedgetpu, shapes only known at run time ...).
            print(f"{path}: structure ok ({size} bytes, checked in {dt:.2f} ms; not compiled "
                  f"or run: --run does that)")
            continue
        from ..session import Session

        t0 = time.perf_counter()
        try:
            session = Session(path, threads=args.threads, accelerator=args.accelerator)
        except Error as e:
            print(f"{path}: CANNOT RUN on {args.accelerator}: {_for_cli(_one_line(e))}")
            status = 1
            continue
        dt_run = (time.perf_counter() - t0) * 1e3
        session.close()
        print(f"{path}: ok ({size} bytes; structure checked in {dt:.2f} ms, compiled and ran once "
              f"on {args.accelerator} in {dt_run:.1f} ms)")
    return status


def cmd_edgetpu(args: argparse.Namespace) -> int:
    from ..delegates import edgetpu_devices, edgetpu_runtime

    info = edgetpu_runtime()
    if not info["available"]:
        print("runtime: not installed or not usable")
        print(f"reason:  {_for_cli(info['error'])}")
        return 1
    print(f"runtime: {info['library']}")
    print(f"version: {info['version'] or '(not reported)'}")
    devices = edgetpu_devices()
    if not devices:
        print("devices: none found (see docs/edgetpu.md: lsusb, udev rules, /dev/apex_0)")
        return 1
    counts: dict = {}
    for d in devices:
        i = counts.get(d["type"], 0)
        counts[d["type"]] = i + 1
        print(f"device:  {d['type']}:{i}  {d['path']}")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from . import doctor

    return doctor.main(json_output=args.json)


def cmd_inspect(args: argparse.Namespace) -> int:
    from ..model.inspect import format_info, inspect

    if args.input_shape and args.no_xnnpack:
        raise SystemExit("edgerun inspect: --input-shape sizes the inputs for the compile that --no-xnnpack skips")
    info = inspect(args.model, xnnpack=not args.no_xnnpack, input_shapes=dict(args.input_shape or []) or None)
    if args.json:
        print(json.dumps(info.to_dict(), indent=2))
    else:
        print(format_info(info))
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    from .convert import convert

    preprocess = {k: getattr(args, k) for k in ("format", "mean", "std", "fit", "channels")
                  if getattr(args, k) is not None}
    metadata = {"name": args.name, "version": args.model_version, "description": args.description,
                "labels": args.labels}
    report = convert(
        args.source, args.output, args.quantize, io_type=args.io_type, calibration=args.calibration,
        samples=args.samples, validation=args.validation, preprocess=preprocess,
        metadata={k: v for k, v in metadata.items() if v is not None}, prune=args.prune,
        cluster=args.cluster, threads=args.threads, runs=args.runs, report=args.report,
        progress=not args.json, quiet=not args.verbose,
    )
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(report.table())
        if args.report:
            print(f"report: {args.report}")
    return 0


def _sparsity(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a sparsity between 0 and 1, got {text!r}") from None
    if not 0.0 < v < 1.0:
        raise argparse.ArgumentTypeError(f"expected a sparsity between 0 and 1 (e.g. 0.5), got {v}")
    return v


def _input_shape(text: str) -> tuple:
    """``NAME=1x1760`` (or ``INDEX=1x1760``) -> (name or index, (1, 1760))."""
    key, sep, dims = text.rpartition("=")
    try:
        if not sep or not key:
            raise ValueError
        shape = tuple(int(d) for d in dims.lower().replace(",", "x").split("x"))
        if any(d < 1 for d in shape):
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected NAME=DIMxDIM... (e.g. input=1x1760, or 0=1x1760), "
                                         f"got {text!r}") from None
    return (int(key) if key.lstrip("-").isdigit() else key), shape


_FORMATS = ("rgb", "bgr", "rgba", "bgra", "gray", "nv12", "nv21", "i420", "yuyv", "uyvy")
_HEADS = ("auto", "none", "classifier", "ssd", "blazeface", "yolo", "yolo10", "detection-postprocess",
          "segmentation", "landmarks")


def _thread_list(text: str) -> list:
    from .bench import parse_threads

    return parse_threads(text)


def _accelerator_list(text: str) -> list:
    from .bench import parse_accelerators

    return parse_accelerators(text)


def _source_size(text: str) -> tuple:
    from .bench import parse_source

    return parse_source(text)


def _float_list(text: str):
    try:
        vals = [float(v) for v in text.split(",")]
        if len(vals) not in (1, 3):
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected one number or three (R,G,B), got {text!r}") from None
    return vals[0] if len(vals) == 1 else vals


def _positive_float(text: str) -> float:
    try:
        v = float(text)
        if not v > 0 or v == float("inf"):
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    return v


def _non_negative_int(text: str) -> int:
    try:
        v = int(text)
        if v < 0:
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    return v


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {v}")
    return v


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="edgerun", description="Run TFLite/LiteRT models on edge devices.")
    p.add_argument("--version", action="version", version=f"edgerun {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    b = sub.add_parser("bench", help="per-frame latency (p50/p90/p99), FPS and the model's tensors")
    b.add_argument("model", nargs="*", help=".tflite file(s) (default: a built-in image model); several "
                                            "need --pipeline")
    b.add_argument("--frames", type=_positive_int, default=500,
                   help="timed frames (default 500; with --pipeline: per model, thread count and mode)")
    b.add_argument("--warmup", type=_non_negative_int, default=20, help="untimed frames first (default 20)")
    b.add_argument("--threads", type=_thread_list, default=None, metavar="N[,N...]",
                   help="CPU threads (default: one per physical core; 1 with two cores or fewer); with --pipeline "
                        "a list such as 1,2,4 compares them in one run")
    b.add_argument("--profile", action="store_true",
                   help="per-operator times from LiteRT's profiler: top operator types, and the share of time "
                        "outside XNNPACK (a separate profiled session; the timed numbers stay unprofiled)")
    b.add_argument("--profile-runs", type=_positive_int, default=50, metavar="N",
                   help="profiled runs per configuration for --profile (default 50)")
    b.add_argument("--profile-top", type=_positive_int, default=10, metavar="N",
                   help="operator types --profile lists (default 10)")
    pl = b.add_argument_group("camera loop (--pipeline)")
    pl.add_argument("--pipeline", action="store_true",
                    help="time the whole loop on camera frames (synthetic, or --frames-from): Preprocessor + "
                         "model + head, synchronous and asynchronous, per stage")
    pl.add_argument("--format", default="bgr", choices=_FORMATS,
                    help="camera pixel format the frames are fed in (default bgr)")
    pl.add_argument("--source", type=_source_size, default=None, metavar="WxH",
                    help="camera frame size (default 1280x720; with --frames-from: the files' size)")
    pl.add_argument("--frames-from", metavar="DIR|VIDEO", default=None,
                    help="frames from a directory of images (sorted by name) or a video file, decoded with "
                         "OpenCV before timing and converted to --format; looped when fewer than needed")
    pl.add_argument("--fit", choices=("stretch", "letterbox", "crop"), default=None,
                    help="how frames are fitted to the input (default: the model's metadata, else stretch)")
    pl.add_argument("--head", default="auto", choices=_HEADS,
                    help="decoder after the model (default auto: chosen from the model's outputs; none: raw outputs)")
    pl.add_argument("--mean", type=_float_list, default=None,
                    help="normalization mean, 0..255 pixel units, one value or R,G,B (default: the model's "
                         "metadata, else 127.5 for float inputs)")
    pl.add_argument("--std", type=_float_list, default=None, help="normalization std (as --mean)")
    pl.add_argument("--compare-anchor", action="store_true",
                    help="also time the ai_edge_litert Interpreter + OpenCV + NumPy loop, interleaved (needs opencv)")
    pl.add_argument("--duration", type=_positive_float, default=None, metavar="SECONDS",
                    help="measure for this long instead of --frames")
    pl.add_argument("--rounds", type=_positive_int, default=10,
                    help="interleaved rounds that --frames is split into (default 10)")
    pl.add_argument("--batch", type=_positive_int, default=20,
                    help="frames per configuration and round with --duration (default 20)")
    pl.add_argument("--source-fps", type=_positive_float, default=None, metavar="FPS",
                    help="asynchronous frames arrive at this rate, as from a camera (drop='oldest': late "
                         "frames are dropped and counted); default: back to back (drop='none')")
    pl.add_argument("-o", "--output", metavar="RESULTS.json|RESULTS.csv",
                    help="write every sample (JSON: with the statistics; CSV: one row per frame)")
    pl.add_argument("--plot", metavar="LATENCY.png",
                    help="histogram, time series and per-stage bars (needs matplotlib: edgerun[plot])")
    pl.add_argument("--no-progress", action="store_true", help="no progress bar (none when stderr is not a TTY)")
    b.add_argument("--builtin-dtype", choices=("float32", "int8"), default="float32",
                   help="variant of the built-in model when no MODEL is given")
    b.add_argument("--accelerator", type=_accelerator_list, default=["cpu"], metavar="cpu|edgetpu|gpu[,...]",
                   help="where to run (default cpu); edgetpu needs libedgetpu.so.1. With --pipeline a list such "
                        "as cpu,edgetpu compares them in one run; one that cannot be used here is skipped, "
                        "with the reason in the table")
    b.add_argument("--device", default=None,
                   help="Edge TPU device for --accelerator edgetpu: usb, usb:N, pci:N, :N")
    b.add_argument("--delegate", action="append", metavar="LIB[:KEY=VALUE,...]",
                   help="attach a TFLite delegate plugin (repeatable)")
    b.add_argument("--signature", default=None, metavar="NAME|INDEX",
                   help="signature to run (key or index; default: the first)")
    b.add_argument("--input-shape", action="append", type=_input_shape, metavar="NAME=DIMxDIM...",
                   help="shape of a dynamic input, by name or index, e.g. input=1x1760 (repeatable)")
    b.add_argument("--json", action="store_true", help="machine-readable output")
    b.set_defaults(func=cmd_bench)

    v = sub.add_parser(
        "verify", help="check model files' structure; with --run also compile and run each once "
                       "(exit 0 if all pass, 1 otherwise)",
        description="Checks each model's flatbuffer structure and cross-references (what every "
                    "Session checks before the runtime sees the bytes). That alone does not say "
                    "the model can run here: custom operators nobody registered, an Edge TPU model "
                    "without libedgetpu or unsupported shapes only show when the runtime compiles "
                    "and runs it. --run does that too: compile and one run with zero inputs.")
    v.add_argument("models", nargs="+", metavar="MODEL")
    v.add_argument("--run", action="store_true",
                   help="also compile each model and run it once (exit 1 with the reason if it cannot run)")
    v.add_argument("--accelerator", choices=("cpu", "edgetpu", "gpu"), default="cpu",
                   help="where --run runs it (default cpu)")
    v.add_argument("--threads", type=_positive_int, default=None,
                   help="CPU threads for --run (default: one per physical core; 1 with two cores or fewer)")
    v.set_defaults(func=cmd_verify)

    i = sub.add_parser("inspect", help="what is inside a model: tensors, operators, weights, memory, "
                                       "XNNPACK coverage, metadata")
    i.add_argument("model")
    i.add_argument("--json", action="store_true", help="machine-readable output (docs/tools.md)")
    i.add_argument("--no-xnnpack", action="store_true",
                   help="skip compiling the model to find the operators XNNPACK does not take")
    i.add_argument("--input-shape", action="append", type=_input_shape, metavar="NAME=DIMxDIM...",
                   help="size a dynamic input for the compile, by name or index, e.g. input=1x1760 "
                        "(repeatable); tensors then show the runtime's shapes")
    i.set_defaults(func=cmd_inspect)

    c = sub.add_parser("convert", help="convert a Keras model or SavedModel to .tflite, optionally quantized, "
                                       "with a report (needs edgerun[convert])")
    c.add_argument("source", metavar="SRC", help="Keras model file (.keras, .h5) or SavedModel directory")
    c.add_argument("-o", "--output", required=True, metavar="OUT.tflite", help="where to write the model")
    c.add_argument("--quantize", default="none", choices=("none", "dynamic", "float16", "int8", "int8-io"),
                   help="none (float32), dynamic (int8 weights), float16 (float16 weights), int8 (full "
                        "integer, float I/O), int8-io (full integer, integer I/O); default none")
    c.add_argument("--io-type", choices=("int8", "uint8"), default=None,
                   help="input/output type for --quantize int8-io (default int8)")
    c.add_argument("--calibration", metavar="DIR|FILE.npy",
                   help="representative data for int8: a directory of images, or model inputs in a "
                        ".npy [N, ...] / .npz (one array per input)")
    c.add_argument("--samples", type=_positive_int, default=100,
                   help="use at most N calibration / validation samples (default 100)")
    c.add_argument("--validation", metavar="DIR|FILE.npy",
                   help="data to measure agreement on (default: the calibration data, else random inputs)")
    c.add_argument("--format", help="camera pixel format the deployment uses (rgb, bgr, nv12, ...): "
                                    "images are fed through edgerun's Preprocessor in this format; "
                                    "recorded in the metadata")
    c.add_argument("--mean", help="normalization mean, 0..255 pixel units: one value or R,G,B")
    c.add_argument("--std", help="normalization std, 0..255 pixel units: one value or R,G,B")
    c.add_argument("--fit", choices=("stretch", "letterbox", "crop"), help="how frames are fitted to the input")
    c.add_argument("--channels", choices=("rgb", "bgr", "gray"), help="channel order the model expects")
    c.add_argument("--labels", metavar="FILE", help="class labels, one per line (written into the metadata)")
    c.add_argument("--name", help="model name for the metadata")
    c.add_argument("--model-version", help="model version for the metadata")
    c.add_argument("--description", help="model description for the metadata")
    c.add_argument("--prune", type=_sparsity, metavar="SPARSITY",
                   help="magnitude pruning to this sparsity (needs tensorflow-model-optimization)")
    c.add_argument("--cluster", type=_positive_int, metavar="N",
                   help="weight clustering into N clusters (needs tensorflow-model-optimization)")
    c.add_argument("--threads", type=_positive_int, default=None,
                   help="CPU threads for the latency measurement (default: one per physical core; 1 with two "
                        "cores or fewer)")
    c.add_argument("--runs", type=_positive_int, default=50, help="timed samples per model, each a batch of runs lasting >= 2 ms (default 50); the report "
                        "gives p50 and IQR, and the after/before ratio with its 95%% interval")
    c.add_argument("--report", metavar="REPORT.json", help="also write the report as JSON")
    c.add_argument("--json", action="store_true", help="print the report as JSON")
    c.add_argument("--verbose", action="store_true", help="show TensorFlow's own output")
    c.set_defaults(func=cmd_convert)

    e = sub.add_parser("edgetpu", help="show the Edge TPU runtime (libedgetpu) and the devices it sees")
    e.set_defaults(func=cmd_edgetpu)

    d = sub.add_parser("doctor", help="check this machine: glibc/libstdc++ against the runtime's needs, "
                       "libLiteRt.so, CPU features and SIMD path, cores, Edge TPU, one inference "
                       "(exit 1 if something blocks inference)")
    d.add_argument("--json", action="store_true", help="machine-readable output")
    d.set_defaults(func=cmd_doctor)
    return p


# Exit status when stdout is closed early (`edgerun verify *.tflite | head -1`): what a shell
# reports for a process killed by SIGPIPE (128 + 13), as `yes | head -1` gives.
EXIT_BROKEN_PIPE = 141


def _stdout_closed() -> int:
    """The reader of stdout went away: end quietly. Points stdout at /dev/null so the
    interpreter's final flush of what is still buffered cannot raise again (the recipe in
    Python's documentation of `signal`, "Note on SIGPIPE")."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass
    return EXIT_BROKEN_PIPE


def main(argv: Optional[Sequence[str]] = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:
        return _stdout_closed()


def _main(argv: Optional[Sequence[str]]) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit:  # --help / --version / usage errors: argparse prints, then exits
        sys.stdout.flush()
        raise
    try:
        status = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler, not at interpreter exit
        return status
    except BrokenPipeError:
        raise
    except Error as e:
        print(f"edgerun: error: {_for_cli(str(e))}", file=sys.stderr)
        return 1
    except Exception as e:
        if args.command != "convert" or getattr(args, "verbose", False):
            raise
        # TensorFlow can fail in many ways; one line, not a traceback wall (--verbose shows it).
        msg = " ".join(str(e).split())[:500]
        print(f"edgerun: error: convert failed: {type(e).__name__}: {msg} (--verbose shows the traceback)",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
