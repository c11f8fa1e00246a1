#!/usr/bin/env python3
"""Face detection on an OpenCV ``VideoCapture`` (a USB / V4L2 camera, or anything
VideoCapture opens), drawing the boxes on the frames.

OpenCV hands out BGR frames; ``Preprocessor("bgr")`` converts, letterboxes and
normalizes them into the model input in one pass. The Pipeline runs asynchronously:
``submit`` returns at once and a live camera drops stale frames (``--drop oldest``)
instead of falling behind.

    python3 opencv_camera.py --model face_detection_short_range.tflite --camera 0 --show
    python3 opencv_camera.py --camera clip.avi --output annotated.avi --frames 100

Prints FPS and per-stage latency (Pipeline.stats()).
"""

from __future__ import annotations

import argparse

import common


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    common.add_common_args(ap)
    ap.add_argument("--camera", default="0", help="camera index, device path, URL or video file (default: 0)")
    ap.add_argument("--size", help="ask the camera for this size, e.g. 640x480")
    args = ap.parse_args(argv)

    import cv2

    cap = cv2.VideoCapture(int(args.camera) if args.camera.isdigit() else args.camera)
    if not cap.isOpened():
        raise SystemExit(f"cannot open the camera {args.camera!r}")
    if args.size:
        w, h = (int(v) for v in args.size.split("x"))
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, w)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, h)

    pipe = common.face_pipeline(args, "bgr")
    sink = common.Sink(args, fps=cap.get(cv2.CAP_PROP_FPS) or 30.0)
    meter = common.Meter(args.quiet)
    i = 0
    try:
        while not sink.stopped and (args.frames <= 0 or i < args.frames):
            ok, frame = cap.read()  # a new array each time: the pipeline may keep it until its result
            if not ok:
                break
            # the frame is also the display: drawn on once its result is back
            pipe.submit(frame, meta=(i, frame))
            i += 1
            common.drain(pipe, sink, meter, 0)
    finally:
        pipe.close()
        common.drain(pipe, sink, meter, None)
        cap.release()
        sink.close()
    meter.summary(pipe.stats())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
