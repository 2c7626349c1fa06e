"""The example apps: exactly the leaks their README lists are reported, and nothing else."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from golsp_leaks.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
APPS = ("nethttp-api", "fiber-shop", "buffalo-blog", "gin-worker")


def expected_findings() -> set[tuple[str, int, str]]:
    """(path, line, rule) rows of the tables in examples/README.md, per app section."""
    found: set[tuple[str, int, str]] = set()
    app = None
    for line in (EXAMPLES / "README.md").read_text().splitlines():
        heading = re.match(r"#+ .*?(" + "|".join(APPS) + ")", line)
        if heading:
            app = heading.group(1)
        row = re.match(r"\| `([^`]+):(\d+)` \| ([a-z-]+) \|", line)
        if row and app:
            found.add((f"examples/{app}/{row.group(1)}", int(row.group(2)), row.group(3)))
    return found


def test_examples_report_exactly_the_documented_leaks(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    expected = expected_findings()
    assert len(expected) >= 40
    code = main(["check", "--format", "json", "--no-progress", "examples/"])
    report = json.loads(capsys.readouterr().out)
    actual = {(d["path"], d["line"], d["rule"]) for d in report["diagnostics"]}
    assert code == 1
    assert sorted(actual - expected) == [], "reported but not documented as a leak"
    assert sorted(expected - actual) == [], "documented leaks that are not reported"
    assert report["files_checked"] >= 20
