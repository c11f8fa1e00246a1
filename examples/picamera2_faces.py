#!/usr/bin/env python3
"""Face detection on a Raspberry Pi camera with picamera2.

The model reads the small ``lores`` stream (``YUV420``: planar I420, rows padded to a
stride) through ``Preprocessor("i420")``: no colour conversion or resize in Python.
The boxes are drawn on the ``main`` stream (``XBGR8888``: bytes R, G, B, X), which shows
the same view at a higher resolution, for a window or a video file.

    python3 picamera2_faces.py --model face_detection_short_range.tflite --show
    python3 picamera2_faces.py --replay clip.npz --frames 100      # recorded frames, no camera

Prints FPS and per-stage latency (Pipeline.stats()). On a Pi: ``sudo apt install
python3-picamera2`` and a venv made with ``--system-site-packages`` so it sees picamera2.
"""

from __future__ import annotations

import argparse

import common


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    common.add_common_args(ap)
    ap.add_argument("--lores", default="320x240", help="lores (model) stream size (default: %(default)s)")
    ap.add_argument("--main", default="640x480", help="main (display) stream size (default: %(default)s)")
    ap.add_argument("--replay", metavar="NPZ", help="recorded frames instead of the camera (see sources.py)")
    args = ap.parse_args(argv)

    import sources

    lores_size = tuple(int(v) for v in args.lores.split("x"))
    main_size = tuple(int(v) for v in args.main.split("x"))
    cam = sources.open_picamera2(args.replay)
    cam.configure(cam.create_preview_configuration(main={"size": main_size, "format": "XBGR8888"},
                                                   lores={"size": lores_size, "format": "YUV420"}))
    cam.start()
    lores_w, lores_h = cam.camera_config["lores"]["size"]
    main_w, main_h = cam.camera_config["main"]["size"]
    print(f"lores {lores_w}x{lores_h} YUV420 (stride {cam.camera_config['lores']['stride']}), "
          f"main {main_w}x{main_h} XBGR8888")
    scale = (main_w / lores_w, main_h / lores_h)  # lores boxes -> main pixels (same field of view)

    pipe = common.face_pipeline(args, "i420")
    sink = common.Sink(args)
    meter = common.Meter(args.quiet)
    i = 0
    try:
        while not sink.stopped and (args.frames <= 0 or i < args.frames):
            try:
                request = cam.capture_request()  # lores and main of the same instant
            except sources.EndOfStream:
                break
            try:
                lores = request.make_array("lores")  # (h * 3/2, stride): the whole padded buffer
                display = request.make_array("main") if sink.wants_display else None
            finally:
                request.release()
            # slice the row padding off: a view with the real row stride (edgerun reads the
            # chroma planes with half of it)
            pipe.submit(lores[:, :lores_w], meta=(i, display))
            i += 1
            common.drain(pipe, sink, meter, 0, rgba=True, scale=scale)
    finally:
        pipe.close()  # finishes the queued frames
        common.drain(pipe, sink, meter, None, rgba=True, scale=scale)
        cam.stop()
        cam.close()
        sink.close()
    meter.summary(pipe.stats())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
