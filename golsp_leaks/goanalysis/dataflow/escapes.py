"""Routes by which a value outlives the statements that would release it.

Two questions the fixes must not get wrong:

* :func:`kept_by_wrappers` — a stream handed to a reader or writer that keeps it
  (``bufio.NewReader(resp.Body)``, ``json.NewDecoder(f)``) whose wrapper then
  leaves the function (returned, stored in a field or a package variable, sent,
  given to a goroutine): closing the stream when the function returns would
  break whoever reads through the wrapper.
* :func:`used_after_loop` — values a loop body releases with ``defer`` that
  code after the loop still uses (a variable declared before the loop, or one
  the body copies its value to): running the body's defers at the end of each
  iteration would close them before that use.

And :func:`later_defer` / :func:`reassigned`: a fix that moves a later
``defer f.Close()`` up to the acquisition must not move it past a new
assignment of ``f``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from tree_sitter import Node

from golsp_leaks.goanalysis.names.scopes import (
    RESULT,
    Declaration,
    declaration_of,
    occurrences,
    same,
)
from golsp_leaks.goanalysis.syntax.nodes import statements, walk

#: Calls whose result reads or writes through the stream they are given, and keeps it.
STREAM_WRAPPERS = frozenset(
    {
        ("bufio", "NewReader"),
        ("bufio", "NewReaderSize"),
        ("bufio", "NewScanner"),
        ("bufio", "NewWriter"),
        ("bufio", "NewWriterSize"),
        ("bufio", "NewReadWriter"),
        ("json", "NewDecoder"),
        ("json", "NewEncoder"),
        ("xml", "NewDecoder"),
        ("xml", "NewEncoder"),
        ("gob", "NewDecoder"),
        ("gob", "NewEncoder"),
        ("csv", "NewReader"),
        ("csv", "NewWriter"),
        ("gzip", "NewReader"),
        ("gzip", "NewWriter"),
        ("zlib", "NewReader"),
        ("zlib", "NewWriter"),
        ("tar", "NewReader"),
        ("tar", "NewWriter"),
        ("zip", "NewWriter"),
        ("io", "LimitReader"),
        ("io", "TeeReader"),
        ("io", "MultiReader"),
        ("io", "MultiWriter"),
        ("io", "NewSectionReader"),
        ("io", "NopCloser"),
    }
)

#: Nodes through which a value is kept as it is: ``&T{r: v}``, ``(v)``.
_KEEPING = frozenset(
    {"parenthesized_expression", "keyed_element", "literal_element", "literal_value", "composite_literal"}
)
_LEAVING = frozenset({"return_statement", "send_statement", "go_statement"})


def _wrapper(call: Node) -> bool:
    function = call.child_by_field_name("function")
    if function is None or function.type != "selector_expression":
        return False
    operand = function.child_by_field_name("operand")
    field = function.child_by_field_name("field")
    if operand is None or field is None or operand.type != "identifier":
        return False
    return ((operand.text or b"").decode(), (field.text or b"").decode()) in STREAM_WRAPPERS


def root_identifier(node: Node) -> Node | None:
    """The identifier ``resp`` of ``resp``, ``resp.Body`` or ``(resp.Body)``; None for anything else."""
    while node.type in ("selector_expression", "parenthesized_expression"):
        inner = node.child_by_field_name("operand") if node.type == "selector_expression" else node.named_child(0)
        if inner is None:
            return None
        node = inner
    return node if node.type == "identifier" else None


def _is(node: Node | None, variable: Declaration, source: bytes) -> bool:
    """Is ``node`` an identifier naming ``variable`` (resolved with scopes, not by its spelling)?"""
    return (
        node is not None
        and node.type == "identifier"
        and node.text == variable.name.encode()
        and same(declaration_of(node, source), variable)
    )


def _wraps(call: Node, variable: Declaration, source: bytes) -> bool:
    args = call.child_by_field_name("arguments")
    return (
        _wrapper(call)
        and args is not None
        and any(_is(root_identifier(a), variable, source) for a in args.named_children)
    )


def kept_by_wrappers(func: Node, variable: Declaration, source: bytes) -> list[Node]:
    """Where a wrapper of the stream held by ``variable`` leaves ``func`` (the nodes, on the paths that reach them)."""
    return _kept(func, lambda node: node.type == "call_expression" and _wraps(node, variable, source), source)


def kept_by_holders(func: Node, variable: Declaration | None, source: bytes) -> list[Node]:
    """Where a value holding ``name`` leaves ``func``: a call's result given it (``WithInstance(db, cfg)``),
    or a composite literal with it as an element (``&Store{db: db}``).

    For a connection pool: such a holder is presumed to keep it (a driver, a
    store, a repository made around it), so closing it when the function
    returns would close it under the value returned.
    """
    if variable is None:
        return []
    found = variable

    def holds(node: Node) -> bool:
        if node.type == "call_expression":
            args = node.child_by_field_name("arguments")
            return args is not None and any(_is(a, found, source) for a in args.named_children)
        if node.type == "composite_literal":
            body = node.child_by_field_name("body")
            elements = [e.named_children[-1] for e in body.named_children if e.named_child_count] if body else []
            values = [v.named_child(0) if v.type == "literal_element" and v.named_child_count else v for v in elements]
            return any(_is(v, found, source) for v in values)
        return False

    return _kept(func, holds, source)


def leaves(value: Node, func: Node, source: bytes) -> list[Node]:
    """Where ``value`` (or the variable it is assigned to) leaves ``func``: returned, sent, stored,
    captured by a closure, or handed to a wrapper that does; empty when it is only read through."""
    return _leaves(value, func, source, follow=True)


def _kept(func: Node, calls: Callable[[Node], bool], source: bytes) -> list[Node]:
    body = func.child_by_field_name("body")
    if body is None:
        return []
    found: list[Node] = []
    for node in walk(body, into_functions=False):
        if calls(node):
            found.extend(_leaves(node, func, source, follow=True))
    return found


def _leaves(value: Node, func: Node, source: bytes, *, follow: bool) -> list[Node]:
    """Where ``value`` (a wrapper, or a variable holding one) leaves the function: itself, or later uses."""
    current = value.parent
    while current is not None and current != func:
        kind = current.type
        if kind in _LEAVING:
            return [value]
        if kind == "func_literal":
            return [value]  # captured by a closure that may outlive the call
        if kind == "call_expression":
            if not _wrapper(current):
                return []  # read or written through, not kept: io.Copy(w, r), r.Read(p)
        elif kind in ("assignment_statement", "short_var_declaration", "var_spec"):
            return _assigned(current, value, func, source, follow=follow)
        elif kind not in _KEEPING and kind not in ("argument_list", "unary_expression", "expression_list"):
            return []  # a method call on it, an operator, a statement that only uses it
        current = current.parent
    return []


def _assigned(stmt: Node, value: Node, func: Node, source: bytes, *, follow: bool) -> list[Node]:
    right = stmt.child_by_field_name("right") if stmt.type != "var_spec" else stmt.child_by_field_name("value")
    if right is None or not (right.start_byte <= value.start_byte and value.end_byte <= right.end_byte):
        return []
    if stmt.type == "var_spec":
        targets = stmt.children_by_field_name("name")
    else:
        left = stmt.child_by_field_name("left")
        targets = list(left.named_children) if left is not None else []
    values = right.named_children if right.type == "expression_list" else [right]
    if len(values) == len(targets):
        targets = [t for t, v in zip(targets, values, strict=True) if v.start_byte <= value.start_byte < v.end_byte]
    elif len(targets) > 1 and (targets[-1].text or b"").lower().endswith(b"err"):
        targets = targets[:-1]  # `x, err := f(...)`: the error does not hold the value
    found: list[Node] = []
    for target in targets:
        if target.type != "identifier":
            return [value]  # stored in a field, a map or a slice
        variable = declaration_of(target, source)
        if stmt.type == "assignment_statement" and not _declared_in(func, variable):
            return [value]  # a package variable, an outer variable or a named result
        if follow and variable is not None:
            found.extend(_later_leaves(func, variable, stmt, source))
    return found


def _later_leaves(func: Node, variable: Declaration, after: Node, source: bytes) -> list[Node]:
    found: list[Node] = []
    for node in occurrences(variable, func, source):
        if node.start_byte >= after.end_byte:
            found.extend(_leaves(node, func, source, follow=False))
    return found


def _declared_in(func: Node, variable: Declaration | None) -> bool:
    """Is ``variable`` declared by ``func`` itself (a parameter, a ``:=`` or a ``var``), not as a named result?

    Not when it is an enclosing function's, a package-level variable, or unknown."""
    if variable is None or variable.package_level or variable.kind == RESULT:
        return False
    node = variable.node
    if not (func.start_byte <= node.start_byte < func.end_byte):
        return False
    owner = node.parent
    while owner is not None and owner.type not in ("func_literal", "function_declaration", "method_declaration"):
        owner = owner.parent
    return owner == func


def used_after_loop(loop: Node, func: Node, released: list[Declaration], source: bytes) -> bool:
    """Does code after ``loop``'s iteration use a value its body releases (``released``: the released variables)?

    A released variable handed to a goroutine or sent on a channel in the body;
    one declared outside the body, or a variable outside the body that the body
    copies a released value to (``last = f``, ``files = append(files, f)``,
    ``s.f = f``), used after the loop.  Variables are known by their declarations:
    one of the same name declared elsewhere is another variable.
    """
    body = loop.child_by_field_name("body")
    if body is None or not released:
        return False

    def releasing(node: Node) -> bool:
        return any(n.type == "identifier" and any(_is(n, d, source) for d in released) for n in walk(node))

    for node in walk(body, into_functions=False):
        if node.type in ("go_statement", "send_statement") and releasing(node):
            return True  # a goroutine (or a receiver) still uses it after the iteration
    outer = [d for d in released if not _within(d.node, loop)]
    for node in walk(body, into_functions=False):
        if node.type != "assignment_statement":
            continue
        left = node.child_by_field_name("left")
        right = node.child_by_field_name("right")
        if left is None or right is None or not releasing(right):
            continue
        for target in left.named_children:
            operand = target.child_by_field_name("operand") if target.type == "index_expression" else target
            root = root_identifier(operand) if operand is not None else None
            if root is None or root.text == b"_":
                continue  # thrown away, or not a variable (a call's result, an index of one)
            variable = declaration_of(root, source)
            if variable is None:
                return True  # declared in another file: it may well be used after the loop
            if not _within(variable.node, loop):
                outer.append(variable)
    return any(n.start_byte >= loop.end_byte for d in outer for n in occurrences(d, func, source))


def _within(node: Node, outer: Node) -> bool:
    return outer.start_byte <= node.start_byte and node.end_byte <= outer.end_byte


_NAME = re.compile(r"(?<![.\w])[A-Za-z_]\w*")


def reassigned(scope: Node, call: str, start: int, end: int) -> bool:
    """Is a variable that ``call`` mentions (``f`` of ``f.Close()``) assigned again between ``start`` and ``end``?

    Then a ``defer <call>`` there is about the new value: moving it before the
    assignment would release the old one instead, and leak the new one.
    """
    names = set(_NAME.findall(call))
    for node in walk(scope):
        if node.start_byte < start or node.start_byte >= end:
            continue
        if node.type in ("assignment_statement", "short_var_declaration", "range_clause"):
            left = node.child_by_field_name("left")
            if left is not None and any((n.text or b"").decode() in names for n in walk(left) if n.type == "identifier"):
                return True
    return False


def later_defer(anchor: Node, call: str) -> Node | None:
    """A ``defer <call>`` later in the statement list of ``anchor`` that can move up to it.

    Not one that follows a new assignment of what ``call`` releases.
    """
    block = anchor.parent
    if block is None or block.type != "statement_list":
        return None
    wanted = f"defer{call}".replace(" ", "")
    seen = False
    for sibling in statements(block):
        if sibling == anchor:
            seen = True
            continue
        if seen and sibling.type == "defer_statement" and (sibling.text or b"").decode().replace(" ", "") == wanted:
            return None if reassigned(block, call, anchor.end_byte, sibling.start_byte) else sibling
    return None
