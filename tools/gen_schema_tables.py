#!/usr/bin/env python3
"""Generate cpp/src/model/schema_tables.inc from the installed TFLite schema.

The C++ model verifier (cpp/src/model/verify.cc) reads .tflite flatbuffers by
hand, so it needs the schema's field slots, scalar types, defaults and enum
values. No .fbs file ships with ai-edge-litert, but the wheel carries the
flatc-generated Python module ``ai_edge_litert/schema_py_generated.py``. This
script derives everything from that module by introspection, without parsing
its source text:

- enums (TensorType, BuiltinOperator, BuiltinOptions, ...): the int class
  attributes of the generated enum classes;
- tables: every class with ``GetRootAs``. Its builder functions are called with
  a recording builder: ``<T>Start`` gives the number of vtable slots
  (``StartObject(n)``), each ``<T>Add<Field>`` gives the field's slot, scalar
  type and default (``Prepend<Type>Slot(slot, value, default)``), and
  ``<T>Start<Field>Vector`` gives a vector's element size
  (``StartVector(size, n, alignment)``). Offset fields that are not vectors are
  told apart (string, table or union) by calling the accessor method on a probe
  table that records whether it asks for ``String``, ``Indirect`` or ``Union``.
  Slots without an ``Add`` function were deprecated out of the schema.

Usage:
    python tools/gen_schema_tables.py [-o cpp/src/model/schema_tables.inc]
    python tools/gen_schema_tables.py --check   # exit 1 if the file differs

The output is deterministic (module definition order), so regenerating with the
same ai-edge-litert version reproduces the committed file byte for byte
(tests/test_schema_tables.py checks that).
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import importlib.metadata
import inspect
import math
import os
import sys

SCHEMA_MODULE = "ai_edge_litert.schema_py_generated"
DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "cpp", "src", "model",
                           "schema_tables.inc")

# The enums whose value names the verifier prints in messages.
NAMED_ENUMS = ("BuiltinOperator", "TensorType")
# The unions whose member tables the verifier walks generically (options).
OPTION_UNIONS = ("BuiltinOptions", "BuiltinOptions2")

MAX_LAYOUT_SLOTS = 24  # kSlotNames in cpp/src/model/flatbuffer_reader.cc

_SCALARS = {  # Prepend<X>Slot -> (C++ type, bytes)
    "Bool": ("bool", 1),
    "Int8": ("int8_t", 1),
    "Uint8": ("uint8_t", 1),
    "Int16": ("int16_t", 2),
    "Uint16": ("uint16_t", 2),
    "Int32": ("int32_t", 4),
    "Uint32": ("uint32_t", 4),
    "Int64": ("int64_t", 8),
    "Uint64": ("uint64_t", 8),
    "Float32": ("float", 4),
    "Float64": ("double", 8),
}


class _Recorder:
    """Stands in for flatbuffers.Builder; records the calls a builder function makes."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        def record(*args):
            self.calls.append((name, args))
            return 0

        return record


class _Found(Exception):
    pass


class _ProbeTable:
    """Stands in for flatbuffers.table.Table: the field at `vt` is present; records what is read."""

    Bytes = bytearray(64)
    Pos = 0

    def __init__(self, vt):
        self.vt = vt

    def Offset(self, vt):
        return 4 if vt == self.vt else 0

    def String(self, off):
        raise _Found("string")

    def Indirect(self, off):
        raise _Found("table")

    def Union(self, t2, off):
        raise _Found("union")

    def Vector(self, off):
        raise _Found("vector")

    def VectorLen(self, off):
        raise _Found("vector")

    def Get(self, flags, off):
        raise _Found("scalar")


def _offset_kind(cls, method, slot):
    obj = cls.__new__(cls)
    obj._tab = _ProbeTable(4 + 2 * slot)
    nargs = len(inspect.signature(method).parameters) - 1
    try:
        method(obj, *([0] * nargs))
    except _Found as found:
        return str(found)
    raise RuntimeError(f"{cls.__name__}.{method.__name__}: could not classify the field")


def _enum_members(cls):
    return [(k, v) for k, v in vars(cls).items() if not k.startswith("_") and isinstance(v, int)]


def _is_table(obj):
    return inspect.isclass(obj) and hasattr(obj, "GetRootAs") and hasattr(obj, "Init")


def _is_enum(obj):
    return inspect.isclass(obj) and not _is_table(obj) and not obj.__name__.endswith("T") and \
        bool(_enum_members(obj)) and all(
            k.startswith("_") or isinstance(v, int) or callable(v) or isinstance(v, (classmethod, staticmethod))
            for k, v in vars(obj).items())


def _cpp_default(ctype, value):
    if ctype == "bool":
        return "true" if value else "false"
    if ctype in ("float", "double"):
        value = float(value)
        if math.isnan(value):
            return "__builtin_nan(\"\")"
        if math.isinf(value):
            return ("-" if value < 0 else "") + "__builtin_inf()"
        text = repr(value)
        return text + ("f" if ctype == "float" else "")
    value = int(value)
    if ctype in ("int64_t",) and value < -(2**31):
        return f"INT64_C({value})"
    if ctype in ("uint64_t",) and value >= 2**32:
        return f"UINT64_C({value})"
    return str(value)


class Field:
    def __init__(self, name, slot, kind, ctype=None, size=0, default=None):
        self.name, self.slot, self.kind = name, slot, kind  # kind: scalar, vector, string, table, union
        self.ctype, self.size, self.default = ctype, size, default


def _table_fields(mod, cls):
    """(number of slots, fields by slot) of one table class."""
    tname = cls.__name__
    rec = _Recorder()
    getattr(mod, tname + "Start")(rec)
    (call, args), = rec.calls
    assert call == "StartObject", (tname, call)
    nslots = args[0]
    fields = {}
    for mname, method in vars(cls).items():
        add = getattr(mod, f"{tname}Add{mname}", None)
        if add is None or not callable(method):
            continue
        rec = _Recorder()
        add(rec, 0)
        (call, args), = rec.calls
        assert call.startswith("Prepend") and call.endswith("Slot"), (tname, mname, call)
        slot = args[0]
        what = call[len("Prepend"):-len("Slot")]
        if what in _SCALARS:
            ctype, size = _SCALARS[what]
            fields[slot] = Field(mname, slot, "scalar", ctype, size, args[2])
        elif what == "UOffsetTRelative":
            start_vec = getattr(mod, f"{tname}Start{mname}Vector", None)
            if start_vec is not None:
                rec = _Recorder()
                start_vec(rec, 0)
                (call, vargs), = rec.calls
                assert call == "StartVector", (tname, mname, call)
                fields[slot] = Field(mname, slot, "vector", size=vargs[0])
            else:
                fields[slot] = Field(mname, slot, _offset_kind(cls, method, slot))
        else:
            raise RuntimeError(f"{tname}.{mname}: unsupported field kind {call}")
    return nslots, fields


def _layout(nslots, fields):
    """One character per slot, the string verify.cc walks options tables with."""
    out = []
    for slot in range(nslots):
        f = fields.get(slot)
        if f is None:
            out.append(".")
        elif f.kind == "scalar":
            out.append(str(f.size))
        elif f.kind == "vector":
            out.append({1: "a", 2: "b", 4: "c", 8: "d"}[f.size])
        elif f.kind == "string":
            out.append("s")
        elif f.kind == "table":
            out.append("t")
        else:
            raise RuntimeError(f"no layout character for a {f.kind} field")
    return "".join(out)


def _wrap(items, indent, width=110):
    lines, line = [], indent
    for item in items:
        if len(line) + len(item) + 1 > width and line.strip():
            lines.append(line.rstrip())
            line = indent
        line += item + " "
    if line.strip():
        lines.append(line.rstrip())
    return lines


def generate():
    mod = importlib.import_module(SCHEMA_MODULE)
    litert_version = importlib.metadata.version("ai-edge-litert")

    objs = [(name, obj) for name, obj in vars(mod).items() if inspect.isclass(obj) and obj.__module__ == mod.__name__]
    enums = [(name, obj) for name, obj in objs if _is_enum(obj)]
    tables = [(name, obj) for name, obj in objs if _is_table(obj)]
    table_info = {name: _table_fields(mod, cls) for name, cls in tables}

    L = []
    w = L.append
    w("// GENERATED FILE, DO NOT EDIT. Regenerate with:")
    w("//   python tools/gen_schema_tables.py -o cpp/src/model/schema_tables.inc")
    w(f"// Source: {SCHEMA_MODULE} of ai-edge-litert {litert_version}, the flatc-generated")
    w("// Python module of the TFLite schema; see the script for how it is read.")
    w("// tests/test_schema_tables.py fails when this file and the installed schema disagree.")
    w("//")
    w("// Include it through model/schema.h (flatbuffer_reader.h first: the fb:: descriptor types).")
    w("")
    w("namespace edgerun {")
    w("namespace schema {")
    w("")
    w("// ---------------------------------------------------------------------------")
    w("// Enums (flatc C++ naming: <Enum>_<VALUE>, <Enum>_MIN, <Enum>_MAX)")
    w("// ---------------------------------------------------------------------------")
    for name, cls in enums:
        members = _enum_members(cls)
        values = [v for _, v in members]
        w(f"enum {name} : int32_t {{")
        for k, v in members:
            w(f"  {name}_{k} = {v},")
        w(f"  {name}_MIN = {min(values)},")
        w(f"  {name}_MAX = {max(values)},")
        w("};")
    w("")

    for name in NAMED_ENUMS:
        members = _enum_members(getattr(mod, name))
        values = [v for _, v in members]
        assert values == list(range(len(values))), f"{name} is not 0..n-1"
        w(f"// {name} names, index = value.")
        w(f"constexpr const char* k{name}Names[] = {{")
        for line in _wrap([f'"{k}",' for k, _ in members], "    "):
            w(line)
        w("};")
    w("")

    w("// ---------------------------------------------------------------------------")
    w("// Option unions: member table and its layout, one character per field slot:")
    w("//   '1' '2' '4' '8'  scalar of that many bytes")
    w("//   'a' 'b' 'c' 'd'  vector of 1 / 2 / 4 / 8-byte elements (or of offsets: 'c')")
    w("//   's'              string")
    w("//   't'              table")
    w("//   '.'              slot not in the schema any more (deprecated); not read")
    w("// ---------------------------------------------------------------------------")
    for uname in OPTION_UNIONS:
        members = _enum_members(getattr(mod, uname))
        assert [v for _, v in members] == list(range(len(members))), f"{uname} is not 0..n-1"
        w(f"// {uname}: {len(members)} members (index = union type).")
        w(f"constexpr fb::TableLayout k{uname}[] = {{")
        for k, _ in members:
            if k == "NONE":
                w('    {"NONE", ""},')
                continue
            nslots, fields = table_info[k]
            layout = _layout(nslots, fields)
            # fb::Reader::VerifyLayout names (and reads) at most this many slots.
            assert len(layout) <= MAX_LAYOUT_SLOTS, f"{k} has {len(layout)} slots: raise the limit in flatbuffer_reader.cc"
            w(f'    {{"{k}", "{layout}"}},')
        w("};")
    w("")

    w("// ---------------------------------------------------------------------------")
    w("// Tables: kNumSlots and one descriptor per field (slot, and type/default or")
    w("// element size), named as in the generated Python accessors.")
    w("// ---------------------------------------------------------------------------")
    for name, _ in tables:
        nslots, fields = table_info[name]
        w(f"struct {name} {{")
        w(f"  static constexpr int kNumSlots = {nslots};")
        for slot in sorted(fields):
            f = fields[slot]
            if f.kind == "scalar":
                w(f"  static constexpr fb::ScalarField<{f.ctype}> {f.name}{{{slot}, {_cpp_default(f.ctype, f.default)}}};")
            elif f.kind == "vector":
                w(f"  static constexpr fb::VectorField {f.name}{{{slot}, {f.size}}};")
            elif f.kind == "string":
                w(f"  static constexpr fb::StringField {f.name}{{{slot}}};")
            else:  # table, union
                w(f"  static constexpr fb::TableField {f.name}{{{slot}}};")
        w("};")
    w("")
    w("}  // namespace schema")
    w("}  // namespace edgerun")
    return "\n".join(L) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-o", "--output", default=DEFAULT_OUT, help="file to write (default: %(default)s)")
    ap.add_argument("--check", action="store_true", help="compare with the file instead of writing it")
    args = ap.parse_args(argv)
    text = generate()
    path = os.path.normpath(args.output)
    if args.check:
        try:
            with open(path, encoding="utf-8", newline="") as f:
                old = f.read()
        except FileNotFoundError:
            old = ""
        if old != text:
            sys.stdout.writelines(difflib.unified_diff(old.splitlines(True), text.splitlines(True), path, "generated"))
            print(f"{path} is out of date: regenerate with tools/gen_schema_tables.py", file=sys.stderr)
            return 1
        return 0
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
