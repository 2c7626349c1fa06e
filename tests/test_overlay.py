"""Package facts read a sibling's newer text (an editor's unsaved buffer) from the overlay, not the disk."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from golsp_leaks.config import Settings
from golsp_leaks.engine import Engine
from golsp_leaks.goanalysis.summaries import overlay
from golsp_leaks.goanalysis.summaries.package import clear_cache, package_facts
from golsp_leaks.goanalysis.syntax.parse import parse
from golsp_leaks.rules import rule_ids

FETCH = b"""package app

import "net/http"

func fetch(u string) (int, error) {
	resp, err := http.Get(u)
	if err != nil {
		return 0, err
	}
	finish(resp)
	return resp.StatusCode, nil
}
"""

READS = b"""package app

import "net/http"

func finish(resp *http.Response) {
	_ = resp.StatusCode
}
"""

CLOSES = READS.replace(b"_ = resp.StatusCode", b"resp.Body.Close()")


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    clear_cache()
    overlay.clear()
    yield
    overlay.clear()
    clear_cache()


def _findings(directory: Path) -> list[str]:
    path = directory / "fetch.go"
    path.write_bytes(FETCH)
    tree = parse(FETCH)
    settings = Settings(rules={r: r == "unclosed-body" for r in rule_ids()})
    diagnostics = Engine().analyze(FETCH, tree, settings, path=str(path), package=package_facts(path, FETCH, tree))
    return [d.finding.rule for d in diagnostics]


def test_a_sibling_s_newer_text_replaces_the_disk_s_until_dropped(tmp_path: Path) -> None:
    (tmp_path / "helper.go").write_bytes(READS)
    assert _findings(tmp_path) == ["unclosed-body"]
    assert overlay.put(tmp_path / "helper.go", CLOSES)
    assert _findings(tmp_path) == []
    assert not overlay.put(tmp_path / "helper.go", bytes(CLOSES))  # the same text again changes nothing
    assert overlay.put(tmp_path / "helper.go", READS)
    assert _findings(tmp_path) == ["unclosed-body"]
    assert overlay.put(tmp_path / "helper.go", CLOSES)
    assert overlay.drop(tmp_path / "helper.go")
    assert _findings(tmp_path) == ["unclosed-body"]
    assert not overlay.drop(tmp_path / "helper.go")


def test_a_file_that_exists_only_in_the_overlay_is_one_of_the_package(tmp_path: Path) -> None:
    assert _findings(tmp_path) == []  # finish is declared nowhere: an unknown callee keeps it
    overlay.put(tmp_path / "helper.go", READS)  # a new file, not saved yet: finish only reads it
    assert _findings(tmp_path) == ["unclosed-body"]
    overlay.put(tmp_path / "other" / "helper.go", CLOSES)  # another directory: another package
    assert _findings(tmp_path) == ["unclosed-body"]
    overlay.drop(tmp_path / "helper.go")
    assert _findings(tmp_path) == []


def test_stamps_of_the_overlay_never_match_a_file_on_disk(tmp_path: Path) -> None:
    overlay.put(tmp_path / "a.go", READS)
    first = overlay.stamp(tmp_path / "a.go")
    overlay.put(tmp_path / "a.go", CLOSES)
    second = overlay.stamp(tmp_path / "a.go")
    assert first is not None and second is not None and first != second
    assert first[0] < 0 and second[0] < 0 and second[1] == len(CLOSES)
    assert overlay.read(tmp_path / "a.go") == CLOSES
    assert [p.name for p, _, _ in overlay.in_directory(tmp_path)] == ["a.go"]
