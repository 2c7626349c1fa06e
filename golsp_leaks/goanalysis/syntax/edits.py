"""Helpers that build gofmt-clean edits from syntax nodes."""

from __future__ import annotations

from tree_sitter import Node

from golsp_leaks.goanalysis.syntax.nodes import (
    hands_back,
    is_no_return_call,
    is_statement_in_list,
    line_indent,
    statements,
    text,
    walk,
)
from golsp_leaks.model import Edit


def _line_break(source: bytes) -> str:
    return "\r\n" if b"\r\n" in source[:4096] else "\n"


def insert_statement_after(source: bytes, stmt: Node, code: str) -> Edit | None:
    """Insert ``code`` as a new statement on the line after ``stmt``, at its indentation.

    Returns None when ``stmt`` does not sit alone on its lines (so that the
    result would not be gofmt-clean) or is not directly in a statement list.
    ``code`` may span several lines; they are indented relative to ``stmt``.
    """
    if not is_statement_in_list(stmt):
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
    """The ``if err != nil { return ... }`` right after ``stmt``, if there is one (or
    ``if record(err) != nil``: a call given only the error, that hands it back).

    ``error_names`` are the names the check may test (the error variable that
    ``stmt`` assigned).  The check must leave the function (or the loop) when
    the error is set, so that code after it runs only on success.
    """
    if not is_statement_in_list(stmt):
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
    if not ((text(left) in error_names or hands_back(left, error_names)) and right.type == "nil"):
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
    return [n for n in walk(node) if n.type == "identifier"]


def insert_statement_before(source: bytes, stmt: Node, code: str, *, above_comments: bool = False) -> Edit | None:
    """Insert ``code`` as new statement(s) on the lines before ``stmt``, at its indentation.

    Returns None when ``stmt`` does not start its line.  ``code`` may span
    several lines; they are indented relative to ``stmt``.  With
    ``above_comments`` the code goes above the comment lines right over
    ``stmt`` (they describe it, and should stay next to it).
    """
    line_start = source.rfind(b"\n", 0, stmt.start_byte) + 1
    indent = line_indent(source, stmt.start_byte)
    if line_start + len(indent) != stmt.start_byte:
        return None
    if above_comments:
        previous = stmt.prev_sibling
        while (
            previous is not None
            and previous.type == "comment"
            and previous.end_point.row == _row_above(source, line_start)
            and source[source.rfind(b"\n", 0, previous.start_byte) + 1 : previous.start_byte] == indent
        ):
            line_start = source.rfind(b"\n", 0, previous.start_byte) + 1
            previous = previous.prev_sibling
    newline = _line_break(source)
    pad = indent.decode("utf-8", errors="replace")
    body = "".join(((pad + line) if line else "") + newline for line in code.split("\n"))
    return Edit(line_start, line_start, body)


def _row_above(source: bytes, line_start: int) -> int:
    """The (0-based) row of the line before the one starting at ``line_start``."""
    return source.count(b"\n", 0, line_start) - 1


def import_edit(source: bytes, root: Node, path: str) -> tuple[str, Edit | None] | None:
    """The local name under which ``path`` can be used, and the edit that imports it if needed.

    An existing import (not blank, not dot) is reused.  A new one goes into the
    import group that it sorts best with — the standard library's group for a
    standard package — at its sorted place, so that the file stays
    gofmt-clean.  The edit replaces a neighbouring import (or the package
    clause) rather than inserting at a point, so that two fixes that both add
    the same import overlap and are never applied together.  Returns None when
    the name would clash with an identifier of the file or the imports cannot
    be edited safely.
    """
    from golsp_leaks.goanalysis.syntax.imports import Imports, default_name

    imports = Imports.from_root(root)
    existing = sorted(imports.names_for(path))
    if existing:
        return existing[0], None
    if imports.is_dot_imported(path):
        return None
    name = default_name(path)
    if name in imports.by_name or _mentions_name(root, name):
        return None
    decls = [c for c in root.named_children if c.type == "import_declaration"]
    newline = _line_break(source)
    quoted = f'"{path}"'
    if not decls:
        package = next((c for c in root.named_children if c.type == "package_clause"), None)
        if package is None:
            return None
        return name, Edit(package.start_byte, package.end_byte, f"{text(package)}{newline}{newline}import {quoted}")
    for decl in decls:
        spec_list = next((c for c in decl.named_children if c.type == "import_spec_list"), None)
        if spec_list is not None:
            return name, _insert_into_group(source, spec_list, path, quoted, newline)
    decl = decls[0]
    specs = [c for c in decl.named_children if c.type == "import_spec"]
    if len(specs) != 1 or any(c.type == "comment" for c in decl.named_children):
        return None
    spec = specs[0]
    lines = sorted([(_spec_path(spec), text(spec)), (path, quoted)])
    body = newline.join(f"\t{line}" for _, line in lines)
    return name, Edit(decl.start_byte, decl.end_byte, f"import ({newline}{body}{newline})")


def _mentions_name(root: Node, name: str) -> bool:
    from golsp_leaks.goanalysis.syntax.parse import cursor

    wanted = name.encode()
    qc = cursor("[(identifier) (package_identifier) (type_identifier)] @id")
    return any(n.text == wanted for n in qc.captures(root).get("id", []))


def _spec_path(spec: Node) -> str:
    return text(spec.child_by_field_name("path")).strip('"`')


def _is_std(path: str) -> bool:
    return "." not in path.split("/", 1)[0]


def _insert_into_group(source: bytes, spec_list: Node, path: str, quoted: str, newline: str) -> Edit | None:
    specs = [c for c in spec_list.named_children if c.type == "import_spec"]
    if not specs:
        return None
    groups: list[list[Node]] = [[specs[0]]]
    for previous, spec in ((specs[i - 1], specs[i]) for i in range(1, len(specs))):
        between = source[previous.end_byte : spec.start_byte]
        if between.count(b"\n") > 1 and not between.strip(b" \t\r\n").startswith(b"//"):
            groups.append([spec])
        else:
            groups[-1].append(spec)

    def affinity(group: list[Node]) -> int:
        paths = [_spec_path(s) for s in group]
        if _is_std(path):
            return 1000 if any(_is_std(p) for p in paths) else 0
        return max(len(_common_prefix(p, path)) for p in paths if not _is_std(p)) if any(
            not _is_std(p) for p in paths
        ) else -1

    best = max(groups, key=affinity)
    indent = line_indent(source, best[0].start_byte).decode("utf-8", errors="replace")
    if _is_std(path) and affinity(best) == 0:
        # No standard-library group yet: start one before the first import.
        first = specs[0]
        return Edit(first.start_byte, first.end_byte, f"{quoted}{newline}{newline}{indent}{text(first)}")
    for spec in best:
        if _spec_path(spec) > path:
            return Edit(spec.start_byte, spec.end_byte, f"{quoted}{newline}{indent}{text(spec)}")
    last = best[-1]
    return Edit(last.start_byte, last.end_byte, f"{text(last)}{newline}{indent}{quoted}")


def _common_prefix(a: str, b: str) -> str:
    i = 0
    while i < len(a) and i < len(b) and a[i] == b[i]:
        i += 1
    return a[:i]


def only_return_after(stmt: Node, body: Node | None) -> bool:
    """Is ``stmt`` the last statement of the function body ``body``, or directly followed by a
    ``return`` that calls nothing?  Then moving ``stmt`` into a ``defer`` changes nothing but its
    position: it still runs last."""
    following = stmt.next_named_sibling
    while following is not None and following.type == "comment":
        following = following.next_named_sibling
    if following is None:
        block = stmt.parent.parent if stmt.parent is not None else None
        return block == body
    if following.type != "return_statement":
        return False
    return not any(n.type == "call_expression" for n in walk(following))
