"""The context package (and its old home, golang.org/x/net/context): the constructors that return a cancel function."""

from __future__ import annotations

from collections.abc import Iterator

from tree_sitter import Node

from golsp_leaks.goanalysis.syntax.imports import Imports
from golsp_leaks.goanalysis.syntax.nodes import text
from golsp_leaks.goanalysis.syntax.parse import cursor

#: Import paths of the package: golang.org/x/net/context aliases the standard one.
PATHS = ("context", "golang.org/x/net/context")

#: The constructors that return a cancel function as their second result.
CANCELLING = frozenset(
    {"WithCancel", "WithTimeout", "WithDeadline", "WithCancelCause", "WithTimeoutCause", "WithDeadlineCause"}
)

_CALLS = "(call_expression function: [(selector_expression) (identifier)] @fn) @call"


def cancelling_calls(decl: Node, imports: Imports) -> Iterator[tuple[Node, str]]:
    """The calls in ``decl`` of a constructor that returns a cancel function, with the constructor's name."""
    names = {name for path in PATHS for name in imports.names_for(path)}
    dot = any(imports.is_dot_imported(path) for path in PATHS)
    if not names and not dot:
        return
    for _, captures in cursor(_CALLS).matches(decl):
        call = captures["call"][0]
        fn = captures["fn"][0]
        if fn.type == "selector_expression":
            operand = fn.child_by_field_name("operand")
            field = fn.child_by_field_name("field")
            if (
                operand is not None
                and field is not None
                and operand.type == "identifier"
                and text(operand) in names
                and text(field) in CANCELLING
            ):
                yield call, text(field)
        elif dot and text(fn) in CANCELLING:
            yield call, text(fn)
