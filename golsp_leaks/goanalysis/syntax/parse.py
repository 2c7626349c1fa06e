"""The tree-sitter-go parser and compiled queries."""

from __future__ import annotations

import threading
from collections import OrderedDict
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


#: Trees of whole files by their text, most recently used last (see :func:`parse_shared`).
_shared: OrderedDict[bytes, Tree] = OrderedDict()
_shared_bytes = 0
_shared_lock = threading.Lock()
#: How much source text the shared trees may stand for, and how many of them there may be.
SHARED_MAX_BYTES = 8 << 20
SHARED_MAX_TREES = 128


def parse_shared(source: bytes) -> Tree:
    """The tree of this text, parsed once for everyone who asks for the same text soon.

    The command line checks a file and reads it as the sibling of the other files of its
    package: both get one tree.  The tree must not be edited (``Tree.edit``); a document
    that is edited keeps its own, from :func:`parse`.  Bounded by :data:`SHARED_MAX_BYTES`
    of source and :data:`SHARED_MAX_TREES` trees.
    """
    global _shared_bytes
    with _shared_lock:
        tree = _shared.get(source)
        if tree is not None:
            _shared.move_to_end(source)
            return tree
    tree = parse(source)
    if len(source) > SHARED_MAX_BYTES // 4:
        return tree
    with _shared_lock:
        if source not in _shared:
            _shared[source] = tree
            _shared_bytes += len(source)
            while len(_shared) > SHARED_MAX_TREES or _shared_bytes > SHARED_MAX_BYTES:
                old, _ = _shared.popitem(last=False)
                _shared_bytes -= len(old)
    return tree


def clear_shared() -> None:
    """Forget the shared trees."""
    global _shared_bytes
    with _shared_lock:
        _shared.clear()
        _shared_bytes = 0


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
