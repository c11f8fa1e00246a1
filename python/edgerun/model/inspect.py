"""``edgerun.inspect(path)``: what is inside a .tflite model.

The result types (:class:`ModelDetails` ...) live in :mod:`edgerun.model.info`.
Everything except the XNNPACK check is read from the flatbuffer (after
edgerun's verifier, the check :func:`edgerun.verify` runs) through the schema module; the XNNPACK check compiles
the model (see :func:`xnnpack_placement`). No TensorFlow is needed.
The JSON form (``ModelDetails.to_dict()``, ``edgerun inspect --json``) is
documented in docs/tools.md.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..errors import InputError
from . import tflite_file
from .info import (EDGETPU_CUSTOM_OP, INSPECT_SCHEMA, ModelDetails, SignatureDetails, SignatureInfo,
                   TensorDetails, TensorInfo, XnnpackReport)
from .metadata import metadata_from

__all__ = ["inspect", "xnnpack_placement", "format_info", "table_lines", "human_bytes",
           # the result types, defined in edgerun.model.info
           "ModelDetails", "TensorDetails", "SignatureDetails", "XnnpackReport", "INSPECT_SCHEMA",
           "TensorInfo", "SignatureInfo"]

# --------------------------------------------------------------------------- reading
def _names(model) -> List[str]:
    """Operator name per opcode index: builtin name, or the custom code for CUSTOM."""
    out = []
    for oc in model.operatorCodes or []:
        code = max(int(oc.builtinCode or 0), int(oc.deprecatedBuiltinCode or 0))
        custom = tflite_file._text(oc.customCode)
        out.append(tflite_file.op_name(code, custom if code == tflite_file.schema().BuiltinOperator.CUSTOM else ""))
    return out


def _tensor_details(t, index: int) -> TensorDetails:
    shape = tuple(int(d) for d in (t.shape if t.shape is not None else ()))
    sig = tuple(int(d) for d in t.shapeSignature) if t.shapeSignature is not None and len(t.shapeSignature) else shape
    q = t.quantization
    scales: Tuple[float, ...] = ()
    zps: Tuple[int, ...] = ()
    qdim = 0
    if q is not None and q.scale is not None and len(q.scale):
        scales = tuple(float(v) for v in q.scale)
        zp = list(q.zeroPoint) if q.zeroPoint is not None else []
        zps = tuple(int(v) for v in zp) if len(zp) == len(scales) else tuple([int(zp[0]) if zp else 0] * len(scales))
        qdim = int(q.quantizedDimension or 0)
    return TensorDetails(tflite_file._text(t.name), index, shape, sig, tflite_file.type_name(t.type), scales, zps, qdim)


def _is_constant(model, t) -> bool:
    return tflite_file.buffer_size(model, t.buffer or 0) > 0 or bool(getattr(t, "externalBuffer", 0))


def _activations(model, sg, names: List[str]) -> Tuple[int, int]:
    """(sum of the bytes of every non-constant tensor, peak of a liveness walk) for one subgraph.

    Outputs of DEQUANTIZE / DENSIFY operators whose input is constant (float16
    or sparse weights expanded at load time) count as weights, not activations.
    """
    tensors = sg.tensors or []
    const = [bool(_is_constant(model, t)) for t in tensors]
    for op in sg.operators or []:
        name = names[op.opcodeIndex] if 0 <= op.opcodeIndex < len(names) else ""
        ins = [int(i) for i in (op.inputs if op.inputs is not None else []) if 0 <= i < len(tensors)]
        if name in ("DEQUANTIZE", "DENSIFY") and ins and all(const[i] for i in ins):
            for o in (op.outputs if op.outputs is not None else []):
                if 0 <= o < len(tensors):
                    const[int(o)] = True
    size = [0 if const[i] else tflite_file.tensor_bytes(t.shape, t.type) for i, t in enumerate(tensors)]
    total = sum(size)
    ops = sg.operators or []
    n = len(ops)
    first: Dict[int, int] = {}
    last: Dict[int, int] = {}
    for i in (sg.inputs if sg.inputs is not None else []):
        if 0 <= i < len(tensors):
            first[int(i)] = 0
            last[int(i)] = 0
    for step, op in enumerate(ops):
        for i in (op.inputs if op.inputs is not None else []):
            i = int(i)
            if 0 <= i < len(tensors) and size[i]:
                first.setdefault(i, step)
                last[i] = step
        for i in (op.outputs if op.outputs is not None else []):
            i = int(i)
            if 0 <= i < len(tensors) and size[i]:
                first.setdefault(i, step)
                last[i] = max(last.get(i, step), step)
    end = max(n - 1, 0)
    for i in (sg.outputs if sg.outputs is not None else []):
        if 0 <= i < len(tensors) and size[int(i)]:
            first.setdefault(int(i), 0)
            last[int(i)] = end
    for i, t in enumerate(tensors):
        if t.isVariable and size[i]:
            first[i], last[i] = 0, end
    delta = [0] * (n + 2)
    for i, f in first.items():
        delta[f] += size[i]
        delta[last[i] + 1] -= size[i]
    peak = run = 0
    for step in range(max(n, 1)):
        run += delta[step]
        peak = max(peak, run)
    return total, peak


def inspect(model: tflite_file.ModelSource, *, xnnpack: bool = True,
            input_shapes: Optional[Dict[Any, Sequence[int]]] = None) -> ModelDetails:
    """Describes a model (path or bytes); raises :class:`edgerun.ModelError` if it is invalid.

    ``xnnpack=False`` skips compiling the model for the XNNPACK check
    (``ModelDetails.xnnpack`` is then None). ``input_shapes``
    (``{input name or index: shape}``, as for :class:`edgerun.Session`) sizes
    dynamic inputs before that compile; the inputs and outputs then report the
    shapes the runtime gave them (``shape_from="runtime"``).
    """
    data, path = tflite_file.read_source(model)
    m = tflite_file.unpack(data, path or "model")
    names = _names(m)
    subgraphs = m.subgraphs or []
    ops: Dict[str, int] = {}
    for sg in subgraphs:
        for op in sg.operators or []:
            name = names[op.opcodeIndex] if 0 <= op.opcodeIndex < len(names) else f"opcode{op.opcodeIndex}"
            ops[name] = ops.get(name, 0) + 1
    custom_codes = set()
    builtin_custom = tflite_file.schema().BuiltinOperator.CUSTOM
    for oc in m.operatorCodes or []:
        if max(int(oc.builtinCode or 0), int(oc.deprecatedBuiltinCode or 0)) == builtin_custom:
            custom_codes.add(tflite_file._text(oc.customCode))
    custom = tuple(sorted(c for c in custom_codes if c in ops))

    weights: Dict[str, int] = {}
    seen = set()
    for sg in subgraphs:
        for t in sg.tensors or []:
            b = int(t.buffer or 0)
            nbytes = tflite_file.buffer_size(m, b)
            if nbytes and b not in seen:
                seen.add(b)
                dt = tflite_file.type_name(t.type)
                weights[dt] = weights.get(dt, 0) + nbytes
    weights = dict(sorted(weights.items(), key=lambda kv: (-kv[1], kv[0])))

    main = subgraphs[0] if subgraphs else None
    tensors = main.tensors or [] if main is not None else []
    inputs = tuple(_tensor_details(tensors[i], int(i)) for i in (main.inputs if main is not None and main.inputs is not None else []))
    outputs = tuple(_tensor_details(tensors[i], int(i)) for i in (main.outputs if main is not None and main.outputs is not None else []))
    act_total = act_peak = 0
    for sg in subgraphs:
        t, p = _activations(m, sg, names)
        act_total += t
        act_peak = max(act_peak, p)

    sigs = []
    for sd in m.signatureDefs or []:
        sigs.append(SignatureDetails(tflite_file._text(sd.signatureKey), int(sd.subgraphIndex or 0),
                                  tuple(tflite_file._text(x.name) for x in sd.inputs or []),
                                  tuple(tflite_file._text(x.name) for x in sd.outputs or [])))
    report = None
    if xnnpack:
        main_ops = [names[op.opcodeIndex] for op in (main.operators or [])] if main is not None else []
        runtime_shapes: Dict[int, Tuple[int, ...]] = {}
        resize = _resolve_input_shapes(input_shapes, inputs, sigs) if input_shapes else None
        report = xnnpack_placement(data, main_ops, custom, runtime_shapes=runtime_shapes, input_shapes=resize)
        dynamic = [t.name for t in inputs if any(d < 0 for d in t.shape_signature)]
        if report.error and dynamic and not resize:
            report = dataclasses.replace(report, error=f"{report.error} (dynamic inputs: {', '.join(dynamic)}; size "
                                                       f"them with input_shapes= / --input-shape NAME=1x...)")
        inputs = tuple(_with_runtime_shape(t, runtime_shapes, bool(resize)) for t in inputs)
        outputs = tuple(_with_runtime_shape(t, runtime_shapes, bool(resize)) for t in outputs)
    elif input_shapes:
        raise InputError("inspect: input_shapes needs the compile of the XNNPACK check (xnnpack=True)")
    return ModelDetails(
        path=path,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        schema_version=int(m.version or 0),
        description=tflite_file._text(m.description),
        subgraphs=len(subgraphs),
        signatures=tuple(sigs),
        inputs=inputs,
        outputs=outputs,
        operators=dict(sorted(ops.items(), key=lambda kv: (-kv[1], kv[0]))),
        custom_operators=custom,
        edgetpu_compiled=EDGETPU_CUSTOM_OP in ops,
        weights=weights,
        activations_total=act_total,
        activations_peak=act_peak,
        xnnpack=report,
        metadata=metadata_from(m, data),
    )


def _with_runtime_shape(t: TensorDetails, runtime_shapes: Dict[int, Tuple[int, ...]],
                        resized: bool = False) -> TensorDetails:
    """The runtime's shape for a tensor whose file stores none (TF Object Detection API
    exports leave TFLite_Detection_PostProcess outputs unshaped; the op sizes them), or
    for every tensor after ``input_shapes`` resized the inputs."""
    shape = runtime_shapes.get(t.index)
    if shape is None or (t.shape and not resized):
        return t
    return dataclasses.replace(t, shape=shape, shape_signature=t.shape_signature if t.shape else shape,
                               shape_from="runtime")


def _resolve_input_shapes(input_shapes: Any, inputs: Sequence[TensorDetails],
                          sigs: Sequence[SignatureDetails]) -> Dict[int, Tuple[int, ...]]:
    """``{input name or index: shape}`` -> ``{position in subgraph 0's inputs: shape}``.
    Names are tensor names or the first signature's input names (in the file's order)."""
    if not isinstance(input_shapes, dict):
        raise InputError(f"input_shapes: expected a dict {{input name or index: shape}}, got {input_shapes!r}")
    names = {t.name: i for i, t in enumerate(inputs)}
    if sigs and sigs[0].subgraph == 0:
        names.update({n: i for i, n in enumerate(sigs[0].inputs) if i < len(inputs)})
    out: Dict[int, Tuple[int, ...]] = {}
    for key, shape in input_shapes.items():
        if isinstance(key, str):
            if key not in names:
                raise InputError(f"input_shapes: the model has no input named {key!r}; its inputs are "
                                 + ", ".join(repr(n) for n in names))
            i = names[key]
        elif isinstance(key, int) and not isinstance(key, bool):
            i = key + len(inputs) if key < 0 else key
            if not 0 <= i < len(inputs):
                raise InputError(f"input_shapes: input index {key} is out of range; the model has "
                                 f"{len(inputs)} input(s)")
        else:
            raise InputError(f"input_shapes: keys are input names (str) or indices (int), got {type(key).__name__}")
        try:
            dims = tuple(int(d) for d in shape)
        except (TypeError, ValueError):
            raise InputError(f"input_shapes[{key!r}]: expected a sequence of ints, got {shape!r}") from None
        if len(dims) != len(inputs[i].shape_signature or inputs[i].shape) or any(d < 1 for d in dims):
            raise InputError(f"input_shapes[{key!r}]: got {list(dims)}, expected positive dimensions of rank "
                             f"{len(inputs[i].shape_signature or inputs[i].shape)} "
                             f"(declared {list(inputs[i].shape_signature)})")
        out[i] = dims
    return out


# --------------------------------------------------------------------------- XNNPACK
#: custom operators the CPU runtime itself implements (TFLite's BuiltinOpResolver registers them)
CPU_CUSTOM_OPS = ("TFLite_Detection_PostProcess", "AudioSpectrogram", "Mfcc")


def xnnpack_placement(data: bytes, main_ops: List[str], custom: Tuple[str, ...] = (), *,
                      runtime_shapes: Optional[Dict[int, Tuple[int, ...]]] = None,
                      input_shapes: Optional[Dict[int, Tuple[int, ...]]] = None) -> XnnpackReport:
    """Compiles the model with the classic TFLite Interpreter of the installed
    ai-edge-litert wheel (its default XNNPACK delegate, the same XNNPACK
    kernels edgerun's sessions use) and reads which operators of subgraph 0 the
    delegate replaced.

    How: after ``allocate_tensors()`` the interpreter lists the model's own
    operators followed by one ``DELEGATE`` node per XNNPACK partition, with that
    partition's input and output tensors. Walking back from a partition's
    outputs through the operators that produce them, stopping at its inputs,
    yields the operators it replaced. (edgerun's ``Session.placement()`` cannot
    tell this: the LiteRT C API reports XNNPACK and the reference kernels alike
    as "cpu".)

    ``runtime_shapes``, when given, is filled with ``{tensor index: shape}`` of
    subgraph 0's inputs and outputs as the runtime sized them. ``input_shapes``
    (``{position in subgraph 0's inputs: shape}``) resizes inputs first.
    """
    total = len(main_ops)
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as e:  # pragma: no cover - a dependency of edgerun
        return XnnpackReport(False, total=total, error=f"ai_edge_litert.interpreter unavailable: {e}")
    try:
        interp = Interpreter(model_content=bytes(data), num_threads=1)
        if input_shapes:
            ins = interp.get_input_details()
            for i, shape in input_shapes.items():
                interp.resize_tensor_input(int(ins[i]["index"]), list(shape))
        interp.allocate_tensors()
        details = interp._get_ops_details()
        if runtime_shapes is not None:
            for d in list(interp.get_input_details()) + list(interp.get_output_details()):
                runtime_shapes[int(d["index"])] = tuple(int(v) for v in d["shape"])
    except Exception as e:  # the runtime's message, e.g. unresolved custom ops
        msg = " ".join(str(e).split())
        if custom and "unresolved custom op" in msg.lower():
            # Name only what the CPU runtime lacks: the ones it reported, and the custom ops
            # it does not implement (it stops at the first it cannot resolve).
            named = re.findall(r"unresolved custom op: (\S+?)\.?(?:\s|$)", msg)
            missing = [c for c in custom if c in named or c not in CPU_CUSTOM_OPS]
            has = [c for c in custom if c in CPU_CUSTOM_OPS and c not in missing]
            msg = (f"the model has custom operators ({', '.join(missing or custom)}) that the CPU runtime "
                   "cannot resolve, so it cannot be compiled without the delegate that provides them "
                   "(custom operators never run on XNNPACK)"
                   + (f"; the CPU runtime does implement {', '.join(has)}" if has else ""))
        return XnnpackReport(False, total=total, error=msg[:500])
    if len(details) < total:
        return XnnpackReport(False, total=total,
                             error=f"the interpreter lists {len(details)} operators, the model has {total}")
    producer: Dict[int, int] = {}
    for d in details[:total]:
        for t in d["outputs"]:
            producer[int(t)] = int(d["index"])
    taken: set = set()
    partitions = 0
    for d in details[total:]:
        if d["op_name"] != "DELEGATE":
            continue
        partitions += 1
        stop = {int(t) for t in d["inputs"] if t >= 0}
        todo = [int(t) for t in d["outputs"] if t >= 0]
        seen_t: set = set()
        while todo:
            t = todo.pop()
            if t in seen_t or t in stop:
                continue
            seen_t.add(t)
            node = producer.get(t)
            if node is None or node in taken:
                continue
            taken.add(node)
            todo.extend(int(x) for x in details[node]["inputs"] if x >= 0)
    not_taken = tuple((i, main_ops[i]) for i in range(total) if i not in taken)
    return XnnpackReport(True, delegated=len(taken), total=total, partitions=partitions, not_taken=not_taken)


# --------------------------------------------------------------------------- human output
def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024.0
    return f"{n:.1f} GB"  # pragma: no cover


def _quant_text(t: TensorDetails) -> str:
    if not t.scales:
        return "-"
    if len(t.scales) == 1:
        return f"scale={t.scales[0]:.6g} zp={t.zero_points[0]}"
    return f"per-channel axis={t.quantized_dimension} ({len(t.scales)} scales)"


def _shape_text(t: TensorDetails) -> str:
    if not t.shape_known:
        return "? (not in the file)"
    dims = [str(s) if sig >= 0 else f"{s}(dyn)" for s, sig in zip(t.shape, t.shape_signature)]
    if len(t.shape_signature) != len(t.shape):
        dims = [str(s) for s in t.shape]
    text = "x".join(dims) or "scalar"
    return text + " (runtime)" if t.shape_from == "runtime" else text


def table_lines(rows: List[Tuple[Any, ...]], indent: str = "  ") -> List[str]:
    """Rows as left-aligned columns two spaces apart (the tables edgerun's CLI prints)."""
    if not rows:
        return []
    cells = [tuple(str(v) for v in r) for r in rows]
    widths = [max(len(r[c]) for r in cells) for c in range(len(cells[0]))]
    return [(indent + "  ".join(v.ljust(w) for v, w in zip(r, widths))).rstrip() for r in cells]


def format_info(info: ModelDetails) -> str:
    """The human-readable table ``edgerun inspect`` prints."""
    lines: List[str] = []
    kv: List[Tuple[str, str]] = []
    kv.append(("model", info.path or "<bytes>"))
    kv.append(("size", f"{human_bytes(info.size)} ({info.size} bytes)"))
    kv.append(("sha256", info.sha256))
    desc = info.description or "-"
    kv.append(("description", f"{desc} (schema v{info.schema_version}, {info.subgraphs} subgraph"
                              f"{'s' if info.subgraphs != 1 else ''})"))
    if info.signatures:
        for s in info.signatures:
            kv.append(("signature", f"{s.key} (subgraph {s.subgraph}): in {', '.join(s.inputs) or '-'}; "
                                    f"out {', '.join(s.outputs) or '-'}"))
    else:
        kv.append(("signature", "none (inputs/outputs of subgraph 0)"))
    md = info.metadata
    parts = []
    for k in ("name", "version", "description", "author", "license"):
        v = getattr(md, k)
        if v:
            parts.append(f"{k} {v!r}")
    for k in ("format", "fit", "channels", "layout"):
        v = getattr(md, k)
        if v:
            parts.append(f"{k} {v}")
    if md.mean is not None:
        parts.append("mean " + ",".join(f"{v:g}" for v in md.mean))
    if md.std is not None:
        parts.append("std " + ",".join(f"{v:g}" for v in md.std))
    if md.labels is not None:
        shown = ", ".join(md.labels[:3]) + (", ..." if len(md.labels) > 3 else "")
        parts.append(f"{len(md.labels)} labels ({shown})")
    if md.min_runtime_version:
        parts.append(f"min runtime {md.min_runtime_version}")
    kv.append(("metadata", "; ".join(parts) if parts else "none"))
    kv.append(("entries", ", ".join(f"{n} ({human_bytes(b)})" for n, b in md.entries) or "none"))
    for p in md.problems:
        kv.append(("unreadable", p))
    kv.append(("edge tpu", f"compiled for the Edge TPU ({info.operators.get(EDGETPU_CUSTOM_OP, 0)} "
                           f"{EDGETPU_CUSTOM_OP})" if info.edgetpu_compiled else "no"))
    w = "  ".join(f"{dt} {human_bytes(b)}" for dt, b in info.weights.items())
    kv.append(("weights", f"{human_bytes(info.weights_total)}" + (f" ({w})" if w else "")))
    kv.append(("activations", f"peak {human_bytes(info.activations_peak)} (liveness walk), "
                              f"{human_bytes(info.activations_total)} if nothing were shared"))
    x = info.xnnpack
    if x is None:
        kv.append(("xnnpack", "not checked"))
    elif not x.checked:
        kv.append(("xnnpack", f"not determined: {x.error}"))
    else:
        h = x.not_taken_histogram()
        rest = ", ".join(f"{op} x{n}" if n > 1 else op for op, n in h.items())
        kv.append(("xnnpack", f"{x.delegated}/{x.total} operators of subgraph 0 in {x.partitions} "
                              f"partition{'s' if x.partitions != 1 else ''}; "
                              + (f"reference kernels: {rest}" if rest else "all taken")))
    width = max(len(k) for k, _ in kv)
    lines += [f"{k.ljust(width)}  {v}" for k, v in kv]
    lines.append("tensors")
    rows = [("", "name", "dtype", "shape", "quantization")]
    for kind, ts in (("in", info.inputs), ("out", info.outputs)):
        for i, t in enumerate(ts):
            rows.append((f"{kind}[{i}]", t.name, t.dtype, _shape_text(t), _quant_text(t)))
    lines += table_lines(rows)
    lines.append(f"operators ({info.operator_count})")
    lines += table_lines([(name, str(n)) for name, n in info.operators.items()])
    return "\n".join(lines)
