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


class LineIndex:
    """Start offsets of the lines of a byte string, by the LSP definition of a line."""

    __slots__ = ("_source", "_starts")

    def __init__(self, source: bytes) -> None:
        self._source = source
        if b"\r" in source:
            starts = [0]
            starts.extend(m.end() for m in _LINE_BREAK.finditer(source))
        else:
            # Only \n: running sums of the line lengths, all in C.
            starts = list(accumulate(map((1).__add__, map(len, source.split(b"\n"))), initial=0))
            starts.pop()
        self._starts = starts

    @property
    def line_count(self) -> int:
        return len(self._starts)

    def line_start(self, line: int) -> int:
        return self._starts[line]

    def line_end(self, line: int) -> int:
        """Offset of the end of ``line``'s content (before its line break)."""
        if line + 1 < len(self._starts):
            end = self._starts[line + 1]
            if self._source[end - 2 : end] == b"\r\n":
                return end - 2
            return end - 1
        return len(self._source)

    def line_of(self, offset: int) -> int:
        offset = max(0, min(offset, len(self._source)))
        return bisect_right(self._starts, offset) - 1

    def position(self, offset: int, encoding: Encoding = Encoding.UTF8) -> Position:
        """The (line, character) of a byte offset; 0-based."""
        offset = max(0, min(offset, len(self._source)))
        line = self.line_of(offset)
        start = self._starts[line]
        return Position(line, _units(self._source[start:offset], encoding))

    def offset(self, line: int, character: int, encoding: Encoding = Encoding.UTF8) -> int:
        """The byte offset of an LSP position, clamped into the document.

        A line past the end means the end of the document; a character past the
        end of its line means the end of that line (as the LSP specification says).
        """
        if line < 0:
            return 0
        if line >= len(self._starts):
            return len(self._source)
        start = self._starts[line]
        end = self.line_end(line)
        return start + _byte_len_of_units(self._source[start:end], character, encoding)

    def byte_column(self, offset: int) -> tuple[int, int]:
        """1-based line and 1-based byte column, as ``go vet`` prints them."""
        line = self.line_of(offset)
        return line + 1, offset - self._starts[line] + 1


def encode_text(text: str) -> bytes:
    """UTF-8 bytes of text from a client; lone surrogates (legal in JSON) are kept, not lost."""
    return text.encode("utf-8", errors="surrogatepass")


class Document:
    """One open Go buffer."""

    __slots__ = ("_lines", "source", "tree", "uri", "version")

    def __init__(self, uri: str, source: bytes, version: int | None = None) -> None:
        self.uri = uri
        self.version = version
        self.source = source
        self.tree: Tree = parse(source)
        self._lines: LineIndex | None = None

    @property
    def lines(self) -> LineIndex:
        if self._lines is None:
            self._lines = LineIndex(self.source)
        return self._lines

    @property
    def text(self) -> str:
        return _decode(self.source)[0]

    def replace_all(self, text: str, version: int | None = None) -> None:
        self.source = encode_text(text)
        self.tree = parse(self.source)
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
        start_point = ts_point(old, start)
        old_end_point = ts_point(old, end)
        new_end = start + len(inserted)
        self.source = old[:start] + inserted + old[end:]
        self.tree.edit(
            start_byte=start,
            old_end_byte=end,
            new_end_byte=new_end,
            start_point=start_point,
            old_end_point=old_end_point,
            new_end_point=ts_end_point(start_point, inserted),
        )
        self.tree = parse(self.source, self.tree)
        self._lines = None


def _in_range(lines: LineIndex, start: tuple[int, int], end: tuple[int, int]) -> bool:
    for line, character in (start, end):
        if line < 0 or character < 0:
            return False
        # One past the last line at character 0 is how some clients say "the end".
        if line >= lines.line_count and not (line == lines.line_count and character == 0):
            return False
    return start <= end
