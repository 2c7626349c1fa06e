"""``identifiers_named`` finds what the query ``(identifier) @id`` finds, name by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from golsp_leaks.goanalysis.syntax.nodes import identifiers_named
from golsp_leaks.goanalysis.syntax.parse import cursor, parse

FIXTURES = sorted((Path(__file__).parent / "fixtures").rglob("*.go"))

TRICKY = """package p

// x is mentioned in a comment, and "x" in a string, x_y and yx are other names.
func f(x int, é int) int {
	xé := x + é
	s := "x"
	r := 'x'
	t := struct{ x int }{x: x}
	_ = t.x
	_ = x_y + yx + xé
	_ = s + string(r)
	if x := x; x > 0 { return x }
	return x +
}
"""


def _by_query(node_source: bytes) -> list[tuple[str, list[tuple[int, int]]]]:
    root = parse(node_source).root_node
    found = cursor("(identifier) @id").captures(root).get("id", [])
    names = sorted({n.text.decode() for n in found if n.text})
    out = []
    for name in [*names, "absent", "x", "é", "xé"]:
        spans = sorted((n.start_byte, n.end_byte) for n in found if n.text == name.encode())
        out.append((name, spans))
    return out


@pytest.mark.parametrize("source", [TRICKY.encode(), *(p.read_bytes() for p in FIXTURES[:60])])
def test_the_same_identifiers_as_the_query(source: bytes) -> None:
    root = parse(source).root_node
    for name, spans in _by_query(source):
        assert [(n.start_byte, n.end_byte) for n in identifiers_named(root, name)] == spans, name


def test_inside_a_node_only() -> None:
    source = TRICKY.encode()
    root = parse(source).root_node
    func = next(n for n in root.named_children if n.type == "function_declaration")
    body = func.child_by_field_name("body")
    assert body is not None
    inside = identifiers_named(body, "x")
    assert inside and all(body.start_byte <= n.start_byte < body.end_byte for n in inside)
    assert len(identifiers_named(root, "x")) == len(inside) + 1  # the parameter
    assert identifiers_named(body, "") == []
