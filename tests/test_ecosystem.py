"""The ecosystem check's own logic: finding identity, test-code classification, precision.

These parts of ``benchmarks/ecosystem.py`` are pure; nothing here needs the
repository mirrors.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "ecosystem.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ecosystem_bench", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


eco = _load()


def finding(**kw: Any) -> Any:
    base: dict[str, Any] = {
        "repo": "o/r",
        "path": "a/b.go",
        "line": 10,
        "column": 2,
        "function": "Store.Get",
        "rule": "unclosed-rows",
        "message": "m",
        "line_text": "\trows, err := db.Query(q)",
        "test": False,
    }
    base.update(kw)
    return eco.Finding(**base)


def entry(f: Any, verdict: str, reason: str = "because") -> dict[str, Any]:
    result: dict[str, Any] = f.as_entry(verdict, reason)
    return result


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def mirror_of(tmp_path: Path, versions: list[str]) -> tuple[Path, list[str]]:
    """A mirrors directory holding repository o/r whose commits give main.go each text in turn."""
    src = tmp_path / "src"
    src.mkdir()
    git(src, "init", "-q")
    commits = []
    for i, text in enumerate(versions):
        (src / "main.go").write_text(text)
        git(src, "add", ".")
        git(src, "commit", "-qm", f"v{i}")
        commits.append(git(src, "rev-parse", "HEAD"))
    mirrors = tmp_path / "mirrors"
    git(tmp_path, "clone", "-q", "--mirror", str(src), str(mirrors / "o+r" / "repo"))
    return mirrors, commits


# --------------------------------------------------------------------------- classification


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("internal/store/user.go", False),
        ("internal/store/user_test.go", True),
        ("testdata/x.go", True),
        ("internal/testutil/server.go", True),
        ("pkg/tests/helpers.go", True),
        ("e2e/run.go", True),
        ("internal/mocks/db.go", True),
        ("cmd/test.go", False),  # a file named test.go is not a test directory
        ("internal/contest/round.go", False),  # nor is a directory that merely contains "test"
        ("latest/main.go", False),
    ],
)
def test_is_test_path(path: str, expected: bool) -> None:
    assert eco.is_test_path(path) is expected


# --------------------------------------------------------------------------- identity


def test_identity_ignores_line_numbers_and_indentation() -> None:
    a = finding(line=10, line_text="\trows, err := db.Query(q)")
    b = finding(line=42, line_text="\t\trows,  err :=   db.Query(q)  ")
    assert a.key == b.key


def test_identity_changes_with_the_flagged_code_function_rule_path_repo() -> None:
    a = finding()
    for other in (
        finding(line_text="\trows, err := db.Query(q2)"),
        finding(function="Store.List"),
        finding(rule="rows-err-unchecked"),
        finding(path="a/c.go"),
        finding(repo="o/s"),
    ):
        assert other.key != a.key


def test_line_hash_copies_no_code() -> None:
    h = eco.line_hash("rows, err := db.Query(q)")
    assert len(h) == 12 and all(c in "0123456789abcdef" for c in h)
    assert "Query" not in eco.FindingKey("r", "p", "f", "x", h).as_str()


def test_same_line_twice_in_one_function_gets_occurrence_numbers_by_line() -> None:
    second = finding(line=30)
    first = finding(line=12)
    findings = [second, first]
    eco.number_occurrences(findings)
    assert (first.occurrence, second.occurrence) == (0, 1)
    assert first.key != second.key


def test_declaration_names_functions_methods_and_package_level_literals() -> None:
    src = b"""package p

import "database/sql"

func Plain() {
\tx := 1
}

func (s *Store[T]) Get(id int) error {
\tquery := `
SELECT 1
FROM t`
\treturn nil
}

var migrations = []func(tx *sql.Tx) error{
\tfunc(tx *sql.Tx) error {
\t\treturn nil
\t},
}
"""
    spans = eco.declaration_names(src)
    assert eco.enclosing_declaration(spans, 6) == "Plain"
    # a raw string's lines at column 0 do not end the method
    assert eco.enclosing_declaration(spans, 13) == "Store.Get"
    assert eco.enclosing_declaration(spans, 18) == "var migrations"
    assert eco.enclosing_declaration(spans, 3) == ""


# --------------------------------------------------------------------------- precision and the baseline


def test_precision_counts_only_judged_non_test_findings() -> None:
    t1 = finding(line_text="a")
    t2 = finding(line_text="b")
    fa = finding(line_text="c")
    new = finding(line_text="d")
    in_test = finding(path="a/b_test.go", line_text="e", test=True)
    test_fa = finding(path="a/b_test.go", line_text="f", test=True)
    baseline = [
        entry(t1, "true"),
        entry(t2, "true"),
        entry(fa, "false-alarm"),
        entry(in_test, "unreviewed-test"),
        entry(test_fa, "false-alarm"),
    ]
    result = eco.compare([t1, t2, fa, new, in_test, test_fa], baseline, ["o/r"])
    o = result.overall
    assert (o.findings, o.test, o.true, o.false, o.unreviewed) == (6, 2, 2, 1, 1)
    assert o.precision == pytest.approx(2 / 3)
    assert (o.test_true, o.test_false, o.test_precision) == (0, 1, 0.0)
    assert result.per_rule["unclosed-rows"].precision == pytest.approx(2 / 3)
    assert [f.line_text for f in result.new] == ["d"]


def test_false_alarms_are_counted_by_class_on_non_test_code_only() -> None:
    a = finding(line_text="a")
    b = finding(line_text="b")
    c = finding(line_text="c")
    t = finding(path="x_test.go", line_text="t", test=True)
    baseline = [
        {**entry(a, "false-alarm"), "class": "start-up"},
        {**entry(b, "false-alarm"), "class": "start-up"},
        entry(c, "false-alarm"),
        {**entry(t, "false-alarm"), "class": "start-up"},
    ]
    result = eco.compare([a, b, c, t], baseline, ["o/r"])
    assert result.false_alarm_classes == {("unclosed-rows", "start-up"): 2, ("unclosed-rows", "unclassified"): 1}


def test_precision_per_rule_and_none_without_verdicts() -> None:
    a = finding(rule="lost-cancel", line_text="a")
    b = finding(rule="unclosed-body", line_text="b")
    result = eco.compare([a, b], [entry(a, "false-alarm")], ["o/r"])
    assert result.per_rule["lost-cancel"].precision == 0.0
    assert result.per_rule["unclosed-body"].precision is None
    assert result.per_rule["unclosed-body"].unreviewed == 1


def test_gone_findings_only_for_repositories_that_ran() -> None:
    here = finding(line_text="a")
    gone = finding(line_text="gone")
    elsewhere = finding(repo="x/y", line_text="z")
    baseline = [entry(here, "true"), entry(gone, "true"), entry(elsewhere, "true")]
    result = eco.compare([here], baseline, ["o/r"])
    assert [e["line_hash"] for e in result.gone] == [gone.key.line_hash]


def test_update_keeps_verdicts_adds_unreviewed_and_drops_gone() -> None:
    kept = finding(line=10, line_text="a")
    gone = finding(line_text="gone")
    other_repo = finding(repo="x/y", line_text="z")
    baseline = [{**entry(kept, "false-alarm", "why"), "class": "c"}, entry(gone, "true"), entry(other_repo, "true")]
    moved = finding(line=99, line_text="  a")  # same finding after an edit above it
    fresh = finding(line_text="new")
    fresh_test = finding(path="t_test.go", line_text="t", test=True)
    out = eco.updated_baseline([moved, fresh, fresh_test], baseline, ["o/r"])
    by_hash = {e["line_hash"]: e for e in out}
    assert by_hash[kept.key.line_hash]["verdict"] == "false-alarm"
    assert by_hash[kept.key.line_hash]["reason"] == "why"
    assert by_hash[kept.key.line_hash]["class"] == "c"
    assert by_hash[kept.key.line_hash]["line"] == 99
    assert by_hash[fresh.key.line_hash]["verdict"] == "unreviewed"
    assert by_hash[fresh_test.key.line_hash]["verdict"] == "unreviewed-test"
    assert gone.key.line_hash not in by_hash
    assert other_repo.key.line_hash in by_hash


def test_when_one_of_two_equal_lines_goes_the_other_keeps_its_own_verdict() -> None:
    first = finding(line=10, line_text="defer f.Close()")
    second = finding(line=30, line_text="defer f.Close()")
    eco.number_occurrences([first, second])
    assert (first.occurrence, second.occurrence) == (0, 1)
    baseline = [entry(first, "false-alarm", "first one"), entry(second, "true", "second one")]
    # The first stops being reported; the second is now the only one: occurrence 0, moved to line 32.
    survivor = finding(line=32, line_text="defer f.Close()")
    eco.number_occurrences([survivor])
    assert survivor.key == first.key  # the old identity would hand it the first one's verdict
    out = eco.updated_baseline([survivor], baseline, ["o/r"])
    assert [(e["line"], e["verdict"], e["reason"], e["occurrence"]) for e in out] == [(32, "true", "second one", 0)]
    comparison = eco.compare([survivor], baseline, ["o/r"])
    assert comparison.new == []
    assert [e["reason"] for e in comparison.gone] == ["first one"]
    assert (comparison.overall.true, comparison.overall.false) == (1, 0)


def test_equal_lines_are_paired_nearest_line_first() -> None:
    old = [finding(line=n, line_text="x := open()") for n in (10, 20, 30)]
    eco.number_occurrences(old)
    baseline = [entry(f, "true", f"at {f.line}") for f in old]
    now = [finding(line=n, line_text="x := open()") for n in (21, 31)]  # the one at 10 went, the rest moved by 1
    eco.number_occurrences(now)
    out = eco.updated_baseline(now, baseline, ["o/r"])
    assert [(e["line"], e["reason"]) for e in sorted(out, key=lambda e: e["line"])] == [(21, "at 20"), (31, "at 30")]
    assert not eco.check_baseline(out)


def test_check_baseline_reports_bad_entries() -> None:
    a = finding(line_text="a")
    assert eco.check_baseline([entry(a, "true")]) == []
    problems = eco.check_baseline([entry(a, "maybe"), entry(a, "true", reason="")])
    assert any("unknown verdict" in p for p in problems)
    assert any("without a reason" in p for p in problems)
    assert any("duplicate key" in p for p in problems)


def test_the_committed_baseline_is_well_formed_and_judges_every_non_test_finding() -> None:
    entries = eco.load_baseline(eco.BASELINE_FILE)
    assert entries, "the baseline is empty"
    assert eco.check_baseline(entries) == []
    unjudged = [e for e in entries if not e["test"] and e["verdict"] not in ("true", "false-alarm")]
    assert unjudged == []
    repos = {r.name for r in eco.load_repos()}
    assert {e["repo"] for e in entries} <= repos
    assert all(eco.is_test_path(e["path"]) == e["test"] for e in entries)


def test_missing_mirrors_are_named_with_how_to_get_them(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--mirrors", str(tmp_path), "--work", str(tmp_path / "w"), "--only", "go-chi/chi"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "go-chi/chi" in proc.stderr
    assert "git clone --mirror" in proc.stderr


def test_materialise_reads_a_mirror_at_the_pinned_commit(tmp_path: Path) -> None:
    one = "package main\n\nfunc main() {}\n"
    mirrors, (pinned, _) = mirror_of(tmp_path, [one, "package main\n\nfunc main() { println() }\n"])
    repo = eco.Repo(name="o/r", commit=pinned, frameworks=[], builds=False, note="")
    assert eco.missing_mirrors(mirrors, [repo]) == []
    tree, absent = eco.materialise(mirrors, tmp_path / "work", repo)
    assert absent == 0
    assert (tree / "main.go").read_text() == one
    wrong = eco.Repo(name="o/r", commit="0" * 40, frameworks=[], builds=False, note="")
    assert "has no commit" in eco.missing_mirrors(mirrors, [wrong])[0]


def test_repos_toml_pins_full_commits() -> None:
    repos = eco.load_repos()
    assert len(repos) >= 12
    assert len({r.name for r in repos}) == len(repos)
    assert all(len(r.commit) == 40 and int(r.commit, 16) >= 0 for r in repos)
    assert sum(r.builds for r in repos) >= 6
    assert all(r.frameworks for r in repos)


LEAKY = """package main

import "net/http"

func status(url string) (int, error) {
\tresp, err := http.Get(url)
\tif err != nil {
\t\treturn 0, err
\t}
\treturn resp.StatusCode, nil
}
"""


def test_end_to_end_on_a_local_mirror(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Run, record, judge, then move the leak down the file: its verdict stays attached."""
    moved = LEAKY.replace('import "net/http"\n', 'import "net/http"\n\n// Status codes.\n\n')
    mirrors, (first, second) = mirror_of(tmp_path, [LEAKY, moved])

    repos = tmp_path / "repos.toml"
    baseline = tmp_path / "baseline.json"

    def run(commit: str, *extra: str) -> int:
        repos.write_text(f'[[repo]]\nname = "o/r"\ncommit = "{commit}"\nframeworks = ["net/http"]\n')
        argv = ["--mirrors", str(mirrors), "--work", str(tmp_path / "work"), "--repos", str(repos)]
        argv += ["--baseline", str(baseline), "--json", str(tmp_path / "out.json"), *extra]
        code: int = eco.main(argv)
        return code

    assert run(first) == 1  # one finding, not judged
    out = capsys.readouterr().out
    assert "NEW  o/r main.go:6 [unclosed-body] in status" in out

    assert run(first, "--update-baseline") == 1
    doc = json.loads(baseline.read_text())
    [entry] = doc["findings"]
    assert (entry["function"], entry["verdict"], entry["line"]) == ("status", "unreviewed", 6)
    assert "http.Get" not in baseline.read_text()  # coordinates and a hash, never the code
    entry["verdict"], entry["reason"] = "true", "the body is never closed"
    baseline.write_text(json.dumps(doc))
    capsys.readouterr()

    assert run(first) == 0
    out = capsys.readouterr().out
    assert "new (not in the baseline): 0" in out and "gone (in the baseline, no longer reported): 0" in out

    assert run(second) == 0  # the leak moved three lines down: same finding, same verdict
    out = capsys.readouterr().out
    assert "new (not in the baseline): 0" in out
    result = json.loads((tmp_path / "out.json").read_text())
    assert result["overall"]["true"] == 1 and result["overall"]["precision"] == 1.0
    assert result["repos"][0]["findings"][0]["line"] == 9

    # a run of another rule alone neither reports nor drops this one
    assert run(second, "--select", "lost-cancel", "--update-baseline") == 0
    assert "gone (in the baseline, no longer reported): 0" in capsys.readouterr().out
    [kept] = json.loads(baseline.read_text())["findings"]
    assert (kept["verdict"], kept["reason"]) == ("true", "the body is never closed")


def test_a_reworded_line_is_new_and_gone_with_a_hint_linking_them() -> None:
    before = finding(line=10, line_text="rows, err := db.Query(q)")
    after = finding(line=10, line_text="rows, err := db.QueryContext(ctx, q)")
    result = eco.compare([after], [entry(before, "false-alarm")], ["o/r"])
    assert result.new == [after] and len(result.gone) == 1
    assert eco.moved_from(result)[id(after)]["verdict"] == "false-alarm"
    assert "perhaps the gone one at line 10 (false-alarm)" in eco.report([], result)
