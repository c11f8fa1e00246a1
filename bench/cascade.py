"""Two-stage loop: 640x480 frame -> BlazeFace -> rotated face ROI -> face mesh (468 landmarks).

Variants, interleaved in one process on the same frame (2 threads by default);
per-frame medians and ratios are printed:

  invokes    the two Interpreter.invoke() calls alone, inputs already set (the floor)
  anchor     what a user writes: ai_edge_litert Interpreter for both models, OpenCV
             for colour conversion, letterbox resize and the rotated crop
             (cv2.warpAffine), NumPy for BlazeFace decoding (anchors, sigmoid, NMS),
             the ROI (MediaPipe's: eyes level, 1.5 x the box, square) and mapping
             the landmarks back to frame pixels
  cascade    edgerun.Cascade(Pipeline(BlazeFace), face mesh Session, heads.Landmarks,
             Preprocessor.crop)

Models and photo come from pinned PyPI wheels through tests/realmodels.py (the
photo: one face). The landmarks of the two loops are compared (mean distance).

    python bench/cascade.py [--threads 2] [--rounds 15] [--batch 20]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

import numpy as np

import edgerun
from edgerun import heads

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
import realmodels  # noqa: E402
from camera_loop import blazeface_anchors  # noqa: E402  (the same anchor as bench/camera_loop.py)


class AnchorLoop:
    """Interpreter + OpenCV + NumPy, written the straightforward way."""

    def __init__(self, face_path: str, mesh_path: str, threads: int) -> None:
        import cv2
        from ai_edge_litert.interpreter import Interpreter

        self.cv2 = cv2
        self.face = Interpreter(model_path=face_path, num_threads=threads)
        self.face.allocate_tensors()
        self.face_in = self.face.get_input_details()[0]["index"]
        outs = sorted(self.face.get_output_details(), key=lambda d: -int(d["shape"][-1]))
        self.reg, self.cls = outs[0]["index"], outs[1]["index"]
        self.mesh = Interpreter(model_path=mesh_path, num_threads=threads)
        self.mesh.allocate_tensors()
        self.mesh_in = self.mesh.get_input_details()[0]["index"]
        outs = sorted(self.mesh.get_output_details(), key=lambda d: -int(np.prod(d["shape"])))
        self.lm = outs[0]["index"]
        self.anchors = blazeface_anchors()

    def detect(self, frame: np.ndarray):
        cv2 = self.cv2
        h, w = frame.shape[:2]
        s = min(128 / w, 128 / h)
        nw, nh = int(round(w * s)), int(round(h * s))
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        small = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_LINEAR)
        canvas = np.zeros((128, 128, 3), np.uint8)
        ox, oy = (128 - nw) // 2, (128 - nh) // 2
        canvas[oy:oy + nh, ox:ox + nw] = small
        x = (canvas.astype(np.float32) - 127.5) / 127.5
        self.face.set_tensor(self.face_in, x[None])
        self.face.invoke()
        reg = self.face.get_tensor(self.reg)[0]
        logits = self.face.get_tensor(self.cls)[0, :, 0]
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits.astype(np.float64), -100, 100)))
        best = int(np.argmax(scores))  # one face: the best anchor (NMS would keep it first)
        if scores[best] < 0.5:
            return None, rgb
        r = reg[best].astype(np.float64)
        a = self.anchors[best]
        cx, cy = r[0] + a[0] * 128, r[1] + a[1] * 128
        bw, bh = r[2], r[3]
        kps = r[4:16].reshape(6, 2) + a * 128
        # input pixels -> frame pixels (undo the letterbox)
        to_frame = lambda px, py: ((px - ox) / s, (py - oy) / s)  # noqa: E731
        box = (*to_frame(cx - bw / 2, cy - bh / 2), *to_frame(cx + bw / 2, cy + bh / 2))
        eyes = [to_frame(*kps[0]), to_frame(*kps[1])]
        return (box, eyes), rgb

    def __call__(self, frame: np.ndarray):
        cv2 = self.cv2
        det, rgb = self.detect(frame)
        if det is None:
            return None
        (x1, y1, x2, y2), ((ex0, ey0), (ex1, ey1)) = det
        angle = math.atan2(ey1 - ey0, ex1 - ex0)
        side = max(x2 - x1, y2 - y1) * 1.5
        c, s_ = math.cos(angle), math.sin(angle)
        k = side / 192
        # input pixel centre (u + 0.5) -> frame pixel centre; OpenCV's integer-index form
        A = np.array([[c * k, -s_ * k], [s_ * k, c * k]])
        b = np.array([(x1 + x2) / 2, (y1 + y2) / 2]) - A @ np.array([96.0, 96.0])
        M = np.hstack([A, (A @ [0.5, 0.5] + b - 0.5)[:, None]])
        crop = cv2.warpAffine(rgb, M, (192, 192), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_CONSTANT)
        self.mesh.set_tensor(self.mesh_in, (crop.astype(np.float32) / 255.0)[None])
        self.mesh.invoke()
        p = self.mesh.get_tensor(self.lm).reshape(468, 3)
        return p[:, :2] @ A.T + b

    def invokes(self) -> None:
        self.face.invoke()
        self.mesh.invoke()


def load_frame() -> np.ndarray:
    import cv2

    img = cv2.imread(str(realmodels.astronaut_path()))
    s = min(640 / img.shape[1], 480 / img.shape[0])
    small = cv2.resize(img, (int(img.shape[1] * s), int(img.shape[0] * s)), interpolation=cv2.INTER_AREA)
    canvas = np.zeros((480, 640, 3), np.uint8)
    canvas[:small.shape[0], 80:80 + small.shape[1]] = small
    return canvas


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--batch", type=int, default=20, help="frames per variant per round")
    args = ap.parse_args(argv)

    frame = load_frame()
    face_path, mesh_path = str(realmodels.blazeface_path()), str(realmodels.face_landmark_path())
    anchor = AnchorLoop(face_path, mesh_path, args.threads)
    face = edgerun.Session(face_path, threads=args.threads)
    mesh = edgerun.Session(mesh_path, threads=args.threads)
    pipe = edgerun.Pipeline(face, edgerun.Preprocessor("bgr", fit="letterbox"), heads.BlazeFace())
    cascade = edgerun.Cascade(pipe, mesh, heads.Landmarks(468, 3, score_output=1, score_activation="sigmoid"),
                              edgerun.Preprocessor("bgr", mean=0, std=255))

    ours = cascade(frame)
    theirs = anchor(frame)
    if len(ours) != 1 or theirs is None:
        print(f"expected one face from both loops: edgerun {len(ours)}, anchor {theirs is not None}")
        return 1
    dist = np.linalg.norm(ours.results[0].xy[0] - theirs, axis=1)

    variants = {"invokes": anchor.invokes, "anchor": lambda: anchor(frame), "cascade": lambda: cascade(frame)}
    for fn in variants.values():  # warm-up
        for _ in range(3):
            fn()
    samples = {k: [] for k in variants}
    for _ in range(args.rounds):
        for name, fn in variants.items():
            t0 = time.perf_counter()
            for _ in range(args.batch):
                fn()
            samples[name].append((time.perf_counter() - t0) / args.batch * 1e3)
    med = {k: float(np.median(v)) for k, v in samples.items()}
    iqr = {k: float(np.subtract(*np.percentile(v, [75, 25]))) for k, v in samples.items()}
    print(f"edgerun {edgerun.__version__} | {os.cpu_count()} logical CPUs | threads={args.threads} | "
          f"{args.rounds} rounds x {args.batch} frames, interleaved | 640x480 BGR, one face")
    for k in variants:
        print(f"  {k:8s} {med[k]:7.3f} ms/frame (IQR {iqr[k]:.3f})")
    print(f"  cascade / anchor  = {med['cascade'] / med['anchor']:.3f}  (anchor / cascade = "
          f"{med['anchor'] / med['cascade']:.2f}x)")
    print(f"  cascade / invokes = {med['cascade'] / med['invokes']:.3f}")
    print(f"  landmarks, edgerun vs anchor: mean {dist.mean():.2f} px, max {dist.max():.2f} px "
          f"(the anchor takes the best anchor box, edgerun BlazeFace's weighted NMS)")
    pipe.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
