"""What a function of the package does with each of its parameters: releases it, keeps it, or borrows it.

Passing a resource to a function of the same package consults that function
instead of guessing: a helper that closes its argument (``closeQuietly(f)``)
releases it; one that returns it, stores it or hands it on keeps it; one
that only reads it borrows it, and the caller still has to release it.  A
callee that is not a function of the file (an unknown external one) gets the
benefit of the doubt: :func:`callee_summary` answers None.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from tree_sitter import Node

from golsp_leaks.goanalysis.dataflow.engine import Paths, follow
from golsp_leaks.goanalysis.dataflow.ownership import Releases, Use, classify
from golsp_leaks.goanalysis.libraries.sqlflow import next_loops, rows_read_to_end
from golsp_leaks.goanalysis.names.scopes import bindings
from golsp_leaks.goanalysis.syntax.nodes import function_named, text

_DEPTH = 3


def _parameter(func: Node, index: int) -> Node | None:
    """The identifier of the ``index``-th parameter (the variadic one for any index past it)."""
    params = func.child_by_field_name("parameters")
    names: list[Node] = []
    for param in params.named_children if params is not None else []:
        if param.type in ("parameter_declaration", "variadic_parameter_declaration"):
            declared = param.children_by_field_name("name")
            if not declared:
                return None  # unnamed parameters: nothing can use them
            names.extend(declared)
            if param.type == "variadic_parameter_declaration":
                return names[min(index, len(names) - 1)] if index >= 0 else None
    return names[index] if 0 <= index < len(names) else None


def _callee(call: Node, node: Node, source: bytes) -> Node | None:
    """The function of the file that ``call`` calls: ``helper(x)``.

    Not methods: without types, ``x.m(f)`` may call the method of an interface
    (``m.deps.StartCPUProfile(f)``) whatever the file's own ``m`` does.
    """
    function = call.child_by_field_name("function")
    if function is None or function.type != "identifier":
        return None
    return function_named(text(function), node, source)


def param_use(func: Node, index: int, releases: Releases, source: bytes, depth: int = 0) -> Use | None:
    """What ``func`` does with its ``index``-th parameter, judged with ``releases``; None when unknown."""
    param = _parameter(func, index)
    if param is None:
        return None
    resolved = bindings(func, source)
    declaration = resolved.of(param)
    if declaration is None:
        return None
    body = func.child_by_field_name("body")
    if body is None:
        return None  # declared without a body (assembly, linkname): unknown
    inner = replace(releases, callee=_hook(func, source, releases, depth + 1)) if depth < _DEPTH else releases
    mentions = resolved.uses_of(declaration, body)
    uses = {classify(mention, inner, func) for mention in mentions}
    if Use.RELEASE in uses:
        return Use.RELEASE
    if Use.TRANSFER in uses:
        return Use.TRANSFER
    if releases.next_closes and _read_to_end(func, declaration.name, source):
        return Use.RELEASE
    return Use.BORROW


def _read_to_end(func: Node, name: str, source: bytes) -> bool:
    """Does every path through ``func`` leave a ``for name.Next() { ... }`` loop by its condition?"""
    loops = next_loops(func, name)
    if not loops:
        return False
    report = follow(func, Paths(func, released=rows_read_to_end(loops)), source=source)
    return not report.missed and not report.falls_off_end_unused


def ignores_argument(call: Node, index: int, source: bytes) -> bool:
    """Does the function of the file that ``call`` calls never use its ``index``-th parameter
    (named ``_``, or used nowhere in its body)?  False when the callee is not known."""
    callee = _callee(call, call, source)
    body = callee.child_by_field_name("body") if callee is not None else None
    if callee is None or body is None:
        return False
    param = _parameter(callee, index)
    if param is None:
        return False
    if text(param) == "_":
        return True
    resolved = bindings(callee, source)
    declaration = resolved.of(param)
    return declaration is not None and not resolved.uses_of(declaration, body)


def _hook(node: Node, source: bytes, releases: Releases, depth: int) -> Callable[[Node, int], Use | None]:
    def summary(call: Node, index: int) -> Use | None:
        callee = _callee(call, node, source)
        if callee is None or depth > _DEPTH:
            return None
        return param_use(callee, index, releases, source, depth)

    return summary


def callee_summary(root: Node, source: bytes, releases: Releases) -> Releases:
    """``releases``, knowing what the functions of the file ``root`` do with their arguments."""
    return replace(releases, callee=_hook(root, source, releases, 0))
