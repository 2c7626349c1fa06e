"""The document model: a Go buffer as bytes, a line index and a tree-sitter tree.

Lines follow the LSP definition: they end at ``\\n``, ``\\r\\n`` or ``\\r`` and
nowhere else (unlike :meth:`str.splitlines`, which also breaks at U+2028, form
feeds and other separators).  Columns can be counted in UTF-8 bytes, UTF-16
code units or Unicode code points, the three LSP position encodings.

A :class:`Document` applies each change as a tree-sitter edit followed by an
incremental re-parse that reuses the old tree.  Ranges from a client are
clamped into the document (and reversed ones put in order), so a bad range can
never corrupt the text or raise.
"""

from __future__ import annotations

import enum
import re
from bisect import bisect_right
from dataclasses import dataclass
from itertools import accumulate

from tree_sitter import Tree

from golsp_leaks.goanalysis.syntax.parse import parse, ts_end_point, ts_point

_LINE_BREAK = re.compile(rb"\r\n|\r|\n")


class Encoding(str, enum.Enum):
    """LSP position encodings (``PositionEncodingKind``)."""

    UTF8 = "utf-8"
    UTF16 = "utf-16"
    UTF32 = "utf-32"


def _decode(text: bytes) -> tuple[str, str]:
    """Text and the error handler that encodes it back to exactly these bytes.

    Lone surrogates (legal in JSON, so in text from a client) survive with
    ``surrogatepass``; bytes that are not UTF-8 at all (a binary file) with
    ``surrogateescape``, one code point per byte.
    """
    try:
        return text.decode("utf-8", errors="surrogatepass"), "surrogatepass"
    except UnicodeDecodeError:
        return text.decode("utf-8", errors="surrogateescape"), "surrogateescape"


def _units(text: bytes, encoding: Encoding) -> int:
    """Length of a UTF-8 byte string in units of ``encoding``."""
    if encoding is Encoding.UTF8 or text.isascii():
        return len(text)
    decoded, _ = _decode(text)
    if encoding is Encoding.UTF32:
        return len(decoded)
    return len(decoded.encode("utf-16-le", errors="surrogatepass")) // 2


def _byte_len_of_units(line: bytes, units: int, encoding: Encoding) -> int:
    """How many bytes of ``line`` hold its first ``units`` units (clamped, never splitting a character)."""
    if units <= 0:
        return 0
    if encoding is Encoding.UTF8 or line.isascii():
        offset = min(units, len(line))
        # Never land inside a multi-byte character: back up to its first byte.
        while 0 < offset < len(line) and (line[offset] & 0xC0) == 0x80:
            offset -= 1
        return offset
    decoded, errors = _decode(line)
    if encoding is Encoding.UTF32:
        prefix = decoded[:units]
    else:
        wide = decoded.encode("utf-16-le", errors="surrogatepass")
        cut = min(units * 2, len(wide))
        if cut < len(wide) and 0xD800 <= int.from_bytes(wide[cut - 2 : cut], "little") <= 0xDBFF:
            cut -= 2  # the cut would split a surrogate pair: stay before the character
        prefix = wide[:cut].decode("utf-16-le", errors="surrogatepass")
    return min(len(prefix.encode("utf-8", errors=errors)), len(line))


@dataclass(frozen=True, slots=True)
class Position:
    line: int
    character: int


def _line_starts(source: bytes, base: int = 0) -> list[int]:
    """Start offsets (plus ``base``) of the lines of ``source``: 0 and every offset just after a line break."""
    if b"\r" in source:
        starts = [base]
        starts.extend(base + m.end() for m in _LINE_BREAK.finditer(source))
        return starts
    # Only \n: running sums of the line lengths, all in C.
    starts = list(accumulate(map((1).__add__, map(len, source.split(b"\n"))), initial=base))
    starts.pop()
    return starts


#: Lines per chunk of a :class:`LineIndex`.
CHUNK_LINES = 256


class LineIndex:
    """Start offsets of the lines of a byte string, by the LSP definition of a line.

    The offsets are kept in chunks of about :data:`CHUNK_LINES` lines, each
    relative to its chunk's first offset, so that :meth:`edit` costs the lines
    it changes plus one step per chunk, not one per line of the file.
    """

    __slots__ = ("_bases", "_chunks", "_firsts", "_source")

    def __init__(self, source: bytes) -> None:
        self._source = source
        self._bases: list[int] = []
        self._firsts: list[int] = []
        self._chunks: list[list[int]] = []
        self._store(0, _line_starts(source), 0)

    def _store(self, index: int, starts: list[int], first_line: int) -> None:
        """Insert chunks made of absolute ``starts`` (first line number ``first_line``) at chunk ``index``."""
        bases: list[int] = []
        firsts: list[int] = []
        chunks: list[list[int]] = []
        for i in range(0, len(starts), CHUNK_LINES):
            piece = starts[i : i + CHUNK_LINES]
            base = piece[0]
            bases.append(base)
            firsts.append(first_line + i)
            chunks.append([x - base for x in piece])
        self._bases[index:index] = bases
        self._firsts[index:index] = firsts
        self._chunks[index:index] = chunks

    def _chunk_of_line(self, line: int) -> int:
        return bisect_right(self._firsts, line) - 1

    def edit(self, start: int, end: int, inserted: bytes, new_source: bytes) -> None:
        """Follow the replacement of ``old[start:end]`` by ``inserted`` (giving ``new_source``)."""
        delta = len(inserted) - (end - start)
        count = self.line_count
        # From the line before the edit (a \r there may pair with an inserted \n) to the first
        # line that starts beyond end + 1 (everything from there on only moves by ``delta``).
        low_line = max(self.line_of(start) - 1, 0)
        high_line = self.line_of(min(end + 1, len(self._source))) + 1
        low = self.line_start(low_line)
        last = high_line >= count
        high = len(new_source) if last else self.line_start(high_line) + delta
        starts = _line_starts(new_source[low:high], low)
        if not last and starts[-1] == high:
            starts.pop()  # the next line's start, kept below
        first_chunk = self._chunk_of_line(low_line)
        last_chunk = self._chunk_of_line(count - 1 if last else high_line - 1)
        # Absolute starts of the chunks touched: those before the edit, the new ones, those after it.
        kept: list[int] = []
        for k in range(first_chunk, last_chunk + 1):
            base = self._bases[k]
            kept.extend(base + x for x in self._chunks[k])
        offset = self._firsts[first_chunk]
        before = kept[: low_line - offset]
        after = [x + delta for x in kept[(count if last else high_line) - offset :]]
        del self._bases[first_chunk : last_chunk + 1]
        del self._firsts[first_chunk : last_chunk + 1]
        del self._chunks[first_chunk : last_chunk + 1]
        merged = before + starts + after
        self._store(first_chunk, merged, offset)
        following = first_chunk + (len(merged) + CHUNK_LINES - 1) // CHUNK_LINES
        line_delta = len(merged) - len(kept)
        if delta or line_delta:
            for k in range(following, len(self._bases)):
                self._bases[k] += delta
                self._firsts[k] += line_delta
        self._source = new_source

    @property
    def line_count(self) -> int:
        return self._firsts[-1] + len(self._chunks[-1])

    def line_start(self, line: int) -> int:
        k = self._chunk_of_line(line)
        return self._bases[k] + self._chunks[k][line - self._firsts[k]]

    def line_end(self, line: int) -> int:
        """Offset of the end of ``line``'s content (before its line break)."""
        if line + 1 < self.line_count:
            end = self.line_start(line + 1)
            if self._source[end - 2 : end] == b"\r\n":
                return end - 2
            return end - 1
        return len(self._source)

    def line_of(self, offset: int) -> int:
        offset = max(0, min(offset, len(self._source)))
        k = bisect_right(self._bases, offset) - 1
        return self._firsts[k] + bisect_right(self._chunks[k], offset - self._bases[k]) - 1

    def position(self, offset: int, encoding: Encoding = Encoding.UTF8) -> Position:
        """The (line, character) of a byte offset; 0-based."""
        offset = max(0, min(offset, len(self._source)))
        line = self.line_of(offset)
        start = self.line_start(line)
        return Position(line, _units(self._source[start:offset], encoding))

    def offset(self, line: int, character: int, encoding: Encoding = Encoding.UTF8) -> int:
        """The byte offset of an LSP position, clamped into the document.

        A line past the end means the end of the document; a character past the
        end of its line means the end of that line (as the LSP specification says).
        """
        if line < 0:
            return 0
        if line >= self.line_count:
            return len(self._source)
        start = self.line_start(line)
        end = self.line_end(line)
        return start + _byte_len_of_units(self._source[start:end], character, encoding)

    def byte_column(self, offset: int) -> tuple[int, int]:
        """1-based line and 1-based byte column, as ``go vet`` prints them."""
        line = self.line_of(offset)
        return line + 1, offset - self.line_start(line) + 1


def content_span(lines: LineIndex, source: bytes, row: int) -> tuple[int, int]:
    """Byte offsets of a 0-based line's text without its indentation and trailing blanks."""
    row = min(max(row, 0), max(lines.line_count - 1, 0))
    start, end = lines.line_start(row), lines.line_end(row)
    text = source[start:end]
    return start + len(text) - len(text.lstrip()), start + len(text.rstrip())


def encode_text(text: str) -> bytes:
    """UTF-8 bytes of text from a client; lone surrogates (legal in JSON) are kept, not lost."""
    return text.encode("utf-8", errors="surrogatepass")


class Document:
    """One open Go buffer.

    With ``parse_now=False`` the tree is left to be made elsewhere (``tree`` is
    None until someone sets it, e.g. a background thread that parsed ``source``);
    edits until then change the text only.
    """

    __slots__ = ("__weakref__", "_lines", "source", "tree", "uri", "version")

    def __init__(self, uri: str, source: bytes, version: int | None = None, *, parse_now: bool = True) -> None:
        self.uri = uri
        self.version = version
        self.source = source
        self.tree: Tree | None = parse(source) if parse_now else None
        self._lines: LineIndex | None = None

    @property
    def lines(self) -> LineIndex:
        if self._lines is None:
            self._lines = LineIndex(self.source)
        return self._lines

    @property
    def text(self) -> str:
        return _decode(self.source)[0]

    def replace_all(self, text: str, version: int | None = None, *, parse_now: bool = True) -> None:
        self.source = encode_text(text)
        self.tree = parse(self.source) if parse_now else None
        self._lines = None
        self.version = version

    def apply_change(
        self,
        start: tuple[int, int],
        end: tuple[int, int],
        text: str,
        encoding: Encoding,
    ) -> bool:
        """Apply one ranged change; returns False when the range had to be repaired.

        The tree is edited and re-parsed incrementally with the old tree.
        """
        lines = self.lines
        start_offset = lines.offset(start[0], start[1], encoding)
        end_offset = lines.offset(end[0], end[1], encoding)
        ok = _in_range(lines, start, end)
        if end_offset < start_offset:
            start_offset, end_offset = end_offset, start_offset
            ok = False
        self.splice(start_offset, end_offset, encode_text(text))
        return ok

    def splice(self, start: int, end: int, inserted: bytes) -> None:
        """Replace ``source[start:end]`` by ``inserted`` and re-parse incrementally."""
        old = self.source
        self.source = old[:start] + inserted + old[end:]
        if self._lines is not None:
            self._lines.edit(start, end, inserted, self.source)
        if self.tree is None:
            return
        start_point = ts_point(old, start)
        old_end_point = ts_point(old, end)
        new_end = start + len(inserted)
        self.tree.edit(
            start_byte=start,
            old_end_byte=end,
            new_end_byte=new_end,
            start_point=start_point,
            old_end_point=old_end_point,
            new_end_point=ts_end_point(start_point, inserted),
        )
        self.tree = parse(self.source, self.tree)


def _in_range(lines: LineIndex, start: tuple[int, int], end: tuple[int, int]) -> bool:
    for line, character in (start, end):
        if line < 0 or character < 0:
            return False
        # One past the last line at character 0 is how some clients say "the end".
        if line >= lines.line_count and not (line == lines.line_count and character == 0):
            return False
    return start <= end
