"""A griffe extension for the API reference (mkdocs.yml).

Defaults read from the C++ options (``top_k: int = _CLASSIFIER.top_k``) are shown as
their values (``top_k: int = 5``) when the package is importable (installed); otherwise
as written.

The docstrings use Sphinx roles (:class:`~edgerun.Session`, :func:`edgerun.inspect`,
:meth:`close`); Markdown has none.

A role naming an ``edgerun`` object by its full path becomes a cross-reference to the
object's canonical path (``edgerun.Session`` -> ``edgerun.session.Session``), which
mkdocs-autorefs checks: ``mkdocs build --strict`` fails on a reference to something the
reference does not document, or to a name that no longer exists. Roles with a relative name
(:meth:`close`) and module roles become inline code."""

from __future__ import annotations

import importlib
import re
from typing import Any, Dict, Optional

import griffe

_ROLE = re.compile(r":(class|func|meth|attr|mod|exc|data|obj):`(~?)([^`<>]+?)`")


def _canonical(root: griffe.Object, path: str) -> Optional[str]:
    """The canonical path of ``path`` (through re-exports), or None when it names nothing."""
    obj: Any = root
    try:
        for part in path.split(".")[1:]:
            if isinstance(obj, griffe.Alias):
                obj = obj.final_target
            obj = obj.members[part]
        if isinstance(obj, griffe.Alias):
            obj = obj.final_target
    except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError):
        return None
    return obj.path


def _convert(root: griffe.Object, text: str) -> str:
    def repl(m: re.Match[str]) -> str:
        role, short, target = m.group(1), m.group(2), m.group(3).strip()
        title = target.rsplit(".", 1)[-1] if short else target
        if role == "mod" or not target.startswith(root.name + "."):
            return f"`{title}`"
        # A name that resolves to nothing is left as written: autorefs then reports it.
        return f"[`{title}`][{_canonical(root, target) or target}]"

    return _ROLE.sub(repl, text)


def _walk(obj: griffe.Object) -> Any:
    yield obj
    for member in obj.members.values():
        if not isinstance(member, griffe.Alias):
            yield from _walk(member)


_OPTIONS_DEFAULT = re.compile(r"_[A-Z][A-Z_]*\.\w+")  # e.g. _CLASSIFIER.top_k, _DEFAULTS.depth


def _resolve_defaults(func: griffe.Function, namespaces: Dict[str, Any]) -> None:
    for param in func.parameters:
        text = str(param.default) if param.default is not None else ""
        if not _OPTIONS_DEFAULT.fullmatch(text):
            continue
        module = func.module.path
        if module not in namespaces:
            try:
                namespaces[module] = vars(importlib.import_module(module))
            except Exception:  # not installed: keep the expression
                namespaces[module] = None
        ns = namespaces[module]
        if ns is None:
            continue
        base, attr = text.split(".")
        try:
            param.default = repr(getattr(ns[base], attr))
        except (KeyError, AttributeError):
            pass


class SphinxRoles(griffe.Extension):
    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        namespaces: Dict[str, Any] = {}
        for obj in _walk(pkg):
            if obj.docstring is not None:
                obj.docstring.value = _convert(pkg, obj.docstring.value)
            if isinstance(obj, griffe.Function):
                _resolve_defaults(obj, namespaces)
