"""Building TFLite models without TensorFlow, and the built-in bench model.

The flatbuffer is built through the object API of the schema module that
ai-edge-litert ships (``ai_edge_litert.schema_py_generated``, imported on first
use); constant buffers are 16-byte aligned, as the TFLite converter writes them.
Weights come from seeded NumPy generators, so the same call always returns the
same bytes.

- :func:`builtin_image_model`: the model ``edgerun bench`` runs by default (and
  the C++ tests load): a MobileNet-v1-like classifier, float32 or fully
  quantized int8.
- :class:`ModelBuilder` (with :class:`Quant` and :func:`op_options`) is the one
  helper it uses; it can write other models too::

    mb = ModelBuilder()
    sg = mb.subgraph("main")
    x = sg.input("x", [1, 4], "float32")
    y = sg.tensor("y", [1, 4], "float32")
    sg.op("ADD", [x, sg.const("one", np.ones((1, 4), np.float32))], [y], op_options("AddOptions"))
    sg.outputs = [y]
    mb.signature("serving_default", sg, {"x": x}, {"y": y})
    data = mb.build()

The small models the test suite generates live in the repository's
``tests/models.py``, not in the package.
"""

from __future__ import annotations

import functools
import json
from typing import Any, List, Mapping, Optional, Sequence, Union

import numpy as np

from .metadata import BUILTIN_MODEL_NAME
from .tflite_file import aligned_buffer_class, schema as _schema

__all__ = [
    "BUILTIN_MODEL_NAME",
    "BUILTIN_MODEL_VERSION",
    "ModelBuilder",
    "Subgraph",
    "Quant",
    "op_options",
    "builtin_image_model",
]

BUILTIN_MODEL_VERSION = 1


def _flatbuffers():
    import flatbuffers

    return flatbuffers


_TENSOR_TYPES = {
    "float32": "FLOAT32",
    "float16": "FLOAT16",
    "float64": "FLOAT64",
    "int8": "INT8",
    "uint8": "UINT8",
    "int16": "INT16",
    "int32": "INT32",
    "int64": "INT64",
    "bool": "BOOL",
    "resource": "RESOURCE",
}


def _tensor_type(dtype) -> int:
    name = dtype if dtype == "resource" else np.dtype(dtype).name
    try:
        return getattr(_schema().TensorType, _TENSOR_TYPES[name])
    except KeyError:
        raise ValueError(f"unsupported tensor dtype {dtype!r}") from None


class Quant:
    """Affine quantization of one tensor: ``real = scale * (q - zero_point)``.

    ``scale`` and ``zero_point`` are scalars (per-tensor) or sequences
    (per-channel along ``axis``).
    """

    def __init__(self, scale: Any, zero_point: Any = 0, axis: int = 0) -> None:
        self.scale: np.ndarray = np.atleast_1d(np.asarray(scale, dtype=np.float64))
        zp = np.atleast_1d(np.asarray(zero_point, dtype=np.int64))
        if zp.size == 1 and self.scale.size > 1:
            zp = np.repeat(zp, self.scale.size)
        if zp.size != self.scale.size:
            raise ValueError("scale and zero_point sizes differ")
        self.zero_point: np.ndarray = zp
        self.axis: int = axis

    def quantize(self, x: Any, dtype: Any) -> np.ndarray:
        """Quantize a float array (per-tensor or per-channel) to ``dtype``."""
        info = np.iinfo(dtype)
        x = np.asarray(x, dtype=np.float64)
        shape = [1] * x.ndim
        if self.scale.size > 1:
            shape[self.axis] = -1
        s = self.scale.reshape(shape) if x.ndim else self.scale[0]
        z = self.zero_point.reshape(shape) if x.ndim else self.zero_point[0]
        return np.clip(np.round(x / s) + z, info.min, info.max).astype(dtype)

    def dequantize(self, q: Any) -> np.ndarray:
        q = np.asarray(q, dtype=np.float64)
        shape = [1] * q.ndim
        if self.scale.size > 1:
            shape[self.axis] = -1
        return (q - self.zero_point.reshape(shape)) * self.scale.reshape(shape)

    def _to_schema(self) -> Any:
        s = _schema()
        return s.QuantizationParametersT(
            scale=[float(v) for v in self.scale],
            zeroPoint=[int(v) for v in self.zero_point],
            quantizedDimension=self.axis,
        )


def _aligned_buffer(data: bytes):
    return aligned_buffer_class()(data=bytes(data))


class Subgraph:
    """One subgraph under construction; made by :meth:`ModelBuilder.subgraph`."""

    def __init__(self, model: "ModelBuilder", name: str) -> None:
        self._model = model
        self._tensors: List[Any] = []
        self._ops: List[Any] = []
        self.name: str = name
        self.index: int = len(model._subgraphs)
        self.inputs: list[int] = []
        self.outputs: list[int] = []

    def tensor(
        self,
        name: str,
        shape: Sequence[int],
        dtype: Any = "float32",
        *,
        data: Optional[np.ndarray] = None,
        quant: Optional[Quant] = None,
        shape_signature: Optional[Sequence[int]] = None,
    ) -> int:
        """Add a tensor; ``data`` (already in ``dtype``) makes it a constant."""
        s = _schema()
        t = s.TensorT()
        t.name = name
        t.shape = [int(d) for d in shape]
        t.type = _tensor_type(dtype)
        if shape_signature is not None:
            t.shapeSignature = [int(d) for d in shape_signature]
        if quant is not None:
            t.quantization = quant._to_schema()
        if data is not None:
            arr = np.asarray(data, dtype=np.dtype(dtype).newbyteorder("<"))
            if list(arr.shape) != t.shape:
                raise ValueError(f"{name}: data shape {arr.shape} != {tuple(shape)}")
            t.buffer = self._model.buffer(arr.tobytes())
        self._tensors.append(t)
        return len(self._tensors) - 1

    def const(self, name: str, value: Any, dtype: Any = None, *, quant: Optional[Quant] = None) -> int:
        """Add a constant tensor holding ``value``."""
        arr = np.asarray(value, dtype=dtype)
        return self.tensor(name, arr.shape, arr.dtype, data=arr, quant=quant)

    def input(self, *args: Any, **kwargs: Any) -> int:
        """Add a tensor and make it the next subgraph input."""
        idx = self.tensor(*args, **kwargs)
        self.inputs.append(idx)
        return idx

    def op(
        self,
        opname: str,
        inputs: Sequence[int],
        outputs: Sequence[int],
        options: Any = None,
        *,
        version: int = 1,
        custom_code: Optional[str] = None,
    ) -> None:
        """Append an operator (executed in insertion order).

        ``opname`` is a ``BuiltinOperator`` name (``"CONV_2D"``) or ``"CUSTOM"``;
        ``options`` a ``...OptionsT`` object of the schema module.
        """
        s = _schema()
        o = s.OperatorT()
        o.opcodeIndex = self._model.opcode(opname, version, custom_code)
        o.inputs = [int(i) for i in inputs]
        o.outputs = [int(i) for i in outputs]
        if options is not None:
            o.builtinOptionsType = getattr(s.BuiltinOptions, type(options).__name__[:-1])
            o.builtinOptions = options
        self._ops.append(o)

    def _to_schema(self) -> Any:
        s = _schema()
        return s.SubGraphT(
            tensors=self._tensors,
            inputs=list(self.inputs),
            outputs=list(self.outputs),
            operators=self._ops,
            name=self.name,
        )


class ModelBuilder:
    """Collects buffers, opcodes, subgraphs, signatures and metadata; :meth:`build` packs them."""

    def __init__(self, description: str = "edgerun.modelgen") -> None:
        self.description = description
        self._buffers: list = [_schema().BufferT()]  # buffer 0: the empty sentinel
        self._opcodes: list = []
        self._opcode_index: dict = {}
        self._subgraphs: list[Subgraph] = []
        self._signatures: list = []
        self._metadata: list = []

    def subgraph(self, name: str) -> Subgraph:
        sg = Subgraph(self, name)
        self._subgraphs.append(sg)
        return sg

    def buffer(self, data: bytes) -> int:
        self._buffers.append(_aligned_buffer(data))
        return len(self._buffers) - 1

    def opcode(self, opname: str, version: int = 1, custom_code: Optional[str] = None) -> int:
        key = (opname, version, custom_code)
        if key not in self._opcode_index:
            s = _schema()
            code = getattr(s.BuiltinOperator, opname)
            oc = s.OperatorCodeT()
            oc.builtinCode = code
            # Codes above 127 live only in builtin_code; the deprecated byte says so.
            oc.deprecatedBuiltinCode = min(code, s.BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES)
            oc.version = version
            oc.customCode = custom_code
            self._opcode_index[key] = len(self._opcodes)
            self._opcodes.append(oc)
        return self._opcode_index[key]

    def signature(
        self, key: str, subgraph: Subgraph, inputs: Mapping[str, int], outputs: Mapping[str, int]
    ) -> None:
        """Add a SignatureDef; ``inputs``/``outputs`` map signature names to tensor indices
        (listed in the order given)."""
        s = _schema()
        self._signatures.append(
            s.SignatureDefT(
                inputs=[s.TensorMapT(name=n, tensorIndex=i) for n, i in inputs.items()],
                outputs=[s.TensorMapT(name=n, tensorIndex=i) for n, i in outputs.items()],
                signatureKey=key,
                subgraphIndex=subgraph.index,
            )
        )

    def metadata(self, name: str, data: Union[bytes, str, Mapping[str, Any]]) -> None:
        """Add a metadata entry (dicts are stored as UTF-8 JSON)."""
        if isinstance(data, Mapping):
            data = json.dumps(data, sort_keys=True)
        if isinstance(data, str):
            data = data.encode()
        self._metadata.append(_schema().MetadataT(name=name, buffer=self.buffer(data)))

    def build(self) -> bytes:
        s = _schema()
        m = s.ModelT()
        m.version = 3
        m.description = self.description
        m.operatorCodes = self._opcodes
        m.subgraphs = [sg._to_schema() for sg in self._subgraphs]
        m.buffers = self._buffers
        m.metadata = self._metadata or None
        m.signatureDefs = self._signatures or None
        builder = _flatbuffers().Builder(1024)
        builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())


def op_options(name: str, **fields: Any) -> Any:
    """A schema ``<name>T`` options object, e.g. ``op_options("Conv2DOptions", strideW=2)``."""
    obj = getattr(_schema(), name + "T")()
    for k, v in fields.items():
        if not hasattr(obj, k):
            raise AttributeError(f"{name} has no field {k}")
        setattr(obj, k, v)
    return obj


_RELU6 = 3  # ActivationFunctionType.RELU6
_SAME, _VALID = 0, 1


# ---------------------------------------------------------------------------
# The builtin image classifier
# ---------------------------------------------------------------------------

# (kind, output channels, stride); MobileNet-v1-like, every conv fused with RELU6.
_IMAGE_ARCH = (
    ("conv", 16, 2),
    ("dw", None, 1), ("pw", 32, 1),
    ("dw", None, 2), ("pw", 64, 1),
    ("dw", None, 1), ("pw", 64, 1),
    ("dw", None, 2), ("pw", 128, 1),
    ("dw", None, 1), ("pw", 128, 1),
    ("dw", None, 2), ("pw", 256, 1),
)  # fmt: skip
_NUM_CLASSES = 1000
_IMAGE_SEED = 20240601
# Op versions the TFLite converter writes for int8 kernels (float ops are version 1).
_INT8_OP_VERSIONS = {
    "CONV_2D": 3, "DEPTHWISE_CONV_2D": 3, "FULLY_CONNECTED": 4, "SOFTMAX": 2, "MEAN": 2, "ADD": 2,
}  # fmt: skip


def _same_pads(size: int, k: int, stride: int) -> tuple[int, int, int]:
    """TFLite SAME padding: (output size, pad before, pad after)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + k - size, 0)
    return out, total // 2, total - total // 2


def _conv_nhwc(x, w, b, stride: int, depthwise: bool = False):
    """NumPy float64 conv with SAME padding; w is OHWI (conv) or 1HWC (depthwise)."""
    n, h, wd, c = x.shape
    kh, kw = w.shape[1:3]
    oh, pt, pb = _same_pads(h, kh, stride)
    ow, pl, pr = _same_pads(wd, kw, stride)
    xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    cols = np.stack(
        [xp[:, i : i + stride * oh : stride, j : j + stride * ow : stride, :]
         for i in range(kh) for j in range(kw)],
        axis=3,
    )  # fmt: skip  # n, oh, ow, kh*kw, c
    if depthwise:
        y = np.einsum("nhwkc,kc->nhwc", cols, w.reshape(kh * kw, c))
    else:
        y = cols.reshape(n, oh, ow, kh * kw * c) @ w.reshape(w.shape[0], -1).T
    return y + b


def _calibration_images(input_size: int, count: int, seed: int) -> np.ndarray:
    """Half smooth (blocky-upsampled) and half noise images in [-1, 1]."""
    rng = np.random.default_rng(seed)
    imgs = rng.uniform(-1, 1, (count, input_size, input_size, 3))
    coarse = rng.uniform(-1, 1, (count // 2, 6, 6, 3))
    rep = -(-input_size // 6)
    smooth = coarse.repeat(rep, axis=1).repeat(rep, axis=2)[:, :input_size, :input_size]
    imgs[: count // 2] = np.clip(smooth + 0.1 * imgs[: count // 2], -1, 1)
    return imgs


def _round_sig(a, digits: int = 5) -> np.ndarray:
    """Round to ``digits`` significant digits, so that values computed from data
    (BLAS sums whose last bits vary across machines) give the same model bytes."""
    a = np.asarray(a, dtype=np.float64)
    e = np.floor(np.log10(np.abs(a) + 1e-300)) - (digits - 1)
    return np.round(a / 10.0**e) * 10.0**e


@functools.lru_cache(maxsize=8)
def _image_params(input_size: int = 96, num_classes: int = _NUM_CLASSES, seed: int = _IMAGE_SEED):
    """Float weights of the builtin model, shaped like a trained, BN-folded network.

    Returns ``(layers, (fc_w, fc_b), feat_max, logit_absmax)``: ``layers`` is a
    tuple of dicts (kind, stride, w, b, act_max) with TFLite layouts (conv OHWI,
    depthwise 1HWC) and ``act_max`` the calibrated top of the layer's output
    range (<= 6); ``fc_w`` is [classes, C]. On 16 calibration images each
    layer's weights are rescaled so that every output channel has mean U(0, 1.5)
    and std U(1.5, 2.5) before RELU6 (batch-norm folding). The classifier reads
    the top 4 principal directions of the pooled features (plus a little of the
    rest) with logits of std 3: random weights alone give features that hardly
    vary between images, and int8 noise would then decide the class.
    """
    rng = np.random.default_rng(seed)
    x = _calibration_images(input_size, 16, seed + 1)
    layers = []
    c = 3
    for kind, out_c, stride in _IMAGE_ARCH:
        depthwise = kind == "dw"
        if depthwise:
            out_c, w = c, rng.standard_normal((1, 3, 3, c))
        else:
            k = 3 if kind == "conv" else 1
            assert out_c is not None  # conv / pw layers name their channels
            w = rng.standard_normal((out_c, k, k, c))
        pre = _conv_nhwc(x, w, 0.0, stride, depthwise)
        mu, sd = pre.mean(axis=(0, 1, 2)), pre.std(axis=(0, 1, 2)) + 1e-6
        gamma, beta = rng.uniform(1.5, 2.5, out_c), rng.uniform(0.0, 1.5, out_c)
        g = _round_sig(gamma / sd)
        w = w * (g.reshape(1, 1, 1, -1) if depthwise else g.reshape(-1, 1, 1, 1))
        b = _round_sig(beta - mu * g)
        x = np.clip(_conv_nhwc(x, w, b, stride, depthwise), 0.0, 6.0)
        act_max = float(_round_sig(min(6.0, x.max() * 1.05)))
        layers.append(
            dict(kind=kind, stride=stride, w=w.astype(np.float32), b=b.astype(np.float32), act_max=act_max)
        )
        c = out_c
    feat = x.mean(axis=(1, 2))
    dev = feat - feat.mean(axis=0)
    _, _, vt = np.linalg.svd(dev, full_matrices=False)
    vt = vt[:4] * np.sign(vt[:4, np.abs(vt[:4]).argmax(axis=1)].diagonal())[:, None]  # fix SVD signs
    fw = rng.standard_normal((num_classes, 4)) @ _round_sig(vt)
    fw += 0.1 * rng.standard_normal((num_classes, c)) / np.sqrt(c)
    fw *= _round_sig(3.0 / (dev @ fw.T).std())
    fb = _round_sig(rng.normal(0.0, 0.5, num_classes) - feat.mean(axis=0) @ fw.T)
    logits = feat @ fw.T + fb
    fc = (fw.astype(np.float32), fb.astype(np.float32))
    feat_max = float(_round_sig(min(6.0, feat.max() * 1.05)))
    return tuple(layers), fc, feat_max, float(_round_sig(np.abs(logits).max()))


@functools.lru_cache(maxsize=8)
def builtin_image_model(input_size: int = 96, dtype: str = "float32") -> bytes:
    """The default ``edgerun bench`` model: a small MobileNet-v1-like classifier.

    Input ``image`` [1, S, S, 3]; output ``probs`` [1, 1000] (softmax).
    Graph: CONV_2D 3x3/2 (16 ch) -> 6 x (DEPTHWISE_CONV_2D 3x3 + CONV_2D 1x1),
    channels 32-64-64-128-128-256, strides 1,2,1,2,1,2, all fused RELU6 ->
    MEAN over H,W -> FULLY_CONNECTED 256->1000 -> SOFTMAX. About 11 M MACs at 96x96.

    dtype ``"float32"``: float input in [-1, 1] (pixel ``(p - 127.5) / 127.5``),
    computes what ``builtin_image_reference`` in the repository's tests/models.py
    computes in NumPy.
    dtype ``"int8"``: fully quantized (per-channel int8 weights, int32 biases,
    int8 activations with calibrated ranges), same float weights; input int8
    scale 1/128 zero point 0 (``q = p - 128`` for a uint8 pixel ``p`` if
    normalized with mean = std = 128), output int8 scale 1/256 zero point -128.

    Signature ``serving_default``: ``image`` -> ``probs`` (subgraph tensors are
    named ``serving_default_image:0`` and ``StatefulPartitionedCall:0`` as the
    TF converter names them). Metadata ``edgerun-builtin`` holds JSON with the
    version, input size, dtype, class count and pixel normalization.
    """
    if dtype not in ("float32", "int8"):
        raise ValueError(f"dtype must be 'float32' or 'int8', got {dtype!r}")
    layers, (fw, fb), feat_max, logit_absmax = _image_params(input_size)
    q = dtype == "int8"
    mb = ModelBuilder(f"{BUILTIN_MODEL_NAME} v{BUILTIN_MODEL_VERSION}")
    sg = mb.subgraph("main")

    in_q = Quant(1.0 / 128.0, 0) if q else None
    image = sg.input("serving_default_image:0", [1, input_size, input_size, 3], dtype, quant=in_q)
    x, x_q, h, c = image, in_q, input_size, 3

    def op(name, inputs, outputs, options):
        sg.op(name, inputs, outputs, options, version=_INT8_OP_VERSIONS[name] if q else 1)

    for i, L in enumerate(layers):
        dw = L["kind"] == "dw"
        w, b, stride = L["w"], L["b"], L["stride"]
        out_c = c if dw else w.shape[0]
        h = _same_pads(h, w.shape[1], stride)[0]
        if q:
            assert x_q is not None
            axis = 3 if dw else 0
            wmax = np.abs(w).max(axis=(0, 1, 2) if dw else (1, 2, 3))
            w_q = Quant(np.maximum(wmax, 1e-8) / 127.0, 0, axis=axis)
            b_q = Quant(x_q.scale[0] * w_q.scale, 0, axis=0)
            wt = sg.const(f"layer{i}/weights", w_q.quantize(w, np.int8), quant=w_q)
            bt = sg.const(f"layer{i}/bias", b_q.quantize(b, np.int32), quant=b_q)
        else:
            wt = sg.const(f"layer{i}/weights", w)
            bt = sg.const(f"layer{i}/bias", b)
        act_q = Quant(L["act_max"] / 255.0, -128) if q else None  # calibrated range [0, <=6]
        name = f"layer{i}/{'depthwise' if dw else 'conv'}/relu6"
        y = sg.tensor(name, [1, h, h, out_c], dtype, quant=act_q)
        if dw:
            opt = op_options("DepthwiseConv2DOptions", padding=_SAME, strideW=stride, strideH=stride,
                        depthMultiplier=1, fusedActivationFunction=_RELU6)  # fmt: skip
            op("DEPTHWISE_CONV_2D", [x, wt, bt], [y], opt)
        else:
            opt = op_options("Conv2DOptions", padding=_SAME, strideW=stride, strideH=stride,
                        fusedActivationFunction=_RELU6)  # fmt: skip
            op("CONV_2D", [x, wt, bt], [y], opt)
        x, x_q, c = y, act_q, out_c

    axes = sg.const("mean/axes", np.array([1, 2], np.int32))
    feat_q = Quant(feat_max / 255.0, -128) if q else None
    feat = sg.tensor("mean", [1, c], dtype, quant=feat_q)
    op("MEAN", [x, axes], [feat], op_options("ReducerOptions", keepDims=False))

    nc = fw.shape[0]
    if q:
        assert feat_q is not None
        fw_q = Quant(max(float(np.abs(fw).max()), 1e-8) / 127.0, 0)
        fb_q = Quant(feat_q.scale[0] * fw_q.scale[0], 0)
        logit_q = Quant(2.0 * 1.1 * logit_absmax / 255.0, 0)
        fwt = sg.const("logits/weights", fw_q.quantize(fw, np.int8), quant=fw_q)
        fbt = sg.const("logits/bias", fb_q.quantize(fb, np.int32), quant=fb_q)
    else:
        logit_q = None
        fwt, fbt = sg.const("logits/weights", fw), sg.const("logits/bias", fb)
    logits = sg.tensor("logits", [1, nc], dtype, quant=logit_q)
    op("FULLY_CONNECTED", [feat, fwt, fbt], [logits], op_options("FullyConnectedOptions"))
    prob_q = Quant(1.0 / 256.0, -128) if q else None
    probs = sg.tensor("StatefulPartitionedCall:0", [1, nc], dtype, quant=prob_q)
    op("SOFTMAX", [logits], [probs], op_options("SoftmaxOptions", beta=1.0))
    sg.outputs = [probs]

    mb.signature("serving_default", sg, {"image": image}, {"probs": probs})
    mb.metadata(
        BUILTIN_MODEL_NAME,
        {
            "name": BUILTIN_MODEL_NAME,
            "version": BUILTIN_MODEL_VERSION,
            "input_size": input_size,
            "dtype": dtype,
            "num_classes": nc,
            "normalization": {"mean": [127.5] * 3, "std": [127.5] * 3},
        },
    )
    return mb.build()
