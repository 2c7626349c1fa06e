"""How an identifier is used where it stands.

Which identifiers are the same variable is the scopes' to say (see
:func:`golsp_leaks.goanalysis.names.scopes.occurrences`), not their spelling.
"""

from __future__ import annotations

from tree_sitter import Node


def is_called(ident: Node) -> bool:
    """Is this identifier the function of a call (``cancel()``), including ``defer cancel()``?"""
    parent = ident.parent
    return (
        parent is not None
        and parent.type == "call_expression"
        and parent.child_by_field_name("function") == ident
    )
