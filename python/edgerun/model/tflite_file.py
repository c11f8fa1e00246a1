"""Reading and writing .tflite files through the flatbuffers schema module.

The schema module is the one ai-edge-litert ships
(``ai_edge_litert.schema_py_generated``); nothing here needs TensorFlow or the
runtime. Model bytes are always checked with edgerun's verifier (the check
:func:`edgerun.verify` runs) before the schema module unpacks them (it does not
check bounds itself), unless the caller says they were verified already.

A .tflite file is a flatbuffer (identifier ``TFL3``), optionally followed by a
zip archive holding "associated files" (label files of the TFLite Metadata
standard). Both parts are kept when metadata is rewritten.
"""

from __future__ import annotations

import functools
import io
import math
import os
import stat
import tempfile
import zipfile
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, Union

from .. import _core
from ..errors import InputError, ModelError

ModelSource = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview]

#: byte alignment of constant buffers (as the TFLite converter writes them)
_ALIGN = 16

#: TensorType value -> (numpy-style name, bits per element; 0 = size not known statically)
_TYPES: Dict[int, Tuple[str, int]] = {
    0: ("float32", 32), 1: ("float16", 16), 2: ("int32", 32), 3: ("uint8", 8),
    4: ("int64", 64), 5: ("string", 0), 6: ("bool", 8), 7: ("int16", 16),
    8: ("complex64", 64), 9: ("int8", 8), 10: ("float64", 64), 11: ("complex128", 128),
    12: ("uint64", 64), 13: ("resource", 0), 14: ("variant", 0), 15: ("uint32", 32),
    16: ("uint16", 16), 17: ("int4", 4), 18: ("bfloat16", 16), 19: ("int2", 2),
    20: ("uint4", 4), 21: ("float8_e4m3fn", 8), 22: ("float8_e5m2", 8),
}


@functools.lru_cache(maxsize=1)
def schema() -> Any:
    """The generated TFLite schema module (``ai_edge_litert.schema_py_generated``)."""
    from ai_edge_litert import schema_py_generated

    return schema_py_generated


_BUILTIN_NAMES: Dict[int, str] = {}


def op_name(code: int, custom: str) -> str:
    """An operator's name: the custom code for custom operators, else the
    ``BuiltinOperator`` name (``"CONV_2D"``)."""
    if custom:
        return custom
    if not _BUILTIN_NAMES:
        for name, value in vars(schema().BuiltinOperator).items():
            if isinstance(value, int) and not name.startswith("_"):
                _BUILTIN_NAMES.setdefault(value, name)
    return _BUILTIN_NAMES.get(code, f"BUILTIN_{code}")


def type_name(code: int) -> str:
    return _TYPES.get(int(code), (f"type{int(code)}", 0))[0]


def type_bits(code: int) -> int:
    return _TYPES.get(int(code), ("", 0))[1]


def tensor_bytes(shape: Sequence[int], code: int) -> int:
    """Bytes of a dense tensor of ``shape`` and TensorType ``code`` (0 if not static)."""
    n = 1
    for d in shape if shape is not None else ():
        n *= max(int(d), 0)
    return int(math.ceil(n * type_bits(code) / 8))


_FILE_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
               (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def read_file(path: str) -> bytes:
    """The bytes of the model file ``path``; anything but a regular file is refused with
    ModelError (opened non-blocking: a FIFO would block ``open()``, a device never end),
    as the C++ loader does for ``Session(path)``."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise ModelError(f"cannot read model {path!r}: {e.strerror or e}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _FILE_KINDS if test(mode)), "not a file")
            raise ModelError(f"model path {path!r} is not a regular file: it is {kind}")
        chunks: list = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    except OSError as e:
        raise ModelError(f"cannot read model {path!r}: {e.strerror or e}") from None
    finally:
        os.close(fd)


def read_source(model: ModelSource) -> Tuple[bytes, Optional[str]]:
    """(bytes, path or None) of a model given as a path or bytes."""
    if isinstance(model, (str, os.PathLike)):
        path = os.fsdecode(os.fspath(model))
        return read_file(path), path
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(model), None
    raise InputError(f"model: expected a path or the model's bytes, got {type(model).__name__}")


def _verify(data: bytes) -> None:
    """edgerun's structural + cross-reference check (what :func:`edgerun.verify` runs)."""
    _core.verify_model(data)


def unpack(data: bytes, origin: str = "model", *, verified: bool = False) -> Any:
    """Verify ``data`` (edgerun's structural + cross-reference check; skipped when
    ``verified``, e.g. for the bytes a verified Session runs), then unpack it
    into the schema's object API (``ModelT``)."""
    if not verified:
        _verify(data)
    try:
        return schema().ModelT.InitFromPackedBuf(data, 0)
    except Exception as e:  # pragma: no cover - verify() accepted it
        raise ModelError(f"{origin}: the flatbuffer could not be unpacked: {e}") from None


def buffer_data(model: Any, data: bytes, index: int) -> Optional[bytes]:
    """Bytes of buffer ``index`` (inline data, or offset/size data stored after the
    flatbuffer as models over 2 GB do); None when the buffer is empty."""
    if index <= 0 or model.buffers is None or index >= len(model.buffers):
        return None
    b = model.buffers[index]
    if b.data is not None and len(b.data):
        return bytes(b.data)
    if b.offset and b.offset > 1 and b.size:
        return data[b.offset:b.offset + b.size]
    return None


def buffer_size(model: Any, index: int) -> int:
    if index <= 0 or model.buffers is None or index >= len(model.buffers):
        return 0
    b = model.buffers[index]
    if b.data is not None and len(b.data):
        return len(b.data)
    if b.offset and b.offset > 1:
        return int(b.size or 0)
    return 0


def metadata_entries(model: Any, data: bytes) -> Dict[str, bytes]:
    """The model's metadata entries (``Model.metadata``): name -> buffer bytes."""
    out: Dict[str, bytes] = {}
    for md in model.metadata or []:
        name = _text(md.name)
        out[name] = buffer_data(model, data, md.buffer) or b""
    return out


def read_metadata_entries(data: bytes, *, verified: bool = False) -> Dict[str, bytes]:
    """Like :func:`metadata_entries`, straight from the model bytes without
    unpacking the whole model (cheap enough for every model load). The bytes are
    verified first unless ``verified`` says that was done already."""
    if not verified:
        _verify(data)
    m = schema().Model.GetRootAs(data, 0)
    out: Dict[str, bytes] = {}
    for i in range(m.MetadataLength()):
        md = m.Metadata(i)
        name = _text(md.Name())
        b = m.Buffers(md.Buffer()) if 0 < md.Buffer() < m.BuffersLength() else None
        payload = b""
        if b is not None:
            if b.DataLength():
                payload = b.DataAsNumpy().tobytes()
            elif b.Offset() > 1 and b.Size():
                payload = data[b.Offset():b.Offset() + b.Size()]
        out[name] = payload
    return out


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def associated_files(data: bytes) -> Dict[str, bytes]:
    """Files of the zip archive appended to the flatbuffer (TFLite Metadata's
    associated files, e.g. label files); empty if there is none."""
    buf = io.BytesIO(data)
    try:
        if not zipfile.is_zipfile(buf):
            return {}
        with zipfile.ZipFile(buf) as z:
            return {i.filename: z.read(i) for i in z.infolist() if not i.is_dir()}
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError):
        return {}


@functools.lru_cache(maxsize=1)
def aligned_buffer_class() -> Any:
    """The schema's ``BufferT`` with a data vector that starts on a 16-byte boundary."""
    s = schema()
    base: Any = s.BufferT

    class _AlignedBufferT(base):
        def Pack(self, builder: Any) -> Any:
            payload = self.data
            builder.StartVector(1, len(payload), _ALIGN)
            builder.head = builder.head - len(payload)
            builder.Bytes[builder.head : builder.head + len(payload)] = payload
            vec = builder.EndVector()  # flatbuffers >= 2.0 signature
            s.BufferStart(builder)
            s.BufferAddData(builder, vec)
            return s.BufferEnd(builder)

    return _AlignedBufferT


def with_metadata(data: bytes, entries: Mapping[str, Optional[bytes]]) -> bytes:
    """A copy of model ``data`` with metadata ``entries`` added or replaced
    (a value of None removes that entry). Constant buffers stay 16-byte aligned
    and an appended associated-files zip is carried over."""
    model = unpack(data)
    s = schema()
    if any((b.offset or 0) > 1 for b in model.buffers or []):
        raise ModelError("rewriting models whose buffers live outside the flatbuffer "
                         "(files over 2 GB) is not supported")
    files = associated_files(data)
    aligned = aligned_buffer_class()
    buffers = []
    for b in model.buffers or []:
        payload = bytes(b.data) if b.data is not None and len(b.data) else None
        buffers.append(aligned(data=payload) if payload else s.BufferT())
    model.buffers = buffers
    kept = [md for md in model.metadata or [] if _text(md.name) not in entries]
    for name, payload in entries.items():
        if payload is None:
            continue
        model.buffers.append(aligned(data=bytes(payload)) if payload else s.BufferT())
        kept.append(s.MetadataT(name=name, buffer=len(model.buffers) - 1))
    model.metadata = kept or None
    import flatbuffers

    builder = flatbuffers.Builder(max(1024, len(data) + 4096))
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    out = bytes(builder.Output())
    if files:
        buf = io.BytesIO(out)
        buf.seek(0, io.SEEK_END)
        with zipfile.ZipFile(buf, "a") as z:
            for name, content in files.items():
                z.writestr(name, content)
        out = buf.getvalue()
    _verify(out)
    return out


def _check_target(path: str) -> str:
    """The folder ``path`` would be written in; InputError if it is a directory or the folder is missing."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise InputError(f"cannot write {path!r}: it is a directory")
    if not os.path.isdir(folder):
        raise InputError(f"cannot write {path!r}: folder {folder!r} does not exist")
    return folder


def write_atomic(path: Union[str, "os.PathLike[str]"], data: bytes) -> None:
    """Writes ``data`` to ``path`` through a temporary file in the same folder and a
    rename: readers (and a session that has the old file mapped) never see a
    partial file, and a failed write leaves nothing behind."""
    path = os.fsdecode(os.fspath(path))
    folder = _check_target(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    except OSError as e:
        raise InputError(f"cannot write {path!r}: {e.strerror or e}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise InputError(f"cannot write {path!r}: {e.strerror or e}") from None
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def check_writable(path: Union[str, "os.PathLike[str]"]) -> str:
    """Raises InputError now (before any long work) if ``path`` cannot be written."""
    path = os.fsdecode(os.fspath(path))
    folder = _check_target(path)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"cannot write {path!r}: no permission to create files in {folder!r}")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise InputError(f"cannot write {path!r}: the existing file is not writable")
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
