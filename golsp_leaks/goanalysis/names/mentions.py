"""Where names are mentioned."""

from __future__ import annotations

from tree_sitter import Node

from golsp_leaks.goanalysis.syntax.parse import cursor

_IDENTIFIERS = "(identifier) @id"


def mentions(node: Node, name: str) -> list[Node]:
    """Identifiers spelled ``name`` inside ``node`` (in nested closures too), in source order."""
    wanted = name.encode()
    qc = cursor(_IDENTIFIERS)
    qc.set_byte_range(node.start_byte, node.end_byte)
    found = qc.captures(node).get("id", [])
    return sorted((n for n in found if n.text == wanted), key=lambda n: n.start_byte)


def is_called(ident: Node) -> bool:
    """Is this identifier the function of a call (``cancel()``), including ``defer cancel()``?"""
    parent = ident.parent
    return (
        parent is not None
        and parent.type == "call_expression"
        and parent.child_by_field_name("function") == ident
    )
