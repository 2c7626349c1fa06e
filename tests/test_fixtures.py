"""Fixture tests in the style of go/analysis.

``tests/fixtures/<rule-id>/<name>.go`` is a Go file; every line that the rule
must report carries a comment ``// want "<rule-id>"`` and no other line may be
reported.  ``// want "<rule-id>: <regexp>"`` also pins the message: the finding
reported on that line must match the regular expression.  A line that a
finding points to as a related location (the ``return`` reached without the
release) carries ``// related "<rule-id>: <regexp>"``; in a file with any such
comment, the related locations of every finding must be exactly those lines,
each with a message matching its pattern.  ``<name>.go.golden`` is the file after applying one fix to every
finding: the one ``check --fix --unsafe-fixes`` picks (its first safe fix, else
its first unsafe one), or the first whose title contains ``<text>`` when the
file has a line ``//fixture:fix <text>``.  A file with a line
``//fixture:go 1.22`` is analysed as part of a module with that ``go``
directive.

Every fixture and golden file must be gofmt-clean, and all of them together
must pass the real ``go vet`` (so they compile) against the real framework and
database modules pinned in ``tests/gomod`` (downloaded once through the module
proxy by the ``go_modules`` set-up fixture; no stubs).  Set ``GOLSP_LEAKS_UPDATE_GOLDEN=1`` to (re)write golden files.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from golsp_leaks.config import Settings
from golsp_leaks.document import LineIndex
from golsp_leaks.engine import Engine
from golsp_leaks.fixes.apply import apply_edits, overlapping
from golsp_leaks.goanalysis.summaries.package import source_facts
from golsp_leaks.goanalysis.syntax.parse import parse
from golsp_leaks.model import AnalysisStats, Diagnostic, Edit, automatic_fix
from golsp_leaks.rules import rule_ids
from tests import gotool

FIXTURES = Path(__file__).parent / "fixtures"
WANT = re.compile(r'//\s*want((?:\s+"[^"]*")+)')
RELATED = re.compile(r'//\s*related((?:\s+"[^"]*")+)')
QUOTED = re.compile(r'"([^"]*)"')
FIX_CHOICE = re.compile(r"^//fixture:fix (.+)$", re.MULTILINE)
GO_VERSION = re.compile(r"^//fixture:go ([0-9]+)\.([0-9]+)$", re.MULTILINE)
UPDATE = os.environ.get("GOLSP_LEAKS_UPDATE_GOLDEN") == "1"

FIXTURE_FILES = sorted(FIXTURES.glob("*/*.go"))


def _id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def fixture_rule(path: Path) -> str:
    return path.parent.name


def analyze_fixture(path: Path) -> tuple[bytes, list[Diagnostic]]:
    source = path.read_bytes()
    rule = fixture_rule(path)
    settings = Settings(rules={r: r == rule for r in rule_ids()})
    match = GO_VERSION.search(source.decode())
    version = (int(match.group(1)), int(match.group(2))) if match else None
    tree = parse(source)
    facts = source_facts(source, tree)  # a fixture is a one-file package
    stats = AnalysisStats()
    diagnostics = Engine().analyze(
        source, tree, settings, path=str(path), go_version=version, package=facts, stats=stats
    )
    assert stats.rule_errors == []  # e.g. a rule that reads a package fact it does not declare
    return source, diagnostics


def _expectations(source: bytes, comment: re.Pattern[str]) -> list[tuple[int, str, str | None]]:
    """(line, rule id, message pattern or None) for each quoted expectation of ``comment``'s kind."""
    found: list[tuple[int, str, str | None]] = []
    for number, line in enumerate(source.decode().splitlines(), start=1):
        match = comment.search(line)
        if match:
            for quoted in QUOTED.findall(match.group(1)):
                rule, colon, pattern = quoted.partition(":")
                found.append((number, rule.strip(), pattern.strip() if colon else None))
    return sorted(found, key=lambda e: (e[0], e[1]))


def expected_reports(source: bytes) -> list[tuple[int, str]]:
    return [(line, rule) for line, rule, _ in _expectations(source, WANT)]


def _matches_in_order(
    actual: list[tuple[int, str, str]], expected: list[tuple[int, str, str | None]]
) -> list[str]:
    """What does not match: each expectation pairs with one actual (line, rule, message), in order."""
    problems: list[str] = []
    remaining = list(actual)
    for line, rule, pattern in expected:
        hit = next(
            (a for a in remaining if a[0] == line and a[1] == rule and (pattern is None or re.search(pattern, a[2]))),
            None,
        )
        if hit is None:
            problems.append(f"line {line}: nothing of {rule} matches {pattern!r}")
        else:
            remaining.remove(hit)
    problems.extend(f"line {line}: unexpected {rule}: {message}" for line, rule, message in remaining)
    return problems


def chosen_edits(source: bytes, diagnostics: list[Diagnostic]) -> list[Edit]:
    choice = FIX_CHOICE.search(source.decode())
    edits: list[Edit] = []
    for diagnostic in diagnostics:
        fixes = diagnostic.finding.fixes
        if not fixes:
            continue
        if choice:
            picked = next((f for f in fixes if choice.group(1).strip() in f.title), None)
        else:
            picked = automatic_fix(fixes, unsafe=True)
        if picked is None:
            continue
        if overlapping([*edits, *picked.edits]):
            continue
        edits.extend(picked.edits)
    return edits


def test_there_are_fixtures_for_every_rule() -> None:
    missing = [rule for rule in rule_ids() if not list((FIXTURES / rule).glob("*.go"))]
    assert not missing, f"rules without fixtures: {missing}"


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=_id)
def test_reports_match_want_comments(path: Path) -> None:
    source, diagnostics = analyze_fixture(path)
    lines = LineIndex(source)
    actual = sorted((lines.byte_column(d.finding.start)[0], d.rule) for d in diagnostics)
    assert actual == expected_reports(source), "\n".join(
        f"{path.name}:{lines.byte_column(d.finding.start)[0]}: {d.rule}: {d.finding.message}" for d in diagnostics
    )


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=_id)
def test_messages_match_want_patterns(path: Path) -> None:
    source, diagnostics = analyze_fixture(path)
    lines = LineIndex(source)
    actual = [(lines.byte_column(d.finding.start)[0], d.rule, d.finding.message) for d in diagnostics]
    assert _matches_in_order(actual, _expectations(source, WANT)) == []


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=_id)
def test_related_locations_match(path: Path) -> None:
    source, diagnostics = analyze_fixture(path)
    expected = _expectations(source, RELATED)
    if not expected:
        pytest.skip("no // related expectations in this fixture")
    lines = LineIndex(source)
    actual = [
        (lines.byte_column(r.start)[0], d.rule, r.message) for d in diagnostics for r in d.finding.related
    ]
    assert _matches_in_order(actual, expected) == []


def test_pattern_expectations_can_fail() -> None:
    """A pattern that the message does not match, or a related location nobody points to, is reported."""
    actual = [(3, "lost-cancel", "the cancel function cancel returned by context.WithCancel is never called")]
    assert _matches_in_order(actual, [(3, "lost-cancel", "never called")]) == []
    assert _matches_in_order(actual, [(3, "lost-cancel", "not called on every path")]) != []
    assert _matches_in_order(actual, [(4, "lost-cancel", None)]) != []
    assert _matches_in_order([], _expectations(b'x // related "lost-cancel: without calling"', RELATED)) != []


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=_id)
def test_fixes_match_golden(path: Path) -> None:
    source, diagnostics = analyze_fixture(path)
    fixed = apply_edits(source, chosen_edits(source, diagnostics))
    golden = path.with_name(path.name + ".golden")
    if fixed == source:
        assert not golden.exists(), f"{golden.name} exists but no fix applies to {path.name}"
        return
    if UPDATE:
        golden.write_bytes(fixed)
    assert golden.exists(), f"fixes apply to {path.name} but {golden.name} is missing; result:\n{fixed.decode()}"
    assert fixed.decode() == golden.read_text()
    assert not parse(fixed).root_node.has_error


GOFMT_FILES = sorted([*FIXTURE_FILES, *FIXTURES.glob("*/*.go.golden")])


@pytest.mark.parametrize("path", GOFMT_FILES, ids=_id)
def test_fixture_is_gofmt_clean(path: Path) -> None:
    assert gotool.gofmt_diff(path.read_bytes()) == ""


def test_fixtures_and_golden_files_compile_and_pass_go_vet(tmp_path: Path, go_modules: None) -> None:
    """Every fixture and every golden file, each as its own package, through one ``go build`` and one ``go vet``.

    vet's own lostcancel and waitgroup checks are off: the fixtures are meant to leak.
    """
    module = tmp_path / "fixtures"
    module.mkdir()
    gotool.write_module(module, "golsp-leaks.test/fixtures")
    for index, path in enumerate(GOFMT_FILES):
        package_dir = module / f"f{index:04d}_{path.parent.name.replace('-', '_')}"
        package_dir.mkdir()
        shutil.copyfile(path, package_dir / path.name.replace(".go.golden", "_golden.go"))
    built = gotool.go_build(module, tmp_path)
    assert built.returncode == 0, built.stdout + built.stderr
    result = gotool.go_vet(module, tmp_path, ("-lostcancel=false", "-waitgroup=false"))
    assert result.returncode == 0, result.stdout + result.stderr
