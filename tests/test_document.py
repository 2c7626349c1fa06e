"""The document model: LSP lines, position encodings, incremental edits."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from golsp_leaks.document import Document, Encoding, LineIndex
from golsp_leaks.goanalysis.syntax.parse import parse

SOURCE = "package p\n\nfunc f() {\n\ts := \"héllo 🎉\"\n\t_ = s\n}\n"


def test_lines_end_only_at_lsp_line_breaks() -> None:
    # U+2028, U+2029, form feed, \x1c-\x1e and NEL are not line breaks in LSP.
    text = "a\u2028b\u2029c\fd\x1ce\x1df\x1eg\x85h\ni\r\nj\rk"
    index = LineIndex(text.encode())
    assert index.line_count == 4
    assert index.position(text.encode().index(b"i")).line == 1
    assert index.position(text.encode().index(b"j")).line == 2
    assert index.position(text.encode().index(b"k")) .line == 3
    assert index.line_end(1) == text.encode().index(b"\r\n")


def test_positions_in_each_encoding() -> None:
    data = SOURCE.encode()
    index = LineIndex(data)
    offset = data.index('🎉"'.encode()) + len('🎉"'.encode())  # after the closing quote of "héllo 🎉"
    # \t s := " h é l l o ␠ 🎉 "
    assert index.position(offset, Encoding.UTF32).character == 15
    assert index.position(offset, Encoding.UTF16).character == 16  # 🎉 is two UTF-16 units
    assert index.position(offset, Encoding.UTF8).character == 19  # é two bytes, 🎉 four
    for encoding in Encoding:
        pos = index.position(offset, encoding)
        assert index.offset(pos.line, pos.character, encoding) == offset


def test_offsets_are_clamped_and_never_split_a_character() -> None:
    data = SOURCE.encode()
    index = LineIndex(data)
    line = 3
    assert index.offset(line, 10**6, Encoding.UTF16) == index.line_end(line)
    assert index.offset(10**6, 0, Encoding.UTF16) == len(data)
    assert index.offset(-1, 0, Encoding.UTF8) == 0
    e_acute = data.index("é".encode())
    # A UTF-8 column in the middle of é lands on its first byte.
    column = e_acute - index.line_start(line) + 1
    assert index.offset(line, column, Encoding.UTF8) == e_acute
    # A UTF-16 column in the middle of the surrogate pair of 🎉 lands before it.
    emoji = data.index("🎉".encode())
    pos = index.position(emoji, Encoding.UTF16)
    assert index.offset(line, pos.character + 1, Encoding.UTF16) == emoji


def test_reversed_and_out_of_range_changes_are_repaired() -> None:
    doc = Document("file:///x.go", SOURCE.encode())
    assert doc.apply_change((2, 4), (2, 0), "", Encoding.UTF16) is False  # reversed: put in order
    assert doc.source.decode().splitlines()[2] == " f() {"
    assert doc.apply_change((50, 0), (60, 3), "// end\n", Encoding.UTF16) is False
    assert doc.source.endswith(b"}\n// end\n")
    assert str(doc.tree.root_node) == str(parse(doc.source).root_node)


def test_invalid_utf8_and_lone_surrogates_survive() -> None:
    doc = Document("file:///x.go", b"package p\n// \xff\xfe\n")
    pos = doc.lines.position(len(doc.source), Encoding.UTF16)
    assert pos.line == 2
    doc.apply_change((1, 0), (1, 0), "\ud800", Encoding.UTF16)
    assert b"\xed\xa0\x80" in doc.source  # kept, not dropped


EDIT = st.tuples(
    st.integers(min_value=0, max_value=40),
    st.integers(min_value=0, max_value=120),
    st.integers(min_value=0, max_value=40),
    st.integers(min_value=0, max_value=120),
    st.sampled_from(["", "x", "\n", "}", "{", "func g() {}\n", "é", "🎉", "\r\n", "go f()\n", ")", '"']),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(EDIT, min_size=1, max_size=25), st.sampled_from(list(Encoding)))
def test_incremental_tree_equals_a_fresh_parse(edits: list[tuple[int, int, int, int, str]], encoding: Encoding) -> None:
    base = (
        "package p\n\nimport \"context\"\n\nfunc f(p context.Context) {\n"
        "\tctx, cancel := context.WithCancel(p) // héllo 🎉\n\t_ = ctx\n\tcancel()\n}\n"
    )
    doc = Document("file:///x.go", base.encode())
    for sl, sc, el, ec, text in edits:
        doc.apply_change((sl, sc), (el, ec), text, encoding)
        fresh = parse(doc.source)
        assert str(doc.tree.root_node) == str(fresh.root_node)
        assert doc.tree.root_node.end_byte == len(doc.source)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.characters(codec="utf-8", exclude_characters="\r\n"),
            st.sampled_from(["é", "🎉", "𝒳", "\u2028", "\x00"]),
        ),
        max_size=30,
    ),
    st.binary(max_size=3),
    st.sampled_from(list(Encoding)),
)
def test_positions_round_trip_on_every_character_boundary(
    chars: list[str], junk: bytes, encoding: Encoding
) -> None:
    line = "".join(chars).encode("utf-8", errors="surrogatepass") + junk.replace(b"\n", b"").replace(b"\r", b"")
    data = b"x\n" + line + b"\ny"
    index = LineIndex(data)
    start = index.line_start(1)
    for offset in range(start, start + len(line) + 1):
        boundary = offset == start + len(line) or (data[offset] & 0xC0) != 0x80
        if not boundary:
            continue
        pos = index.position(offset, encoding)
        assert pos.line == 1
        back = index.offset(pos.line, pos.character, encoding)
        if not junk:
            assert back == offset  # valid text: exact, in every encoding
        else:
            # Bytes that are not UTF-8 may merge with a neighbour into one character; never beyond it.
            assert back <= offset


_PIECES = st.sampled_from([b"a", b"xy", b"\n", b"\r", b"\r\n", "é".encode(), "🎉".encode()])
_TEXT = st.lists(_PIECES, max_size=40).map(b"".join)


@settings(max_examples=300, deadline=None)
@given(_TEXT, st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1), _TEXT), min_size=1, max_size=8))
def test_line_index_follows_edits_exactly(source: bytes, edits: list[tuple[float, float, bytes]]) -> None:
    import golsp_leaks.document as document

    chunk = document.CHUNK_LINES
    document.CHUNK_LINES = 3  # many chunks, so that edits cross their borders
    try:
        lines = LineIndex(source)
        for a, b, inserted in edits:
            start = int(a * len(source))
            end = start + int(b * (len(source) - start))
            source = source[:start] + inserted + source[end:]
            lines.edit(start, end, inserted, source)
            fresh = LineIndex(source)
            assert lines.line_count == fresh.line_count
            assert [lines.line_start(i) for i in range(lines.line_count)] == [
                fresh.line_start(i) for i in range(fresh.line_count)
            ]
            assert [lines.line_of(o) for o in range(len(source) + 1)] == [
                fresh.line_of(o) for o in range(len(source) + 1)
            ]
    finally:
        document.CHUNK_LINES = chunk
