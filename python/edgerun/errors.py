"""Exceptions raised by edgerun.

Every error edgerun raises derives from :class:`Error`; each also derives from the
builtin exception a caller would naturally catch (``ValueError`` for bad models and
bad inputs, ``RuntimeError`` for failures while running).
"""

from __future__ import annotations

import re
from typing import Any, List

__all__ = [
    "Error",
    "ModelError",
    "InputError",
    "InferenceError",
    "DelegateError",
    "RuntimeLoadError",
    "BusyError",
    "ClosedError",
    "DependencyError",
]


class Error(Exception):
    """Base class of all edgerun errors.

    A message that carries the LiteRT runtime's own error text (multi-line TFLite logs)
    is tidied here, the one place every error passes through: it leads with one line
    of edgerun's (what failed, which operator, what to do), and the runtime's lines
    follow on a second line, joined, without the links to tensorflow.org guides.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if len(args) == 1 and isinstance(args[0], str):
            args = (tidy_runtime_message(args[0]),)
        super().__init__(*args, **kwargs)


class ModelError(Error, ValueError):
    """The model is corrupted, malformed, or uses something the runtime cannot run."""


class InputError(Error, ValueError):
    """An argument (array, index, name, shape, option) is not what was expected."""


class InferenceError(Error, RuntimeError):
    """The runtime failed while running the model (its own message is included)."""


class DelegateError(Error, RuntimeError):
    """An accelerator or delegate could not be loaded or applied."""


class RuntimeLoadError(Error, ImportError):
    """The LiteRT runtime (libLiteRt.so) could not be found, loaded or resolved."""


class BusyError(Error, RuntimeError):
    """The operation would replace memory that live zero-copy views still point at."""


class ClosedError(Error, RuntimeError):
    """The session (or pipeline) was closed."""


class DependencyError(Error, ImportError):
    """An optional dependency is missing (the message says what to install)."""


# --------------------------------------------------------------------------- runtime text
# LiteRtStatus names as the core writes them ("... failed (runtime failure): <runtime text>",
# "...: runtime failure: <runtime text>"); cpp/src/runtime/litert_api.cc LiteRtStatusName.
_STATUS_NAMES = ("invalid argument", "memory allocation failure", "runtime failure", "missing input tensor",
                 "unsupported", "not found", "timeout expired", "wrong version", "unknown error",
                 "already exists", "cancelled", "file I/O error", "invalid flatbuffer", "dynamic loading error",
                 "serialization error", "compilation error", "index out of bounds", r"status -?\d+")
_STATUS_MARK = re.compile(r"(?:\((?:%s)\)|: (?:%s)): " % ("|".join(_STATUS_NAMES), "|".join(_STATUS_NAMES)))
# Sentences the TFLite runtime starts its log lines with; the runtime sometimes glues one to
# the end of the previous message ("... this runtimeNode number 27 (...) failed to prepare").
_LINE_STARTS = re.compile(r"(?<=[a-z.)])(?=Node number \d|Encountered unresolved|Failed to |See instructions|"
                          r"Didn't find op|Op builtin_code out of range|Internal error)")
_NODE = re.compile(r"Node number (\d+) \(([^)]*)\) failed to (prepare|invoke)")
_CUSTOM = re.compile(r"(?:Encountered unresolved custom op|Didn't find custom operator for name):? '?([^'\s]+?)'?[.]?(?:\s|$)")
_GUIDE = re.compile(r"^(?:See instructions:\s*)?https?://\S+\s*$|^See instructions:")
_DETAIL = "\n  runtime log: "


def _runtime_lines(text: str) -> List[str]:
    lines = []
    for raw in _LINE_STARTS.sub("\n", text).splitlines():
        line = raw.strip()
        if not line or _GUIDE.match(line):
            continue
        line = re.sub(r"\s*\(?(?:see )?https?://\S*tensorflow\.org\S*\)?", "", line).strip()
        if line:
            lines.append(line.rstrip("."))
    return lines


def tidy_runtime_message(message: str) -> str:
    """``message`` with the runtime's text made readable; unchanged when it holds none.

    Idempotent (an exception's message goes through here again when it is pickled)."""
    if _DETAIL in message:
        return message
    marks = list(_STATUS_MARK.finditer(message.split("\n", 1)[0]))
    if not marks:
        return message
    mark = marks[-1]
    # "...: runtime failure: <text>" -> "..."; "... failed (runtime failure): <text>" keeps "(...)"
    context = message[:mark.end() if mark.group(0).startswith("(") else mark.start()].rstrip(": ")
    runtime = message[mark.end():]
    if "\n" not in runtime and not _LINE_STARTS.search(runtime) and "://" not in runtime:
        return message  # one plain line already
    lines = _runtime_lines(runtime)
    if not lines:
        return context
    text = "\n".join(lines)
    custom, node = _CUSTOM.search(text), _NODE.search(text)
    first = next((l for l in lines if not _NODE.fullmatch(l)), lines[0])
    if custom:
        op = custom.group(1).rstrip(".")
        where = f" (node {node.group(1)})" if node else ""
        lead = (f"{context}: the model uses custom operator '{op}'{where}, which this runtime does not "
                f"implement; attach a delegate plugin that provides it (edgerun.Delegate, or --delegate "
                f"on the command line) or convert the model without it")
    elif node and node.group(3) == "invoke":
        lead = (f"{context}: operator {node.group(2)} (node {node.group(1)}) failed while running: {first}; "
                f"check the input values (an index or size out of range for this model?)")
    elif node:
        lead = (f"{context}: operator {node.group(2)} (node {node.group(1)}) cannot be prepared: {first}; "
                f"this runtime does not support the operator with these options, types or shapes")
    else:
        lead = f"{context}: {first}"
    return lead + _DETAIL + "; ".join(lines)
