"""net/http servers: once ``Shutdown`` or ``Close`` is called, ``Serve`` returns ``http.ErrServerClosed``.

A goroutine that runs ``srv.Serve(l)`` and reports its error unless it is
``ErrServerClosed`` sends nothing after the code that started it has shut
``srv`` down: that code may stop listening for the error from then on.
"""

from __future__ import annotations

from tree_sitter import Node

from golsp_leaks.goanalysis.syntax.nodes import text
from golsp_leaks.goanalysis.syntax.parse import cursor

#: Methods of ``*http.Server`` that serve until the server is shut down.
SERVE_METHODS = frozenset({"Serve", "ServeTLS", "ListenAndServe", "ListenAndServeTLS"})
#: Methods that shut it down, after which the serving methods return ``ErrServerClosed``.
STOP_METHODS = frozenset({"Shutdown", "Close"})
CLOSED_ERROR = "ErrServerClosed"

_METHOD_CALLS = """
(call_expression function: (selector_expression operand: (identifier) @server field: (field_identifier) @method))
"""
_FUNCTIONS = ("function_declaration", "method_declaration", "func_literal")


def _called(node: Node, methods: frozenset[str], unconditionally: bool = False) -> set[str]:
    """The variables on which ``node`` calls one of ``methods``; ``unconditionally``: only calls
    that run whenever ``node`` does (not in a block inside it, nor in a function literal)."""
    found: set[str] = set()
    for _, captures in cursor(_METHOD_CALLS).matches(node):
        server = captures["server"][0]
        if text(captures["method"][0]) not in methods:
            continue
        if unconditionally and _inside_block(server, node):
            continue
        found.add(text(server))
    return found


def _inside_block(inner: Node, outer: Node) -> bool:
    current = inner.parent
    while current is not None and current != outer:
        if current.type in ("block", "func_literal"):
            return True
        current = current.parent
    return False


def served(node: Node) -> set[str]:
    """The servers ``node`` runs (``srv.Serve(l)``, ``srv.ListenAndServe()``...)."""
    return _called(node, SERVE_METHODS)


def unless_closed(node: Node, within: Node) -> bool:
    """Is ``node`` guarded by an ``if`` whose condition mentions ``ErrServerClosed`` (inside ``within``)?"""
    current = node.parent
    while current is not None and current != within:
        if current.type == "if_statement":
            condition = current.child_by_field_name("condition")
            if condition is not None and CLOSED_ERROR in text(condition):
                return True
        current = current.parent
    return False


def shut_down_before(node: Node, servers: set[str]) -> bool:
    """Does a statement run before ``node`` on its way from the function's start shut one of ``servers``
    down?  Only statements that precede ``node`` in the blocks around it count, so every path to
    ``node`` has run them."""
    current = node
    while current.parent is not None and current.type not in _FUNCTIONS:
        parent = current.parent
        if parent.type in ("statement_list", "block"):
            for sibling in parent.named_children:
                if sibling.start_byte >= current.start_byte:
                    break
                if sibling.type in ("go_statement", "defer_statement"):
                    continue
                if _called(sibling, STOP_METHODS, unconditionally=True) & servers:
                    return True
        current = parent
    return False
