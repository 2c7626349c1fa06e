"""Goroutines and loops: what a goroutine runs, and whether a loop can end.

A loop *has a way out* when its body (nested function literals left out)
holds a ``return``, a ``break`` (or labeled ``continue``) that leaves it, a
``goto``, or a call that never returns (``panic``, ``os.Exit``,
``log.Fatal``, ``runtime.Goexit``...).  A receive from ``ctx.Done()`` or a
stop channel only leads out through one of those, so it needs no case of
its own.
"""

from __future__ import annotations

from collections.abc import Iterator

from tree_sitter import Node

from golsp_leaks.goanalysis.syntax.nodes import (
    FUNCTION_TYPES,
    is_no_return_call,
    label_of,
    outermost_by_keyword,
    statements,
    text,
)
from golsp_leaks.goanalysis.syntax.parse import cursor

_GO_LITERALS = "(go_statement (call_expression function: (func_literal) @literal) @call) @go"
_LOOPS = "(for_statement) @loop"
_EXITS = """
[(return_statement) (break_statement) (continue_statement) (goto_statement)
 (expression_statement (call_expression))] @exit
"""
_BREAK_TARGETS = frozenset(
    {"for_statement", "expression_switch_statement", "type_switch_statement", "select_statement"}
)


def go_literals(node: Node) -> Iterator[tuple[Node, Node]]:
    """``(go statement, function literal)`` for every ``go func() {...}()`` under ``node``."""
    qc = cursor(_GO_LITERALS)
    # Only go statements match: those are queried, not all of the node (see outermost_by_keyword).
    statements = outermost_by_keyword(node, "go", "go_statement")
    for part in statements if statements is not None else (node,):
        for _, captures in qc.matches(part):
            yield captures["go"][0], captures["literal"][0]


def inside_nested_function(node: Node, owner: Node) -> bool:
    """Is ``node`` inside a function literal that is itself inside ``owner`` (``owner`` excluded)?"""
    current = node.parent
    while current is not None and current != owner:
        if current.type in FUNCTION_TYPES:
            return True
        current = current.parent
    return False


def enclosing_loop(node: Node, owner: Node) -> Node | None:
    """The innermost ``for`` around ``node`` inside ``owner``'s own body (not across function literals)."""
    current = node.parent
    while current is not None and current != owner:
        if current.type == "for_statement":
            return current
        if current.type in FUNCTION_TYPES:
            return None
        current = current.parent
    return None


def is_unconditional(loop: Node) -> bool:
    """``for { }`` or ``for ;; { }``: no condition, no range."""
    for child in loop.named_children:
        if child.type == "for_clause":
            return child.child_by_field_name("condition") is None
        if child.type not in ("block", "comment"):
            return False  # a condition or a range clause
    return True


def loop_has_exit(loop: Node) -> bool:
    """Can control leave this loop (other than by a panic in some call)?"""
    body = loop.child_by_field_name("body")
    if body is None:
        return True
    own_label = label_of(loop)
    inner_labels = {
        text(n.child_by_field_name("label"))
        for n in _descendants(body, "labeled_statement")
        if not inside_nested_function(n, loop)
    }
    qc = cursor(_EXITS)
    for _, captures in qc.matches(body):
        node = captures["exit"][0]
        if inside_nested_function(node, loop):
            continue
        kind = node.type
        if kind in ("return_statement", "goto_statement"):
            return True
        if kind == "expression_statement":
            if is_no_return_call(node):
                return True
            continue
        label_node = node.named_children[0] if node.named_child_count else None
        label = text(label_node) if label_node is not None else ""
        if label:
            if label == own_label or label not in inner_labels:
                return True  # leaves this loop, or an outer statement
            continue
        if kind == "break_statement" and _break_target(node, loop) == loop:
            return True
    return False


def _break_target(node: Node, loop: Node) -> Node | None:
    current = node.parent
    while current is not None:
        if current.type in _BREAK_TARGETS:
            return current
        if current == loop:
            return loop
        current = current.parent
    return None


def _descendants(node: Node, kind: str) -> list[Node]:
    qc = cursor(f"({kind}) @n")
    return qc.captures(node).get("n", [])


def endless_loops(body: Node, owner: Node) -> list[Node]:
    """Unconditional loops in ``body`` (owner's own code, not nested literals) that have no way out."""
    qc = cursor(_LOOPS)
    found = []
    for loop in qc.captures(body).get("loop", []):
        if inside_nested_function(loop, owner):
            continue
        if is_unconditional(loop) and not loop_has_exit(loop):
            found.append(loop)
    # An endless loop inside another endless loop is the same leak: keep the outermost.
    outer = [
        loop for loop in found if not any(o != loop and o.start_byte <= loop.start_byte < o.end_byte for o in found)
    ]
    return sorted(outer, key=lambda n: n.start_byte)


def top_statements(loop: Node) -> list[Node]:
    """The statements directly in a loop's body."""
    return statements(loop.child_by_field_name("body"))


def has_results(func: Node) -> bool:
    return func.child_by_field_name("result") is not None
