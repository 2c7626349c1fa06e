"""The top-level nodes of a file, carried from one version of the file to the next.

An editor changes a few bytes at a time.  :func:`carry` finds what changed between two
versions of a file (their longest common prefix and suffix, compared a chunk at a time) and
says which of the old version's top-level nodes are still there, unchanged: those before the
change in place, those after it moved by the same number of bytes and rows.  Only the nodes
in between are read from the new tree.  A caller keeps what it derived from each node in a
list beside the nodes and carries it along the same way, so that an edit costs what it
touched, not what the file holds.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from tree_sitter import Node

#: Bytes compared at a time while looking for the first (and last) difference.
_CHUNK = 1 << 14


class Tops:
    """The top-level named nodes of one version of a file, as columns: type, byte range, first row."""

    __slots__ = ("ends", "kinds", "rows", "starts")

    def __init__(self, kinds: list[str], starts: list[int], ends: list[int], rows: list[int]) -> None:
        self.kinds = kinds
        self.starts = starts
        self.ends = ends
        self.rows = rows

    @classmethod
    def of(cls, nodes: list[Node]) -> Tops:
        return cls(
            [n.type for n in nodes],
            [n.start_byte for n in nodes],
            [n.end_byte for n in nodes],
            [n.start_point.row for n in nodes],
        )

    def __len__(self) -> int:
        return len(self.kinds)

    def same(self, index: int, node: Node | None, shift: int = 0, rows: int = 0) -> bool:
        """Is ``node`` this version's node ``index``, moved by ``shift`` bytes and ``rows`` rows?"""
        return (
            node is not None
            and node.type == self.kinds[index]
            and node.start_byte == self.starts[index] + shift
            and node.end_byte == self.ends[index] + shift
            and node.start_point.row == self.rows[index] + rows
        )


@dataclass(frozen=True, slots=True)
class Carried:
    """The top-level nodes of a new version, and which of the old version's they are.

    ``tops``' first ``head`` nodes are the old version's first ``head``, where they were; the
    last ``tail`` nodes are the old version's last ``tail``, moved by ``shift`` bytes and
    ``rows`` rows; the nodes in between are new.  ``old_middle`` is how many old nodes they
    replace.  The changed bytes are ``[start, end)`` of the new version.
    """

    tops: Tops
    head: int
    tail: int
    shift: int
    rows: int
    old_middle: int
    start: int
    end: int


#: The last texts compared and their answer: the engine, the package summaries and the words
#: a file mentions all follow the same edit from one version to the next.
_last_ends: tuple[bytes, bytes, tuple[int, int]] | None = None


def forget_texts() -> None:
    """Let go of the last two texts compared."""
    global _last_ends
    _last_ends = None


def common_ends(old: bytes, new: bytes) -> tuple[int, int]:
    """The lengths of the longest common prefix and suffix of two texts (they never overlap)."""
    global _last_ends
    last = _last_ends
    if last is not None and last[0] is old and last[1] is new:
        return last[2]
    limit = min(len(old), len(new))
    prefix = _first_difference(old, new, limit, backwards=False)
    suffix = _first_difference(old, new, limit - prefix, backwards=True)
    _last_ends = (old, new, (prefix, suffix))
    return prefix, suffix


def _first_difference(a: bytes, b: bytes, limit: int, *, backwards: bool) -> int:
    """How many bytes from the start (or the end) of ``a`` and ``b``, at most ``limit``, are equal."""
    la, lb = len(a), len(b)

    def same(lo: int, hi: int) -> bool:
        if backwards:
            return a[la - hi : la - lo] == b[lb - hi : lb - lo]
        return a[lo:hi] == b[lo:hi]

    at = 0
    while at < limit:
        end = min(at + _CHUNK, limit)
        if same(at, end):
            at = end
            continue
        low, high = at, end  # equal before low; a difference in [low, high)
        while high - low > 1:
            middle = (low + high) // 2
            if same(low, middle):
                low = middle
            else:
                high = middle
        return low
    return limit


def carry(old_source: bytes, old: Tops, source: bytes, root: Node) -> Carried | None:
    """How the top-level nodes of ``source`` (parsed as ``root``) relate to those of the old version.

    A node is kept only when the change is neither inside it nor touching it.  None when the
    new tree does not line up with the old one around the change (then read every node).
    """
    prefix, suffix = common_ends(old_source, source)
    old_end = len(old_source) - suffix  # the changed bytes: old[prefix:old_end], new[prefix:new_end]
    new_end = len(source) - suffix
    shift = new_end - old_end
    rows = source.count(b"\n", prefix, new_end) - old_source.count(b"\n", prefix, old_end)
    size = len(old)
    head = bisect_left(old.ends, prefix)  # nodes ending before the change
    tail = size - bisect_right(old.starts, old_end)  # nodes starting after it
    count = root.named_child_count
    middle = count - head - tail
    if middle < 0:
        return None
    if head and not old.same(head - 1, root.named_child(head - 1)):
        return None
    if tail and not old.same(size - tail, root.named_child(count - tail), shift, rows):
        return None
    fresh = [root.named_child(i) for i in range(head, head + middle)]
    if any(n is None for n in fresh):
        return None
    new = Tops.of(fresh)
    rest = size - tail
    tops = Tops(
        old.kinds[:head] + new.kinds + old.kinds[rest:],
        old.starts[:head] + new.starts + [s + shift for s in old.starts[rest:]],
        old.ends[:head] + new.ends + [e + shift for e in old.ends[rest:]],
        old.rows[:head] + new.rows + [r + rows for r in old.rows[rest:]],
    )
    return Carried(tops, head, tail, shift, rows, size - head - tail, prefix, new_end)


class Mentions:
    """Does a version of a file contain a word?  Answered edit by edit, not by reading the file.

    One place the word occurs is remembered: an edit elsewhere keeps it (moved), and a word the
    file did not contain can only have come with the edit.  The file is searched again only when
    the edit took away the place remembered.
    """

    __slots__ = ("_at", "_source")

    def __init__(self) -> None:
        self._source = b""
        #: word -> where it occurs in ``_source`` (-1: nowhere)
        self._at: dict[bytes, int] = {}

    def contains(self, source: bytes, word: bytes) -> bool:
        if source is not self._source:
            self._advance(source)
        at = self._at.get(word)
        if at is None:
            at = self._at[word] = source.find(word)
        return at >= 0

    def _advance(self, source: bytes) -> None:
        old = self._source
        prefix, suffix = common_ends(old, source)
        old_end, new_end = len(old) - suffix, len(source) - suffix
        shift = new_end - old_end
        moved: dict[bytes, int] = {}
        for word, at in self._at.items():
            size = len(word)
            if at >= 0 and at + size <= prefix:
                moved[word] = at
            elif at >= old_end:
                moved[word] = at + shift
            else:
                found = source.find(word, max(0, prefix - size + 1), new_end + size - 1)
                if found < 0 and at >= 0:  # the place remembered is gone: there may be others
                    found = source.find(word)
                moved[word] = found
        self._source = source
        self._at = moved
