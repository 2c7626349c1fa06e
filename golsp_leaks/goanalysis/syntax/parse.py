"""The tree-sitter-go parser and compiled queries."""

from __future__ import annotations

import threading
from functools import cache

import tree_sitter_go
from tree_sitter import Language, Parser, Point, Query, QueryCursor, Tree

GO_LANGUAGE = Language(tree_sitter_go.language())

_local = threading.local()


def _parser() -> Parser:
    parser: Parser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = Parser(GO_LANGUAGE)
        _local.parser = parser
    return parser


def parse(source: bytes, old_tree: Tree | None = None) -> Tree:
    """Parse Go source; pass the edited old tree for an incremental re-parse."""
    if old_tree is None:
        return _parser().parse(source)
    return _parser().parse(source, old_tree)


@cache
def query(source: str) -> Query:
    """A compiled query, cached by its text."""
    return Query(GO_LANGUAGE, source)


def cursor(source: str) -> QueryCursor:
    return QueryCursor(query(source))


def ts_point(source: bytes, offset: int) -> Point:
    """tree-sitter's point: rows end at ``\\n`` only, columns in bytes."""
    row = source.count(b"\n", 0, offset)
    last = source.rfind(b"\n", 0, offset)
    return Point(row, offset - (last + 1))


def ts_end_point(start: Point, inserted: bytes) -> Point:
    rows = inserted.count(b"\n")
    if rows == 0:
        return Point(start.row, start.column + len(inserted))
    return Point(start.row + rows, len(inserted) - (inserted.rfind(b"\n") + 1))
