"""Every option is validated once, in C++, and its error says which option, what
was received and what is allowed; the vocabularies and defaults come from the
core (edgerun._core option classes), not from copies in Python."""

from __future__ import annotations

import inspect
import re

import numpy as np
import pytest

import edgerun
from edgerun import _core
from edgerun.errors import InputError


def _raises(match, fn, *args, **kwargs):
    with pytest.raises(InputError, match=match) as info:
        fn(*args, **kwargs)
    return str(info.value)


# ----------------------------------------------------------------------------- preprocessing
@pytest.mark.parametrize("kw,match", [
    (dict(format="nv16"), r"^format: expected one of 'rgb', 'bgr', .*'uyvy'; got 'nv16'$"),
    (dict(format=3), r"^format: expected one of .*; got 3$"),
    (dict(format=None), r"^format: expected one of .*; got None$"),
    (dict(fit="zoom"), r"^fit: expected one of 'stretch', 'letterbox' or 'crop'; got 'zoom'$"),
    (dict(interpolation="cubic"), r"^interpolation: expected one of 'bilinear', 'nearest' or 'area'; got 'cubic'$"),
    (dict(channels="rgba"), r"^channels: expected one of 'rgb', 'bgr' or 'gray'; got 'rgba'$"),
    (dict(layout="chw"), r"^layout: expected 'nhwc' or 'nchw'; got 'chw'$"),
    (dict(color="bt2020"), r"^color: expected 'bt601' or 'bt709'; got 'bt2020'$"),
    (dict(yuv_range="tv"), r"^yuv_range: expected 'limited' or 'full'; got 'tv'$"),
    (dict(yuv_sampling="xyz"), r"^yuv_sampling: expected 'yuv' or 'rgb'; got 'xyz'$"),
    (dict(rotate=45), r"^rotate: expected 0, 90, 180 or 270 \(degrees clockwise\), got 45$"),
    (dict(rotate=90.0), r"^rotate: expected an int, got 90\.0$"),
    (dict(roi=(1, 2, 3)), r"^roi: expected \(x, y, w, h\) integers or None, got \(1, 2, 3\)$"),
    (dict(roi=(-1, 0, 4, 4)), r"^roi: expected \(x, y, w, h\) with x, y >= 0 and w, h > 0, got \(-1, 0, 4, 4\)$"),
    (dict(mean=(1, 2)), r"^mean: expected 1 or 3 values \(one per output channel\), got \(1, 2\)$"),
    (dict(mean="a"), r"^mean: expected a number or a sequence of 1 or 3 numbers, got 'a'$"),
    (dict(mean=float("nan")), r"^mean: expected finite values, got \(nan, nan, nan\)$"),
    (dict(std=0), r"^std: expected finite, non-zero values, got \(0, 0, 0\)$"),
    (dict(pad_value=300), r"^pad_value: expected pixel values in 0\.\.255, got \(300, 300, 300\)$"),
    (dict(threads=0), r"^threads: expected 1\.\.64, got 0$"),
    (dict(threads=-1), r"^threads: expected 1\.\.64, got -1$"),
    (dict(threads=True), r"^threads: expected an int, got True$"),
    (dict(threads=1.5), r"^threads: expected an int, got 1\.5$"),
])
def test_preprocessor_option_errors(kw, match):
    kw.setdefault("format", "nv12")
    _raises(match, edgerun.Preprocessor, **kw)


def test_preprocessor_vocabulary_and_defaults_come_from_the_core():
    spec = _core.PreprocessSpec()
    assert _core.PreprocessSpec.choices("format") == (
        "rgb", "bgr", "rgba", "bgra", "gray", "nv12", "nv21", "i420", "yuyv", "uyvy")
    assert _core.PreprocessSpec.choices("fit") == ("stretch", "letterbox", "crop")
    with pytest.raises(InputError, match="'rotate' is not a named option"):
        _core.PreprocessSpec.choices("rotate")
    # The Python signature's defaults are the C++ Spec's member initializers.
    params = inspect.signature(edgerun.Preprocessor).parameters
    for name, value in spec.to_dict().items():
        key = "_isa" if name == "isa" else name
        assert params[key].default == value, name
    # Every value of every vocabulary is accepted, case-insensitively, and reported in lower case.
    for option in ("format", "fit", "interpolation", "channels", "layout", "color", "yuv_range", "yuv_sampling"):
        for name in _core.PreprocessSpec.choices(option):
            if option == "format":
                assert edgerun.Preprocessor(name.upper()).options["format"] == name
            else:
                assert edgerun.Preprocessor("rgb", **{option: name}).options[option] == name
    with pytest.raises(InputError, match=r"PreprocessSpec: unknown option 'colour'; expected some of format, fit"):
        _core.PreprocessSpec(colour="bt601")


def test_preprocessor_options_round_trip():
    pre = edgerun.Preprocessor("nv12", fit="letterbox", mean=0.3, std=(1, 2, 3), roi=(1.0, 2, 3, 4), rotate=90,
                               pad_value=[7])
    o = pre.options
    assert o["mean"] == (0.3, 0.3, 0.3) and o["std"] == (1.0, 2.0, 3.0) and o["roi"] == (1, 2, 3, 4)
    assert o["pad_value"] == (7.0, 7.0, 7.0) and "isa" not in o
    assert repr(pre) == ("Preprocessor('nv12', fit='letterbox', roi=(1, 2, 3, 4), rotate=90, mean=(0.3, 0.3, 0.3), "
                         "std=(1.0, 2.0, 3.0), pad_value=(7.0, 7.0, 7.0))")
    assert repr(edgerun.Preprocessor("bgr")) == "Preprocessor('bgr')"
    assert edgerun.Preprocessor(**{k: v for k, v in o.items()}).options == o


# ----------------------------------------------------------------------------- heads
_ANCHORS = np.full((10, 4), 0.5, np.float32)


@pytest.mark.parametrize("make,match", [
    (lambda: edgerun.heads.SSD(_ANCHORS, box_coder="yolo"), r"^box_coder: expected 'tf' or 'mediapipe'; got 'yolo'$"),
    (lambda: edgerun.heads.SSD(_ANCHORS, box_coder=1), r"^box_coder: expected 'tf' or 'mediapipe'; got 1$"),
    (lambda: edgerun.heads.SSD(_ANCHORS, nms="soft"), r"^nms: expected 'hard' or 'weighted'; got 'soft'$"),
    (lambda: edgerun.heads.BlazeFace(nms="soft"), r"^nms: expected 'hard' or 'weighted'; got 'soft'$"),
    (lambda: edgerun.heads.SSD(_ANCHORS, score_activation="relu"),
     r"^score_activation: expected one of 'none', 'sigmoid' or 'softmax'; got 'relu'$"),
    (lambda: edgerun.heads.SSD(None), r"^anchors: expected an \(N, 4\) array or SsdAnchors\(\.\.\.\) options, got none$"),
    (lambda: edgerun.heads.SSD(np.zeros((10, 3))), r"^anchors: expected an \(N, 4\) array .*, got shape \(10, 3\)$"),
    (lambda: edgerun.heads.SSD(_ANCHORS, scales=[1, 2]), r"^scales: expected 4 values .*, got \[1, 2\]$"),
    (lambda: edgerun.heads.SSD(_ANCHORS, scales=[1, 2, 3, -1]), r"^SSD: scales must be finite and >= 0 .*, got \(1, 2, 3, -1\)$"),
    (lambda: edgerun.heads.SSD(_ANCHORS, num_keypoints=-2), r"^SSD: num_keypoints must be >= 0 .*, got -2$"),
    (lambda: edgerun.heads.SSD(_ANCHORS, score_clipping=-1), r"^SSD: score_clipping must be finite and >= 0 .*, got -1$"),
    (lambda: edgerun.heads.SSD(_ANCHORS, max_detections=-1), r"^SSD: max_detections must be >= 0 \(0: no limit\), got -1$"),
    (lambda: edgerun.heads.SSD(_ANCHORS, iou_threshold=1.5), r"^SSD: iou_threshold must be in \[0, 1\], got 1\.5$"),
    (lambda: edgerun.heads.SSD(_ANCHORS, score_threshold=float("inf")), r"^SSD: score_threshold must be a finite number, got inf$"),
    (lambda: edgerun.heads.SSD(_ANCHORS, boxes_output=-1), r"^boxes_output: expected an output index >= 0 or a name, got -1$"),
    (lambda: edgerun.heads.SSD(_ANCHORS, scores_output=1.5), r"^scores_output: expected an int, got 1\.5$"),
    (lambda: edgerun.heads.YOLO(version=7), r"^YOLO: version must be 5, 8, 11 \(YOLOv8 layout\) or 10, 26 \(end-to-end\), got 7$"),
    (lambda: edgerun.heads.YOLO(layout="nchw"), r"^layout: expected one of 'auto', 'features_first' or 'boxes_first'; got 'nchw'$"),
    (lambda: edgerun.heads.YOLO(iou_threshold=-0.1), r"^YOLO: iou_threshold must be in \[0, 1\], got -0\.1$"),
    (lambda: edgerun.heads.YOLO(max_detections=-5), r"^YOLO: max_detections must be >= 0 \(0: no limit\), got -5$"),
    (lambda: edgerun.heads.Classifier(top_k=0), r"^Classifier: top_k must be >= 1, got 0$"),
    (lambda: edgerun.heads.Classifier(top_k="3"), r"^top_k: expected an int, got '3'$"),
    (lambda: edgerun.heads.DetectionPostProcess(max_detections=-1),
     r"^DetectionPostProcess: max_detections must be >= 0 \(0: every detection\), got -1$"),
    (lambda: edgerun.heads.DetectionPostProcess(score_threshold="a"), r"^score_threshold: expected a number, got 'a'$"),
    (lambda: edgerun.heads.SsdAnchors(2, 0.1, 0.9, strides=[8], input_size=(64, 64)).generate(),
     r"^anchors: strides needs one entry per layer \(2\), got 1$"),
    (lambda: edgerun.heads.SsdAnchors(1, 0.1, 0.9, strides=["a"], input_size=(64, 64)).generate(),
     r"^strides: expected an int, got 'a'$"),
    (lambda: edgerun.heads.SsdAnchors(1, 0.1, 0.9, strides=[8], input_size=(64,)).generate(),
     r"^input_size: expected \(width, height\) or None, got \(64,\)$"),
    (lambda: edgerun.heads.SsdAnchors(1, 0.1, float("nan"), strides=[8], input_size=(64, 64)).generate(),
     r"^anchors: min_scale, max_scale, .* must be finite, got nan$"),
])
def test_head_option_errors(make, match):
    _raises(match, make)


def test_head_defaults_and_vocabularies_come_from_the_core():
    assert _core.SsdOptions.choices("box_coder") == ("tf", "mediapipe")
    assert _core.SsdOptions.choices("nms") == ("hard", "weighted")
    assert _core.YoloOptions.choices("layout") == ("auto", "features_first", "boxes_first")
    ssd = _core.SsdOptions().to_dict()
    for name, p in inspect.signature(edgerun.heads.SSD).parameters.items():
        if name in ssd and name != "anchors":  # anchors: required
            assert p.default == ssd[name], name
    blazeface = _core.SsdOptions.blazeface()
    for name, p in inspect.signature(edgerun.heads.BlazeFace).parameters.items():
        if name != "labels":
            assert p.default == getattr(blazeface, name), name
    head = edgerun.heads.BlazeFace(score_threshold=0.7)
    o = head._impl.options  # the validated C++ options: BlazeFace's, with the override
    assert (o.score_threshold, o.iou_threshold, o.nms, o.num_keypoints, o.box_coder) == (0.7, 0.3, "weighted", 6,
                                                                                        "mediapipe")
    assert head.anchors.shape == (896, 4)
    yolo = _core.YoloOptions().to_dict()
    for name, p in inspect.signature(edgerun.heads.YOLO).parameters.items():
        if name in yolo:
            assert p.default == yolo[name], name
    assert edgerun.heads.SSD(_ANCHORS, nms="WEIGHTED", boxes_output="box")._impl.options.nms == "weighted"
    assert edgerun.heads.YOLO(max_detections=None)._impl.options.max_detections is None  # None: no limit
    for cls, opts in ((edgerun.heads.Segmentation, _core.SegmentationOptions()),
                      (edgerun.heads.Landmarks, _core.LandmarksOptions())):
        d = opts.to_dict()
        params = inspect.signature(cls).parameters
        assert set(d) <= set(params), cls.__name__
        for name, p in params.items():
            if name in d:
                assert p.default == d[name], (cls.__name__, name)


# ----------------------------------------------------------------------------- pipeline, session
@pytest.fixture(scope="module")
def session():
    from edgerun import modelgen

    with edgerun.Session(modelgen.builtin_image_model(), threads=1) as s:
        yield s


@pytest.mark.parametrize("kw,match", [
    (dict(drop="newest"), r"^drop: expected 'oldest' or 'none'; got 'newest'$"),
    (dict(drop=None), r"^drop: expected 'oldest' or 'none'; got None$"),
    (dict(depth=0), r"^depth: expected an int >= 1, got 0$"),
    (dict(depth=1.5), r"^depth: expected an int, got 1\.5$"),
    (dict(max_results=0), r"^max_results: expected an int >= 1, got 0$"),
    (dict(max_results=-1), r"^max_results: expected an int >= 1, got -1$"),
    (dict(overlap="yes"), r"^overlap: expected True, False or None, got 'yes'$"),
])
def test_pipeline_option_errors(session, kw, match):
    _raises(match, edgerun.Pipeline, session, edgerun.Preprocessor("bgr"), **kw)


def test_pipeline_defaults_and_vocabulary_come_from_the_core(session):
    assert _core.PipelineOptions.choices("drop") == ("oldest", "none")
    defaults = _core.PipelineOptions().to_dict()
    for name, p in inspect.signature(edgerun.Pipeline).parameters.items():
        if name in defaults:
            assert p.default == defaults[name], name
    with edgerun.Pipeline(session, edgerun.Preprocessor("bgr"), drop="NONE", overlap=False) as pipe:
        assert not pipe.overlapped


# One rule for thread counts: an int >= 1; None (Session only) = one per physical core (1 with <= 2 cores).
@pytest.mark.parametrize("threads,match", [
    (0, r"^threads: expected an int >= 1, or None for one per physical core; got 0$"),
    (-1, r"^threads: expected an int >= 1, or None for one per physical core; got -1$"),
    (True, r"^threads: expected an int, got True$"),
    (1.5, r"^threads: expected an int, got 1\.5$"),
    ("2", r"^threads: expected an int, got '2'$"),
])
def test_session_threads_errors(threads, match):
    from edgerun import modelgen

    _raises(match, edgerun.Session, modelgen.builtin_image_model(), threads=threads)


@pytest.mark.parametrize("kw,match", [
    (dict(accelerator=3), r"^accelerator: expected a str, got 3$"),
    (dict(signature=True), r"^signature: expected a str \(key\), an int \(index\) or None, got True$"),
    (dict(fallback=3), r"^fallback: expected 'cpu' or None, got 3$"),
    (dict(fallback="gpu"), r"^fallback must be 'cpu' or empty/None, got 'gpu'$"),
])
def test_session_option_type_errors(kw, match):
    from edgerun import modelgen

    _raises(match, edgerun.Session, modelgen.builtin_image_model(), **kw)


def test_session_threads_none_and_numpy_ints():
    from edgerun import modelgen

    model = modelgen.builtin_image_model()
    with edgerun.Session(model) as s:
        assert s.threads == _core.default_threads()
    with edgerun.Session(model, threads=np.int64(1)) as s:
        assert s.threads == 1


# ----------------------------------------------------------------------------- named structs across the boundary
def test_transform_crosses_as_a_named_struct():
    import pickle

    pre = edgerun.Preprocessor("bgr", fit="letterbox")
    frame = np.zeros((48, 64, 3), np.uint8)
    out = np.empty((32, 32, 3), np.float32)
    t1, t2 = pre(frame, out), pre(frame, out)
    assert t1 is t2  # same geometry: the same Transform, not rebuilt per frame
    assert isinstance(t1._t, _core.Transform) and t1._t.input_size == (32, 32) and t1.content == (0, 4, 32, 24)
    assert pickle.loads(pickle.dumps(t1)) == t1
    user = edgerun.Transform(t1._m, t1.input_size, t1.content, t1.source_roi)  # public constructor
    assert user == t1 and user._t.matrix == t1._t.matrix
    with pytest.raises(InputError, match=r"^transform: expected an edgerun.Transform"):
        edgerun.heads.Classifier()(np.zeros((1, 10), np.float32), transform=(t1._m, (32, 32)))


def test_heads_bind_to_named_specs():
    from edgerun.session import TensorSpec

    scores = np.zeros((1, 10), np.float32)
    scores[0, 3] = 1.0
    for spec in (TensorSpec("scores", (1, 10), np.dtype(np.float32)), ("scores", (1, 10), np.float32)):
        head = edgerun.heads.Classifier(top_k=1).bind(outputs=[spec])
        assert head(scores).classes.tolist() == [3]
    with pytest.raises(InputError, match=r"^output 0: expected a TensorSpec \(name, shape, dtype, scale, zero_point\), "
                                         r"got object$"):
        edgerun.heads.Classifier().bind(outputs=[object()])
