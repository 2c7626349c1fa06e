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
from typing import NamedTuple

from tree_sitter import Node

#: Bytes compared at a time while looking for the first (and last) difference.
_CHUNK = 1 << 14


class Top(NamedTuple):
    """A top-level named node: its type, byte range and first row."""

    kind: str
    start: int
    end: int
    row: int


def tops(root: Node) -> list[Top]:
    """The top-level named nodes of a tree, in order."""
    return [Top(n.type, n.start_byte, n.end_byte, n.start_point.row) for n in root.named_children]


@dataclass(frozen=True, slots=True)
class Carried:
    """The top-level nodes of a new version, and which of the old version's they are.

    ``tops[:head]`` are the old version's first ``head`` nodes, where they were; the last
    ``tail`` nodes are the old version's last ``tail``, moved by ``shift`` bytes and ``rows``
    rows; the nodes in between are new.  ``old_middle`` is how many old nodes they replace.
    The changed bytes are ``[start, end)`` of the new version.
    """

    tops: list[Top]
    head: int
    tail: int
    shift: int
    rows: int
    old_middle: int
    start: int
    end: int


def common_ends(old: bytes, new: bytes) -> tuple[int, int]:
    """The lengths of the longest common prefix and suffix of two texts (they never overlap)."""
    limit = min(len(old), len(new))
    prefix = _first_difference(old, new, limit, backwards=False)
    suffix = _first_difference(old, new, limit - prefix, backwards=True)
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


def carry(old_source: bytes, old_tops: list[Top], source: bytes, root: Node) -> Carried | None:
    """How the top-level nodes of ``source`` (parsed as ``root``) relate to those of the old version.

    A node is kept only when the change is neither inside it nor touching it.  None when the
    new tree does not line up with the old one around the change (then read every node).
    """
    prefix, suffix = common_ends(old_source, source)
    old_end = len(old_source) - suffix  # the changed bytes: old[prefix:old_end], new[prefix:new_end]
    new_end = len(source) - suffix
    shift = new_end - old_end
    rows = source.count(b"\n", prefix, new_end) - old_source.count(b"\n", prefix, old_end)
    head = bisect_left(old_tops, prefix, key=lambda t: t.end)  # nodes ending before the change
    tail = len(old_tops) - bisect_right(old_tops, old_end, key=lambda t: t.start)  # starting after it
    count = root.named_child_count
    middle = count - head - tail
    if middle < 0:
        return None
    if head and not _same(root.named_child(head - 1), old_tops[head - 1], 0, 0):
        return None
    if tail and not _same(root.named_child(count - tail), old_tops[len(old_tops) - tail], shift, rows):
        return None
    fresh = [root.named_child(i) for i in range(head, head + middle)]
    new_tops = old_tops[:head]
    new_tops.extend(Top(n.type, n.start_byte, n.end_byte, n.start_point.row) for n in fresh if n is not None)
    if len(new_tops) != head + middle:
        return None
    if shift or rows:
        new_tops.extend(Top(t.kind, t.start + shift, t.end + shift, t.row + rows) for t in old_tops[len(old_tops) - tail :])
    else:
        new_tops.extend(old_tops[len(old_tops) - tail :])
    return Carried(new_tops, head, tail, shift, rows, len(old_tops) - head - tail, prefix, new_end)


def _same(node: Node | None, top: Top, shift: int, rows: int) -> bool:
    return (
        node is not None
        and node.type == top.kind
        and node.start_byte == top.start + shift
        and node.end_byte == top.end + shift
        and node.start_point.row == top.row + rows
    )
