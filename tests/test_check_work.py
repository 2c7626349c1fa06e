"""``golsp-leaks check`` does each piece of work on a package once: summaries, trees, answers."""

from __future__ import annotations

import collections
import re
from collections.abc import Hashable
from pathlib import Path

import pytest
from tree_sitter import Tree

from golsp_leaks.cli.main import main
from golsp_leaks.goanalysis.summaries import declared, package, returns
from golsp_leaks.goanalysis.syntax import parse as parsing

#: Three files of a web package: checking any of them reads the summaries of all three.
FILES = {
    "a.go": 'package web\n\nimport "net/http"\n\nfunc A(w http.ResponseWriter, r *http.Request) {\n'
    "\tgo loopA()\n\tresp, _ := http.Get(\"http://x\")\n\t_ = resp\n}\n\nfunc loopA() {\n\tfor {\n\t}\n}\n",
    "b.go": 'package web\n\nimport "net/http"\n\nfunc B(w http.ResponseWriter, r *http.Request) {\n'
    "\tgo helper()\n\tresp, _ := http.Get(\"http://y\")\n\t_ = resp\n}\n",
    "c.go": 'package web\n\nimport "net/http"\n\nfunc helper() {\n\tfor {\n\t}\n}\n\n'
    "func fetch() (*http.Response, error) {\n\treturn http.Get(\"http://z\")\n}\n",
}


@pytest.fixture
def web_package(tmp_path: Path) -> Path:
    (tmp_path / "go.mod").write_text("module example.com/web\n\ngo 1.22\n")
    for name, text in FILES.items():
        (tmp_path / name).write_text(text)
    package.clear_cache()
    parsing.clear_shared()
    return tmp_path


def test_each_file_is_summarised_once(web_package: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file is summarised as the file analysed and as a sibling of the others: once."""
    seen: collections.Counter[bytes] = collections.Counter()
    real = package.summarize

    def counting(source: bytes, tree: Tree | None = None, keep: Hashable = None) -> package.FileSummary:
        seen[source] += 1
        return real(source, tree, keep=keep)

    monkeypatch.setattr(package, "summarize", counting)
    main(["check", "--no-cache", "--no-progress", "-j", "1", "--fail-on", "never", str(web_package)])
    assert set(seen) == {text.encode() for text in FILES.values()}
    assert max(seen.values()) == 1


def test_each_file_is_parsed_once(web_package: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tree of a file checked is the one its siblings' questions use (and the other way)."""
    seen: collections.Counter[bytes] = collections.Counter()
    parser = parsing._parser()

    class Counting:
        """The parser, counting what it parses (every way to a tree goes through it)."""

        def parse(self, source: bytes, *old: Tree) -> Tree:
            seen[source] += 1
            return parser.parse(source, *old)

    monkeypatch.setattr(parsing, "_parser", Counting)
    main(["check", "--no-cache", "--no-progress", "-j", "1", "--fail-on", "never", str(web_package)])
    assert seen and max(seen.values()) == 1


def test_a_file_without_the_required_word_is_not_searched(tmp_path: Path) -> None:
    with_word = tmp_path / "with.go"
    with_word.write_text("package p\n\nfunc Get() (*http.Response, error) { return nil, nil }\n")
    without = tmp_path / "without.go"
    without.write_text("package p\n\nfunc Get() (*os.File, error) { return nil, nil }\n")

    class Counting:
        """A pattern that counts its searches."""

        def __init__(self) -> None:
            self.inner = re.compile(rb"^func [^\n]*\bResponse\b", re.MULTILINE)
            self.pattern = self.inner.pattern + b"#counting"
            self.searches = 0

        def search(self, data: bytes) -> re.Match[bytes] | None:
            self.searches += 1
            return self.inner.search(data)

    pattern = Counting()
    stat_with, stat_without = with_word.stat(), without.stat()
    sibling_with = (str(with_word), stat_with.st_mtime_ns, stat_with.st_size)
    sibling_without = (str(without), stat_without.st_mtime_ns, stat_without.st_size)
    assert declared.text_matches(sibling_with, pattern, b"Response")  # type: ignore[arg-type]
    assert not declared.text_matches(sibling_without, pattern, b"Response")  # type: ignore[arg-type]
    assert pattern.searches == 1
    # Without the word given, the file is searched, with the same answer.
    pattern.pattern += b"#again"
    assert not declared.text_matches(sibling_without, pattern)  # type: ignore[arg-type]
    assert pattern.searches == 2


def test_lists_of_siblings_are_numbered_by_their_content() -> None:
    first = (("a.go", 1, 10), ("b.go", 2, 20))
    same = tuple(list(first))
    other = (("a.go", 1, 10),)
    number = returns._number(first)
    assert returns._number(first) == number
    assert returns._number(same) == number
    assert returns._number(other) != number
    assert returns._number(list(first)) == number  # a list is never taken for the last one asked about
