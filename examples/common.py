"""Shared parts of the examples: command-line options, the model setup, the result loop
(drawing, a video file or a window, a JSON-lines log) and the FPS / per-stage report.

Nothing here is needed to use edgerun; each example shows the camera-specific part in full.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, Optional

DEFAULT_MODEL = "face_detection_short_range.tflite"
MODEL_HELP = ("BlazeFace model (face_detection_short_range.tflite: in the mediapipe wheel under "
              "mediapipe/modules/face_detection/, or MediaPipe's model downloads)")


def add_common_args(ap: argparse.ArgumentParser, *, drop: str = "oldest") -> None:
    ap.add_argument("--model", default=DEFAULT_MODEL, help=MODEL_HELP + " (default: %(default)s)")
    ap.add_argument("--threads", type=int, default=1,
                    help="LiteRT CPU threads (default: %(default)s; more threads cost CPU per frame in a camera "
                         "loop, see docs/power.md)")
    ap.add_argument("--score-threshold", type=float, default=0.5, help="detection score threshold")
    ap.add_argument("--frames", type=int, default=0, help="stop after this many frames (0: until the source ends)")
    ap.add_argument("--depth", type=int, default=2, help="frames that may wait for the model (Pipeline depth)")
    ap.add_argument("--drop", choices=("oldest", "none"), default=drop,
                    help="oldest: a live camera drops stale frames; none: every frame is processed "
                         "(default: %(default)s)")
    ap.add_argument("--output", metavar="VIDEO", help="write the annotated frames to this video file (OpenCV)")
    ap.add_argument("--show", action="store_true", help="show the annotated frames in a window (OpenCV)")
    ap.add_argument("--jsonl", metavar="PATH", help="write one JSON line per frame: frame index, boxes, scores, ...")
    ap.add_argument("--quiet", action="store_true", help="no per-second progress lines")


def face_pipeline(args: argparse.Namespace, fmt: str) -> Any:
    """Session + Preprocessor(fmt) + BlazeFace head -> Pipeline. The BlazeFace head
    fits the default model; for another detector, swap the head (edgerun.heads)."""
    import edgerun

    session = edgerun.Session(args.model, threads=args.threads)
    # mean/std from the model's metadata; BlazeFace was trained on letterboxed inputs
    pre = edgerun.Preprocessor.from_model(session, fmt, fit="letterbox")
    head = edgerun.heads.BlazeFace(score_threshold=args.score_threshold)
    return edgerun.Pipeline(session, pre, head, depth=args.depth, drop=args.drop)


def record(index: Any, output: Any) -> dict:
    """A JSON-able summary of one frame's result."""
    rec: dict = {"frame": index}
    det = getattr(output, "detections", output)  # a CascadeResult's detector result
    if det is not None and hasattr(det, "boxes"):
        rec["boxes"] = [[round(float(v), 2) for v in b] for b in det.boxes]
        rec["scores"] = [round(float(s), 4) for s in det.scores]
        rec["keypoints"] = [[[round(float(v), 2) for v in p] for p in k] for k in det.keypoints]
    if hasattr(output, "results"):  # CascadeResult: the second model's landmarks per ROI
        rec["landmarks"] = [[[round(float(v), 2) for v in p] for p in r.xy[0]] for r in output.results if len(r)]
        rec["landmark_scores"] = [float(r.scores[0]) for r in output.results if len(r)]
    return rec


class Sink:
    """Where results go: drawn on a display frame, written to a video / a window, logged."""

    def __init__(self, args: argparse.Namespace, fps: float = 30.0) -> None:
        self.args = args
        self.fps = fps
        self.writer: Any = None
        self.log = open(args.jsonl, "w") if args.jsonl else None
        self.wants_display = bool(args.output or args.show)
        self.stopped = False

    def __call__(self, index: Any, output: Any, display: Any = None, *, scale: Any = None, rgba: bool = False,
                 ms: Optional[float] = None) -> None:
        if self.log is not None:
            rec = record(index, output)
            if ms is not None:
                rec["ms"] = round(ms, 3)
            self.log.write(json.dumps(rec) + "\n")
        if display is None or not self.wants_display:
            return
        import cv2
        import edgerun

        edgerun.draw.result(display, output, scale=scale)
        bgr = cv2.cvtColor(display, cv2.COLOR_RGBA2BGR) if rgba else display
        if self.args.output:
            if self.writer is None:
                h, w = bgr.shape[:2]
                fourcc = cv2.VideoWriter_fourcc(*("mp4v" if self.args.output.endswith(".mp4") else "MJPG"))
                self.writer = cv2.VideoWriter(self.args.output, fourcc, self.fps, (w, h))
                if not self.writer.isOpened():
                    raise SystemExit(f"cannot write the video {self.args.output!r}")
            self.writer.write(bgr)
        if self.args.show:
            cv2.imshow("edgerun", bgr)
            if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
                self.stopped = True

    def close(self) -> None:
        if self.log is not None:
            self.log.close()
        if self.writer is not None:
            self.writer.release()
        if self.args.show:
            import cv2

            cv2.destroyAllWindows()


class Meter:
    """Counts results; prints a progress line every second and the summary at the end."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.t0 = time.perf_counter()
        self.n = 0
        self.faces = 0
        self.queue_ms: list = []
        self._next = self.t0 + 1.0

    def tick(self, output: Any, pipe: Any = None, timings: Any = None) -> None:
        """One result; ``timings``: its FrameTimings (the queue wait is not in stats())."""
        self.n += 1
        if timings is not None:
            self.queue_ms.append(timings.queue)
        det = getattr(output, "detections", output)
        self.faces += len(det) if det is not None and hasattr(det, "boxes") else 0
        now = time.perf_counter()
        if not self.quiet and now >= self._next:
            self._next = now + 1.0
            line = f"{self.n} frames, {self.n / (now - self.t0):.1f} FPS"
            if pipe is not None:
                s = pipe.stats()
                line += f", latency p50 {s['latency_p50_ms']:.2f} ms, dropped {s['dropped']}"
            print(line, flush=True)

    def summary(self, stats: Optional[dict] = None, extra: Optional[dict] = None) -> None:
        """The loop's FPS and, from Pipeline.stats(), the per-stage medians and latency percentiles."""
        wall = time.perf_counter() - self.t0
        print(f"frames {self.n} in {wall:.2f} s: {self.n / wall if wall > 0 else 0:.1f} FPS; "
              f"detections {self.faces}")
        if stats:
            print("stage        p50 ms")
            if self.queue_ms:
                print(f"{'queue':<12} {sorted(self.queue_ms)[len(self.queue_ms) // 2]:7.3f}")
            for k in ("preprocess", "invoke", "decode"):
                print(f"{k:<12} {stats[k + '_p50_ms']:7.3f}")
            for k, v in (extra or {}).items():
                print(f"{k:<12} {v:7.3f}")
            print(f"latency      p50 {stats['latency_p50_ms']:.3f}  p90 {stats['latency_p90_ms']:.3f}  "
                  f"p99 {stats['latency_p99_ms']:.3f} ms (submit -> result)")
            print(f"pipeline fps {stats['fps']:.1f}, submitted {stats['submitted']}, dropped {stats['dropped']}, "
                  f"failed {stats['failed']}, CPU {stats['cpu_ms_per_frame']:.2f} ms/frame")
        sys.stdout.flush()


def drain(pipe: Any, sink: Sink, meter: Meter, timeout: Optional[float] = 0, *, rgba: bool = False,
          scale: Any = None) -> None:
    """Hands the results that are ready (``timeout=0``), or all until the pipeline is
    closed (``timeout=None``), to the sink. ``meta`` of each frame is (index, display frame)."""
    for r in pipe.results(timeout=timeout):
        index, display = r.meta
        if r.error is not None:
            print(f"frame {index}: {r.error}", file=sys.stderr)
            continue
        meter.tick(r.output, pipe, r.timings)
        sink(index, r.output, display, scale=scale, rgba=rgba, ms=r.timings.total)
