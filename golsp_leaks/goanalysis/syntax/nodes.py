"""Navigating tree-sitter-go syntax trees."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from tree_sitter import Node

#: Nodes that start a new function: returns inside them are not returns of the outer function.
FUNCTION_TYPES = frozenset({"function_declaration", "method_declaration", "func_literal"})

#: Top-level declarations the engine analyses one by one.
DECLARATION_TYPES = frozenset(
    {"function_declaration", "method_declaration", "var_declaration", "const_declaration", "type_declaration"}
)

#: Calls after which control never comes back (a panic is not a leaky return).
_NO_RETURN_FUNCS = frozenset({"panic"})
_NO_RETURN_SELECTORS = frozenset(
    {
        ("os", "Exit"),
        ("runtime", "Goexit"),
        ("log", "Fatal"),
        ("log", "Fatalf"),
        ("log", "Fatalln"),
        ("log", "Panic"),
        ("log", "Panicf"),
        ("log", "Panicln"),
    }
)
#: Methods that end the test or the process whatever their receiver (``t.Fatal``, ``logger.Fatalf``).
_NO_RETURN_METHODS = frozenset(
    {"Fatal", "Fatalf", "Fatalln", "FailNow", "SkipNow", "Skip", "Skipf", "Panic", "Panicf", "Panicln"}
)


def text(node: Node | None) -> str:
    """The source text of a node ("" for None)."""
    if node is None:
        return ""
    data = node.text  # a new copy of the bytes at each access: read once
    return "" if data is None else data.decode("utf-8", errors="replace")


def identifiers_named(node: Node, name: str | bytes) -> list[Node]:
    """The ``identifier`` nodes spelled ``name`` inside ``node`` (itself included), in source order.

    What the query ``(identifier) @id`` over ``node`` gives, filtered by text, without making
    a node of every identifier: the text is searched for the name, and each place where it
    stands alone is looked up in the tree (a place inside a string, a comment or a longer
    name is no identifier of its own, and is left out).
    """
    wanted = name.encode() if isinstance(name, str) else name
    data = node.text
    if not wanted or data is None or wanted not in data:
        return []
    base = node.start_byte
    found: list[Node] = []
    for place in _alone(data, wanted):
        start = base + place
        end = start + len(wanted)
        ident = node.descendant_for_byte_range(start, end)
        if ident is not None and ident.type == "identifier" and ident.start_byte == start and ident.end_byte == end:
            found.append(ident)
    return found


def outermost_by_keyword(root: Node, keyword: str, kind: str) -> list[Node] | None:
    """The outermost ``kind`` nodes under ``root`` that start with the ``keyword`` token, in
    source order (``struct_type`` by ``struct``): the subtrees a query for what only such a
    node holds needs to look at.  A query over a whole large file costs milliseconds even
    when nothing matches; the keyword is found in the text first.

    Error recovery can leave pieces outside the node they belong to: when the tree has a
    syntax error, the children of ``root`` that hold one are given whole, among the others'
    ``kind`` nodes in source order (querying each node given finds what a query over ``root``
    finds: the file being typed has one broken function, not a broken file).  None when
    ``root`` is itself an error: query all of it then.
    """
    broken: list[Node] = []
    if root.has_error:
        if root.is_error:
            return None
        broken = [child for child in root.children if child.has_error]
    data = root.text or b""
    base = root.start_byte
    found: list[Node] = []
    end = -1
    width = len(keyword.encode())
    pending = iter(broken)
    next_broken = next(pending, None)
    for place in _alone(data, keyword.encode()):
        start = base + place
        while next_broken is not None and next_broken.start_byte <= start:
            found.append(next_broken)
            end = max(end, next_broken.end_byte)
            next_broken = next(pending, None)
        if start < end:
            continue  # inside the last one found: its query covers it
        token = root.descendant_for_byte_range(start, start + width)
        node = token.parent if token is not None and token.type == keyword else None
        if node is not None and node.type == kind and node.start_byte == start:
            found.append(node)
            end = node.end_byte
    if next_broken is not None:
        found.append(next_broken)
        found.extend(pending)
    return found


#: Bytes that continue a name (the ASCII ones: any other is for the tree to judge).
_WORD = frozenset(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")


def _alone(data: bytes, word: bytes) -> Iterator[int]:
    """Where ``word`` is in ``data`` with no ASCII word character just before or after it.

    (bytes.find, not a regular expression: a look-behind is tried at every position.)
    """
    width = len(word)
    at = data.find(word)
    while at >= 0:
        after = at + width
        if (at == 0 or data[at - 1] not in _WORD) and (after == len(data) or data[after] not in _WORD):
            yield at
        at = data.find(word, at + 1)


def walk(node: Node, *, into_functions: bool = True) -> Iterator[Node]:
    """Every named node under ``node`` (itself included), in source order.

    With ``into_functions=False`` the bodies of nested function literals are skipped.
    """
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        if not into_functions and current is not node and current.type == "func_literal":
            continue
        children = current.named_children
        stack.extend(reversed(children))


def statements(block: Node | None) -> list[Node]:
    """The statements of a ``block`` or ``statement_list`` (comments left out)."""
    if block is None:
        return []
    if block.type == "block":
        for child in block.named_children:
            if child.type == "statement_list":
                block = child
                break
        else:
            return []
    return [c for c in block.named_children if c.type not in ("comment", "empty_statement")]


def enclosing_function(node: Node) -> Node | None:
    """The innermost function declaration, method or literal containing ``node``."""
    current = node.parent
    while current is not None:
        if current.type in FUNCTION_TYPES:
            return current
        current = current.parent
    return None


def function_body(func: Node) -> Node | None:
    return func.child_by_field_name("body")


def function_results(func: Node) -> Node | None:
    """The result of a function (a type, or a parameter_list), or None."""
    return func.child_by_field_name("result")


def has_named_results(func: Node) -> bool:
    result = function_results(func)
    if result is None or result.type != "parameter_list":
        return False
    return any(p.child_by_field_name("name") is not None for p in result.named_children)


def is_statement_in_list(node: Node) -> bool:
    parent = node.parent
    return parent is not None and parent.type == "statement_list"


def enclosing_statement(node: Node) -> Node | None:
    """The statement (a direct child of a statement list) that contains ``node``."""
    current: Node | None = node
    while current is not None:
        parent = current.parent
        if parent is not None and parent.type == "statement_list":
            return current
        if current.type in FUNCTION_TYPES:
            return None
        current = parent
    return None


def call_name(call: Node) -> tuple[str, str] | None:
    """``("pkg", "Func")`` for ``pkg.Func(...)``, ``("", "f")`` for ``f(...)``, else None."""
    if call.type != "call_expression":
        return None
    function = call.child_by_field_name("function")
    if function is None:
        return None
    if function.type == "identifier":
        return "", text(function)
    if function.type == "selector_expression":
        operand = function.child_by_field_name("operand")
        field = function.child_by_field_name("field")
        if operand is not None and field is not None:
            return text(operand), text(field)
    return None


def is_no_return_call(stmt: Node, never_return: frozenset[str] = frozenset()) -> bool:
    """A statement that is a call to panic, os.Exit, log.Fatal, t.Fatal and the like,
    or to one of the package's functions named in ``never_return``."""
    if stmt.type != "expression_statement":
        return False
    expr = stmt.named_children[0] if stmt.named_child_count else None
    if expr is None or expr.type != "call_expression":
        return False
    name = call_name(expr)
    if name is None:
        return False
    operand, func = name
    if not operand:
        return func in _NO_RETURN_FUNCS or func in never_return
    return (operand, func) in _NO_RETURN_SELECTORS or func in _NO_RETURN_METHODS


def line_indent(source: bytes, offset: int) -> bytes:
    """The leading white space of the line holding ``offset``."""
    start = source.rfind(b"\n", 0, offset) + 1
    end = start
    while end < len(source) and source[end] in (0x20, 0x09):
        end += 1
    return source[start:end]


def declarations(root: Node) -> Iterator[Node]:
    """Top-level declarations of a source file, in order."""
    for child in root.named_children:
        if child.type in DECLARATION_TYPES:
            yield child


def var_specs(declaration: Node) -> Iterator[Node]:
    """The ``var_spec`` nodes of a ``var`` declaration, alone (``var x = 1``) or grouped (``var ( ... )``)."""
    for child in declaration.named_children:
        if child.type == "var_spec":
            yield child
        elif child.type == "var_spec_list":
            yield from (c for c in child.named_children if c.type == "var_spec")


def label_of(stmt: Node) -> str | None:
    """The label of a statement that is the body of a labeled statement."""
    parent = stmt.parent
    if parent is not None and parent.type == "labeled_statement":
        label = parent.child_by_field_name("label")
        return text(label) if label is not None else None
    return None


@dataclass(frozen=True)
class Binding:
    """The statement that binds a value (a call's results), and its left-hand side."""

    stmt: Node
    targets: tuple[Node, ...]
    declares: bool  # ``:=`` or ``var`` (not ``=``)
    #: One spec of a ``var ( ... )`` block (``stmt`` is the whole block).
    in_var_block: bool = False


def binding(expr: Node) -> Binding | None:
    """How the value of ``expr`` is bound, when it is the whole right-hand side of
    ``:=``, ``=`` or a ``var`` spec (parentheses around it allowed); else None
    (returned, passed on, part of a larger expression)."""
    values = expr.parent
    while values is not None and values.type == "parenthesized_expression":
        values = values.parent
    if values is None or values.type != "expression_list" or values.named_child_count != 1:
        return None
    holder = values.parent
    if holder is None:
        return None
    if holder.type in ("short_var_declaration", "assignment_statement"):
        if holder.child_by_field_name("right") != values:
            return None
        if holder.type == "assignment_statement":
            operator = holder.child_by_field_name("operator")
            if operator is None or text(operator) != "=":
                return None
        left = holder.child_by_field_name("left")
        if left is None:
            return None
        return Binding(holder, tuple(left.named_children), holder.type == "short_var_declaration")
    if holder.type == "var_spec":
        statement = holder.parent
        while statement is not None and statement.type != "var_declaration":
            statement = statement.parent
        if statement is None:
            return None
        alone = len(statement.named_children) == 1 and statement.named_children[0] == holder
        return Binding(statement, tuple(holder.children_by_field_name("name")), True, in_var_block=not alone)
    return None


def function_named(name: str, node: Node, source: bytes) -> Node | None:
    """The function declaration ``func name(`` (or ``func name[``) of the file holding ``node``.

    Found from the text, as gofmt lays declarations out, without walking the file's declarations.
    """
    root = node
    while root.parent is not None:
        root = root.parent
    wanted = f"func {name}".encode()
    for opener in (b"(", b"["):
        at = source.find(b"\n" + wanted + opener)
        start = at + 1 if at >= 0 else (0 if source.startswith(wanted + opener) else -1)
        if start < 0:
            continue
        found: Node | None = root.descendant_for_byte_range(start, start)
        while found is not None and found.type != "function_declaration":
            found = found.parent
        if found is not None and found.start_byte == start:
            return found
    return None


def bound_value(ident: Node) -> Node | None:
    """The expression ``ident`` is bound to by ``ident, err := call`` or ``var ident = call``."""
    targets = ident.parent
    if targets is None:
        return None
    if targets.type == "var_spec":
        values = targets.child_by_field_name("value")
        return values.named_children[0] if values is not None and values.named_child_count == 1 else None
    holder = targets.parent
    if targets.type != "expression_list" or holder is None or holder.type not in (
        "short_var_declaration",
        "assignment_statement",
    ):
        return None
    if holder.child_by_field_name("left") != targets:
        return None  # ``ident`` is on the right
    values = holder.child_by_field_name("right")
    if values is None or values.named_child_count != 1:
        return None
    return values.named_children[0]


def is_assignment_target(ident: Node) -> bool:
    """Is ``ident`` one of the targets of an assignment (``f, err = os.Open(p)``)?"""
    targets = ident.parent
    statement = targets.parent if targets is not None else None
    return (
        targets is not None
        and targets.type == "expression_list"
        and statement is not None
        and statement.type == "assignment_statement"
        and statement.child_by_field_name("left") == targets
    )


def inside_statement(node: Node, func: Node, kind: str) -> bool:
    """Is ``node`` inside a statement of type ``kind`` (``"defer_statement"``) of ``func``?"""
    current = node.parent
    while current is not None and current != func:
        if current.type == kind:
            return True
        current = current.parent
    return False


def hands_back(node: Node, names: set[str]) -> bool:
    """Is ``node`` a call given only one of the ``names`` (an error), that hands it back?
    ``scope.Err(err) != nil`` tests ``err`` as ``err != nil`` does."""
    if node.type != "call_expression":
        return False
    arguments = node.child_by_field_name("arguments")
    args = arguments.named_children if arguments is not None else []
    return len(args) == 1 and args[0].type == "identifier" and text(args[0]) in names
