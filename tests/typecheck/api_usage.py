"""What type checkers infer for typical edgerun code: checked by mypy and pyright in
scripts/test.sh (``assert_type`` fails the check when an inferred type differs); never run."""

from __future__ import annotations

from typing import Any, List

import numpy as np
from typing_extensions import assert_type

import edgerun
from edgerun.heads import (BlazeFace, Classifications, Classifier, Detections, LandmarkPoints, Landmarks,
                           Segmentation, SegmentationMask, YOLO)


def session_api(session: edgerun.Session, frame: np.ndarray) -> None:
    assert_type(session.inputs, List[edgerun.TensorSpec])
    assert_type(session.outputs[0].shape, tuple[int, ...])
    assert_type(session.run(frame), list[np.ndarray])
    assert_type(session.input(0).scale, float | None)
    assert_type(session.memory, edgerun.SessionMemory)
    assert_type(session.placement()[0], edgerun.OpPlacement)


def heads_api(session: edgerun.Session, pre: edgerun.Preprocessor, frame: np.ndarray) -> None:
    t = pre(frame, session.input(0))
    assert_type(t, edgerun.Transform)
    outputs = session.run()
    assert_type(Classifier(top_k=3)(outputs), Classifications)
    faces = BlazeFace().bind(session)(outputs, t)
    assert_type(faces, Detections)
    assert_type(faces.boxes, np.ndarray)
    assert_type(faces.labels, List[str] | None)
    assert_type(YOLO(version=8)(outputs, t), Detections)
    assert_type(Segmentation()(outputs, t), SegmentationMask)
    assert_type(Landmarks(468, 3)(outputs, t), LandmarkPoints)
    assert_type(BlazeFace().bind(session), BlazeFace)


def pipeline_api(session: edgerun.Session, pre: edgerun.Preprocessor, frame: np.ndarray) -> None:
    with edgerun.Pipeline(session, pre, BlazeFace()) as pipe:
        r = pipe(frame)
        assert_type(r, edgerun.FrameResult[Detections])
        assert_type(r.output, Detections)
        assert_type(r.unwrap(), Detections)
        assert_type(r.timings.invoke, float)
        for res in pipe.results(timeout=1.0):
            assert_type(res.output, Detections)
        stats = pipe.stats()
        assert_type(stats, edgerun.PipelineStats)
        assert_type(stats["fps"], float)
        assert_type(stats["dropped"], int)
    raw = edgerun.Pipeline(session, pre)
    assert_type(raw(frame).output, List[np.ndarray])
    classes = edgerun.Pipeline(session, pre, Classifier())
    assert_type(classes.get().output, Classifications)
    gate: Any = edgerun.ModelGate(classes, lambda r: bool(r.output.scores[0] > 0.5))
    assert_type(edgerun.Pipeline(session, pre, BlazeFace(), gate=gate), edgerun.Pipeline[Detections])


def runtime_api() -> None:
    assert_type(edgerun.runtime_info()["loaded"], bool)
    assert_type(edgerun.edgetpu_runtime()["available"], bool)
    assert_type(edgerun.edgetpu_devices(), list[edgerun.EdgeTpuDevice])
