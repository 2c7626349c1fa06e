"""The rule documentation: every rule documents itself, and docs/rules/ is up to date."""

from __future__ import annotations

from pathlib import Path

import pytest

from golsp_leaks import docs
from golsp_leaks.model import Applicability, Fix
from golsp_leaks.rules import Rule, all_rules
from golsp_leaks.rules.base import FixKind
from golsp_leaks.scan.rules import RuntimeRule
from tests.test_fixtures import FIXTURE_FILES, analyze_fixture

RULES = docs.documented_rules()
REQUIRED = ("what it does", "why is this bad?", "example", "use instead")


def test_committed_rule_docs_are_up_to_date() -> None:
    problems = docs.stale(docs.DEFAULT_OUTPUT)
    assert not problems, (
        "docs/rules/ does not match the rules' docstrings; "
        "run `python -m golsp_leaks.docs` and commit docs/rules/:\n  " + "\n  ".join(problems)
    )


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_documents_itself(rule: Rule) -> None:
    sections = docs.sections(rule.documentation())
    required = (*REQUIRED, "fix safety") if rule.fixable else REQUIRED
    missing = [name for name in required if not sections.get(name)]
    assert not missing, f"{rule.id}: the docstring lacks the sections {missing}"
    assert rule.summary.strip()
    assert docs.full_description(rule) != rule.summary


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_page(rule: Rule) -> None:
    page = docs.render_rule(rule)
    assert page.startswith(docs.GENERATED)
    assert f"\n# {rule.id}\n" in page
    assert f"| Default severity | {rule.default_severity.label} |" in page
    assert rule.documentation() in page
    if isinstance(rule, RuntimeRule):
        assert "golsp-leaks scan" in page and "= false" not in page
    else:
        assert f"{rule.id} = false" in page
    assert ("--fix" in page) == rule.fixable


def test_index_links_every_rule() -> None:
    index = docs.render_index(RULES)
    for rule in RULES:
        assert f"| [{rule.id}]({rule.id}.md) |" in index


def test_sections_and_full_description() -> None:
    text = "## What it does\nFinds\nleaks.\n\nMore.\n\n## Example\n```go\nx\n```\n"
    assert docs.sections(text) == {
        "what it does": "Finds\nleaks.\n\nMore.",
        "example": "```go\nx\n```",
    }


def test_generator_writes_checks_and_prunes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "rules"
    assert docs.main(["--check", "--output", str(out)]) == 1
    assert "run `python -m golsp_leaks.docs`" in capsys.readouterr().err
    assert docs.main(["--output", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [docs.INDEX, *(f"{r.id}.md" for r in RULES)]
    )
    assert docs.main(["--check", "--output", str(out)]) == 0
    # A page edited by hand, or left by a rule that is gone, is reported and then repaired.
    page = out / f"{RULES[0].id}.md"
    page.write_text(page.read_text() + "edited\n")
    (out / "gone-rule.md").write_text(docs.GENERATED + "\n# gone-rule\n")
    assert docs.main(["--check", "--output", str(out)]) == 1
    err = capsys.readouterr().err
    assert "out of date" in err and "gone-rule.md" in err
    assert docs.main(["--output", str(out)]) == 0
    assert not (out / "gone-rule.md").exists()
    assert docs.main(["--check", "--output", str(out)]) == 0


def test_readme_lists_every_rule() -> None:
    from pathlib import Path

    from golsp_leaks.rules import all_rules

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    missing = [r.id for r in all_rules() if f"[`{r.id}`](docs/rules/{r.id}.md)" not in readme]
    assert not missing, f"add these rules to the table in README.md: {missing}"


def test_runtime_rules_are_documented_but_never_run_on_source() -> None:
    runtime = [r for r in RULES if isinstance(r, RuntimeRule)]
    assert {r.id for r in runtime} == {
        "runtime-fd-growth",
        "runtime-goroutine-growth",
        "runtime-goroutine-leak",
        "runtime-heap-growth",
        "runtime-latency-growth",
    }
    assert not {r.id for r in runtime} & {r.id for r in all_rules()}


def _fixture_fixes() -> dict[str, list[Fix]]:
    """Every fix the rules make on the fixtures, by rule."""
    made: dict[str, list[Fix]] = {}
    for path in FIXTURE_FILES:
        _, diagnostics = analyze_fixture(path)
        for diagnostic in diagnostics:
            made.setdefault(diagnostic.rule, []).extend(diagnostic.finding.fixes)
    return made


@pytest.fixture(scope="module")
def fixture_fixes() -> dict[str, list[Fix]]:
    return _fixture_fixes()


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_fix_applicability_is_what_the_fixes_declare(rule: Rule, fixture_fixes: dict[str, list[Fix]]) -> None:
    """The page's *Fix applicability* table lists the rule's fix kinds, and they are the fixes it makes.

    Every fix a rule makes on the fixtures is one of its kinds, at that kind's
    applicability; and every kind is made by some fixture.
    """
    made = fixture_fixes.get(rule.id, [])
    stray = [f"{f.title} ({f.applicability.value})" for f in made if not any(k.matches(f) for k in rule.fix_kinds)]
    assert not stray, f"{rule.id} makes fixes it does not declare: {stray}"
    unused = [f"{k.title} ({k.applicability.value})" for k in rule.fix_kinds if not any(k.matches(f) for f in made)]
    assert not unused, f"{rule.id} declares fixes no fixture makes: {unused}"
    page = docs.render_rule(rule)
    for kind in rule.fix_kinds:
        assert f"| {kind.shown} | {kind.applicability.value} |" in page


def test_fix_kind_matches_its_title() -> None:
    kind = FixKind("Insert `defer {call}` {where}", Applicability.SAFE)
    assert kind.matches(Fix("Insert `defer rows.Close()` after the call", (), Applicability.SAFE))
    assert not kind.matches(Fix("Insert `defer rows.Close()` after the call", (), Applicability.UNSAFE))
    assert not kind.matches(Fix("Name it `rows` and `defer rows.Close()`", (), Applicability.SAFE))
    assert kind.shown == "Insert `defer <call>` <where>"
