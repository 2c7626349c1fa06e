"""What a function of the package does with each of its parameters: releases it, keeps it, or borrows it.

Passing a resource to a function of the same package consults that function
instead of guessing: a helper that closes its argument (``closeQuietly(f)``)
releases it; one that returns it, stores it or hands it on keeps it; one
that only reads it borrows it, and the caller still has to release it.  A
callee that is not a function of the file (an unknown external one) gets the
benefit of the doubt: :func:`callee_summary` answers None.

The callee is looked for in the file, then in the package's other files
(:mod:`.declared`, given the package's ``siblings``).  A method is known
only when it is called on the receiver of the method around the call
(``e.attach(f)`` inside ``func (e *Email) ...``) and that type declares it:
without types, ``x.m(f)`` on any other value may call the method of an
interface (``m.deps.StartCPUProfile(f)``) whatever the package's own ``m`` does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace

from tree_sitter import Node

from golsp_leaks.goanalysis.dataflow.channels import channel_uses
from golsp_leaks.goanalysis.dataflow.engine import Paths, follow
from golsp_leaks.goanalysis.dataflow.escapes import leaves
from golsp_leaks.goanalysis.dataflow.ownership import Releases, Use, classify
from golsp_leaks.goanalysis.libraries.frameworks import receiver
from golsp_leaks.goanalysis.libraries.sqlflow import next_loops, rows_read_to_end
from golsp_leaks.goanalysis.names.scopes import RECEIVER, Declaration, bindings
from golsp_leaks.goanalysis.summaries.declared import (
    Sibling,
    declarations,
    declared_names,
    sibling_file,
    text_matches,
)
from golsp_leaks.goanalysis.syntax.nodes import enclosing_function, function_named, text, walk
from golsp_leaks.goanalysis.syntax.parse import cursor

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


def _callee(call: Node, node: Node, source: bytes, package: Sequence[Sibling] = ()) -> tuple[Node, bytes] | None:
    """The function of the package that ``call`` calls, with the source of its file.

    ``helper(x)``: a function of the file, else the one function of that name in the
    package's other files.  ``r.m(x)``: ``r`` is the receiver of the method around
    the call and ``m`` a method of the receiver's type, in the file or the others.
    """
    function = call.child_by_field_name("function")
    if function is None:
        return None
    if function.type == "identifier":
        name = text(function)
        own = function_named(name, node, source)
        if own is not None:
            return own, source
        found = declarations(package, name) if package else []
        return (found[0].decl, found[0].source) if len(found) == 1 else None
    if function.type != "selector_expression":
        return None
    operand = function.child_by_field_name("operand")
    field = function.child_by_field_name("field")
    if operand is None or field is None or operand.type != "identifier":
        return None
    return _method_on_receiver(call, operand, text(field), source, package)


def _method_on_receiver(
    call: Node, operand: Node, name: str, source: bytes, package: Sequence[Sibling]
) -> tuple[Node, bytes] | None:
    func = enclosing_function(call)
    while func is not None and func.type != "method_declaration":
        func = enclosing_function(func)
    recv = receiver(func) if func is not None else None
    if func is None or recv is None or not recv[1] or recv[0] != text(operand):
        return None
    declaration = bindings(func, source).of(operand)
    if declaration is None or declaration.kind != RECEIVER:
        return None  # shadowed
    root = func
    while root.parent is not None:
        root = root.parent
    own = [
        d for d in root.named_children
        if d.type == "method_declaration" and text(d.child_by_field_name("name")) == name and _type_of(d) == recv[1]
    ]
    found = [(d, source) for d in own] + [(d.decl, d.source) for d in declarations(package, name, recv[1])]
    return found[0] if len(found) == 1 else None


def _type_of(method: Node) -> str:
    recv = receiver(method)
    return recv[1] if recv is not None else ""


#: Answers of :func:`param_use` for one question's ``releases``, by the callee's source (its id:
#: the value keeps the text alive), its span, the parameter and the depth.
_Memo = dict[tuple[int, int, int, int, int], tuple[bytes, "Use | None"]]


def param_use(
    func: Node,
    index: int,
    releases: Releases,
    source: bytes,
    depth: int = 0,
    package: Sequence[Sibling] = (),
    memo: _Memo | None = None,
) -> Use | None:
    """What ``func`` does with its ``index``-th parameter, judged with ``releases``; None when unknown.

    ``memo`` keeps the answers about the callees reached on the way, for the same ``releases``:
    every mention of the value a function passes on asks about its callee again."""
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
    if memo is None:
        memo = {}
    inner = replace(releases, callee=_hook(func, source, releases, depth + 1, package, memo)) if depth < _DEPTH else releases
    uses = {classify(mention, inner, func, source) for mention in resolved.uses_of(declaration, body)}
    if Use.RELEASE in uses:
        return Use.RELEASE
    if Use.TRANSFER in uses:
        return Use.TRANSFER
    if releases.next_closes and _read_to_end(func, declaration, source):
        return Use.RELEASE
    return Use.BORROW


def _read_to_end(func: Node, declaration: Declaration, source: bytes) -> bool:
    """Does every path through ``func`` leave a ``for rows.Next() { ... }`` loop (``rows``: ``declaration``) by its condition?"""
    loops = next_loops(func, declaration, source)
    if not loops:
        return False
    report = follow(func, Paths(func, released=rows_read_to_end(loops)), source=source)
    return not report.missed and not report.falls_off_end_unused


def ignores_argument(call: Node, index: int, source: bytes) -> bool:
    """Does the function of the file that ``call`` calls never use its ``index``-th parameter
    (named ``_``, or used nowhere in its body)?  False when the callee is not known."""
    function = call.child_by_field_name("function")
    found = _callee(call, call, source) if function is not None and function.type == "identifier" else None
    callee = found[0] if found is not None else None
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


def channel_argument_uses(call: Node, index: int, source: bytes, package: Sequence[Sibling] = ()) -> frozenset[str] | None:
    """What the package's function that ``call`` calls does with the channel it gets as its
    ``index``-th argument (see :func:`golsp_leaks.goanalysis.dataflow.channels.channel_uses`);
    None when the callee is not known or does more with it (a variadic parameter included)."""
    found = _callee(call, call, source, package)
    if found is None:
        return None
    callee = found[0]
    param = _parameter(callee, index)
    if param is None or text(param) == "_" or (param.parent is not None and param.parent.type == "variadic_parameter_declaration"):
        return None
    return channel_uses(callee, text(param))


def _hook(
    node: Node, source: bytes, releases: Releases, depth: int, package: Sequence[Sibling], memo: _Memo
) -> Callable[[Node, int], Use | None]:
    def summary(call: Node, index: int) -> Use | None:
        found = _callee(call, node, source, package)
        if found is None or depth > _DEPTH:
            return None
        callee, callee_source = found
        key = (id(callee_source), callee.start_byte, callee.end_byte, index, depth)
        known = memo.get(key)
        if known is None:
            known = memo[key] = (
                callee_source,
                param_use(callee, index, releases, callee_source, depth, package, memo),
            )
        return known[1]

    return summary


def callee_summary(root: Node, source: bytes, releases: Releases, package: Sequence[Sibling] = ()) -> Releases:
    """``releases``, knowing what the functions of the package do with their arguments: those of
    the file ``root``, and of the package's other files ``package`` (``PackageFacts.siblings``);
    and which of its struct types only wrap a resource without being able to release it."""
    return replace(
        releases, callee=_hook(root, source, releases, 0, package, {}), holder=_holder_hook(root, source, package)
    )


#: Methods through which a wrapper could release what it holds.
_RELEASING_METHODS = frozenset({"Close", "Stop", "Shutdown", "Release", "Rollback", "Commit", "Cancel", "Free"})
_STRUCTS = "(type_spec name: (type_identifier) @name type: (struct_type) @struct)"


def _holder_hook(root: Node, source: bytes, package: Sequence[Sibling]) -> Callable[[Node], Use | None]:
    def holder(literal: Node) -> Use | None:
        """``&countingReader{reader: f}``: BORROW when the type is a struct of the package with no
        embedded field and no releasing method, and the value never leaves the function."""
        type_node = literal.child_by_field_name("type")
        if type_node is None or type_node.type != "type_identifier":
            return None
        name = text(type_node)
        if not _plain_struct(name, root, package) or _releasing(name, root, package):
            return None
        value = literal.parent if literal.parent is not None and literal.parent.type == "unary_expression" else literal
        func = enclosing_function(literal)
        if func is None or leaves(value, func, source) or _captured(value, func):
            return None
        return Use.BORROW

    return holder


def _captured(value: Node, func: Node) -> bool:
    """Is the variable ``value`` is assigned to mentioned in a function literal (which may outlive the call)?"""
    stmt = value.parent
    if stmt is not None and stmt.type == "expression_list":
        stmt = stmt.parent
    if stmt is None:
        return False
    if stmt.type == "var_spec":
        targets = stmt.children_by_field_name("name")
    elif stmt.type in ("short_var_declaration", "assignment_statement"):
        left = stmt.child_by_field_name("left")
        targets = list(left.named_children) if left is not None else []
    else:
        return False
    names = {t.text for t in targets if t.type == "identifier"}
    return any(
        node.type == "func_literal" and any(n.type == "identifier" and n.text in names for n in walk(node))
        for node in walk(func)
    )


def _plain_struct(name: str, root: Node, package: Sequence[Sibling]) -> bool:
    """Is ``name`` a struct type declared once in the package, every field of it named (none embedded)?"""
    found: list[Node] = []
    for file_root in _roots_declaring_type(name, root, package):
        for _, captures in cursor(_STRUCTS).matches(file_root):
            if text(captures["name"][0]) == name:
                found.append(captures["struct"][0])
    if len(found) != 1:
        return False
    fields = found[0].named_children[0] if found[0].named_child_count else None
    declarations = [f for f in fields.named_children if f.type == "field_declaration"] if fields is not None else []
    return all(d.child_by_field_name("name") is not None for d in declarations)


def _roots_declaring_type(name: str, root: Node, package: Sequence[Sibling]) -> list[Node]:
    roots = [root]
    wanted = re.compile(rb"\b" + re.escape(name.encode()) + rb"\s+struct\b")
    for sibling in package:
        file = sibling_file(sibling) if text_matches(sibling, wanted, name.encode()) else None
        if file is not None:
            roots.append(file.root)
    return roots


def _releasing(name: str, root: Node, package: Sequence[Sibling]) -> bool:
    """Does the type have a method (in the file or the others) through which it could release what it holds?"""
    for decl in root.named_children:
        if (
            decl.type == "method_declaration"
            and _type_of(decl) == name
            and text(decl.child_by_field_name("name")) in _RELEASING_METHODS
        ):
            return True
    return any(
        method in _RELEASING_METHODS and receiver_type == name
        for sibling in package
        for method, receiver_type in declared_names(sibling)
    )
