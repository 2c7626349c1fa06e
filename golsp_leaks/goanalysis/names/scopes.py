"""Scopes and bindings: which declaration each identifier of a declaration refers to.

:func:`bindings` walks one top-level declaration once, with Go's scoping rules
(the universe, the package, the file's imports, then function, block and the
implicit blocks of ``if``/``for``/``switch``/``select`` and their clauses),
and resolves every identifier used in it to the :class:`Declaration` it names:
a parameter, a named result, a receiver, a type parameter, a ``:=``, ``var``
or ``const``, a ``range`` or ``select`` variable, a type-switch binding, a
local type, a label, a package-level name of any of the package's files, or
an import.  A ``:=`` that repeats a name of the same scope assigns it instead
of declaring it; a declaration takes effect after its statement (``x := x``
reads the outer ``x``).  Names nobody declares (builtins like ``len`` or
``nil``, or code that does not compile) resolve to nothing.

Without types, two things stay out of reach: the fields of a struct literal
(``T{Name: v}`` — ``Name`` is not looked up, ``v`` is) and members selected
from a value (``x.f`` resolves ``x`` only).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from tree_sitter import Node

from golsp_leaks.goanalysis.syntax.imports import default_name
from golsp_leaks.goanalysis.syntax.nodes import text
from golsp_leaks.goanalysis.syntax.parse import cursor

#: Kinds of :class:`Declaration`.
PARAM = "param"
RESULT = "result"
RECEIVER = "receiver"
TYPE_PARAM = "type-param"
VAR = "var"
CONST = "const"
TYPE = "type"
FUNC = "func"
LABEL = "label"
IMPORT = "import"

#: Kinds declared at package level.
PACKAGE_KINDS = frozenset({VAR, CONST, TYPE, FUNC})

_USES = frozenset({"identifier", "type_identifier", "package_identifier"})
#: Nodes with no identifier to resolve inside.
_LEAVES = frozenset(
    {
        "interpreted_string_literal",
        "raw_string_literal",
        "rune_literal",
        "int_literal",
        "float_literal",
        "imaginary_literal",
        "true",
        "false",
        "nil",
        "iota",
        "comment",
        "field_identifier",
        "label_name",
        "blank_identifier",
    }
)


@dataclass(frozen=True, eq=False)
class Declaration:
    """One declared name.  ``node`` is the identifier that declares it (for an import without a name,
    the import's path); ``package_level`` marks the names of the package block and imports."""

    name: str
    kind: str
    node: Node
    package_level: bool = False
    #: Where the declaring identifier stands: ``(start, end)`` byte offsets.
    key: tuple[int, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", (self.node.start_byte, self.node.end_byte))


@dataclass
class Bindings:
    """The resolution of one declaration: its uses and its declarations, by identifier position.

    Identifiers that no scope of the declaration itself declares are looked up
    in the imports and the package block only when asked about (``outer``
    builds those once per file): most questions are about local variables.
    """

    uses: dict[int, Declaration] = field(default_factory=dict)
    declared: dict[int, Declaration] = field(default_factory=dict)
    #: The identifier at each position of ``uses``.
    nodes: dict[int, Node] = field(default_factory=dict)
    #: Identifiers left to the imports and the package block, by position.
    pending: dict[int, Node] = field(default_factory=dict)
    outer: Callable[[], tuple[Mapping[str, Declaration], ...]] = field(default=lambda: (), repr=False)
    _by_declaration: dict[tuple[int, int], list[Node]] | None = field(default=None, repr=False)

    def of(self, ident: Node) -> Declaration | None:
        """The declaration ``ident`` names (whether it is a use or the declaring identifier itself)."""
        found = self.uses.get(ident.start_byte) or self.declared.get(ident.start_byte)
        if found is None and ident.start_byte in self.pending:
            found = self._outer_of(self.pending[ident.start_byte])
        return found

    def _outer_of(self, ident: Node) -> Declaration | None:
        name = text(ident)
        for scope in self.outer():
            found = scope.get(name)
            if found is not None:
                return found
        return None

    def uses_of(self, declaration: Declaration, root: Node) -> list[Node]:
        """The identifiers under ``root`` that use ``declaration``, in source order."""
        if declaration.package_level:
            wanted = declaration.name.encode()
            return [
                n
                for _, n in sorted(self.pending.items())
                if n.text == wanted
                and root.start_byte <= n.start_byte
                and n.end_byte <= root.end_byte
                and same(self._outer_of(n), declaration)
                and n.start_byte != declaration.node.start_byte
            ]
        if self._by_declaration is None:
            index: dict[tuple[int, int], list[Node]] = {}
            for start in sorted(self.uses):
                index.setdefault(self.uses[start].key, []).append(self.nodes[start])
            self._by_declaration = index
        return [
            n
            for n in self._by_declaration.get(declaration.key, [])
            if root.start_byte <= n.start_byte and n.end_byte <= root.end_byte
        ]


def same(one: Declaration | None, other: Declaration | None) -> bool:
    """Are the two the same declaration?  (The bindings of a source text are computed again when
    another text was resolved in between: the same name then has a new :class:`Declaration`.)"""
    return one is not None and other is not None and (one is other or one.node == other.node)


def package_scope(roots: Iterable[Node]) -> dict[str, Declaration]:
    """The package block of the files with these roots: their functions, types, variables and constants."""
    scope: dict[str, Declaration] = {}
    for root in roots:
        for decl in root.named_children:
            kind = decl.type
            if kind == "function_declaration":
                ident = decl.child_by_field_name("name")
                name = text(ident)
                if ident is not None and name not in ("init", "_"):
                    scope[name] = Declaration(name, FUNC, ident, True)
            elif kind in ("var_declaration", "const_declaration", "type_declaration"):
                for ident, spec_kind in _spec_names(decl):
                    name = text(ident)
                    if name != "_":
                        scope[name] = Declaration(name, spec_kind, ident, True)
    return scope


def file_scope(root: Node) -> dict[str, Declaration]:
    """The imports of one file, by the name they are known under (not dot or blank imports)."""
    scope: dict[str, Declaration] = {}
    for decl in root.named_children:
        if decl.type != "import_declaration":
            continue
        specs = [c for c in decl.named_children if c.type == "import_spec"]
        for group in (c for c in decl.named_children if c.type == "import_spec_list"):
            specs.extend(c for c in group.named_children if c.type == "import_spec")
        for spec in specs:
            path = spec.child_by_field_name("path")
            name = spec.child_by_field_name("name")
            if path is None:
                continue
            if name is None:
                local = default_name(text(path).strip('"`'))
                scope[local] = Declaration(local, IMPORT, path, True)
            elif name.type == "package_identifier":
                scope[text(name)] = Declaration(text(name), IMPORT, name, True)
    return scope


def _spec_names(decl: Node) -> list[tuple[Node, str]]:
    kind = {"var_declaration": VAR, "const_declaration": CONST, "type_declaration": TYPE}[decl.type]
    found: list[tuple[Node, str]] = []
    stack = list(decl.named_children)
    while stack:
        node = stack.pop(0)
        if node.type in ("var_spec_list", "const_spec_list"):
            stack[:0] = node.named_children
        elif node.type in ("var_spec", "const_spec", "type_spec", "type_alias"):
            found.extend((n, kind) for n in node.children_by_field_name("name"))
    return found


_cache: dict[tuple[int, int, tuple[str, ...]], Bindings] = {}
_cache_source: list[bytes] = []
_file_scopes: list[tuple[dict[str, Declaration], dict[str, Declaration]]] = []


def forget_texts() -> None:
    """Let go of the bindings of the last text (a closed document's, perhaps)."""
    _cache.clear()
    _cache_source.clear()
    _file_scopes.clear()


def bindings(decl: Node, source: bytes, package: Mapping[str, Declaration] | None = None) -> Bindings:
    """The bindings of the top-level declaration ``decl`` of ``source``, computed once per declaration.

    ``package`` is the package block (see :func:`package_scope`); by default
    that of ``decl``'s own file, built once per source text when first needed.
    The imports are those of ``decl``'s file.
    """
    if not _cache_source or _cache_source[0] is not source:
        _cache.clear()
        _file_scopes.clear()
        _cache_source[:] = [source]
    key = (decl.start_byte, decl.end_byte, tuple(package) if package is not None else ())
    found = _cache.get(key)
    if found is None:
        root = decl
        while root.parent is not None:
            root = root.parent

        def outer() -> tuple[Mapping[str, Declaration], ...]:
            if not _file_scopes or _cache_source[0] is not source:
                _file_scopes[:] = [(package_scope([root]), file_scope(root))]
            own_package, imports = _file_scopes[0]
            return (imports, package if package is not None else own_package)

        found = _Resolver(outer).run(decl)
        _cache[key] = found
    return found


class _Resolver:
    def __init__(self, outer: Callable[[], tuple[Mapping[str, Declaration], ...]]) -> None:
        self.scopes: list[dict[str, Declaration]] = [{}]
        self.labels: list[dict[str, Declaration]] = []
        self.result = Bindings(outer=outer)

    def run(self, decl: Node) -> Bindings:
        kind = decl.type
        if kind in ("function_declaration", "method_declaration"):
            self._function(decl)
        elif kind in ("var_declaration", "const_declaration", "type_declaration"):
            self._top_level_specs(decl)
        else:
            self.visit(decl)
        return self.result

    # --- scopes ---------------------------------------------------------------

    def lookup(self, name: str) -> Declaration | None:
        for scope in reversed(self.scopes):
            found = scope.get(name)
            if found is not None:
                return found
        return None

    def declare(self, ident: Node, kind: str) -> None:
        name = text(ident)
        if name == "_" or not name:
            return
        declaration = Declaration(name, kind, ident)
        self.scopes[-1][name] = declaration
        self.result.declared[ident.start_byte] = declaration

    def use(self, ident: Node) -> None:
        found = self.lookup(text(ident))
        if found is not None:
            self.result.uses[ident.start_byte] = found
            self.result.nodes[ident.start_byte] = ident
        else:
            self.result.pending[ident.start_byte] = ident  # the imports' or the package's, if anyone's

    def push(self) -> None:
        self.scopes.append({})

    def pop(self) -> None:
        self.scopes.pop()

    # --- walking --------------------------------------------------------------

    def visit(self, node: Node | None) -> None:
        if node is None:
            return
        kind = node.type
        if kind in _USES:
            self.use(node)
            return
        if kind in _LEAVES:
            return
        handler = _HANDLERS.get(kind)
        if handler is not None:
            handler(self, node)
            return
        for child in node.named_children:
            self.visit(child)

    def visit_all(self, nodes: Iterable[Node]) -> None:
        for node in nodes:
            self.visit(node)

    def _top_level_specs(self, decl: Node) -> None:
        """``var``/``const``/``type`` at package level: the names are the package block's, already declared."""
        for ident, _ in _spec_names(decl):
            self.result.pending[ident.start_byte] = ident  # the package block's declaration of it
        stack = list(decl.named_children)
        while stack:
            node = stack.pop(0)
            if node.type in ("var_spec_list", "const_spec_list"):
                stack[:0] = node.named_children
            elif node.type in ("var_spec", "const_spec", "type_spec", "type_alias"):
                for child in node.named_children:
                    if child not in node.children_by_field_name("name"):
                        self.visit(child)

    def _function(self, func: Node) -> None:
        self.push()
        self.labels.append(_labels(func))
        for label in self.labels[-1].values():
            self.result.declared[label.node.start_byte] = label
        self._parameters(func.child_by_field_name("type_parameters"), TYPE_PARAM)
        self._parameters(func.child_by_field_name("receiver"), RECEIVER)
        self._parameters(func.child_by_field_name("parameters"), PARAM)
        result = func.child_by_field_name("result")
        if result is not None and result.type == "parameter_list":
            self._parameters(result, RESULT)
        else:
            self.visit(result)
        body = func.child_by_field_name("body")
        if body is not None:  # the function block holds the parameters and the body's top level
            self.visit_all(body.named_children)
        self.labels.pop()
        self.pop()

    def _parameters(self, params: Node | None, kind: str) -> None:
        if params is None:
            return
        declared: list[Node] = []
        for param in params.named_children:
            if param.type in ("parameter_declaration", "variadic_parameter_declaration", "type_parameter_declaration"):
                self.visit(param.child_by_field_name("type"))
                declared.extend(param.children_by_field_name("name"))
        for ident in declared:
            self.declare(ident, kind)

    def _types_only(self, node: Node) -> None:
        """A parameter of a function type or an interface method: its name declares nothing."""
        self.visit(node.child_by_field_name("type"))

    def _block(self, node: Node) -> None:
        self.push()
        for child in node.named_children:
            self.visit(child)
        self.pop()

    def _short_var(self, node: Node) -> None:
        self.visit(node.child_by_field_name("right"))
        self._define(node.child_by_field_name("left"))

    def _define(self, left: Node | None) -> None:
        """The left side of ``:=``: new names are declared, those of the same scope assigned."""
        if left is None:
            return
        for target in left.named_children:
            if target.type != "identifier":
                self.visit(target)
            elif text(target) in self.scopes[-1]:
                self.use(target)
            else:
                self.declare(target, VAR)

    def _spec(self, node: Node) -> None:
        names = node.children_by_field_name("name")
        for child in node.named_children:
            if child not in names:
                self.visit(child)
        kind = CONST if node.type == "const_spec" else VAR
        for ident in names:
            self.declare(ident, kind)

    def _type_spec(self, node: Node) -> None:
        for ident in node.children_by_field_name("name"):
            self.declare(ident, TYPE)  # before its type: a type may refer to itself
        for child in node.named_children:
            if child not in node.children_by_field_name("name"):
                self.visit(child)

    def _func_literal(self, node: Node) -> None:
        self.push()
        self._parameters(node.child_by_field_name("parameters"), PARAM)
        result = node.child_by_field_name("result")
        if result is not None and result.type == "parameter_list":
            self._parameters(result, RESULT)
        else:
            self.visit(result)
        self.labels.append(_labels(node))
        for label in self.labels[-1].values():
            self.result.declared[label.node.start_byte] = label
        body = node.child_by_field_name("body")
        if body is not None:
            self.visit_all(body.named_children)
        self.labels.pop()
        self.pop()

    def _implicit_block(self, node: Node) -> None:
        """``if``, ``for``, ``switch``, ``select`` and the clauses of the last two: a scope of their own."""
        self.push()
        for child in node.named_children:
            self.visit(child)
        self.pop()

    def _range_or_receive(self, node: Node) -> None:
        """``for k, v := range x`` and ``case v := <-ch``: the right side first, then the names."""
        self.visit(node.child_by_field_name("right"))
        left = node.child_by_field_name("left")
        if any(c.type == ":=" for c in node.children):
            self._define(left)
        else:
            self.visit(left)

    def _type_switch(self, node: Node) -> None:
        self.push()
        self.visit(node.child_by_field_name("initializer"))
        self.visit(node.child_by_field_name("value"))
        alias = node.child_by_field_name("alias")
        names = alias.named_children if alias is not None else []
        first: Declaration | None = None
        for case in node.named_children:
            if case.type not in ("type_case", "default_case"):
                continue
            self.push()
            for child in case.children_by_field_name("type"):
                self.visit(child)
            for ident in names:  # one variable for all clauses (go/types makes one per clause)
                if first is None:
                    self.declare(ident, VAR)
                    first = self.result.declared.get(ident.start_byte)
                elif text(ident) != "_":
                    self.scopes[-1][text(ident)] = first
            for child in case.named_children:
                if child.type == "statement_list":
                    self.visit(child)
            self.pop()
        self.pop()

    def _labeled(self, node: Node) -> None:
        for child in node.named_children:
            if child.type != "label_name":
                self.visit(child)

    def _jump(self, node: Node) -> None:
        for child in node.named_children:
            if child.type == "label_name" and self.labels:
                found = self.labels[-1].get(text(child))
                if found is not None:
                    self.result.uses[child.start_byte] = found
                    self.result.nodes[child.start_byte] = child

    def _qualified_type(self, node: Node) -> None:
        self.visit(node.child_by_field_name("package"))  # pkg.Name: Name is the package's, not in scope

    def _composite_literal(self, node: Node) -> None:
        literal_type = node.child_by_field_name("type")
        self.visit(literal_type)
        keyed_by_value = literal_type is not None and literal_type.type in ("map_type", "slice_type", "array_type")
        self._literal_value(node.child_by_field_name("body"), keyed_by_value)

    def _literal_value(self, body: Node | None, keyed_by_value: bool) -> None:
        if body is None:
            return
        for element in body.named_children:
            if element.type == "keyed_element":
                key, *rest = element.named_children
                if keyed_by_value or not _bare_identifier(key):
                    self._element(key, keyed_by_value)
                for value in rest:
                    self._element(value, keyed_by_value)
            else:
                self._element(element, keyed_by_value)

    def _element(self, element: Node, keyed_by_value: bool) -> None:
        inner = element.named_children[0] if element.type == "literal_element" and element.named_child_count else element
        if inner.type == "literal_value":  # an elided type: {k: v} inside a map or slice literal
            self._literal_value(inner, keyed_by_value)
        else:
            self.visit(inner)


def _bare_identifier(key: Node) -> bool:
    inner = key.named_children[0] if key.type == "literal_element" and key.named_child_count else key
    return inner.type == "identifier"


def _labels(func: Node) -> dict[str, Declaration]:
    """The labels of one function body (labels are function-wide: a ``goto`` may jump forward)."""
    found: dict[str, Declaration] = {}
    body = func.child_by_field_name("body")
    if body is None:
        return found
    qc = cursor("(labeled_statement label: (label_name) @label)")
    qc.set_byte_range(body.start_byte, body.end_byte)
    for label in qc.captures(body).get("label", []):
        owner = label.parent
        while owner is not None and owner.type not in ("func_literal", "function_declaration", "method_declaration"):
            owner = owner.parent
        if owner is not None and owner.start_byte == func.start_byte and owner.end_byte == func.end_byte:
            found[text(label)] = Declaration(text(label), LABEL, label)
    return found


_HANDLERS: dict[str, Callable[[_Resolver, Node], None]] = {
    "function_declaration": _Resolver._function,
    "method_declaration": _Resolver._function,
    "func_literal": _Resolver._func_literal,
    "block": _Resolver._block,
    "short_var_declaration": _Resolver._short_var,
    "var_spec": _Resolver._spec,
    "const_spec": _Resolver._spec,
    "type_spec": _Resolver._type_spec,
    "type_alias": _Resolver._type_spec,
    "parameter_declaration": _Resolver._types_only,
    "variadic_parameter_declaration": _Resolver._types_only,
    "if_statement": _Resolver._implicit_block,
    "for_statement": _Resolver._implicit_block,
    "expression_switch_statement": _Resolver._implicit_block,
    "expression_case": _Resolver._implicit_block,
    "default_case": _Resolver._implicit_block,
    "select_statement": _Resolver._implicit_block,
    "communication_case": _Resolver._implicit_block,
    "range_clause": _Resolver._range_or_receive,
    "receive_statement": _Resolver._range_or_receive,
    "type_switch_statement": _Resolver._type_switch,
    "labeled_statement": _Resolver._labeled,
    "break_statement": _Resolver._jump,
    "continue_statement": _Resolver._jump,
    "goto_statement": _Resolver._jump,
    "qualified_type": _Resolver._qualified_type,
    "composite_literal": _Resolver._composite_literal,
    "method_elem": lambda self, node: self.visit_all(
        c for c in node.named_children if c.type != "field_identifier"
    ),
}


def single_value(declaration: Declaration | None) -> Node | None:
    """The value a ``x := v`` binds to the one local it declares (None for anything else)."""
    if declaration is None or declaration.package_level:
        return None
    left = declaration.node.parent
    stmt = left.parent if left is not None else None
    if left is None or stmt is None or stmt.type != "short_var_declaration" or left.named_child_count != 1:
        return None
    right = stmt.child_by_field_name("right")
    return right.named_children[0] if right is not None and right.named_child_count == 1 else None


def _top_level(node: Node) -> Node:
    current = node
    while current.parent is not None and current.parent.type != "source_file":
        current = current.parent
    return current


def declaration_of(ident: Node, source: bytes) -> Declaration | None:
    """The declaration the identifier ``ident`` of ``source`` names (or declares), through the
    bindings of its top-level declaration (computed once per declaration)."""
    return bindings(_top_level(ident), source).of(ident)


def occurrences(declaration: Declaration, root: Node, source: bytes) -> list[Node]:
    """The identifiers under ``root`` that are ``declaration``: its declaring identifier (when under
    ``root``) and its uses, in source order.  A variable of the same name declared elsewhere (an
    inner ``x := ...`` shadowing it, or an outer one it shadows) is not one of them."""
    found = bindings(_top_level(root), source).uses_of(declaration, root)
    node = declaration.node
    if node.type in ("identifier", "package_identifier") and root.start_byte <= node.start_byte and node.end_byte <= root.end_byte:
        found = sorted([node, *found], key=lambda n: n.start_byte)
    return found


def same_variable(ident: Node, declaration: Declaration | None, source: bytes) -> bool:
    """Is the identifier ``ident`` a use (or the declaration) of ``declaration``?"""
    return ident.type == "identifier" and same(declaration_of(ident, source), declaration)
