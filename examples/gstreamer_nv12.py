#!/usr/bin/env python3
"""Face detection on NV12 frames from a GStreamer appsink.

The GStreamer pipeline ends in ``videoconvert ! video/x-raw,format=NV12 ! appsink``;
each buffer is mapped and wrapped as a numpy array with its row stride (no copy, see
``sources.nv12_frame``) and fed to ``Preprocessor("nv12")``, synchronously, while the
buffer is mapped. GStreamer's own threads capture and convert the next frame meanwhile.

    python3 gstreamer_nv12.py --source "v4l2src device=/dev/video0" --show
    python3 gstreamer_nv12.py --source "filesrc location=a.mp4 ! decodebin" --output out.avi
    python3 gstreamer_nv12.py --replay clip_nv12.npz          # recorded buffers, no GStreamer

Needs PyGObject and GStreamer (``sudo apt install python3-gi gir1.2-gst-plugins-base-1.0
gstreamer1.0-plugins-good``) except with ``--replay``. Prints FPS and per-stage latency.
"""

from __future__ import annotations

import argparse

import common


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    common.add_common_args(ap)
    ap.add_argument("--source", default="v4l2src", help="GStreamer source element(s) (default: %(default)s)")
    ap.add_argument("--size", help="ask for this size, e.g. 640x480 (videoscale)")
    ap.add_argument("--replay", metavar="NPZ", help="recorded NV12 buffers instead of GStreamer (see sources.py)")
    args = ap.parse_args(argv)

    import sources

    if args.replay:
        samples = sources.replay_nv12_samples(args.replay)
    else:
        w, h = (int(v) for v in args.size.split("x")) if args.size else (None, None)
        # --drop oldest: the appsink keeps the newest frames (a live camera); none: every frame
        samples = sources.gst_nv12_samples(args.source, w, h, drop=args.drop == "oldest")

    pipe = common.face_pipeline(args, "nv12")
    sink = common.Sink(args)
    meter = common.Meter(args.quiet)
    copies = 0
    try:
        for i, (data, layout) in enumerate(samples):
            if sink.stopped or (args.frames > 0 and i >= args.frames):
                break
            frame = sources.nv12_frame(data, **layout)
            copies += frame.base is None  # planes apart: nv12_frame had to copy
            if i == 0:
                print(f"NV12 {layout['width']}x{layout['height']}, row stride {layout['stride_y']}, chroma at "
                      f"byte {layout['offset_uv']}" + (" (copied)" if frame.base is None else " (used in place)"))
            r = pipe(frame, meta=i)  # synchronous: done before the buffer is unmapped
            meter.tick(r.output, pipe, r.timings)
            display = None
            if sink.wants_display:
                import cv2

                display = cv2.cvtColor(frame, cv2.COLOR_YUV2BGR_NV12)
            sink(i, r.output, display, ms=r.timings.total)
    finally:
        samples.close()  # unmaps the last buffer, stops GStreamer
        pipe.close()
        sink.close()
    if copies:
        print(f"{copies} buffers had their NV12 planes apart and were copied")
    meter.summary(pipe.stats())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
