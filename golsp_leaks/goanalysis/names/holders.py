"""The variable that holds what a statement acquires, resolved with scopes, and the function that owns it.

``ctx, cancel := context.WithCancel(ctx)`` binds the cancel function to a
variable; which function must release it depends on where that variable is
declared, not on its spelling:

* a local variable (or parameter) of the function: that function;
* a named result: the function too, and every bare ``return`` hands it on;
* a variable of an enclosing function, assigned inside a function literal
  that is called at once (``func() { ctx, cancel = ... }()``): the enclosing
  function, from the statement that calls the literal;
* a package-level variable, a variable captured by a literal that is stored
  or started, or a name declared in another file: someone else.
"""

from __future__ import annotations

from dataclasses import dataclass

from tree_sitter import Node

from golsp_leaks.goanalysis.names.scopes import RESULT, Declaration, bindings
from golsp_leaks.goanalysis.syntax.nodes import FUNCTION_TYPES, enclosing_function


@dataclass(frozen=True)
class Holder:
    """``declaration`` holds the resource in ``func``, acquired at ``acquire`` (a node of its graph).

    ``uses`` are the identifiers that use the variable in ``func`` after the
    binding, in source order (the binding's own target left out);
    ``bare_returns`` the ``return`` statements without values when it is a
    named result.
    """

    declaration: Declaration
    func: Node
    acquire: Node
    uses: tuple[Node, ...]
    bare_returns: tuple[Node, ...]
    #: Acquired inside a function literal called in place, and followed in the enclosing function.
    lifted: bool = False


def top_level(node: Node) -> Node:
    """The top-level declaration holding ``node``."""
    current = node
    while current.parent is not None and current.parent.type != "source_file":
        current = current.parent
    return current


def holder(target: Node, stmt: Node, source: bytes) -> Holder | None:
    """Who holds what ``stmt`` binds to the identifier ``target``; None when it is not one function's to release."""
    declaration = bindings(top_level(stmt), source).of(target)
    if declaration is None or declaration.package_level:
        return None  # a package-level variable, or one declared in another file
    func = enclosing_function(stmt)
    acquire = stmt
    while func is not None and not _within(declaration.node, func):
        # Declared in an enclosing function: follow it there if the literal runs in place.
        call_statement = _called_in_place(func)
        if call_statement is None:
            return None  # a stored or started closure shares it
        acquire = call_statement
        func = enclosing_function(call_statement)
    if func is None:
        return None
    resolved = bindings(top_level(stmt), source)
    uses = tuple(u for u in resolved.uses_of(declaration, func) if not _within(u, stmt))
    bare: tuple[Node, ...] = ()
    if declaration.kind == RESULT and declaration.node.parent is not None and _declared_by_signature(declaration, func):
        bare = tuple(_bare_returns(func))
    return Holder(declaration, func, acquire, uses, bare, lifted=acquire is not stmt)


def _within(node: Node, outer: Node) -> bool:
    return outer.start_byte <= node.start_byte and node.end_byte <= outer.end_byte


def _called_in_place(literal: Node) -> Node | None:
    """For ``func() {...}()`` as a statement of its own: that statement."""
    if literal.type != "func_literal":
        return None
    call = literal.parent
    if call is None or call.type != "call_expression" or call.child_by_field_name("function") != literal:
        return None
    stmt = call.parent
    return stmt if stmt is not None and stmt.type == "expression_statement" else None


def _declared_by_signature(declaration: Declaration, func: Node) -> bool:
    result = func.child_by_field_name("result")
    return result is not None and _within(declaration.node, result)


def _bare_returns(func: Node) -> list[Node]:
    found: list[Node] = []
    body = func.child_by_field_name("body")
    stack = [body] if body is not None else []
    while stack:
        node = stack.pop()
        if node.type in FUNCTION_TYPES:
            continue
        if node.type == "return_statement" and not node.named_child_count:
            found.append(node)
            continue
        stack.extend(node.named_children)
    return sorted(found, key=lambda n: n.start_byte)
