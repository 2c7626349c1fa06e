"""A counter that says whether a resource is held: batches begun only when the counter is zero.

A loop that batches work in one transaction begins it only when a counter is
zero, counts each item, and resets the counter only after committing::

    for item := range queue {
        if cur == 0 {
            tx, err = db.Begin()
            ...
        }
        ...
        cur++
        if cur%batch == 0 {
            tx.Commit()
            cur = 0
        }
    }
    if cur == 0 {
        return // nothing is left open
    }

On every path that holds the resource the counter is then at least one, so a
branch taken only when it is zero holds nothing.  :func:`counter_guards`
proves that with the path engine before it says so: the acquisition sits in
the consequence of ``if cur == 0``; the counter is a local variable that is
only incremented (``cur++``, ``cur += 1``), reset to zero, or read; every
reset (and its declaration) is reached only with the resource released; and
every test of the counter is reached, while the resource is held, only after
an increment.
"""

from __future__ import annotations

from tree_sitter import Node

from golsp_leaks.goanalysis.dataflow.engine import Paths, follow
from golsp_leaks.goanalysis.names.holders import top_level
from golsp_leaks.goanalysis.names.scopes import bindings
from golsp_leaks.goanalysis.syntax.nodes import FUNCTION_TYPES, inside_statement, text


def counter_guards(
    func: Node, acquire: Node, released: list[int], source: bytes | None
) -> dict[int, tuple[bool, bool]]:
    """``if`` statements of ``func`` (start offset -> consequence, alternative) with a branch on which
    the counter guarding ``acquire`` is zero, so that the resource is not held there; ``released``
    are the start offsets of the places that release or hand it on."""
    guard = _zero_guard(acquire, func) if source is not None else None
    if guard is None or source is None:
        return {}
    counter = _counter(guard)
    if counter is None:
        return {}
    resolved = bindings(top_level(func), source)
    declaration = resolved.of(counter)
    if declaration is None or declaration.package_level:
        return {}
    increments: list[int] = []
    resets: list[int] = [declaration.node.start_byte]
    tests: dict[int, tuple[bool, bool]] = {}
    for use in resolved.uses_of(declaration, top_level(func)):
        if inside_statement(use, func, "func_literal"):
            return {}  # a closure may change it at any time
        kind = _use_kind(use)
        if kind is None:
            return {}
        if kind == "increment":
            increments.append(use.start_byte)
        elif kind == "reset":
            resets.append(use.start_byte)
        elif kind in ("==", "!="):
            statement = use.parent.parent if use.parent is not None else None
            if statement is not None and statement.type == "if_statement":
                tests[statement.start_byte] = (True, False) if kind == "==" else (False, True)
    if not increments or not tests:
        return {}
    # Every reset (and the declaration, which a loop may come back to) only after the release.
    if follow(func, Paths(acquire, released, overwritten=resets), source=source).overwritten:
        return {}
    # Every test of the counter, while the resource is held, only after an increment.
    if follow(func, Paths(acquire, [*released, *increments], overwritten=sorted(tests)), source=source).overwritten:
        return {}
    return tests


def _zero_guard(acquire: Node, func: Node) -> Node | None:
    """The innermost ``if c == 0 { ... }`` whose consequence holds ``acquire``, inside ``func``."""
    current = acquire
    while current.parent is not None and current.parent != func and current.parent.type not in FUNCTION_TYPES:
        parent = current.parent
        if parent.type == "if_statement" and parent.child_by_field_name("consequence") == current:
            condition = parent.child_by_field_name("condition")
            if condition is not None and _compares_to_zero(condition) == "==":
                return condition
            return None
        current = parent
    return None


def _compares_to_zero(expr: Node) -> str | None:
    """``==`` or ``!=`` when ``expr`` is ``name == 0`` / ``name != 0`` (either way round)."""
    if expr.type != "binary_expression":
        return None
    operator = text(expr.child_by_field_name("operator"))
    left, right = expr.child_by_field_name("left"), expr.child_by_field_name("right")
    if operator not in ("==", "!=") or left is None or right is None:
        return None
    if left.type == "int_literal":
        left, right = right, left
    if left.type != "identifier" or right.type != "int_literal" or text(right) != "0":
        return None
    return operator


def _counter(condition: Node) -> Node | None:
    left, right = condition.child_by_field_name("left"), condition.child_by_field_name("right")
    return left if left is not None and left.type == "identifier" else right


def _use_kind(use: Node) -> str | None:
    """What one use does with the counter: "increment", "reset", "==" / "!=" (an ``if`` test of it
    against zero) or "read"; None for anything else that could change it."""
    parent = use.parent
    if parent is None:
        return None
    if parent.type == "inc_statement":
        return "increment"
    if parent.type == "dec_statement":
        return None
    if parent.type == "unary_expression" and text(parent.child_by_field_name("operator")) == "&":
        return None
    if parent.type == "binary_expression":
        kind = _compares_to_zero(parent)
        test = parent.parent
        if kind is not None and test is not None and test.type == "if_statement" and test.child_by_field_name("condition") == parent:
            return kind
        return "read"
    if parent.type == "expression_list":
        statement = parent.parent
        if statement is not None and statement.type == "assignment_statement" and statement.child_by_field_name("left") == parent:
            operator = text(statement.child_by_field_name("operator"))
            values = statement.child_by_field_name("right")
            value = values.named_children[0] if values is not None and values.named_child_count == 1 else None
            if parent.named_child_count != 1 or value is None or value.type != "int_literal":
                return None
            if operator == "=" and text(value) == "0":
                return "reset"
            if operator == "+=" and text(value) not in ("0",) and not text(value).startswith("-"):
                return "increment"
            return None
        if statement is not None and statement.type == "short_var_declaration" and statement.child_by_field_name("left") == parent:
            return None  # declared again
    return "read"
