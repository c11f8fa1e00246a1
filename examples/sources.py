"""Camera sources for the examples, and replays of recorded frames in the same layouts.

The picamera2 and GStreamer examples run unchanged on a camera or on a recording
(``--replay clip.npz``): a replay hands out arrays with exactly the layout the real
library gives (picamera2's padded ``YUV420`` lores array, GStreamer's mapped NV12
buffer with its strides and plane offsets), and imports neither picamera2 nor gi.

Recording formats (``numpy.savez`` files):

- picamera2 (:class:`ReplayPicamera2`): ``lores`` uint8 (N, H*3/2, stride), the I420
  frames as ``capture_array("lores")`` returns them for ``YUV420`` (Y rows, then the U
  and V planes with rows of stride/2 bytes, packed two to a row of the array);
  ``lores_size`` (width, height) as configured (the width is not in the array: rows are
  padded); ``main`` uint8 (N, MH, MW, 4), ``XBGR8888`` frames (bytes R, G, B, X).
- GStreamer NV12 (:func:`replay_nv12_samples`): ``buffers`` uint8 (N, bytes), each a
  whole mapped buffer; ``width``, ``height``, ``stride`` (both planes) and ``offset_uv``
  (where the interleaved chroma plane starts) as scalars.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator, Optional, Tuple

import numpy as np


class EndOfStream(Exception):
    """A replay has no more frames."""


# ----------------------------------------------------------------------------- picamera2
def open_picamera2(replay: Optional[str] = None) -> Any:
    """A ``picamera2.Picamera2`` camera, or a :class:`ReplayPicamera2` of a recording."""
    if replay:
        return ReplayPicamera2(replay)
    from picamera2 import Picamera2  # Raspberry Pi OS: apt install python3-picamera2

    return Picamera2()


class _ReplayRequest:
    def __init__(self, arrays: Dict[str, np.ndarray]) -> None:
        self._arrays = arrays

    def make_array(self, name: str) -> np.ndarray:
        return self._arrays[name].copy()  # picamera2 copies out of the request's buffer too

    def release(self) -> None:
        self._arrays = {}


class ReplayPicamera2:
    """The part of ``Picamera2`` the example uses (configure, start, capture_request,
    camera_config, stop, close), answering with recorded frames."""

    def __init__(self, path: str) -> None:
        with np.load(path) as z:
            self._lores = z["lores"]
            self._main = z["main"]
            self._lores_size = tuple(int(v) for v in z["lores_size"])
        if self._lores.ndim != 3 or self._main.ndim != 4 or len(self._lores) != len(self._main):
            raise ValueError(f"{path}: expected lores (N, H*3/2, stride) and main (N, H, W, 4) arrays")
        w, h = self._lores_size
        if w > self._lores.shape[2] or h * 3 // 2 != self._lores.shape[1]:
            raise ValueError(f"{path}: lores_size {w}x{h} does not fit lores arrays of {self._lores.shape[1:]}")
        self.camera_config: Optional[dict] = None
        self._i = 0

    def create_preview_configuration(self, main: Optional[dict] = None, lores: Optional[dict] = None,
                                     **_: Any) -> dict:
        return {"main": dict(main or {}), "lores": dict(lores or {}) if lores is not None else None}

    def configure(self, config: dict) -> None:
        """Takes the recording's sizes, whatever was asked (a camera, too, may give other
        sizes than requested: read ``camera_config``); the formats must match."""
        for name, want in (("lores", "YUV420"), ("main", "XBGR8888")):
            fmt = (config.get(name) or {}).get("format", want)
            if fmt != want:
                raise ValueError(f"the recording holds {want} {name} frames, not {fmt}")
        mh, mw = self._main.shape[1:3]
        self.camera_config = {
            "main": {"size": (mw, mh), "format": "XBGR8888", "stride": mw * 4},
            "lores": {"size": self._lores_size, "format": "YUV420", "stride": self._lores.shape[2]},
        }

    def start(self) -> None:
        if self.camera_config is None:
            raise RuntimeError("configure() the camera before start()")

    def capture_request(self) -> _ReplayRequest:
        if self._i >= len(self._lores):
            raise EndOfStream
        i, self._i = self._i, self._i + 1
        return _ReplayRequest({"lores": self._lores[i], "main": self._main[i]})

    def stop(self) -> None:
        pass

    def close(self) -> None:
        pass


# ----------------------------------------------------------------------------- GStreamer
def nv12_frame(data: Any, width: int, height: int, stride_y: int, stride_uv: int, offset_y: int,
               offset_uv: int) -> np.ndarray:
    """A mapped NV12 buffer -> the (height * 3/2, width) uint8 array edgerun's ``"nv12"``
    format takes: H luma rows, then H/2 rows of interleaved U, V, all with one row stride.

    When the chroma plane follows the luma rows directly (``offset_uv == offset_y +
    height * stride_y`` and equal strides: what ``videoconvert`` and most cameras give)
    this is a view of the buffer with its row stride (no copy: read it before the buffer
    is unmapped); otherwise (a decoder padding the height, planes apart) the two planes
    are copied into one compact array."""
    buf = np.frombuffer(data, dtype=np.uint8)
    if width <= 0 or height <= 0 or width % 2 or height % 2:
        raise ValueError(f"NV12 needs an even, positive width and height, got {width}x{height}")
    if stride_y < width or stride_uv < width:
        raise ValueError(f"NV12 strides {stride_y}/{stride_uv} are smaller than the width {width}")
    need = max(offset_y + (height - 1) * stride_y, offset_uv + (height // 2 - 1) * stride_uv) + width
    if buf.size < need:
        raise ValueError(f"NV12 buffer of {buf.size} bytes; {width}x{height} with strides {stride_y}/{stride_uv} "
                         f"and chroma at {offset_uv} needs {need}")
    if stride_uv == stride_y and offset_uv == offset_y + height * stride_y:
        rows = height * 3 // 2
        return np.lib.stride_tricks.as_strided(buf[offset_y:], shape=(rows, width), strides=(stride_y, 1),
                                               writeable=False)
    out = np.empty((height * 3 // 2, width), np.uint8)
    out[:height] = np.lib.stride_tricks.as_strided(buf[offset_y:], (height, width), (stride_y, 1))
    out[height:] = np.lib.stride_tricks.as_strided(buf[offset_uv:], (height // 2, width), (stride_uv, 1))
    return out


Layout = Dict[str, int]


def gst_nv12_samples(source: str, width: Optional[int] = None, height: Optional[int] = None,
                     drop: bool = True) -> Iterator[Tuple[Any, Layout]]:
    """Frames from a GStreamer source element chain (e.g. ``"v4l2src device=/dev/video0"``,
    ``"libcamerasrc"``, ``"filesrc location=a.mp4 ! decodebin"``), converted to NV12 by
    ``videoconvert`` and pulled from an appsink: yields (mapped buffer data, layout). The
    buffer stays mapped until the loop asks for the next frame. ``drop``: the appsink keeps
    only the newest 2 frames (a live camera); False makes the source wait (a file)."""
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstVideo", "1.0")
    from gi.repository import Gst, GstVideo

    Gst.init(None)
    caps = "video/x-raw,format=NV12" + (f",width={width},height={height}" if width and height else "")
    pipeline = Gst.parse_launch(f"{source} ! videoconvert ! videoscale ! {caps} ! "
                                f"appsink name=sink max-buffers=2 drop={'true' if drop else 'false'} sync=false")
    sink = pipeline.get_by_name("sink")
    pipeline.set_state(Gst.State.PLAYING)
    try:
        while True:
            sample = sink.emit("try-pull-sample", Gst.SECOND)
            if sample is None:
                if sink.get_property("eos"):
                    return
                continue
            try:
                info = GstVideo.VideoInfo.new_from_caps(sample.get_caps())
            except AttributeError:  # GStreamer < 1.20
                info = GstVideo.VideoInfo()
                info.from_caps(sample.get_caps())
            buf = sample.get_buffer()
            # the buffer's own plane layout when its producer attached one (hardware
            # decoders pad rows and heights), else the one the caps imply
            meta = GstVideo.buffer_get_video_meta(buf)
            strides, offsets = (meta.stride, meta.offset) if meta is not None else (info.stride, info.offset)
            ok, mapping = buf.map(Gst.MapFlags.READ)
            if not ok:
                raise RuntimeError("cannot map a GStreamer buffer for reading")
            try:
                yield mapping.data, dict(width=info.width, height=info.height, stride_y=strides[0],
                                         stride_uv=strides[1], offset_y=offsets[0], offset_uv=offsets[1])
            finally:
                buf.unmap(mapping)
    finally:
        pipeline.set_state(Gst.State.NULL)


def replay_nv12_samples(path: str) -> Iterator[Tuple[Any, Layout]]:
    """The recorded NV12 buffers of ``path``, as :func:`gst_nv12_samples` yields them."""
    with np.load(path) as z:
        buffers = z["buffers"]
        layout = dict(width=int(z["width"]), height=int(z["height"]), stride_y=int(z["stride"]),
                      stride_uv=int(z["stride"]), offset_y=0, offset_uv=int(z["offset_uv"]))
    for b in buffers:
        yield b.tobytes(), dict(layout)  # bytes, like a mapped buffer's data
