"""How often a declaration runs in a process, and the local types that decide it.

:func:`runs_more_than_once` is the policy the goroutine rules share for a goroutine
started by a declaration: per request, in a loop, in a test, or by a value that can be
closed (made and closed again, each leaving its goroutine behind) -- or once, for the life
of the process, which is what a worker is meant to do.  :func:`local_type` reads the type
of a local from its declaration, for the rules that match a value against the package's
lifecycle types.
"""

from __future__ import annotations

from collections.abc import Iterator

from tree_sitter import Node

from golsp_leaks.goanalysis.cfg.loops import inside_nested_function
from golsp_leaks.goanalysis.libraries.frameworks import function_key, receiver
from golsp_leaks.goanalysis.summaries.facts import CLOSABLE, CONSTRUCTORS, REPEATED, PackageFacts
from golsp_leaks.goanalysis.syntax.nodes import text
from golsp_leaks.goanalysis.syntax.parse import cursor

_TESTING_TYPES = frozenset({"*testing.T", "*testing.B", "*testing.F"})

#: The package facts :func:`runs_more_than_once` reads.
RUNS_MORE_THAN_ONCE = (REPEATED, CLOSABLE, CONSTRUCTORS)


def runs_more_than_once(decl: Node, facts: PackageFacts) -> bool:
    """Is the declaration that starts the goroutine known to run more than once in a process?

    Yes when the package calls it per request, in a loop or from a stored function literal
    (``repeated``); when it is a test (one of many in the test binary); and when it is a method
    or a constructor of a type that can be closed (``closable``): such values are made and
    closed again, and each leaves its goroutine behind.  Otherwise -- an exported function the
    package never calls, a function only start-up code calls -- it gets the benefit of the
    doubt: a worker started once lives as long as the process, as it is meant to.
    """
    key = function_key(decl)
    if key is not None and key in facts.repeated:
        return True
    if _is_test(decl):
        return True
    if not facts.closable:
        return False
    recv = receiver(decl)
    if recv is not None and recv[1] in facts.closable:
        return True
    return bool(_made_types(decl, facts.constructors) & facts.closable)


def _is_test(decl: Node) -> bool:
    params = decl.child_by_field_name("parameters")
    if params is None:
        return False
    return any(
        param.type == "parameter_declaration" and text(param.child_by_field_name("type")) in _TESTING_TYPES
        for param in params.named_children
    )


def _made_types(decl: Node, constructors: frozenset[tuple[str, str]]) -> set[str]:
    """The types of what ``decl`` returns: its declared result, and the values its returns build."""
    made: set[str] = set()
    result = decl.child_by_field_name("result")
    if result is not None:
        name = _type_name(result)
        if name:
            made.add(name)
    for ret in cursor("(return_statement (expression_list . (_) @value))").captures(decl).get("value", []):
        if inside_nested_function(ret, decl):
            continue
        if ret.type == "identifier":
            found = local_type(decl, text(ret), ret, constructors)
        else:
            found = _value_type(ret, constructors)
        if found:
            made.add(found)
    return made


_LOCAL_DECLARATIONS = """
[(short_var_declaration left: (expression_list . (identifier) @name) right: (expression_list . (_) @value))
 (var_spec name: (identifier) @name type: (_)? @type value: (expression_list . (_) @value)?)]
"""


def local_type(func: Node, name: str, before: Node, constructors: frozenset[tuple[str, str]]) -> str | None:
    """The type of a local ``name`` from its declaration: ``T{}``, ``&T{}``, ``new(T)``, ``newT()``, ``var v T``."""
    found: str | None = None
    for node, type_node, value in _declarations(func):
        if text(node) != name or node.start_byte > before.start_byte:
            continue
        found = _declared_type(type_node, value, constructors)
    return found


def typed_locals(func: Node) -> set[str]:
    """The locals of ``func`` that :func:`local_type` may give a type, whatever the package's
    constructors: a rule asks for the package's facts only about those."""
    return {text(node) for node, type_node, value in _declarations(func) if _declared_type(type_node, value, None)}


def _declarations(func: Node) -> Iterator[tuple[Node, Node | None, Node | None]]:
    """(name, type, first value) of the function's own local declarations, in order."""
    for _, captures in cursor(_LOCAL_DECLARATIONS).matches(func):
        node = captures["name"][0]
        if not inside_nested_function(node, func):
            yield node, captures.get("type", [None])[0], captures.get("value", [None])[0]


def _declared_type(
    type_node: Node | None, value: Node | None, constructors: frozenset[tuple[str, str]] | None
) -> str | None:
    if type_node is not None:
        return _type_name(type_node)
    if value is not None:
        return _value_type(value, constructors)
    return None


def _type_name(node: Node) -> str | None:
    if node.type == "pointer_type" and node.named_child_count:
        node = node.named_children[0]
    return text(node) if node.type == "type_identifier" else None


def _value_type(value: Node, constructors: frozenset[tuple[str, str]] | None) -> str | None:
    """The type a value has, ``constructors`` naming what the package's functions return (None:
    any function called by its name may return some type, named here by the function)."""
    if value.type == "unary_expression" and value.named_child_count:
        value = value.named_children[-1]
    if value.type == "composite_literal":
        type_node = value.child_by_field_name("type")
        return _type_name(type_node) if type_node is not None else None
    if value.type == "call_expression":
        function = value.child_by_field_name("function")
        args = value.child_by_field_name("arguments")
        if function is None:
            return None
        if text(function) == "new" and args is not None and args.named_child_count == 1:
            return _type_name(args.named_children[0])
        if function.type == "identifier":
            if constructors is None:
                return text(function)
            return next((t for f, t in constructors if f == text(function)), None)
    return None
