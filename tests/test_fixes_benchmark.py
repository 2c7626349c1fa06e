"""The leak-fix benchmark's own logic (benchmarks/fixes.py), without any repository mirror."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fixes_benchmark", ROOT / "benchmarks" / "fixes.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


fixes = _load()

SOURCE = b"""package p

import "net/http"

func plain() {
	go func() {
		_ = 1
	}()
}

func (s *Store) Get(url string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	_ = resp
	return nil
}

func (c Cache[K, V]) Put(k K, v V) {}

func (w (worker)) run() {}
"""


def case(rule: str = "unclosed-body", **fields: object) -> object:
    values: dict[str, object] = {
        "repo": "o/n",
        "fix": "f" * 40,
        "parent": "e" * 40,
        "dir": "pkg",
        "file": "a.go",
        "function": "Store.Get",
        "rule": rule,
        "description": "d",
    }
    values.update(fields)
    return fixes.Case(**values)


def test_declarations_are_named_like_go_vet_names_them() -> None:
    spans = fixes.functions(SOURCE)
    assert [name for name, _, _ in spans] == ["plain", "Store.Get", "Cache.Put", "worker.run"]
    plain = spans[0]
    assert (plain[1], plain[2]) == (5, 9)


def test_a_finding_belongs_to_the_declaration_around_it_closures_included() -> None:
    spans = fixes.functions(SOURCE)
    assert fixes.enclosing_function(spans, 7) == "plain"  # inside the goroutine's closure
    assert fixes.enclosing_function(spans, 12) == "Store.Get"
    assert fixes.enclosing_function(spans, 3) is None  # the import, outside every declaration
    assert fixes.enclosing_function(spans, 10) is None  # the blank line between two functions


def test_only_findings_of_the_rule_inside_the_function_count() -> None:
    spans = fixes.functions(SOURCE)
    findings = [
        {"rule": "unclosed-body", "line": 12},
        {"rule": "unclosed-body", "line": 7},  # another function
        {"rule": "lost-cancel", "line": 13},  # another rule
    ]
    assert fixes.reported_in(findings, spans, "unclosed-body", "Store.Get") == [12]
    assert fixes.reported_in(findings, spans, "unclosed-body", "Cache.Put") == []


def test_cases_file_fields_are_checked() -> None:
    good = {
        "repo": "o/n",
        "fix": "a" * 40,
        "parent": "b" * 40,
        "dir": ".",
        "file": "x.go",
        "function": "f",
        "rule": "lock-not-released",
        "future": True,
        "shape": "early return",
        "description": "d",
    }
    (parsed,) = fixes.parse_cases({"case": [good]})
    assert parsed.future and parsed.group == "concurrency" and parsed.path == "x.go"
    with pytest.raises(ValueError, match="missing parent"):
        fixes.parse_cases({"case": [{k: v for k, v in good.items() if k != "parent"}]})
    with pytest.raises(ValueError, match="neither group"):
        fixes.parse_cases({"case": [{**good, "rule": "no-such-rule"}]})
    with pytest.raises(ValueError, match="unknown field"):
        fixes.parse_cases({"case": [{**good, "code": "x"}]})


def test_the_shipped_cases_parse_and_are_unique() -> None:
    cases = fixes.load_cases()
    assert len(cases) >= 100
    assert len({(c.repo, c.fix, c.path, c.function, c.rule) for c in cases}) == len(cases)
    assert all(len(c.fix) == 40 and len(c.parent) == 40 for c in cases)


def test_table_arithmetic() -> None:
    verdicts = [
        fixes.Verdict(case(), caught=True, still_after=False),
        fixes.Verdict(case(), caught=True, still_after=True),
        fixes.Verdict(case(), caught=False, still_after=False),
        fixes.Verdict(case("lost-cancel"), caught=False, still_after=True),  # reported only after: not "still"
        fixes.Verdict(case("blocked-send", shape="receiver gives up"), caught=True, still_after=False),
        fixes.Verdict(case("lock-not-released", future=True, shape="early return"), caught=False, still_after=False),
    ]
    rows = {r.name: r for r in fixes.rule_rows(verdicts)}
    body = rows["unclosed-body"]
    assert (body.cases, body.caught, body.still_after, body.fixed) == (3, 2, 1, 1)
    assert body.recall == pytest.approx(2 / 3)
    assert rows["lost-cancel"].still_after == 0 and rows["lost-cancel"].recall == 0
    assert list(rows) == ["lost-cancel", "unclosed-body", "blocked-send", "lock-not-released"]  # the rules' order

    groups = {r.name: r for r in fixes.group_rows(verdicts)}
    assert (groups["resource rules"].cases, groups["resource rules"].caught) == (4, 2)
    assert "resource rules (existing only)" not in groups
    assert groups["concurrency rules"].recall == pytest.approx(0.5)  # the future case is a miss
    assert groups["concurrency rules (existing only)"].recall == 1.0

    shapes = fixes.miss_shapes(verdicts)
    assert shapes == {"resource": {"unclassified": 2}}  # future and caught cases are not misses by shape

    table = fixes.format_table([body])
    assert "0.67" in table.splitlines()[1]
    assert fixes.format_table([fixes.Row("empty", 0, 0, 0)]).splitlines()[1].endswith("—")


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_materialise_takes_one_package_level_and_the_go_mod_files_above(tmp_path: Path) -> None:
    repo = tmp_path / "mirrors" / "o+n" / "repo"
    (repo / "svc" / "pkg" / "sub").mkdir(parents=True)
    (repo / "go.mod").write_text("module o/n\n")
    (repo / "svc" / "go.mod").write_text("module o/n/svc\n")
    (repo / "svc" / "pkg" / "a.go").write_text("package pkg\n")
    (repo / "svc" / "pkg" / "notes.txt").write_text("x\n")
    (repo / "svc" / "pkg" / "sub" / "b.go").write_text("package sub\n")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c")
    commit = _git(repo, "rev-parse", "HEAD")

    mirror = fixes.mirror_of(tmp_path / "mirrors", "o/n")
    assert mirror == repo
    assert fixes.mirror_of(tmp_path / "mirrors", "o/other") is None
    package = fixes.materialise(repo, commit, "svc/pkg", tmp_path / "out")
    assert package == tmp_path / "out" / "svc" / "pkg"
    found = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert found == ["go.mod", "svc/go.mod", "svc/pkg/a.go"]
    root = fixes.materialise(repo, commit, ".", tmp_path / "root")
    assert sorted(p.name for p in root.iterdir()) == ["go.mod"]

    message = fixes.missing_mirrors_message(tmp_path / "mirrors", ["o/other"])
    assert "o/other" in message and "git clone" in message
