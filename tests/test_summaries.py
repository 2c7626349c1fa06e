"""Who owns a bound variable (names.holders), what a function does with a parameter (summaries.params),
and which functions return a fresh resource (summaries.returns), on small files."""

from __future__ import annotations

import pytest
from tree_sitter import Node

from golsp_leaks.goanalysis.dataflow.ownership import Releases, Use
from golsp_leaks.goanalysis.names.holders import holder
from golsp_leaks.goanalysis.names.scopes import PARAM, RESULT, VAR
from golsp_leaks.goanalysis.summaries.params import ignores_argument, param_use
from golsp_leaks.goanalysis.summaries.returns import returning
from golsp_leaks.goanalysis.syntax.nodes import binding, text, walk
from golsp_leaks.goanalysis.syntax.parse import parse


def _acquisition(source: bytes) -> tuple[Node, Node]:
    """The first ``acquire()`` call's statement and the variable it binds last (``x, y := acquire()``: y)."""
    root = parse(source).root_node
    call = next(n for n in walk(root) if n.type == "call_expression" and text(n).startswith("acquire("))
    bound = binding(call)
    assert bound is not None
    return bound.stmt, bound.targets[-1]


HOLDERS = [
    ("local", "func f() { x := acquire(); use(x) }", (VAR, "function_declaration", 1, 0, False)),
    ("named result", "func f() (x int) { x = acquire(); if x > 0 { return }; return 0 }", (RESULT, "function_declaration", 1, 1, False)),
    ("package variable", "var x int\nfunc f() { x = acquire() }", None),
    ("not declared in this file", "func f() { x = acquire() }", None),
    ("closure called at once", "func f() { var x int; func() { x = acquire() }(); use(x) }", (VAR, "function_declaration", 1, 0, True)),
    ("closure started", "func f() { var x int; go func() { x = acquire() }(); use(x) }", None),
    ("parameter reassigned", "func f(x int) { x = acquire(); use(x) }", (PARAM, "function_declaration", 1, 0, False)),
    ("shadowing inner variable is another", "func f() { x := acquire(); { x := 2; use(x) }; use(x) }", (VAR, "function_declaration", 1, 0, False)),
]


@pytest.mark.parametrize(("description", "body", "expected"), HOLDERS, ids=[h[0] for h in HOLDERS])
def test_holder(description: str, body: str, expected: tuple[str, str, int, int, bool] | None) -> None:
    source = f"package p\n\n{body}\n".encode()
    stmt, target = _acquisition(source)
    found = holder(target, stmt, source)
    if expected is None:
        assert found is None
        return
    assert found is not None
    kind, func_type, uses, bare, lifted = expected
    assert (found.declaration.kind, found.func.type, len(found.uses), len(found.bare_returns), found.lifted) == (
        kind,
        func_type,
        uses,
        bare,
        lifted,
    )


CLOSE = Releases(methods=frozenset({("Close",)}))

PARAMS = [
    ("closes it", "func h(f *F) { f.Close() }", Use.RELEASE),
    ("defers the close", "func h(f *F) error { defer f.Close(); return nil }", Use.RELEASE),
    ("only reads it", "func h(f *F) int { return f.Size() }", Use.BORROW),
    ("returns it", "func h(f *F) *F { return f }", Use.TRANSFER),
    ("stores it", "var keep *F\nfunc h(f *F) { keep = f }", Use.TRANSFER),
    ("hands it to a helper that closes", "func h(f *F) { g(f) }\nfunc g(c *F) { c.Close() }", Use.RELEASE),
    ("hands it to a helper that reads", "func h(f *F) { g(f) }\nfunc g(c *F) { _ = c.Size() }", Use.BORROW),
    ("unnamed parameter", "func h(*F) {}", None),
]


@pytest.mark.parametrize(("description", "code", "expected"), PARAMS, ids=[p[0] for p in PARAMS])
def test_param_use(description: str, code: str, expected: Use | None) -> None:
    source = f"package p\n\n{code}\n".encode()
    root = parse(source).root_node
    func = next(d for d in root.named_children if d.type == "function_declaration" and text(d.child_by_field_name("name")) == "h")
    assert param_use(func, 0, CLOSE, source) == expected


RETURNS = [
    ("returns a library call", "func open() (*F, error) { return lib.Open() }", {("open", False)}),
    ("returns a local bound from a call", "func open() (*F, error) { f, err := lib.Open(); if err != nil { return nil, err }; return f, nil }", {("open", False)}),
    ("registers a cleanup", "func open(t T) *F { f := lib.Open(); t.Cleanup(func() { f.Close() }); return f }", set()),
    ("closes before returning", "func open() *F { f := lib.Open(); f.Close(); return f }", set()),
    ("accessor of a field", "type S struct{ f *F }\nfunc (s *S) file() *F { return s.f }", set()),
    ("through another fresh function", "func open() *F { return lib.Open() }\nfunc again() *F { return open() }", {("open", False), ("again", False)}),
    ("through a function that is not fresh", "type S struct{ f *F }\nfunc (s *S) file() *F { return s.f }\nfunc get(s *S) *F { return s.file() }", set()),
    ("method of a unique name", "type C struct{}\nfunc (c *C) open() *F { return lib.Open() }", {("open", True)}),
    ("method name shared by two types, both fresh", "type C struct{}\ntype D struct{}\nfunc (c *C) open() *F { return lib.Open() }\nfunc (d *D) open() *F { return lib.Open() }", {("open", True)}),
    ("method name shared by two types, one an accessor", "type C struct{ f *F }\ntype D struct{}\nfunc (c *C) open() *F { return c.f }\nfunc (d *D) open() *F { return lib.Open() }", set()),
    ("another result type", "func open() (*G, error) { return lib.OpenG() }", set()),
    ("parsed from a reader held already", "func open(r R) (*F, error) { return http.ReadResponse(r, nil) }", set()),
]


@pytest.mark.parametrize(("description", "code", "expected"), RETURNS, ids=[r[0] for r in RETURNS])
def test_returning(description: str, code: str, expected: set[tuple[str, bool]]) -> None:
    source = f"package p\n\n{code}\n".encode()
    root = parse(source).root_node

    def is_f(node: Node) -> bool:
        return text(node) == "*F"

    assert set(returning(root, source, "*F", is_f, b"F")) == expected


IGNORED = [
    ("blank parameter", "func g(a int, _ string) { use(a) }", 1, True),
    ("named but unused", "func g(a int, b string) { use(a) }", 1, True),
    ("used", "func g(a int, b string) { use(b) }", 1, False),
    ("used only by a shadowing variable is unused", "func g(a int, b string) { { b := 1; use(b) } }", 1, True),
    ("the other parameter", "func g(a int, _ string) { use(a) }", 0, False),
    ("unnamed parameters are unknown", "func g(int, string) {}", 1, False),
    ("a method is not resolved", "type T struct{}\nfunc (T) g(a int, _ string) {}", 1, False),
    ("not a function of the file", "", 1, False),
]


@pytest.mark.parametrize(("description", "callee", "index", "expected"), IGNORED, ids=[c[0] for c in IGNORED])
def test_ignores_argument(description: str, callee: str, index: int, expected: bool) -> None:
    call_site = "t.g(1, \"x\")" if "(T)" in callee else "g(1, \"x\")"
    source = f"package p\n{callee}\nfunc f() {{ var t T; _ = t; {call_site} }}\n".encode()
    root = parse(source).root_node
    call = next(n for n in walk(root) if n.type == "call_expression" and text(n).endswith('(1, "x")'))
    assert ignores_argument(call, index, source) is expected


ROWS = Releases(methods=frozenset({("Close",)}), next_closes=True)

READ_TO_END = [
    ("reads to the end", "func h(rows *R) (n int) {\n\tfor rows.Next() {\n\t\tn++\n\t}\n\treturn n\n}", Use.RELEASE),
    ("a panic is no exit", "func h(rows *R) (n int) {\n\tfor rows.Next() {\n\t\tif n > 9 {\n\t\t\tpanic(n)\n\t\t}\n\t\tn++\n\t}\n\treturn n\n}", Use.RELEASE),
    ("breaks out", "func h(rows *R) (n int) {\n\tfor rows.Next() {\n\t\tbreak\n\t}\n\treturn n\n}", Use.BORROW),
    ("returns from inside", "func h(rows *R) int {\n\tfor rows.Next() {\n\t\treturn 1\n\t}\n\treturn 0\n}", Use.BORROW),
    ("one Next only", "func h(rows *R) bool {\n\treturn rows.Next()\n}", Use.BORROW),
]


@pytest.mark.parametrize(("description", "code", "expected"), READ_TO_END, ids=[p[0] for p in READ_TO_END])
def test_param_use_rows_read_to_the_end(description: str, code: str, expected: Use) -> None:
    source = f"package p\n\n{code}\n".encode()
    func = parse(source).root_node.named_children[1]
    assert param_use(func, 0, ROWS, source) == expected
    assert param_use(func, 0, CLOSE, source) == Use.BORROW  # only rows close themselves
