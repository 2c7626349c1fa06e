"""Helpers that build gofmt-clean edits from syntax nodes."""

from __future__ import annotations

from tree_sitter import Node

from golsp_leaks.goanalysis.syntax import is_no_return_call, line_indent, statements, text
from golsp_leaks.model import Edit


def _line_break(source: bytes) -> str:
    return "\r\n" if b"\r\n" in source[:4096] else "\n"


def insert_statement_after(source: bytes, stmt: Node, code: str) -> Edit | None:
    """Insert ``code`` as a new statement on the line after ``stmt``, at its indentation.

    Returns None when ``stmt`` does not sit alone on its lines (so that the
    result would not be gofmt-clean) or is not directly in a statement list.
    ``code`` may span several lines; they are indented relative to ``stmt``.
    """
    parent = stmt.parent
    if parent is None or parent.type != "statement_list":
        return None
    line_start = source.rfind(b"\n", 0, stmt.start_byte) + 1
    indent = line_indent(source, stmt.start_byte)
    if line_start + len(indent) != stmt.start_byte:
        return None
    end = stmt.end_byte
    line_end = source.find(b"\n", end)
    if line_end < 0:
        line_end = len(source)
    rest = source[end:line_end].strip()
    if rest and not rest.startswith(b"//"):
        return None
    insert_at = line_end
    if insert_at > 0 and source[insert_at - 1 : insert_at] == b"\r":
        insert_at -= 1
    newline = _line_break(source)
    pad = indent.decode("utf-8", errors="replace")
    body = newline.join((pad + line) if line else "" for line in code.split("\n"))
    return Edit(insert_at, insert_at, newline + body)


def delete_statement(source: bytes, stmt: Node) -> Edit | None:
    """Delete a statement that sits alone on its line(s), with its line break."""
    line_start = source.rfind(b"\n", 0, stmt.start_byte) + 1
    if source[line_start : stmt.start_byte].strip():
        return None
    line_end = source.find(b"\n", stmt.end_byte)
    if line_end < 0:
        return None
    if source[stmt.end_byte : line_end].strip():
        return None
    return Edit(line_start, line_end + 1, "")


def terminates(block: Node | None) -> bool:
    """Does a block always leave (return, panic, continue, break, goto) at its end?"""
    stmts = statements(block)
    if not stmts:
        return False
    last = stmts[-1]
    return last.type in (
        "return_statement",
        "continue_statement",
        "break_statement",
        "goto_statement",
    ) or is_no_return_call(last)


def error_check_after(stmt: Node, error_names: set[str]) -> Node | None:
    """The ``if err != nil { return ... }`` right after ``stmt``, if there is one.

    ``error_names`` are the names the check may test (the error variable that
    ``stmt`` assigned).  The check must leave the function (or the loop) when
    the error is set, so that code after it runs only on success.
    """
    parent = stmt.parent
    if parent is None or parent.type != "statement_list":
        return None
    following = stmt.next_named_sibling
    while following is not None and following.type == "comment":
        following = following.next_named_sibling
    if following is None or following.type != "if_statement":
        return None
    if following.child_by_field_name("initializer") is not None:
        return None
    if following.child_by_field_name("alternative") is not None:
        return None
    condition = following.child_by_field_name("condition")
    if condition is None or condition.type != "binary_expression":
        return None
    operator = condition.child_by_field_name("operator")
    left = condition.child_by_field_name("left")
    right = condition.child_by_field_name("right")
    if operator is None or text(operator) != "!=" or left is None or right is None:
        return None
    if not (text(left) in error_names and right.type == "nil"):
        return None
    if not terminates(following.child_by_field_name("consequence")):
        return None
    return following


def unique_name(func: Node, wanted: str) -> str:
    """``wanted``, or ``wanted2``, ``wanted3``... whichever no identifier in ``func`` uses."""
    taken = {text(n) for n in _identifiers(func)}
    if wanted not in taken:
        return wanted
    i = 2
    while f"{wanted}{i}" in taken:
        i += 1
    return f"{wanted}{i}"


def _identifiers(node: Node) -> list[Node]:
    from golsp_leaks.goanalysis.syntax import walk

    return [n for n in walk(node) if n.type == "identifier"]
