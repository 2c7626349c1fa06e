"""Where names are mentioned."""

from __future__ import annotations

from tree_sitter import Node

from golsp_leaks.goanalysis.syntax.nodes import identifiers_named


def mentions(node: Node, name: str) -> list[Node]:
    """Identifiers spelled ``name`` inside ``node`` (in nested closures too), in source order."""
    return identifiers_named(node, name)


def is_called(ident: Node) -> bool:
    """Is this identifier the function of a call (``cancel()``), including ``defer cancel()``?"""
    parent = ident.parent
    return (
        parent is not None
        and parent.type == "call_expression"
        and parent.child_by_field_name("function") == ident
    )
