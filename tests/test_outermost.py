"""``outermost_by_keyword``: querying the nodes it gives finds what a query over the whole file
finds, in a file with a syntax error too (the file being typed), without querying all of it."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest
from tree_sitter import Node

from golsp_leaks.goanalysis.cfg.loops import _GO_LITERALS
from golsp_leaks.goanalysis.libraries.frameworks import _STRUCT_TYPES
from golsp_leaks.goanalysis.resources.tracking import _FIELDS
from golsp_leaks.goanalysis.summaries.package import _GO_CALL_TARGETS
from golsp_leaks.goanalysis.summaries.returns import _SPECS
from golsp_leaks.goanalysis.syntax.nodes import outermost_by_keyword
from golsp_leaks.goanalysis.syntax.parse import cursor, parse

FIXTURES = sorted((Path(__file__).parent / "fixtures").rglob("*.go"))

#: What the analysis asks this way: (keyword, kind, query).
ASKED = [
    ("type", "type_declaration", _STRUCT_TYPES),
    ("struct", "struct_type", _FIELDS),
    ("interface", "interface_type", _SPECS),
    ("go", "go_statement", _GO_CALL_TARGETS),
    ("go", "go_statement", _GO_LITERALS),
]

BROKEN = b"""package p

import "sync"

type T struct {
	once sync.Once
	mu   sync.Mutex
}

func a(t *T) {
	t.once.Do(func() {})
	go work(
}

type U struct{ T; n int }

func b() {
	go func() { for {} }()
	x := 1 +
}

type I interface{ Get() (int, error) }

)) type V struct { k int }
"""


def _spans(matches: list[tuple[int, dict[str, list[Node]]]]) -> list[tuple[int, str, tuple[int, int]]]:
    return sorted(
        (pattern, name, (node.start_byte, node.end_byte))
        for pattern, captures in matches
        for name, nodes in captures.items()
        for node in nodes
    )


def _same_as_the_whole(source: bytes) -> bool:
    """Checks every question on ``source``; whether the tree had an error."""
    root = parse(source).root_node
    for keyword, kind, query in ASKED:
        whole = _spans(cursor(query).matches(root))
        parts = outermost_by_keyword(root, keyword, kind)
        if parts is None:
            assert root.is_error
            continue
        starts = [n.start_byte for n in parts]
        assert starts == sorted(starts)
        assert all(a.end_byte <= b.start_byte for a, b in itertools.pairwise(parts))
        assert _spans([m for node in parts for m in cursor(query).matches(node)]) == whole, (keyword, query)
    return root.has_error


def _typed(source: bytes, seed: int) -> list[bytes]:
    """The source with a character typed or deleted at a few places (mostly breaking it)."""
    rng = random.Random(seed)
    first = source.find(b"{\n") + 2  # in the first body or struct
    out = [source[:first] + b"x(" + source[first:]]
    for _ in range(6):
        at = rng.randrange(len(source))
        out.append(source[:at] + rng.choice([b"x(", b"(", b"{", b"}", b"= ", b""]) + source[at + 1 :])
    return out


def test_a_broken_file_is_queried_by_parts() -> None:
    root = parse(BROKEN).root_node
    assert root.has_error and not root.is_error
    parts = outermost_by_keyword(root, "type", "type_declaration")
    assert parts is not None  # not the whole file
    assert any(p.has_error for p in parts)
    assert sum(p.end_byte - p.start_byte for p in parts) < len(BROKEN)
    assert _same_as_the_whole(BROKEN)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_the_same_matches_while_typing(path: Path) -> None:
    source = path.read_bytes()
    _same_as_the_whole(source)
    broken = sum(_same_as_the_whole(typed) for typed in _typed(source, len(source)))
    assert broken or len(source) < 200
