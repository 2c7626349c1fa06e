"""Scopes and bindings on small snippets: each use resolves to the declaration Go's rules say."""

from __future__ import annotations

import pytest
from tree_sitter import Node

from golsp_leaks.goanalysis.names.scopes import (
    CONST,
    FUNC,
    IMPORT,
    LABEL,
    PARAM,
    RECEIVER,
    RESULT,
    TYPE,
    TYPE_PARAM,
    VAR,
    bindings,
    package_scope,
)
from golsp_leaks.goanalysis.syntax.nodes import declarations, walk
from golsp_leaks.goanalysis.syntax.parse import parse

_NAMES = frozenset({"identifier", "type_identifier", "package_identifier", "label_name"})


def _occurrences(root: Node, name: str) -> list[Node]:
    return [n for n in walk(root) if n.type in _NAMES and n.text == name.encode()]


def _resolve(source: str, use: str) -> tuple[int | None, str | None]:
    """``use`` is ``name#k``: the k-th occurrence of ``name`` (1-based); the answer is which
    occurrence declares what it names (None: nothing; 0: not an identifier, as the path of an
    import without a name) and the declaration's kind."""
    name, _, index = use.partition("#")
    root = parse(source.encode()).root_node
    occurrences = _occurrences(root, name)
    ident = occurrences[int(index) - 1]
    decl = next(d for d in declarations(root) if d.start_byte <= ident.start_byte < d.end_byte)
    found = bindings(decl, source.encode()).of(ident)
    if found is None:
        return None, None
    starts = [n.start_byte for n in occurrences]
    position = starts.index(found.node.start_byte) + 1 if found.node.start_byte in starts else 0
    return position, found.kind


CASES = [
    # (description, source, use, declaring occurrence (0: the import path), kind)
    ("parameter", "package p\nfunc f(x int) int { return x }", "x#2", 1, PARAM),
    ("named result, bare return", "package p\nfunc f() (err error) { err = nil; return }", "err#2", 1, RESULT),
    ("receiver", "package p\ntype T struct{}\nfunc (t T) m() T { return t }", "t#2", 1, RECEIVER),
    ("type parameter", "package p\nfunc f[E any](e E) E { return e }", "E#3", 1, TYPE_PARAM),
    ("short var", "package p\nfunc f() { x := 1; _ = x }", "x#2", 1, VAR),
    ("x := x reads the outer x", "package p\nfunc f(x int) { { x := x; _ = x } }", "x#3", 1, PARAM),
    ("x := x declares the inner x", "package p\nfunc f(x int) { { x := x; _ = x } }", "x#4", 2, VAR),
    ("shadowed in an inner block", "package p\nfunc f() { c := 1; if true { c := 2; _ = c }; _ = c }", "c#3", 2, VAR),
    ("outer after the inner block", "package p\nfunc f() { c := 1; if true { c := 2; _ = c }; _ = c }", "c#4", 1, VAR),
    ("redeclared in the same scope assigns", "package p\nfunc f() { a, err := 1, error(nil); b, err := 2, err; _, _, _ = a, b, err }", "err#2", 1, VAR),
    ("var with a type", "package p\nfunc f() { var n int; _ = n }", "n#2", 1, VAR),
    ("const", "package p\nfunc f() int { const k = 3; return k }", "k#2", 1, CONST),
    ("range variables", "package p\nfunc f(xs []int) { for i, v := range xs { _, _ = i, v } }", "v#2", 1, VAR),
    ("range over the outer name", "package p\nfunc f(v []int) { for _, v := range v { _ = v } }", "v#3", 1, PARAM),
    ("range assigns with =", "package p\nfunc f(xs []int) { var i int; for i = range xs {}; _ = i }", "i#2", 1, VAR),
    ("if initializer", "package p\nfunc f() { if e := g(); e != nil { _ = e } }\nfunc g() error { return nil }", "e#3", 1, VAR),
    ("if initializer ends with the if", "package p\nvar e error\nfunc f() { if e := 1; e > 0 {}; _ = e }", "e#4", 1, VAR),
    ("switch initializer", "package p\nfunc f() { switch y := 2; y { case 1: } }", "y#2", 1, VAR),
    ("type switch binding", "package p\nfunc f(a any) { switch v := a.(type) { case int: _ = v; default: _ = v } }", "v#3", 1, VAR),
    ("select receive", "package p\nfunc f(ch chan int) { select { case m, ok := <-ch: _, _ = m, ok } }", "m#2", 1, VAR),
    ("select receive is the case's", "package p\nvar m int\nfunc f(ch chan int) { select { case m := <-ch: _ = m }; _ = m }", "m#4", 1, VAR),
    ("closure parameter shadows", "package p\nfunc f(x int) { g := func(x int) { _ = x }; g(x) }", "x#3", 2, PARAM),
    ("closure captures", "package p\nfunc f(x int) { g := func() { _ = x }; g() }", "x#2", 1, PARAM),
    ("closure result", "package p\nfunc f() { _ = func() (n int) { n = 1; return } }", "n#2", 1, RESULT),
    ("label of continue", "package p\nfunc f() {\nL:\n\tfor { continue L }\n}", "L#2", 1, LABEL),
    ("goto forward", "package p\nfunc f() {\n\tgoto End\nEnd:\n}", "End#1", 2, LABEL),
    ("package var from the same file", "package p\nvar cancel func()\nfunc f() { cancel() }", "cancel#2", 1, VAR),
    ("package func", "package p\nfunc g() {}\nfunc f() { g() }", "g#2", 1, FUNC),
    ("package type", "package p\ntype S struct{}\nfunc f() S { return S{} }", "S#3", 1, TYPE),
    ("local type", "package p\nfunc f() { type U struct{ X int }; _ = U{X: 1} }", "U#2", 1, TYPE),
    ("import by default name", 'package p\nimport "context"\nfunc f() { _ = context.Background }', "context#1", 0, IMPORT),
    ("import by alias", 'package p\nimport ctx "context"\nfunc f() { _ = ctx.Background }', "ctx#2", 1, IMPORT),
    ("import in a qualified type", 'package p\nimport "os"\nfunc f(f *os.File) {}', "os#1", 0, IMPORT),
    ("parameter shadows an import", 'package p\nimport "os"\nfunc f(os int) int { return os }', "os#2", 1, PARAM),
    ("struct literal field is not a use", "package p\ntype T struct{ Name int }\nfunc f(Name int) T { return T{Name: Name} }", "Name#2", None, None),
    ("struct literal value is a use", "package p\ntype T struct{ Name int }\nfunc f(Name int) T { return T{Name: Name} }", "Name#3", 1, PARAM),
    ("map literal key is a use", "package p\nfunc f(k string) map[string]int { return map[string]int{k: 1} }", "k#2", 1, PARAM),
    ("field of a selector is not looked up", "package p\ntype T struct{ x int }\nfunc f(t T, x int) int { return t.x + x }", "x#2", 1, PARAM),
    ("function type parameter declares nothing", "package p\nfunc f(z int) { var h func(z string); _, _ = h, z }", "z#3", 1, PARAM),
    ("builtin", "package p\nfunc f(xs []int) int { return len(xs) }", "len#1", None, None),
    ("package var initializer", "package p\nvar a = 1\nvar b = a", "a#2", 1, VAR),
]


@pytest.mark.parametrize(("description", "source", "use", "declared_at", "kind"), CASES, ids=[c[0] for c in CASES])
def test_use_resolves_to_its_declaration(
    description: str, source: str, use: str, declared_at: int | None, kind: str | None
) -> None:
    assert _resolve(source, use) == (declared_at, kind)


def test_package_names_of_sibling_files() -> None:
    """A package-level name declared in another file of the package resolves there."""
    store = parse(b"package p\ntype Store struct{}\nvar defaultStore Store\n")
    handlers_source = b"package p\nfunc h() Store { return defaultStore }\n"
    handlers = parse(handlers_source)
    scope = package_scope([store.root_node, handlers.root_node])
    decl = next(declarations(handlers.root_node))
    found = bindings(decl, handlers_source, scope)
    uses = [n for n in walk(decl) if n.type in _NAMES and n.text == b"defaultStore"]
    declaration = found.of(uses[0])
    assert declaration is not None and declaration.kind == VAR and declaration.package_level
    assert declaration.node.start_point.row == 2 and declaration.node.text == b"defaultStore"


def test_uses_of_lists_only_that_declaration() -> None:
    source = b"package p\nfunc f() { c := 1; if true { c := 2; _ = c }; _ = c; _ = c }\n"
    root = parse(source).root_node
    decl = next(declarations(root))
    found = bindings(decl, source)
    outer = found.of(_occurrences(root, "c")[0])
    assert outer is not None
    assert [n.start_byte for n in found.uses_of(outer, decl)] == [n.start_byte for n in _occurrences(root, "c")[3:]]
