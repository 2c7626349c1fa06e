"""The declared results of a method of an interface type declared in the file."""

from __future__ import annotations

from tree_sitter import Node

from golsp_leaks.goanalysis.syntax.nodes import text


def interface_method_results(root: Node, type_name: str, method: str) -> list[Node] | None:
    """The result types of ``method`` in ``type T interface { ... }`` declared at the top of ``root``
    (``(*sql.Rows, error)`` gives both type nodes), or None when there is no such declaration."""
    for decl in root.named_children:
        if decl.type != "type_declaration":
            continue
        for spec in decl.named_children:
            if spec.type != "type_spec" or text(spec.child_by_field_name("name")) != type_name:
                continue
            interface = spec.child_by_field_name("type")
            if interface is None or interface.type != "interface_type":
                return None
            for element in interface.named_children:
                if element.type != "method_elem" or text(element.child_by_field_name("name")) != method:
                    continue
                result = element.child_by_field_name("result")
                if result is None:
                    return []
                if result.type != "parameter_list":
                    return [result]
                return [
                    kind
                    for param in result.named_children
                    if (kind := param.child_by_field_name("type")) is not None
                ]
            return None
    return None


def declared_type_name(declaration_node: Node) -> str | None:
    """``T`` of a parameter or ``var`` declared as ``x T`` or ``x *T`` (a type of this package)."""
    parent = declaration_node.parent
    if parent is None or parent.type not in ("parameter_declaration", "var_spec"):
        return None
    kind = parent.child_by_field_name("type")
    if kind is not None and kind.type == "pointer_type" and kind.named_child_count == 1:
        kind = kind.named_children[0]
    return text(kind) if kind is not None and kind.type == "type_identifier" else None
