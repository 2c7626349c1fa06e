"""Calls of a package's functions, found through the file's imports (any alias, or a dot import)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from tree_sitter import Node

from golsp_leaks.goanalysis.syntax.imports import Imports
from golsp_leaks.goanalysis.syntax.nodes import text
from golsp_leaks.goanalysis.syntax.parse import cursor


def package_calls(
    decl: Node, imports: Imports, paths: Iterable[str], functions: frozenset[str]
) -> Iterator[tuple[Node, str]]:
    """The calls ``pkg.F(...)`` in ``decl``, for ``F`` in ``functions`` and ``pkg`` imported from one of
    ``paths``, in source order, with the function's name; ``F(...)`` too when the package is dot-imported."""
    paths = tuple(paths)
    names = {name for path in paths for name in imports.names_for(path)}
    dot = any(imports.is_dot_imported(path) for path in paths)
    if not names and not dot:
        return
    quoted = " ".join(f'"{f}"' for f in sorted(functions))
    found: list[tuple[Node, str]] = []
    if names:
        query = (
            "(call_expression function: (selector_expression operand: (identifier) @pkg field: (field_identifier) @fn"
            f" (#any-of? @fn {quoted}))) @call"
        )
        for _, captures in cursor(query).matches(decl):
            if text(captures["pkg"][0]) in names:
                found.append((captures["call"][0], text(captures["fn"][0])))
    if dot:
        query = f"(call_expression function: (identifier) @fn (#any-of? @fn {quoted})) @call"
        found.extend((c["call"][0], text(c["fn"][0])) for _, c in cursor(query).matches(decl))
    yield from sorted(found, key=lambda pair: pair[0].start_byte)
