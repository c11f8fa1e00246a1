"""The models the test suite generates (no TensorFlow needed).

Every generator returns the model as ``bytes`` (a TFLite flatbuffer), built with
:mod:`edgerun.model.builder` (which also holds the built-in bench model; its
names are re-exported here so that tests need one import). Weights come from
seeded NumPy generators, so the same call always returns the same bytes.

- :func:`builtin_image_reference`: the NumPy forward pass of the built-in model.
- Small test models: :func:`add_model`, :func:`identity_model`,
  :func:`dynamic_batch_model`, :func:`dynamic_length_model`, :func:`two_signature_model`,
  :func:`multi_io_model`, :func:`stateful_counter_model`,
  :func:`custom_op_model`, :func:`gather_model`, :func:`slow_model`
  (with :func:`slow_model_reference`), :func:`residual_model`.
- :func:`detection_postprocess_model`: raw SSD outputs (box encodings, class
  scores) -> the runtime's ``TFLite_Detection_PostProcess`` custom operator with
  given anchors: the 4-output layout SSD models exported with NMS end in.
- Delegate test models: :func:`builtin_ops_to_custom` rewrites a model's
  builtin operators (e.g. every ADD) into a custom operator that only a delegate
  plugin understands (the test suite's stand-in plugin computes
  :data:`STANDIN_ADD_OP` and :data:`EDGETPU_CUSTOM_OP` as ADD);
  :func:`edgetpu_model` is a small model containing ``edgetpu-custom-op``.

Used by tests/*.py (pytest puts this folder on sys.path), and by scripts that
need test models (``sys.path.insert(0, "tests")`` or ``PYTHONPATH=tests``), e.g.
cpp/tests/aarch64/delegates.sh.
"""

from __future__ import annotations

import functools
from typing import Optional, Sequence

import numpy as np

from edgerun.model.builder import (  # noqa: F401  (re-exported for the tests)
    BUILTIN_MODEL_NAME,
    BUILTIN_MODEL_VERSION,
    ModelBuilder,
    Quant,
    Subgraph,
    builtin_image_model,
    op_options,
)
from edgerun.model.builder import (  # noqa: F401  (internals the tests check against)
    _INT8_OP_VERSIONS,
    _RELU6,
    _SAME,
    _VALID,
    _aligned_buffer,
    _calibration_images,
    _conv_nhwc,
    _flatbuffers,
    _image_params,
    _round_sig,
    _same_pads,
    _schema,
)


def builtin_image_reference(image: np.ndarray, input_size: int = 96) -> np.ndarray:
    """NumPy float64 forward pass of ``builtin_image_model(input_size, "float32")``.

    ``image`` is float [N, H, W, 3] in [-1, 1]; returns probabilities [N, 1000].
    For tests; slow.
    """
    layers, (fw, fb), _, _ = _image_params(input_size)
    x = np.asarray(image, dtype=np.float64)
    for L in layers:
        x = np.clip(_conv_nhwc(x, L["w"], L["b"], L["stride"], L["kind"] == "dw"), 0.0, 6.0)
    logits = x.mean(axis=(1, 2)) @ fw.T.astype(np.float64) + fb
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# ---------------------------------------------------------------------------
# Small test models
# ---------------------------------------------------------------------------

_ADD_QUANT = {"int8": Quant(0.5, -3), "uint8": Quant(0.5, 128)}


def add_constant(shape=(1, 8), dtype: str = "float32") -> np.ndarray:
    """The constant that :func:`add_model` adds, in the model's storage dtype.

    float32: ``0.5 * i + 1``; int32: ``i + 1``; int8/uint8 (quantized): stored
    ``q = zero_point + (i % 7) + 1``, i.e. a real value of ``0.5 * ((i % 7) + 1)``;
    ``i`` is the flat index.
    """
    n = int(np.prod(shape))
    i = np.arange(n).reshape(shape)
    if dtype == "float32":
        return (0.5 * i + 1).astype(np.float32)
    if dtype == "int32":
        return (i + 1).astype(np.int32)
    if dtype in _ADD_QUANT:
        return (_ADD_QUANT[dtype].zero_point[0] + (i % 7) + 1).astype(dtype)
    raise ValueError(f"unsupported dtype {dtype!r}")


def add_model(shape=(1, 8), dtype: str = "float32", signature: bool = True) -> bytes:
    """``y = x + c`` with a constant ``c`` (see :func:`add_constant`), one ADD op.

    dtype float32, int32, int8 or uint8. The quantized variants put the same
    quantization (int8: scale 0.5, zero point -3; uint8: scale 0.5, zero point
    128) on x, c and y, so ``y_q = clip(x_q + c_q - zero_point)`` exactly.
    Tensors ``x``, ``y``; signature ``serving_default`` (x -> y) unless
    ``signature=False`` (a classic model without SignatureDefs).
    """
    quant = _ADD_QUANT.get(dtype)
    mb = ModelBuilder(f"edgerun.modelgen add_model {dtype}")
    sg = mb.subgraph("main")
    x = sg.input("x", shape, dtype, quant=quant)
    c = sg.const("c", add_constant(shape, dtype), quant=quant)
    y = sg.tensor("y", shape, dtype, quant=quant)
    sg.op("ADD", [x, c], [y], op_options("AddOptions"), version=_INT8_OP_VERSIONS["ADD"] if dtype == "int8" else 1)
    sg.outputs = [y]
    if signature:
        mb.signature("serving_default", sg, {"x": x}, {"y": y})
    return mb.build()


def identity_model(
    shape=(1, 224, 224, 3), dtype: str = "float32", quant: Optional[Quant] = None
) -> bytes:
    """``output = input`` through one RESHAPE to the same shape (an exact copy).

    Useful to read back exactly what preprocessing wrote into a model input.
    Any of float32, float16, int8, uint8, int16, int32, int64, bool; ``quant`` (for integer
    dtypes) puts quantization parameters on both tensors. Tensors ``input`` and
    ``output``; signature ``serving_default`` (input -> output).
    """
    mb = ModelBuilder(f"edgerun.modelgen identity_model {dtype}")
    sg = mb.subgraph("main")
    x = sg.input("input", shape, dtype, quant=quant)
    new_shape = sg.const("shape", np.array(shape, np.int32))
    y = sg.tensor("output", shape, dtype, quant=quant)
    sg.op("RESHAPE", [x, new_shape], [y], op_options("ReshapeOptions", newShape=list(shape)))
    sg.outputs = [y]
    mb.signature("serving_default", sg, {"input": x}, {"output": y})
    return mb.build()


def dynamic_batch_model(features: int = 4) -> bytes:
    """``y = x * 2 + 1`` (float32) with a dynamic batch dimension.

    Input ``x`` has shape [1, features] and shape_signature [-1, features], so
    the batch can be resized at run time; output ``y`` likewise. Signature
    ``serving_default`` (x -> y).
    """
    mb = ModelBuilder("edgerun.modelgen dynamic_batch_model")
    sg = mb.subgraph("main")
    sig = [-1, features]
    x = sg.input("x", [1, features], "float32", shape_signature=sig)
    two = sg.const("two", np.float32(2.0))
    one = sg.const("one", np.float32(1.0))
    t = sg.tensor("x_times_two", [1, features], "float32", shape_signature=sig)
    y = sg.tensor("y", [1, features], "float32", shape_signature=sig)
    sg.op("MUL", [x, two], [t], op_options("MulOptions"))
    sg.op("ADD", [t, one], [y], op_options("AddOptions"))
    sg.outputs = [y]
    mb.signature("serving_default", sg, {"x": x}, {"y": y})
    return mb.build()


def dynamic_length_params(taps: int = 4, channels: int = 3):
    """Weights [channels, 1, taps, 1] and bias [channels] of :func:`dynamic_length_model`."""
    rng = np.random.default_rng(23)
    w = _round_sig(rng.standard_normal((channels, 1, taps, 1))).astype(np.float32)
    b = _round_sig(rng.normal(0, 0.5, channels)).astype(np.float32)
    return w, b


def dynamic_length_model(taps: int = 4, channels: int = 3) -> bytes:
    """A 1-D convolution over a signal of any length (an audio front end in small).

    Input ``signal`` float32, shape [1, 1, 1, 1] with shape_signature [1, 1, -1, 1]
    (the length is dynamic); a VALID CONV_2D with a [1, taps] kernel gives
    ``features`` [1, 1, L - taps + 1, channels]. At the declared length 1 the
    model cannot run (a negative output length): it needs ``input_shapes=``.
    Signature ``serving_default`` (signal -> features); weights from
    :func:`dynamic_length_params`.
    """
    w, b = dynamic_length_params(taps, channels)
    mb = ModelBuilder("edgerun.modelgen dynamic_length_model")
    sg = mb.subgraph("main")
    x = sg.input("signal", [1, 1, 1, 1], "float32", shape_signature=[1, 1, -1, 1])
    wt = sg.const("conv/weights", w)
    bt = sg.const("conv/bias", b)
    y = sg.tensor("features", [1, 1, 1, channels], "float32", shape_signature=[1, 1, -1, channels])
    sg.op("CONV_2D", [x, wt, bt], [y], op_options("Conv2DOptions", padding=_VALID, strideW=1, strideH=1))
    sg.outputs = [y]
    mb.signature("serving_default", sg, {"signal": x}, {"features": y})
    return mb.build()


def image_mean_model(size: int = 16, dynamic_batch: bool = True) -> bytes:
    """``y = mean over H, W of x``: float32 [B, size, size, 3] -> [B, 3], the batch
    dynamic (shape_signature [-1, size, size, 3]) when ``dynamic_batch``. A stand-in
    second-stage model for cascade tests: one "landmark" of 3 values per image."""
    mb = ModelBuilder("edgerun.modelgen image_mean_model")
    sg = mb.subgraph("main")
    b = -1 if dynamic_batch else 1
    x = sg.input("image", [1, size, size, 3], "float32", shape_signature=[b, size, size, 3])
    axes = sg.const("mean/axes", np.array([1, 2], np.int32))
    y = sg.tensor("mean", [1, 3], "float32", shape_signature=[b, 3])
    sg.op("MEAN", [x, axes], [y], op_options("ReducerOptions", keepDims=False))
    sg.outputs = [y]
    mb.signature("serving_default", sg, {"image": x}, {"mean": y})
    return mb.build()


def two_signature_model() -> bytes:
    """Two signatures over two subgraphs.

    ``add_one`` (subgraph 0): ``x`` float32 [1, 4] -> ``y = x + 1``.
    ``times_two`` (subgraph 1): ``a`` int32 [3] -> ``b = a * 2`` (int32).
    """
    mb = ModelBuilder("edgerun.modelgen two_signature_model")
    sg = mb.subgraph("add_one")
    x = sg.input("x", [1, 4], "float32")
    one = sg.const("one", np.ones((1, 4), np.float32))
    y = sg.tensor("y", [1, 4], "float32")
    sg.op("ADD", [x, one], [y], op_options("AddOptions"))
    sg.outputs = [y]
    mb.signature("add_one", sg, {"x": x}, {"y": y})

    sg2 = mb.subgraph("times_two")
    a = sg2.input("a", [3], "int32")
    two = sg2.const("two", np.full([3], 2, np.int32))
    b = sg2.tensor("b", [3], "int32")
    sg2.op("MUL", [a, two], [b], op_options("MulOptions"))
    sg2.outputs = [b]
    mb.signature("times_two", sg2, {"a": a}, {"b": b})
    return mb.build()


def multi_io_model() -> bytes:
    """Two inputs and two outputs of different dtypes and shapes.

    Subgraph inputs, in this order: ``values`` float32 [2, 3], ``counts`` int32 [5]
    (tensors ``serving_default_values:0``, ``serving_default_counts:0``).
    Outputs: ``scaled = values * 0.5 + 1`` float32 [2, 3], ``tripled = counts * 3``
    int32 [5] (tensors ``StatefulPartitionedCall:0`` / ``:1``).
    The SignatureDef lists inputs sorted by name (``counts``, ``values``) as the
    TF converter does, which is NOT the subgraph input order: code that mixes up
    signature order and subgraph order gets the wrong answer.
    """
    mb = ModelBuilder("edgerun.modelgen multi_io_model")
    sg = mb.subgraph("main")
    v = sg.input("serving_default_values:0", [2, 3], "float32")
    c = sg.input("serving_default_counts:0", [5], "int32")
    half = sg.const("half", np.float32(0.5))
    one = sg.const("one", np.float32(1.0))
    three = sg.const("three", np.int32(3))
    t = sg.tensor("values_half", [2, 3], "float32")
    scaled = sg.tensor("StatefulPartitionedCall:0", [2, 3], "float32")
    tripled = sg.tensor("StatefulPartitionedCall:1", [5], "int32")
    sg.op("MUL", [v, half], [t], op_options("MulOptions"))
    sg.op("ADD", [t, one], [scaled], op_options("AddOptions"))
    sg.op("MUL", [c, three], [tripled], op_options("MulOptions"))
    sg.outputs = [scaled, tripled]
    mb.signature("serving_default", sg, {"counts": c, "values": v}, {"scaled": scaled, "tripled": tripled})
    return mb.build()


def stateful_counter_model() -> bytes:
    """A resource variable that accumulates across runs, laid out as TF emits it.

    ``serving_default`` (subgraph 0): ``increment`` float32 [1] -> ``total``:
    ``total = counter + increment; counter = total``.
    ``reset`` (subgraph 1): ``value`` float32 [1] -> ``previous``:
    ``previous = counter; counter = value``.
    Both start with CALL_ONCE of the init subgraph (subgraph 2, no signature),
    which sets ``counter = 0`` the first time either runs. The variable is
    VAR_HANDLE(shared_name="counter") + READ_VARIABLE / ASSIGN_VARIABLE, so it
    is shared by both signatures of one interpreter. E.g. increments 1, 2, 3
    give totals 1, 3, 6.
    """
    mb = ModelBuilder("edgerun.modelgen stateful_counter_model")
    init_index = 2

    def handle(sg: Subgraph) -> int:
        h = sg.tensor("counter_handle", [], "resource")
        sg.op("VAR_HANDLE", [], [h], op_options("VarHandleOptions", container="", sharedName="counter"))
        return h

    def call_init(sg: Subgraph) -> None:
        sg.op("CALL_ONCE", [], [], op_options("CallOnceOptions", initSubgraphIndex=init_index))

    main = mb.subgraph("main")
    inc = main.input("increment", [1], "float32")
    call_init(main)
    h = handle(main)
    cur = main.tensor("counter_value", [1], "float32")
    total = main.tensor("total", [1], "float32")
    main.op("READ_VARIABLE", [h], [cur])
    main.op("ADD", [cur, inc], [total], op_options("AddOptions"))
    main.op("ASSIGN_VARIABLE", [h, total], [])
    main.outputs = [total]
    mb.signature("serving_default", main, {"increment": inc}, {"total": total})

    reset = mb.subgraph("reset")
    val = reset.input("value", [1], "float32")
    call_init(reset)
    h = handle(reset)
    prev = reset.tensor("previous", [1], "float32")
    reset.op("READ_VARIABLE", [h], [prev])
    reset.op("ASSIGN_VARIABLE", [h, val], [])
    reset.outputs = [prev]
    mb.signature("reset", reset, {"value": val}, {"previous": prev})

    init = mb.subgraph("init")
    assert init.index == init_index
    h = handle(init)
    zero = init.const("zero", np.zeros([1], np.float32))
    init.op("ASSIGN_VARIABLE", [h, zero], [])
    return mb.build()


def custom_op_model(name: str = "EdgerunUnknownOp") -> bytes:
    """``x`` float32 [1, 4] -> ADD 1 -> CUSTOM op ``name`` -> ``y`` [1, 4].

    No runtime knows the custom op, so the model loads but cannot run (the
    classic Interpreter fails at allocate_tensors; the LiteRT C API at the first
    run). Signature ``serving_default`` (x -> y).
    """
    mb = ModelBuilder(f"edgerun.modelgen custom_op_model {name}")
    sg = mb.subgraph("main")
    x = sg.input("x", [1, 4], "float32")
    one = sg.const("one", np.ones((1, 4), np.float32))
    t = sg.tensor("x_plus_one", [1, 4], "float32")
    y = sg.tensor("y", [1, 4], "float32")
    sg.op("ADD", [x, one], [t], op_options("AddOptions"))
    sg.op("CUSTOM", [t], [y], custom_code=name)
    sg.outputs = [y]
    mb.signature("serving_default", sg, {"x": x}, {"y": y})
    return mb.build()


def gather_model(n: int = 8, k: int = 3) -> bytes:
    """``values = table[indices]`` with ``table = 10 * arange(n)`` (float32).

    Input ``indices`` int32 [k], output ``values`` float32 [k]. Runs fine on
    zeros (so a load-time warm-up passes) but an index outside [0, n) makes
    that run fail: a model that errors at run time on bad input.
    """
    mb = ModelBuilder("edgerun.modelgen gather_model")
    sg = mb.subgraph("main")
    idx = sg.input("indices", [k], "int32")
    table = sg.const("table", 10.0 * np.arange(n, dtype=np.float32))
    out = sg.tensor("values", [k], "float32")
    sg.op("GATHER", [table, idx], [out], op_options("GatherOptions", axis=0))
    sg.outputs = [out]
    mb.signature("serving_default", sg, {"indices": idx}, {"values": out})
    return mb.build()


_SLOW_SIZE, _SLOW_CH, _SLOW_WEIGHT_SETS = 56, 64, 4
# One 56x56x64 3x3 conv + tanh layer: ~2.4 ms with XNNPACK f32 on one x86-64 core
# (AMD EPYC, AVX2/FMA); a Raspberry Pi 4/5 core is several times slower.
_SLOW_MS_PER_LAYER = 2.4


@functools.lru_cache(maxsize=1)
def _slow_params(seed: int = 7):
    """The weight sets that slow_model's layers cycle through (keeps the file small)."""
    rng = np.random.default_rng(seed)
    scale = 1.5 / np.sqrt(9 * _SLOW_CH)
    ws = [(rng.standard_normal((_SLOW_CH, 3, 3, _SLOW_CH)) * scale).astype(np.float32)
          for _ in range(_SLOW_WEIGHT_SETS)]  # fmt: skip
    bs = [rng.normal(0, 0.1, _SLOW_CH).astype(np.float32) for _ in range(_SLOW_WEIGHT_SETS)]
    return ws, bs


def slow_model_layers(ms: float = 100.0) -> int:
    """Number of conv layers :func:`slow_model` uses for ``ms``."""
    return max(1, int(round(ms / _SLOW_MS_PER_LAYER)))


def slow_model_reference(x: np.ndarray, ms: float = 100.0) -> np.ndarray:
    """NumPy float64 forward pass of ``slow_model(ms)``; x [1, 56, 56, 64] -> [1, 64]."""
    ws, bs = _slow_params()
    h = np.asarray(x, np.float64)
    for i in range(slow_model_layers(ms)):
        j = i % _SLOW_WEIGHT_SETS
        h = np.tanh(_conv_nhwc(h, ws[j].astype(np.float64), bs[j], 1))
    return h.mean(axis=(1, 2))


def slow_model(ms: float = 100.0) -> bytes:
    """A float32 model whose invoke takes roughly ``ms`` on one thread.

    ``x`` [1, 56, 56, 64] -> N x (CONV_2D 3x3 64->64 SAME, then TANH) -> MEAN over
    H, W -> ``y`` [1, 64]; N = :func:`slow_model_layers` (``ms / 2.4``), from a
    nominal 2.4 ms per layer (~460 MFLOP) on one x86-64 AVX2 core; expect several
    times longer on a Raspberry Pi class core. The layers cycle through 4 weight
    sets (shared constant tensors), so the file stays ~0.6 MB.
    Computes :func:`slow_model_reference`.
    """
    layers = slow_model_layers(ms)
    mb = ModelBuilder(f"edgerun.modelgen slow_model {layers} layers")
    sg = mb.subgraph("main")
    shape = [1, _SLOW_SIZE, _SLOW_SIZE, _SLOW_CH]
    x = sg.input("x", shape, "float32")
    ws, bs = _slow_params()
    params = [(sg.const(f"weights{j}", w), sg.const(f"bias{j}", b)) for j, (w, b) in enumerate(zip(ws, bs))]
    h = x
    for i in range(layers):
        conv = sg.tensor(f"conv{i}", shape, "float32")
        sg.op("CONV_2D", [h, *params[i % _SLOW_WEIGHT_SETS]], [conv],
              op_options("Conv2DOptions", padding=_SAME, strideW=1, strideH=1))  # fmt: skip
        h = sg.tensor(f"tanh{i}", shape, "float32")
        sg.op("TANH", [conv], [h])
    axes = sg.const("mean/axes", np.array([1, 2], np.int32))
    y = sg.tensor("y", [1, _SLOW_CH], "float32")
    sg.op("MEAN", [h, axes], [y], op_options("ReducerOptions", keepDims=False))
    sg.outputs = [y]
    mb.signature("serving_default", sg, {"x": x}, {"y": y})
    return mb.build()


# ---------------------------------------------------------------------------
# Delegate test models
# ---------------------------------------------------------------------------

#: Custom op name the test suite's stand-in delegate plugin computes as ADD.
STANDIN_ADD_OP = "EdgerunStandinAdd"
#: The custom op of models compiled for the Edge TPU (only libedgetpu runs it).
EDGETPU_CUSTOM_OP = "edgetpu-custom-op"


def residual_model(size: int = 8, channels: int = 4) -> bytes:
    """``y = mean_hw(relu(x + conv1x1(x)))``: a CONV_2D, an ADD with fused RELU, a MEAN.

    ``x`` float32 [1, size, size, channels] -> ``y`` [1, channels]; signature
    ``serving_default``. With its ADD rewritten by :func:`builtin_ops_to_custom`,
    the CONV_2D and MEAN stay on the CPU and the ADD goes to a delegate.
    """
    rng = np.random.default_rng(11)
    mb = ModelBuilder("edgerun.modelgen residual_model")
    sg = mb.subgraph("main")
    shape = [1, size, size, channels]
    x = sg.input("x", shape, "float32")
    w = sg.const("conv/weights", _round_sig(rng.standard_normal((channels, 1, 1, channels)) * 0.5).astype(np.float32))
    b = sg.const("conv/bias", _round_sig(rng.normal(0, 0.1, channels)).astype(np.float32))
    conv = sg.tensor("conv", shape, "float32")
    sg.op("CONV_2D", [x, w, b], [conv], op_options("Conv2DOptions", padding=_SAME, strideW=1, strideH=1))
    added = sg.tensor("residual/relu", shape, "float32")
    sg.op("ADD", [x, conv], [added], op_options("AddOptions", fusedActivationFunction=1))
    axes = sg.const("mean/axes", np.array([1, 2], np.int32))
    y = sg.tensor("y", [1, channels], "float32")
    sg.op("MEAN", [added, axes], [y], op_options("ReducerOptions", keepDims=False))
    sg.outputs = [y]
    mb.signature("serving_default", sg, {"x": x}, {"y": y})
    return mb.build()


def builtin_ops_to_custom(data: bytes, builtin: str = "ADD", custom_code: str = STANDIN_ADD_OP) -> bytes:
    """Rewrite every ``builtin`` operator of a model into the custom op ``custom_code``.

    Inputs, outputs and tensors stay as they are; the custom options hold one
    byte, the operator's fused activation (0 none, 1 RELU, 2 RELU_N1_TO_1,
    3 RELU6), which is what the stand-in plugin applies. Works on any model
    (e.g. a real one from a wheel): no runtime other than a delegate plugin that
    claims ``custom_code`` can run the result. Raises ValueError when the model
    has no such operator.
    """
    s = _schema()
    code = getattr(s.BuiltinOperator, builtin)
    m = s.ModelT.InitFromPackedBuf(bytes(data), 0)
    targets = {i for i, oc in enumerate(m.operatorCodes or [])
               if max(oc.builtinCode, oc.deprecatedBuiltinCode) == code}  # fmt: skip
    if not targets:
        raise ValueError(f"the model has no {builtin} operator")
    custom = s.OperatorCodeT()
    custom.builtinCode = s.BuiltinOperator.CUSTOM
    custom.deprecatedBuiltinCode = s.BuiltinOperator.CUSTOM
    custom.customCode = custom_code
    custom.version = 1
    m.operatorCodes.append(custom)
    custom_index = len(m.operatorCodes) - 1
    count = 0
    for sg in m.subgraphs or []:
        for op in sg.operators or []:
            if op.opcodeIndex not in targets:
                continue
            act = getattr(op.builtinOptions, "fusedActivationFunction", 0) or 0
            op.opcodeIndex = custom_index
            op.builtinOptionsType = 0
            op.builtinOptions = None
            op.customOptions = [int(act)]
            op.customOptionsFormat = 0
            count += 1
    m.description = f"{m.description.decode() if isinstance(m.description, bytes) else m.description or ''}" \
        f" ({count} {builtin} -> {custom_code})"
    m.buffers = [_aligned_buffer(bytes(b.data)) if b.data is not None and len(b.data) else s.BufferT()
                 for b in m.buffers or []]  # fmt: skip
    builder = _flatbuffers().Builder(max(1024, len(data) + 4096))
    builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def edgetpu_model(shape=(1, 8)) -> bytes:
    """A small model compiled "for the Edge TPU": its one operator is ``edgetpu-custom-op``.

    It is :func:`add_model` (uint8, ``y = x + c``) with the ADD rewritten into
    ``edgetpu-custom-op``: real Edge TPU models hold a compiled executable in
    that op's options, which this one does not, but what matters to a runtime
    without libedgetpu is the same: it cannot run the op. The test suite's
    stand-in plugin computes it as the ADD it was.
    """
    return builtin_ops_to_custom(add_model(shape, "uint8"), "ADD", EDGETPU_CUSTOM_OP)


DETECTION_POSTPROCESS_OP = "TFLite_Detection_PostProcess"


def detection_postprocess_model(
    anchors: np.ndarray,
    num_classes: int,
    *,
    max_detections: int = 10,
    score_threshold: float = 0.3,
    iou_threshold: float = 0.5,
    scales: Sequence[float] = (10.0, 10.0, 5.0, 5.0),
    use_regular_nms: bool = False,
) -> bytes:
    """A model made of one ``TFLite_Detection_PostProcess`` operator.

    Inputs ``box_encodings`` float32 [1, N, 4] (ty, tx, th, tw; TF Object
    Detection API box coder with ``scales`` = y, x, h, w) and
    ``class_predictions`` float32 [1, N, num_classes + 1] (scores after the
    activation, column 0 = background); ``anchors`` (N, 4) (y_center, x_center,
    h, w, normalized) is a constant. Outputs, in the operator's order:
    ``detection_boxes`` [1, M, 4] (ymin, xmin, ymax, xmax), ``detection_classes``
    [1, M], ``detection_scores`` [1, M], ``num_detections`` [1]
    (M = ``max_detections``), all float32. Signature ``serving_default``.
    """
    from flatbuffers import flexbuffers

    anchors = np.ascontiguousarray(anchors, dtype=np.float32)
    if anchors.ndim != 2 or anchors.shape[1] != 4:
        raise ValueError(f"anchors: expected (N, 4), got {anchors.shape}")
    n = anchors.shape[0]
    mb = ModelBuilder("edgerun.modelgen detection_postprocess_model")
    sg = mb.subgraph("main")
    boxes_in = sg.input("box_encodings", [1, n, 4], "float32")
    scores_in = sg.input("class_predictions", [1, n, num_classes + 1], "float32")
    anchors_t = sg.const("anchors", anchors)
    outs = [
        sg.tensor("detection_boxes", [1, max_detections, 4], "float32"),
        sg.tensor("detection_classes", [1, max_detections], "float32"),
        sg.tensor("detection_scores", [1, max_detections], "float32"),
        sg.tensor("num_detections", [1], "float32"),
    ]
    sg.op("CUSTOM", [boxes_in, scores_in, anchors_t], outs, custom_code=DETECTION_POSTPROCESS_OP)
    y_scale, x_scale, h_scale, w_scale = (float(v) for v in scales)
    options = flexbuffers.Dumps({
        "max_detections": int(max_detections),
        "max_classes_per_detection": 1,
        "detections_per_class": int(max_detections),
        "use_regular_nms": bool(use_regular_nms),
        "nms_score_threshold": float(score_threshold),
        "nms_iou_threshold": float(iou_threshold),
        "num_classes": int(num_classes),
        "y_scale": y_scale,
        "x_scale": x_scale,
        "h_scale": h_scale,
        "w_scale": w_scale,
    })
    op = sg._ops[-1]
    op.customOptions = list(bytes(options))
    op.customOptionsFormat = 0  # FLEXBUFFERS
    sg.outputs = outs
    mb.signature("serving_default", sg, {"box_encodings": boxes_in, "class_predictions": scores_in},
                 {"detection_boxes": outs[0], "detection_classes": outs[1], "detection_scores": outs[2],
                  "num_detections": outs[3]})
    return mb.build()


def ssd_postprocess_model(n: int = 6, num_classes: int = 2, max_detections: int = 3,
                          edgetpu: bool = False) -> bytes:
    """``ADD`` (box_encodings + 0) -> ``TFLite_Detection_PostProcess`` whose four outputs
    have NO shape in the file, as in TF Object Detection API SSD exports (the operator sizes
    them when the model is prepared: [1, M, 4], [1, M], [1, M], [1]).

    ``edgetpu=True`` turns the ADD into ``edgetpu-custom-op``: like an SSD MobileNet after
    ``edgetpu_compiler``, which leaves the post-processing to the CPU.
    """
    from flatbuffers import flexbuffers

    anchors = np.tile(np.array([[0.5, 0.5, 0.2, 0.2]], np.float32), (n, 1))
    mb = ModelBuilder("edgerun.modelgen ssd_postprocess_model")
    sg = mb.subgraph("main")
    boxes_in = sg.input("box_encodings", [1, n, 4], "float32")
    scores_in = sg.input("class_predictions", [1, n, num_classes + 1], "float32")
    zero = sg.const("zero", np.zeros((1, n, 4), np.float32))
    boxes = sg.tensor("boxes", [1, n, 4], "float32")
    sg.op("ADD", [boxes_in, zero], [boxes], op_options("AddOptions"))
    anchors_t = sg.const("anchors", anchors)
    outs = [sg.tensor(name, [], "float32")
            for name in ("detection_boxes", "detection_classes", "detection_scores", "num_detections")]
    sg.op("CUSTOM", [boxes, scores_in, anchors_t], outs, custom_code=DETECTION_POSTPROCESS_OP)
    op = sg._ops[-1]
    op.customOptions = list(bytes(flexbuffers.Dumps({
        "max_detections": int(max_detections), "max_classes_per_detection": 1,
        "detections_per_class": int(max_detections), "use_regular_nms": False,
        "nms_score_threshold": 0.3, "nms_iou_threshold": 0.5, "num_classes": int(num_classes),
        "y_scale": 10.0, "x_scale": 10.0, "h_scale": 5.0, "w_scale": 5.0})))
    op.customOptionsFormat = 0  # FLEXBUFFERS
    sg.outputs = outs
    data = mb.build()
    return builtin_ops_to_custom(data, "ADD", EDGETPU_CUSTOM_OP) if edgetpu else data


def audio_frontend_model(samples: int = 1024, window: int = 256, stride: int = 128,
                         sample_rate: int = 16000, dct: int = 13, with_options: bool = True) -> bytes:
    """``waveform`` float32 [samples, 1] -> ``AudioSpectrogram`` -> ``Mfcc`` -> ``mfcc``
    [1, frames, dct]: the two custom operators the runtime implements for speech models (both
    read their FlexBuffer options unchecked). ``with_options=False`` leaves the options out
    (what a broken converter or a tampered file does).
    """
    from flatbuffers import flexbuffers

    fft = 1 << (window - 1).bit_length()
    frames = 1 + (samples - window) // stride
    mb = ModelBuilder("edgerun.modelgen audio_frontend_model")
    sg = mb.subgraph("main")
    wav = sg.input("waveform", [samples, 1], "float32")
    spec = sg.tensor("spectrogram", [1, frames, fft // 2 + 1], "float32")
    rate = sg.const("sample_rate", np.array([sample_rate], np.int32))
    mfcc = sg.tensor("mfcc", [1, frames, dct], "float32")
    sg.op("CUSTOM", [wav], [spec], custom_code="AudioSpectrogram")
    if with_options:
        sg._ops[-1].customOptions = list(flexbuffers.Dumps(
            {"window_size": window, "stride": stride, "magnitude_squared": True}))
    sg.op("CUSTOM", [spec, rate], [mfcc], custom_code="Mfcc")
    if with_options:
        sg._ops[-1].customOptions = list(flexbuffers.Dumps(
            {"upper_frequency_limit": 4000.0, "lower_frequency_limit": 20.0,
             "filterbank_channel_count": 40, "dct_coefficient_count": dct}))
    sg.outputs = [mfcc]
    mb.signature("serving_default", sg, {"waveform": wav}, {"mfcc": mfcc})
    return mb.build()


def shape_ops_model() -> bytes:
    """``x`` float32 [1, 4, 4, 2] through the operators whose output shape is decided by a
    constant operand: RESHAPE (shape) -> STRIDED_SLICE (begin/end/strides) -> MEAN (axes) ->
    PAD (paddings) -> TILE (multiples) -> ``y`` [1, 12]. For the mutation campaigns (a constant
    turned into a graph input must not reach the runtime).
    """
    mb = ModelBuilder("edgerun.modelgen shape_ops_model")
    sg = mb.subgraph("main")
    x = sg.input("x", [1, 4, 4, 2], "float32")
    r = sg.tensor("reshaped", [1, 8, 4], "float32")
    sg.op("RESHAPE", [x, sg.const("shape", np.array([1, 8, 4], np.int32))], [r],
          op_options("ReshapeOptions", newShape=[1, 8, 4]))
    s = sg.tensor("sliced", [1, 4, 4], "float32")
    sg.op("STRIDED_SLICE", [r, sg.const("begin", np.array([0, 0, 0], np.int32)),
                            sg.const("end", np.array([1, 8, 4], np.int32)),
                            sg.const("strides", np.array([1, 2, 1], np.int32))], [s],
          op_options("StridedSliceOptions"))
    m = sg.tensor("mean", [1, 4], "float32")
    sg.op("MEAN", [s, sg.const("axes", np.array([1], np.int32))], [m], op_options("ReducerOptions"))
    p = sg.tensor("padded", [1, 6], "float32")
    sg.op("PAD", [m, sg.const("paddings", np.array([[0, 0], [1, 1]], np.int32))], [p], op_options("PadOptions"))
    y = sg.tensor("y", [1, 12], "float32")
    sg.op("TILE", [p, sg.const("multiples", np.array([1, 2], np.int32))], [y])
    sg.outputs = [y]
    mb.signature("serving_default", sg, {"x": x}, {"y": y})
    return mb.build()
