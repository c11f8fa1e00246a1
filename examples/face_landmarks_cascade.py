#!/usr/bin/env python3
"""Two models in one loop: BlazeFace finds faces, the face-mesh model places 468
landmarks on each (``edgerun.Cascade``: detector -> rotated face ROI crop -> landmark
model; results in frame pixels).

Pipelined: the detector runs on the Pipeline's worker threads for frame N+1 while the
landmark model runs on this thread for frame N (``cascade.submit`` / ``cascade.ready``).

    python3 face_landmarks_cascade.py --model face_detection_short_range.tflite \\
        --landmark-model face_landmark.tflite --camera 0 --show
    python3 face_landmarks_cascade.py --camera clip.avi --output mesh.avi --drop none

Both models are in the mediapipe wheel (mediapipe/modules/face_detection/ and
mediapipe/modules/face_landmark/). Prints FPS, the detector's per-stage latency
(Pipeline.stats()) and the landmark stage's time per frame.
"""

from __future__ import annotations

import argparse
import statistics
import time

import common


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    common.add_common_args(ap)
    ap.add_argument("--landmark-model", default="face_landmark.tflite",
                    help="MediaPipe face mesh model (default: %(default)s)")
    ap.add_argument("--max-faces", type=int, default=2, help="faces per frame that get landmarks")
    ap.add_argument("--camera", default="0", help="camera index, device path, URL or video file (default: 0)")
    args = ap.parse_args(argv)

    import cv2
    import edgerun

    cap = cv2.VideoCapture(int(args.camera) if args.camera.isdigit() else args.camera)
    if not cap.isOpened():
        raise SystemExit(f"cannot open the camera {args.camera!r}")
    faces = common.face_pipeline(args, "bgr")
    mesh = edgerun.Session(args.landmark_model, threads=args.threads)
    cascade = edgerun.Cascade(faces, mesh,
                              edgerun.heads.Landmarks(468, 3, score_output=1, score_activation="sigmoid"),
                              edgerun.Preprocessor("bgr", mean=0, std=255),  # face mesh: RGB in [0, 1]
                              roi_from="face", max_rois=args.max_faces)
    sink = common.Sink(args, fps=cap.get(cv2.CAP_PROP_FPS) or 30.0)
    meter = common.Meter(args.quiet)
    second_ms = []  # the landmark stage (crop + invoke + decode for every face) per frame

    def handle(results) -> None:
        while True:
            t = time.perf_counter()
            r = next(results, None)  # runs the landmark model for one frame
            if r is None:
                return
            second_ms.append((time.perf_counter() - t) * 1e3)
            index, display = r.meta
            meter.tick(r, faces)
            sink(index, r, display)

    i = 0
    try:
        while not sink.stopped and (args.frames <= 0 or i < args.frames):
            ok, frame = cap.read()
            if not ok:
                break
            cascade.submit(frame, meta=(i, frame))
            i += 1
            handle(cascade.ready())  # the frames whose detections are done
    finally:
        faces.close()
        handle(cascade.results())  # the rest, until the detector pipeline is drained
        cap.release()
        sink.close()
    extra = {"landmarks": statistics.median(second_ms)} if second_ms else {}
    meter.summary(faces.stats(), extra)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
