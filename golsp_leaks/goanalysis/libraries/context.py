"""The context package (and its old home, golang.org/x/net/context): the constructors that return a cancel function."""

from __future__ import annotations

from collections.abc import Iterator

from tree_sitter import Node

from golsp_leaks.goanalysis.libraries.calls import package_calls
from golsp_leaks.goanalysis.syntax.imports import Imports

#: Import paths of the package: golang.org/x/net/context aliases the standard one.
PATHS = ("context", "golang.org/x/net/context")

#: The constructors that return a cancel function as their second result.
CANCELLING = frozenset(
    {"WithCancel", "WithTimeout", "WithDeadline", "WithCancelCause", "WithTimeoutCause", "WithDeadlineCause"}
)

def cancelling_calls(decl: Node, imports: Imports) -> Iterator[tuple[Node, str]]:
    """The calls in ``decl`` of a constructor that returns a cancel function, with the constructor's name."""
    return package_calls(decl, imports, PATHS, CANCELLING)
