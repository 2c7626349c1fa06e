"""Applying edits, and making sure a fix leaves code that parses."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import pairwise

from tree_sitter import Tree

from golsp_leaks.goanalysis.syntax.parse import parse, ts_end_point, ts_point
from golsp_leaks.model import Edit, Fix


def apply_edits(source: bytes, edits: Iterable[Edit]) -> bytes:
    """Apply non-overlapping edits (in any order) to ``source``."""
    out = source
    for edit in sorted(edits, key=lambda e: (e.start, e.end), reverse=True):
        out = out[: edit.start] + edit.text.encode("utf-8", errors="surrogatepass") + out[edit.end :]
    return out


def overlapping(edits: Sequence[Edit]) -> bool:
    ordered = sorted(edits, key=lambda e: (e.start, e.end))
    return any(b.start < a.end for a, b in pairwise(ordered))


def fix_parses(source: bytes, tree: Tree, fix: Fix, within: tuple[int, int] | None = None) -> bool:
    """True when applying ``fix`` leaves every declaration it touches free of syntax errors.

    ``within`` is the byte range of a top-level declaration free of syntax errors (the one the
    fix was found in): a fix whose edits all lie inside it is checked by parsing that
    declaration alone with the fix applied, which costs the declaration, not the file.  Other
    fixes are checked by re-parsing the file incrementally from a copy of ``tree``.
    """
    if not fix.edits or overlapping(fix.edits):
        return False
    if any(e.start < 0 or e.end > len(source) or e.start > e.end for e in fix.edits):
        return False
    if within is not None and all(within[0] < e.start and e.end < within[1] for e in fix.edits):
        # Strictly inside: the declaration keeps its first and last byte, so the file is this
        # declaration's new text between the same neighbours.
        low = within[0]
        shifted = [Edit(e.start - low, e.end - low, e.text) for e in fix.edits]
        return not parse(apply_edits(source[low : within[1]], shifted)).root_node.has_error
    candidate = tree.copy()
    new_source = source
    touched: list[tuple[int, int]] = []
    for edit in sorted(fix.edits, key=lambda e: e.start, reverse=True):
        inserted = edit.text.encode("utf-8", errors="surrogatepass")
        start_point = ts_point(new_source, edit.start)
        old_end_point = ts_point(new_source, edit.end)
        candidate.edit(
            start_byte=edit.start,
            old_end_byte=edit.end,
            new_end_byte=edit.start + len(inserted),
            start_point=start_point,
            old_end_point=old_end_point,
            new_end_point=ts_end_point(start_point, inserted),
        )
        new_source = new_source[: edit.start] + inserted + new_source[edit.end :]
    delta = 0
    for edit in sorted(fix.edits, key=lambda e: e.start):
        length = len(edit.text.encode("utf-8", errors="surrogatepass"))
        touched.append((edit.start + delta, edit.start + delta + length))
        delta += length - (edit.end - edit.start)
    new_tree = parse(new_source, candidate)
    if not tree.root_node.has_error:
        return not new_tree.root_node.has_error
    return not any(
        (child.has_error or child.type == "ERROR")
        and any(child.start_byte <= end and start <= child.end_byte for start, end in touched)
        for child in new_tree.root_node.children
    )
