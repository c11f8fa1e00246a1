#!/usr/bin/env python3
"""Face detection on every frame of a video file, pipelined: the main thread decodes
and submits frames, a reader thread takes the results in frame order
(``Pipeline.results``) and writes the annotated video and/or a JSON line per frame.

No frame is dropped (``drop="none"``): ``submit`` waits while the model is busy, so the
file is processed as fast as the model runs, decoding overlapping inference.

    python3 video_file.py input.mp4 --model face_detection_short_range.tflite --output faces.mp4
    python3 video_file.py input.mp4 --jsonl faces.jsonl --quiet

Prints FPS and per-stage latency (Pipeline.stats()).
"""

from __future__ import annotations

import argparse
import threading
import time

import common


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("video", help="input video file (anything OpenCV's VideoCapture reads)")
    common.add_common_args(ap, drop="none")
    args = ap.parse_args(argv)

    import cv2
    import edgerun

    cap = cv2.VideoCapture(args.video)
    if not cap.isOpened():
        raise SystemExit(f"cannot open the video {args.video!r}")
    pipe = common.face_pipeline(args, "bgr")
    sink = common.Sink(args, fps=cap.get(cv2.CAP_PROP_FPS) or 30.0)
    meter = common.Meter(args.quiet)
    stop = threading.Event()  # set when the main thread gives up (an error, Ctrl-C)
    failed = []

    def reader() -> None:
        try:
            # in frame order, until the pipeline is closed and drained (or `stop`)
            for r in pipe.results(stop=stop):
                index, display = r.meta
                if r.error is not None:
                    print(f"frame {index}: {r.error}")
                    continue
                meter.tick(r.output, pipe, r.timings)
                sink(index, r.output, display, ms=r.timings.total)
        except BaseException as e:  # e.g. the output video cannot be written
            failed.append(e)
            stop.set()

    rd = threading.Thread(target=reader, name="results")
    rd.start()
    i = 0
    try:
        while not stop.is_set() and not sink.stopped and (args.frames <= 0 or i < args.frames):
            ok, frame = cap.read()
            if not ok:
                break
            while not stop.is_set():
                try:
                    pipe.submit(frame, meta=(i, frame))
                    break
                except edgerun.BusyError:  # max_results unread: the reader is behind (writing video)
                    time.sleep(0.002)
            i += 1
    except BaseException:
        stop.set()
        raise
    finally:
        pipe.close()  # finishes the queued frames; then results() ends
        rd.join()
        cap.release()
        sink.close()
    if failed:
        raise failed[0]
    meter.summary(pipe.stats())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
