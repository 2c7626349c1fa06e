"""The ``golsp-leaks`` command line: formats, exit statuses, fixes, file discovery and robustness.

Most tests run the CLI in this process through ``main([...])``; a few run it as
``python -m golsp_leaks`` in a subprocess.  SARIF output is validated against the
official SARIF 2.1.0 JSON schema vendored in ``tests/sarif/``.
"""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import golsp_leaks
from golsp_leaks import __version__
from golsp_leaks.cli import cache
from golsp_leaks.cli import run as runner
from golsp_leaks.cli.files import Scope, Target
from golsp_leaks.cli.main import main, parse_tcp
from golsp_leaks.config import Settings
from golsp_leaks.docs import documented_rules
from golsp_leaks.fixes.apply import apply_edits
from golsp_leaks.goanalysis.syntax.parse import parse
from golsp_leaks.model import Edit
from golsp_leaks.rules import all_rules, get_rule
from tests import gotool
from tests.test_fixtures import expected_reports

FIXTURES = Path(__file__).parent / "fixtures" / "lost-cancel"
SCHEMA = json.loads((Path(__file__).parent / "sarif" / "sarif-schema-2.1.0.json").read_text())
TEXT_LINE = re.compile(
    r"^(?P<path>[^:\s]+\.go):(?P<line>\d+):(?P<col>\d+): (?P<sev>error|warning|information|hint): (?P<msg>.+) \[(?P<rule>[a-z0-9-]+)\]$"
)

LEAK = """package p

import "context"

func leak(parent context.Context) context.Context {
	ctx, _ := context.WithCancel(parent)
	return ctx
}
"""

CLEAN = """package p

func clean() int {
	return 1
}
"""

UNICODE_LINE = '\ts := "héllo 🎉"; ctx, _ := context.WithCancel(p)'
UNICODE = f"""package p

import "context"

func f(p context.Context) context.Context {{
{UNICODE_LINE}
	_ = s
	return ctx
}}
"""


def cli(capsys: pytest.CaptureFixture[str], *args: str | os.PathLike[str]) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


#: The lost-cancel fixtures these tests use as one package (the others are packages of their own).
PACKAGE = ("discarded.go", "negatives.go", "paths.go")


def copy_fixtures(directory: Path, *names: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name in names or PACKAGE:
        shutil.copyfile(FIXTURES / name, directory / name)
    return directory


def fixture_findings(*names: str) -> int:
    return sum(len(expected_reports((FIXTURES / n).read_bytes())) for n in names)


def sarif_errors(document: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft4Validator(SCHEMA)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


@pytest.fixture(autouse=True)
def _in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs stay in this process unless a test asks for worker processes."""
    monkeypatch.setattr(runner, "PARALLEL_THRESHOLD", 10_000)


# --------------------------------------------------------------------------- text


def test_text_report_is_go_vet_style(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    copy_fixtures(tmp_path)
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(capsys, "check")
    assert code == 1
    lines = out.splitlines()
    findings = [TEXT_LINE.match(line) for line in lines if not line.startswith("    ")]
    assert all(findings), out
    expected = sorted(
        (name, line)
        for name in ("discarded.go", "paths.go")
        for line, _ in expected_reports((FIXTURES / name).read_bytes())
    )
    assert sorted((m["path"], int(m["line"])) for m in findings if m) == expected
    # Related places are indented under their finding.
    assert any(
        re.match(
            r"^    paths\.go:\d+:\d+: this return is reached without calling cancel\(\)$", line
        )
        for line in lines
    )
    assert lines[0].startswith("discarded.go:")
    total = fixture_findings("discarded.go", "paths.go")
    assert re.search(rf"^{total} findings \(\d+ fixable\) in {len(PACKAGE)} files$", err, re.MULTILINE), err


def test_clean_code_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    copy_fixtures(tmp_path, "negatives.go")
    (tmp_path / "clean.go").write_text(CLEAN)
    code, out, err = cli(capsys, "check", tmp_path)
    assert code == 0
    assert out == ""
    assert "no findings in 2 files" in err


def test_no_go_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "README.md").write_text("hello")
    code, out, err = cli(capsys, "check", tmp_path)
    assert (code, out) == (0, "")
    assert "no findings in 0 files" in err


@pytest.mark.parametrize(
    ("fail_on", "expected"),
    [("error", 0), ("warning", 1), ("information", 1), ("hint", 1), ("never", 0)],
)
def test_fail_on_thresholds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fail_on: str, expected: int
) -> None:
    (tmp_path / "leak.go").write_text(LEAK)  # one warning
    code, _, _ = cli(capsys, "check", "--fail-on", fail_on, tmp_path)
    assert code == expected


@pytest.mark.parametrize(("fail_on", "expected"), [("error", 1), ("never", 0)])
def test_fail_on_error_with_a_per_request_finding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fail_on: str, expected: int
) -> None:
    copy_fixtures(tmp_path, "paths.go")  # has a finding in a handler: raised to error
    code, out, _ = cli(capsys, "check", "--fail-on", fail_on, tmp_path)
    assert ": error: " in out
    assert code == expected


@pytest.mark.parametrize(("fail_on", "expected"), [("warning", 0), ("information", 0), ("hint", 1)])
def test_configured_severity_meets_fail_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fail_on: str, expected: int
) -> None:
    (tmp_path / ".golsp-leaks.toml").write_text('[severity]\nlost-cancel = "hint"\n')
    (tmp_path / "leak.go").write_text(LEAK)
    code, out, _ = cli(capsys, "check", "--fail-on", fail_on, tmp_path)
    assert ": hint: " in out
    assert code == expected


def test_select_and_ignore(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "leak.go").write_text(LEAK)
    assert cli(capsys, "check", "--ignore", "lost-cancel", tmp_path)[:2] == (0, "")
    code, out, _ = cli(capsys, "check", "--select", "lost-cancel", tmp_path)
    assert code == 1
    assert "[lost-cancel]" in out


def test_a_file_named_twice_is_reported_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "leak.go").write_text(LEAK)
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(capsys, "check", ".", "leak.go", "./leak.go")
    assert code == 1
    assert out.count("[lost-cancel]") == 1
    assert "in 1 file" in err


# --------------------------------------------------------------------------- JSON


def test_json_shape_and_ordering(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    copy_fixtures(tmp_path / "pkg")
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(capsys, "check", "--format", "json", "pkg")
    assert code == 1
    assert err == ""
    document = json.loads(out)  # exactly one JSON value
    assert set(document) == {"diagnostics", "files_checked"}
    assert document["files_checked"] == len(PACKAGE)
    diagnostics = document["diagnostics"]
    assert len(diagnostics) == fixture_findings("discarded.go", "paths.go")
    keys = [(d["path"], d["line"], d["column"]) for d in diagnostics]
    assert keys == sorted(keys)
    assert {d["path"] for d in diagnostics} == {"pkg/discarded.go", "pkg/paths.go"}
    for d in diagnostics:
        assert {
            "path",
            "line",
            "column",
            "end_line",
            "end_column",
            "rule",
            "severity",
            "message",
            "fixes",
            "related",
        } <= set(d)
        assert d["rule"] == "lost-cancel"
        assert d["severity"] in {"error", "warning", "information", "hint"}
        for related in d["related"]:
            assert {"path", "line", "column", "message"} <= set(related)
            assert related["path"] == d["path"]
        for fix in d["fixes"]:
            assert set(fix) >= {"title", "edits"}
            for edit in fix["edits"]:
                assert {
                    "line",
                    "column",
                    "end_line",
                    "end_column",
                    "offset",
                    "end_offset",
                    "new_text",
                } <= set(edit)
    # The byte offsets of the first fixes rebuild the golden file.
    source = (tmp_path / "pkg" / "discarded.go").read_bytes()
    edits = [
        Edit(e["offset"], e["end_offset"], e["new_text"])
        for d in diagnostics
        if d["path"] == "pkg/discarded.go"
        for fix in d["fixes"][:1]
        for e in fix["edits"]
    ]
    assert apply_edits(source, edits) == (FIXTURES / "discarded.go.golden").read_bytes()


def test_json_columns_are_bytes_after_non_ascii_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "uni.go"
    path.write_text(UNICODE, encoding="utf-8")
    code, out, _ = cli(capsys, "check", "--format", "json", path)
    assert code == 1
    (diagnostic,) = json.loads(out)["diagnostics"]
    raw_line = UNICODE_LINE.encode()
    byte_column = raw_line.index(b"ctx, _") + len(b"ctx, ") + 1
    assert (diagnostic["line"], diagnostic["column"]) == (6, byte_column)
    assert (diagnostic["end_line"], diagnostic["end_column"]) == (6, byte_column + 1)
    start = UNICODE.encode().index(b"ctx, _") + len(b"ctx, ")
    assert (diagnostic["offset"], diagnostic["end_offset"]) == (start, start + 1)
    assert diagnostic["path"] == str(path)


# --------------------------------------------------------------------------- SARIF


def test_sarif_is_valid_and_complete(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    copy_fixtures(tmp_path / "src")
    monkeypatch.chdir(tmp_path)
    code, out, _ = cli(capsys, "check", "--format", "sarif", "src")
    assert code == 1
    document = json.loads(out)
    assert sarif_errors(document) == []
    assert document["version"] == "2.1.0"
    (run,) = document["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "golsp-leaks"
    assert driver["version"] == __version__
    assert driver["informationUri"].startswith("https://")
    assert [r["id"] for r in driver["rules"]] == [r.id for r in all_rules()]
    for descriptor in driver["rules"]:
        rule = get_rule(descriptor["id"])
        assert rule is not None
        assert descriptor["shortDescription"]["text"] == rule.summary
        assert descriptor["fullDescription"]["text"]
        assert descriptor["help"]["markdown"] == rule.documentation()
        assert descriptor["help"]["text"]
        assert descriptor["defaultConfiguration"]["level"] in {"error", "warning", "note"}
        assert descriptor["name"]
    assert run["columnKind"] == "utf16CodeUnits"
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == tmp_path.resolve().as_uri() + "/"
    results = run["results"]
    assert len(results) == fixture_findings("discarded.go", "paths.go")
    levels = set()
    for result in results:
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        levels.add(result["level"])
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
        assert location["artifactLocation"]["uri"] in {"src/discarded.go", "src/paths.go"}
        assert location["region"]["startLine"] >= 1
    assert levels == {"warning", "error"}
    assert any(r.get("relatedLocations") for r in results)
    fixes = [f for r in results for f in r.get("fixes", [])]
    assert fixes
    for fix in fixes:
        assert fix["description"]["text"]
        for change in fix["artifactChanges"]:
            assert change["replacements"]


def test_sarif_columns_are_utf16_and_paths_outside_the_root_are_absolute(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "uni.go").write_text(UNICODE, encoding="utf-8")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    code, out, _ = cli(capsys, "check", "--format", "sarif", "../outside")
    assert code == 1
    document = json.loads(out)
    assert sarif_errors(document) == []
    (result,) = document["runs"][0]["results"]
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": (outside / "uni.go").resolve().as_uri()}
    prefix = UNICODE_LINE[: UNICODE_LINE.index("ctx, _") + len("ctx, ")]
    utf16_column = len(prefix.encode("utf-16-le")) // 2 + 1
    assert utf16_column == len(prefix.encode()) + 1 - 3  # é is 2 bytes/1 unit, 🎉 4 bytes/2 units
    assert location["region"]["startColumn"] == utf16_column
    assert location["region"]["endColumn"] == utf16_column + 1


def test_sarif_with_no_findings_and_with_warnings_is_valid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "clean.go").write_text(CLEAN)
    (tmp_path / "blob.go").write_bytes(b"\x00\x01binary")
    code, out, err = cli(capsys, "check", "--format", "sarif", tmp_path)
    assert code == 0
    document = json.loads(out)
    assert sarif_errors(document) == []
    run = document["runs"][0]
    assert run["results"] == []
    notifications = run["invocations"][0]["toolExecutionNotifications"]
    assert "binary" in notifications[0]["message"]["text"]
    assert "binary file" in err


# --------------------------------------------------------------------------- --fix and --diff


def test_fix_rewrites_files_like_the_golden_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy_fixtures(tmp_path)
    negatives = (tmp_path / "negatives.go").read_bytes()
    code, out, err = cli(capsys, "check", "--fix", tmp_path)
    for name in ("discarded.go", "paths.go"):
        fixed = (tmp_path / name).read_bytes()
        assert fixed == (FIXTURES / f"{name}.golden").read_bytes()
        assert not parse(fixed).root_node.has_error
        assert gotool.gofmt_diff(fixed) == ""
    assert (tmp_path / "negatives.go").read_bytes() == negatives
    assert re.search(r"^fixed \d+ findings in 2 files \(lost-cancel: \d+\)$", err, re.MULTILINE), err
    # What is left is reported, and decides the exit status.
    remaining = [line for line in out.splitlines() if TEXT_LINE.match(line)]
    assert code == (1 if remaining else 0)
    again = cli(capsys, "check", "--format", "json", tmp_path)
    assert len(json.loads(again[1])["diagnostics"]) == len(remaining)
    assert not list(tmp_path.glob(".golsp-leaks-*"))  # no temporary file left behind


def test_fix_when_everything_is_fixable_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "leak.go"
    path.write_text(LEAK)
    os.chmod(path, 0o640)
    code, out, err = cli(capsys, "check", "--fix", tmp_path)
    assert (code, out) == (0, "")
    assert "fixed 1 finding in 1 file" in err
    assert "defer cancel()" in path.read_text()
    assert os.stat(path).st_mode & 0o777 == 0o640
    assert gotool.gofmt_diff(path.read_bytes()) == ""


def test_diff_prints_the_fixes_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    copy_fixtures(tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.glob("*.go")}
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(capsys, "check", "--diff")
    assert {p.name: p.read_bytes() for p in tmp_path.glob("*.go")} == before
    assert code == 1  # nothing was written: the findings are all still there
    assert "--- a/discarded.go\n+++ b/discarded.go\n" in out
    assert "--- a/paths.go\n+++ b/paths.go\n" in out
    assert "negatives.go" not in out
    assert "+\tdefer cancel()" in out
    assert re.search(r"^would fix \d+ findings in 2 files \(lost-cancel: \d+\)$", err, re.MULTILINE)
    patch = shutil.which("patch")
    if patch:
        subprocess.run([patch, "-p1", "-s"], input=out, text=True, cwd=tmp_path, check=True)
        for name in ("discarded.go", "paths.go"):
            assert (tmp_path / name).read_bytes() == (FIXTURES / f"{name}.golden").read_bytes()


def test_diff_of_a_file_that_is_not_utf8_applies_exactly(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = LEAK.encode().replace(b"\tctx, _", b"\t// caf\xe9 \xff\r\n\tctx, _", 1)
    for directory in ("diff", "fix"):
        (tmp_path / directory).mkdir()
        (tmp_path / directory / "latin1.go").write_bytes(source)
    monkeypatch.chdir(tmp_path / "diff")
    assert main(["check", "--diff", "latin1.go"]) == 1
    diff = capsysbinary.readouterr().out
    assert b"// caf\xe9 \xff\r\n" in diff
    assert (tmp_path / "diff" / "latin1.go").read_bytes() == source
    assert main(["check", "--fix", str(tmp_path / "fix")]) == 0
    fixed = (tmp_path / "fix" / "latin1.go").read_bytes()
    assert b"defer cancel()" in fixed
    patch = shutil.which("patch")
    if patch:
        subprocess.run([patch, "-p1", "-s"], input=diff, cwd=tmp_path / "diff", check=True)
        assert (tmp_path / "diff" / "latin1.go").read_bytes() == fixed


def test_diff_of_clean_code_is_empty(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "clean.go").write_text(CLEAN)
    assert cli(capsys, "check", "--diff", tmp_path)[:2] == (0, "")


# --------------------------------------------------------------------------- discovery and configuration


def test_skips_vendor_testdata_git_node_modules_and_hidden_dirs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for directory in (
        "",
        "sub",
        "sub/deeper",
        "vendor/x",
        "testdata",
        ".git",
        "node_modules/m",
        ".cache",
        "sub/testdata",
    ):
        (tmp_path / directory).mkdir(parents=True, exist_ok=True)
        (tmp_path / directory / "leak.go").write_text(LEAK)
    (tmp_path / "sub" / "notes.txt").write_text(LEAK)
    monkeypatch.chdir(tmp_path)
    code, out, _ = cli(capsys, "check", "--format", "json")
    assert code == 1
    paths = [d["path"] for d in json.loads(out)["diagnostics"]]
    assert paths == ["leak.go", "sub/deeper/leak.go", "sub/leak.go"]
    # A file or directory named on the command line is checked wherever it is.
    code, out, _ = cli(capsys, "check", "--format", "json", "vendor/x/leak.go", "testdata")
    assert [d["path"] for d in json.loads(out)["diagnostics"]] == [
        "testdata/leak.go",
        "vendor/x/leak.go",
    ]


def test_go_style_patterns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "sub" / "leak.go").write_text(LEAK)
    (tmp_path / "leak.go").write_text(LEAK)
    monkeypatch.chdir(tmp_path)
    everything = cli(capsys, "check", "--format", "json", ".")
    assert cli(capsys, "check", "--format", "json", "./...") == everything
    assert cli(capsys, "check", "--format", "json", "...") == everything
    _, out, _ = cli(capsys, "check", "--format", "json", "pkg/...")
    assert [d["path"] for d in json.loads(out)["diagnostics"]] == ["pkg/sub/leak.go"]
    assert cli(capsys, "check", "nothere/...")[0] == 2


def test_config_is_found_by_walking_up_and_excludes_are_relative_to_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "project"
    (root / "pkg" / "gen").mkdir(parents=True)
    (root / ".golsp-leaks.toml").write_text(
        'exclude = ["pkg/gen/**", "**/*_mock.go"]\n\n[severity]\nlost-cancel = "error"\n'
    )
    for name in ("pkg/gen/leak.go", "pkg/leak_mock.go", "pkg/leak.go"):
        (root / name).write_text(LEAK)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, out, _ = cli(capsys, "check", "--format", "json", "--fail-on", "error", root / "pkg")
    assert code == 1
    diagnostics = json.loads(out)["diagnostics"]
    assert [(Path(d["path"]).name, d["severity"]) for d in diagnostics] == [("leak.go", "error")]
    assert json.loads(out)["files_checked"] == 1
    # Without a config file nothing is excluded.
    (root / ".golsp-leaks.toml").unlink()
    code, out, _ = cli(capsys, "check", "--format", "json", root / "pkg")
    assert len(json.loads(out)["diagnostics"]) == 3


def test_explicit_config_file_and_warnings_for_unknown_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "custom.toml"
    config.write_text('colour = "blue"\n[rules]\nlost-cancel = false\nno-such-rule = true\n')
    (tmp_path / "leak.go").write_text(LEAK)
    code, out, err = cli(capsys, "check", "--config", config, tmp_path)
    assert (code, out) == (0, "")
    assert "golsp-leaks: warning:" in err
    assert "colour" in err and "no-such-rule" in err


@pytest.mark.parametrize(
    "args",
    [
        ["check", "--select", "no-such-rule"],
        ["check", "--ignore", "lost-cancel,nope"],
        ["check", "does-not-exist"],
        ["check", "--config", "missing.toml"],
        ["check", "--format", "xml"],
        ["check", "--fail-on", "sometimes"],
        ["check", "--fix", "--diff"],
        ["check", "--diff", "--format", "json"],
        ["check", "--jobs", "0"],
        ["check", "--no-such-option"],
        ["rules", "no-such-rule"],
        ["serve", "--tcp", "localhost:http"],
        ["frobnicate"],
        [],
    ],
)
def test_usage_errors_exit_2(
    args: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "leak.go").write_text(LEAK)
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(capsys, *args)
    assert code == 2
    assert out == ""
    if args:
        assert "golsp-leaks: error: " in err or "error:" in err
    assert "Traceback" not in err


def test_unreadable_config_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / ".golsp-leaks.toml").write_text("[rules\nlost-cancel = ")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "leak.go").write_text(LEAK)
    code, out, err = cli(capsys, "check", tmp_path / "pkg")
    assert (code, out) == (2, "")
    assert err.startswith("golsp-leaks: error: ")
    assert ".golsp-leaks.toml" in err


# --------------------------------------------------------------------------- robustness


def test_bad_input_never_crashes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "binary.go").write_bytes(b"\x7fELF\x00\x00WithCancel\x00" * 100)
    (tmp_path / "empty.go").write_bytes(b"")
    (tmp_path / "garbage.go").write_bytes(bytes(range(1, 256)) * 50 + b"WithTimeout(((((")
    (tmp_path / "invalid-utf8.go").write_bytes(
        b'package p\n\nimport "context"\n\n// \xff\xfe\n'
        b'func f(p context.Context) context.Context {\n\ts := "\xc3\x28\xff"; ctx, _ := context.WithCancel(p)\n'
        b"\t_ = s\n\treturn ctx\n}\n"
    )
    huge = (
        b'package p\n\nimport "context"\n\nvar s = "'
        + b"x" * 5_000_000
        + b'"; func f(p context.Context) context.Context { ctx, _ := context.WithCancel(p); return ctx }'
    )
    (tmp_path / "huge.go").write_bytes(huge)
    (tmp_path / "deep.go").write_bytes(
        b"package p\nfunc f() { x := " + b"(" * 5000 + b"WithCancel" + b")" * 5000 + b" }\n"
    )
    (tmp_path / "broken-link.go").symlink_to(tmp_path / "missing.go")
    os.mkfifo(tmp_path / "fifo.go")  # opening it would block for ever
    with open(
        os.path.join(os.fsencode(tmp_path), b"caf\xe9.go"), "wb"
    ) as handle:  # a name that is not UTF-8
        handle.write(LEAK.encode())
    for fmt in ("text", "json", "sarif"):
        code, out, err = cli(capsys, "check", "--format", fmt, tmp_path)
        assert code == 1, err
        assert "Traceback" not in err
        assert "binary.go: binary file, skipped" in err
        assert "broken-link.go: cannot read" in err
        assert "fifo.go: not a regular file, skipped" in err
        if fmt == "text":
            assert "caf\ufffd.go:6:7: warning: " in out
        if fmt == "json":
            paths = {Path(d["path"]).name for d in json.loads(out)["diagnostics"]}
            assert {"invalid-utf8.go", "huge.go", "caf\ufffd.go"} <= paths
        if fmt == "sarif":
            document = json.loads(out)
            assert sarif_errors(document) == []
            uris = {
                r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                for r in document["runs"][0]["results"]
            }
            assert "caf%E9.go" in {uri.rsplit("/", 1)[-1] for uri in uris}
    _, _, err = cli(capsys, "check", "--fix", tmp_path)
    assert "Traceback" not in err


def test_an_engine_failure_costs_one_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a.go").write_text(LEAK)
    (tmp_path / "b.go").write_text(LEAK)
    real = runner._Analyzer.analyze

    def flaky(self: runner._Analyzer, source: bytes, tree: Any, target: Target) -> Any:
        if target.fs_path.endswith("a.go"):
            raise RuntimeError("boom")
        return real(self, source, tree, target)

    monkeypatch.setattr(runner._Analyzer, "analyze", flaky)
    code, out, err = cli(capsys, "check", tmp_path)
    assert code == 1
    assert "b.go" in out and "a.go:" not in out
    assert "a.go: internal error, file skipped: RuntimeError('boom')" in err


# --------------------------------------------------------------------------- parallel


def _generated_tree(root: Path, count: int) -> None:
    sources = [(FIXTURES / name).read_text() for name in PACKAGE] + [LEAK, CLEAN, UNICODE]
    for index in range(count):
        directory = root / f"pkg{index % 7}"
        directory.mkdir(parents=True, exist_ok=True)
        text = sources[index % len(sources)]
        (directory / f"f{index:03d}.go").write_text(
            text.replace("\nfunc ", f"\n// copy {index}\nfunc ", 1)
        )


def test_worker_pool_gives_the_same_results_as_one_process(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _generated_tree(tmp_path / "tree", 160)
    monkeypatch.chdir(tmp_path)
    serial = cli(capsys, "check", "--format", "json", "-j", "1", "tree")
    pools: list[int] = []
    real_pool = runner._run_pool

    def spy(tasks: list[runner.Task], workers: int, *args: Any) -> None:
        pools.append(len(tasks))
        real_pool(tasks, workers, *args)

    monkeypatch.setattr(runner, "_run_pool", spy)
    monkeypatch.setattr(runner, "PARALLEL_THRESHOLD", 10)
    monkeypatch.setattr(runner, "CHUNK_SIZE", 16)
    parallel = cli(capsys, "check", "--no-cache", "--format", "json", "-j", "2", "tree")
    assert pools == [7]  # one task per package directory (each has more than CHUNK_SIZE files)
    assert parallel == serial
    assert serial[0] == 1
    assert json.loads(serial[1])["files_checked"] == 160
    # --fix in the workers too, with the same result.
    shutil.copytree(tmp_path / "tree", tmp_path / "copy")
    serial_fix = cli(capsys, "check", "--fix", "-j", "1", "copy")
    parallel_fix = cli(capsys, "check", "--fix", "-j", "2", "tree")
    assert len(pools) == 2
    assert re.search(r"^fixed \d+ findings in \d+ files \(lost-cancel: \d+\)$", parallel_fix[2], re.MULTILINE)
    assert parallel_fix == (serial_fix[0], serial_fix[1].replace("copy/", "tree/"), serial_fix[2])
    for path in sorted((tmp_path / "tree").rglob("*.go")):
        fixed = path.read_bytes()
        assert fixed == (tmp_path / "copy" / path.relative_to(tmp_path / "tree")).read_bytes()
        assert not parse(fixed).root_node.has_error


def test_minimal_triggers() -> None:
    assert runner.minimal_triggers([b"Open(", b"Open", b"\tgo ", b"go ", b"Open"]) == (
        b"go ",
        b"Open",
    )
    assert runner.minimal_triggers(None) is None
    assert runner.minimal_triggers([]) == ()


def spy_parses(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The texts the command line parses for checking them, from now on."""
    parsed: list[bytes] = []
    real = runner.parse_shared

    def spy(source: bytes) -> Any:
        parsed.append(source)
        return real(source)

    monkeypatch.setattr(runner, "parse_shared", spy)
    return parsed


def test_a_file_without_any_trigger_is_not_parsed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "clean.go").write_text(CLEAN)
    (tmp_path / "leak.go").write_text(LEAK)
    parsed = spy_parses(monkeypatch)
    code, _, err = cli(capsys, "check", tmp_path)
    assert code == 1
    assert "in 2 files" in err  # both checked...
    assert parsed == [LEAK.encode()]  # ...one parsed


OPENS_A_FILE = """package p

import "os"

func read(name string) ([]byte, error) {
	f, err := os.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return nil, nil
}
"""


def test_a_rule_that_needs_an_import_lets_a_file_without_it_go_unparsed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``Open`` is db-open-per-request's trigger, but its openers are calls on a database
    library's package name: a file that imports none is not parsed for it."""
    from golsp_leaks.engine import Engine

    db_open = get_rule("db-open-per-request")
    assert db_open.file_triggers and b"database/sql" in db_open.file_triggers
    only = Settings(rules={rule.id: rule.id == "db-open-per-request" for rule in all_rules()})
    check = runner.FileFilter(Engine(), only)
    assert not check.may_fire_in(OPENS_A_FILE.encode())
    assert not db_open.may_fire_in(OPENS_A_FILE.encode())
    with_sql = OPENS_A_FILE.replace('import "os"', 'import (\n\t"database/sql"\n\t"os"\n)')
    assert check.may_fire_in(with_sql.encode())
    assert db_open.may_fire_in(with_sql.encode())
    assert not check.may_fire_in(b'package p\n\nimport "database/sql"\n')  # no trigger
    # The other rules' triggers are looked for as before: unclosed-file's is there.
    assert runner.FileFilter(Engine(), Settings()).may_fire_in(OPENS_A_FILE.encode())

    (tmp_path / "a.go").write_text(OPENS_A_FILE)
    parsed = spy_parses(monkeypatch)
    code, _, err = cli(capsys, "check", "--select", "db-open-per-request", tmp_path)
    assert code == 0
    assert "in 1 file" in err
    assert parsed == []


HANDLER_LEAK = """package p

import (
	"context"
	"net/http"
)

func {name}(w http.ResponseWriter, r *http.Request) {{
	ctx, _ := context.WithCancel(r.Context())
	_ = ctx
}}
"""


def test_a_file_read_for_its_package_and_checked_is_parsed_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checking a file and reading it for the facts of its siblings' package share one tree."""
    from golsp_leaks.goanalysis.summaries import package
    from golsp_leaks.goanalysis.syntax import parse as parse_module

    package.clear_cache()
    for name in ("a", "b", "c"):
        (tmp_path / f"{name}.go").write_text(HANDLER_LEAK.format(name=name))
    parsed: list[bytes] = []
    real = parse_module.parse

    def spy(source: bytes, *args: Any) -> Any:
        parsed.append(source)
        return real(source, *args)

    monkeypatch.setattr(parse_module, "parse", spy)
    code, out, _ = cli(capsys, "check", "--no-cache", "--format", "json", tmp_path)
    assert code == 1 and out.count('"lost-cancel"') == 3  # the handlers' facts were read
    assert sorted(parsed) == sorted(HANDLER_LEAK.format(name=n).encode() for n in "abc")


def test_tasks_keep_a_package_together_and_start_with_the_largest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scopes = [Scope(Settings(), "."), Scope(Settings(), "other")]
    sizes = {"a": 3, "b": 10, "c": 2, "d": 2}
    monkeypatch.chdir(tmp_path)
    for d, n in {**sizes, "e": 1}.items():
        Path(d).mkdir()
        for i in range(n):
            (Path(d) / f"f{i}.go").write_text("package p\n" * (1 if d != "a" else 100))
    targets = [
        Target(f"{d}/f{i}.go", f"{d}/f{i}.go", 0) for d, n in sizes.items() for i in range(n)
    ] + [Target("e/f0.go", "e/f0.go", 1)]
    tasks = runner.make_tasks(runner.Mode.CHECK, targets, scopes, 4)
    assert [sorted({os.path.dirname(t.fs_path) for t in task.targets}) for task in tasks] == [
        ["a"],  # the most bytes
        ["b"],  # more files than a chunk holds, but not split
        ["c", "d"],
        ["e"],  # another scope, another task
    ]
    assert sorted((t for task in tasks for t in task.targets), key=str) == sorted(targets, key=str)


def test_a_worker_that_dies_does_not_lose_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _generated_tree(tmp_path / "tree", 40)
    serial = cli(capsys, "check", "--no-cache", "--format", "json", "-j", "1", tmp_path / "tree")
    parent = os.getpid()
    real = runner._Analyzer.analyze

    def crash_in_a_worker(
        self: runner._Analyzer, source: bytes, tree: Any, target: runner.Target
    ) -> Any:
        if os.getpid() != parent and target.fs_path.endswith("f007.go"):
            os._exit(3)  # as if the parser had crashed the process
        return real(self, source, tree, target)

    monkeypatch.setattr(runner._Analyzer, "analyze", crash_in_a_worker)
    monkeypatch.setattr(runner, "PARALLEL_THRESHOLD", 1)
    monkeypatch.setattr(runner, "CHUNK_SIZE", 4)
    code, out, err = cli(capsys, "check", "--no-cache", "--format", "json", "-j", "2", tmp_path / "tree")
    assert (code, out) == serial[:2]
    if multiprocessing.get_start_method() == "fork":  # the patch reaches the workers
        assert "a worker process died" in err


def test_progress_only_on_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _generated_tree(tmp_path, 20)

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert "\r[" not in cli(capsys, "check", tmp_path)[2]
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    main(["check", "--no-cache", str(tmp_path)])
    assert "\r[20/20] files" in terminal.getvalue()
    assert "\r\x1b[K" in terminal.getvalue()
    quiet = Terminal()
    monkeypatch.setattr(sys, "stderr", quiet)
    main(["check", "--no-progress", str(tmp_path)])
    assert "\r" not in quiet.getvalue()


def test_stats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "clean.go").write_text(CLEAN)
    (tmp_path / "leak.go").write_text(LEAK)
    lines = CLEAN.count("\n") + LEAK.count("\n")
    _, _, err = cli(capsys, "check", "--stats", tmp_path)
    assert re.search(
        rf"^checked 2 files, {lines} lines in [0-9.]+ s \([0-9,]+ lines/s\)$", err, re.MULTILINE
    ), err


# --------------------------------------------------------------------------- rules, version, serve


def test_rules_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "rules")
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split()[:4] == ["RULE", "SEVERITY", "FIXABLE", "SUMMARY"]
    assert len(rows) == len(documented_rules())  # the static rules and the scan's runtime rules
    row = next(r for r in rows if r.startswith("lost-cancel "))
    assert row.split()[1:3] == ["warning", "yes"]


def test_rule_documentation(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "rules", "lost-cancel")
    assert code == 0
    rule = get_rule("lost-cancel")
    assert rule is not None
    assert rule.documentation() in out
    assert "## What it does" in out


def test_rules_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "rules", "--format", "json")
    assert code == 0
    listed = json.loads(out)
    assert [r["id"] for r in listed] == [r.id for r in documented_rules()]
    assert {"id", "summary", "default_severity", "fixable", "documentation"} <= set(listed[0])
    code, out, _ = cli(capsys, "rules", "--format", "json", "lost-cancel")
    assert json.loads(out)["id"] == "lost-cancel"


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "--version")[:2] == (0, f"golsp-leaks {__version__}\n")


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "check", "--help")
    assert code == 0
    assert "--fail-on" in out and "--fix" in out and "--diff" in out


@pytest.mark.parametrize(
    ("args", "tcp"),
    [
        ([], None),
        (["--stdio"], None),
        (["--tcp", "127.0.0.1:2087"], ("127.0.0.1", 2087)),
        (["--tcp", "[::1]:9000"], ("::1", 9000)),
        (["--tcp", "4000"], ("127.0.0.1", 4000)),
    ],
)
def test_serve_calls_the_server(
    args: list[str],
    tcp: tuple[str, int] | None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    calls: list[tuple[Any, dict[str, Any]]] = []

    def run(tcp: tuple[str, int] | None, log_file: str | None = None) -> None:
        calls.append((tcp, {"log_file": log_file}))

    fake = types.ModuleType("golsp_leaks.server")
    fake.run = run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "golsp_leaks.server", fake)
    monkeypatch.setattr(golsp_leaks, "server", fake, raising=False)
    code, out, _ = cli(capsys, "serve", *args, "--log-file", "server.log", "-v")
    assert (code, out) == (0, "")
    assert calls == [(tcp, {"log_file": "server.log"})]


def test_serve_reports_an_address_in_use(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def run(tcp: tuple[str, int] | None) -> None:
        raise OSError(98, "Address already in use")

    fake = types.ModuleType("golsp_leaks.server")
    fake.run = run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "golsp_leaks.server", fake)
    monkeypatch.setattr(golsp_leaks, "server", fake, raising=False)
    code, _, err = cli(capsys, "serve", "--tcp", "127.0.0.1:2087")
    assert code == 2
    assert err == "golsp-leaks: error: cannot listen on 127.0.0.1:2087: Address already in use\n"


def test_an_internal_error_is_one_line_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("bug")

    monkeypatch.setattr(runner, "check_targets", broken)
    monkeypatch.delenv("GOLSP_LEAKS_DEBUG", raising=False)
    code, out, err = cli(capsys, "check", tmp_path)
    assert (code, out) == (2, "")
    assert (
        err
        == "golsp-leaks: error: internal error: RuntimeError('bug') (set GOLSP_LEAKS_DEBUG=1 to see where)\n"
    )


def test_parse_tcp() -> None:
    assert parse_tcp("localhost:1") == ("localhost", 1)
    assert parse_tcp("0.0.0.0:65535") == ("0.0.0.0", 65535)


# --------------------------------------------------------------------------- subprocess


def test_python_dash_m(tmp_path: Path) -> None:
    (tmp_path / "leak.go").write_text(LEAK)
    version = subprocess.run(
        [sys.executable, "-m", "golsp_leaks", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (version.returncode, version.stdout.strip()) == (0, f"golsp-leaks {__version__}")
    result = subprocess.run(
        [sys.executable, "-m", "golsp_leaks", "check", "--format", "json", "."],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    (diagnostic,) = json.loads(result.stdout)["diagnostics"]
    assert (diagnostic["path"], diagnostic["line"], diagnostic["column"]) == ("leak.go", 6, 7)


def test_a_check_from_the_cache_imports_neither_the_analysis_nor_the_scanner(tmp_path: Path) -> None:
    """What a re-run over an unchanged tree loads: the command line and the cache, nothing more
    (nor the standard library's slow modules: each costs milliseconds of a re-run's start)."""
    (tmp_path / "leak.go").write_text(LEAK)
    probe = (
        "import sys\n"
        "from golsp_leaks.cli.main import main\n"
        "code = main(['check', '--no-progress', '--format', 'json', '--cache-dir', sys.argv[1], sys.argv[2]])\n"
        "heavy = ('httpx', 'golsp_leaks.cli.scan', 'golsp_leaks.engine', 'tree_sitter', 'golsp_leaks.rules',\n"
        "         'golsp_leaks.model', 'dataclasses', 'typing', 'hashlib', 'tomllib')\n"
        "print(code, *sorted(m for m in heavy if m in sys.modules), file=sys.stderr)\n"
    )
    command = [sys.executable, "-c", probe, str(tmp_path / "cache"), str(tmp_path / "leak.go")]
    first = subprocess.run(command, capture_output=True, text=True, check=False)
    assert first.stderr.split()[0] == "1" and "golsp_leaks.engine" in first.stderr  # it analysed
    again = subprocess.run(command, capture_output=True, text=True, check=False)
    assert again.stderr.strip() == "1"
    assert again.stdout == first.stdout


def test_console_script_and_exit_2_in_a_subprocess(tmp_path: Path) -> None:
    script = shutil.which("golsp-leaks")
    command = [script] if script else [sys.executable, "-m", "golsp_leaks"]
    result = subprocess.run(
        [*command, "check", "nowhere"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert result.stderr == "golsp-leaks: error: nowhere: no such file or directory\n"
    assert result.stdout == ""


# --- the result cache ---------------------------------------------------------------


def _cached_run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(["check", "--format", "json", "--stats", "--no-progress", *args])
    out, err = capsys.readouterr()
    match = re.search(r"^(\d+) of them from the cache", err, re.MULTILINE)
    return status, out, match.group(1) if match else "-"


def test_a_second_run_takes_unchanged_files_from_the_cache(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "leak.go").write_text(LEAK)
    (tmp_path / "a" / "clean.go").write_text(CLEAN)
    (tmp_path / "b" / "leak.go").write_text(LEAK)
    first = _cached_run([str(tmp_path)], capsys)
    second = _cached_run([str(tmp_path)], capsys)
    assert first[0] == second[0] == 1
    assert first[1] == second[1] and json.loads(first[1])["diagnostics"]
    assert (first[2], second[2]) == ("0", "3")
    # A change to one file of package a: a's files are analysed again (package facts), b's are not.
    (tmp_path / "a" / "clean.go").write_text(CLEAN + "\n// changed\n")
    third = _cached_run([str(tmp_path)], capsys)
    assert third[2] == "1" and third[1] == first[1]
    # Other settings, other results: nothing comes from the cache.
    fourth = _cached_run(["--select", "lost-cancel", str(tmp_path)], capsys)
    assert fourth[2] == "0"
    # --no-cache neither reads nor writes.
    status = main(["check", "--no-cache", "--stats", "--no-progress", str(tmp_path)])
    assert status == 1 and "from the cache" not in capsys.readouterr().err


def test_the_cache_follows_content_not_dates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "f.go"
    harmless = LEAK.replace("WithCancel", "WithCancex")  # the same size, and no finding
    path.write_text(harmless)
    stat = path.stat()
    assert _cached_run([str(path)], capsys)[0] == 0
    path.write_text(LEAK)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size, same date, other content
    status, out, cached = _cached_run([str(path)], capsys)
    assert status == 1 and cached == "0" and json.loads(out)["diagnostics"]


def test_a_corrupt_cache_is_ignored_and_rewritten(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], _own_cache_dir: Path
) -> None:
    (tmp_path / "leak.go").write_text(LEAK)
    first = _cached_run([str(tmp_path)], capsys)
    files = list((_own_cache_dir / f"v{cache.FORMAT}").glob("*.json"))
    assert len(files) == 1
    for junk in (b"{not json", b'{"files": {"leak.go": ["x", 3]}}', b"[1, 2]", b""):
        files[0].write_bytes(junk)
        again = _cached_run([str(tmp_path)], capsys)
        assert again[:2] == first[:2] and again[2] == "0"
    # A key that matches but reports that are not reports: analysed again, not trusted.
    data = json.loads(files[0].read_bytes())
    data["files"]["leak.go"][1] = [["lost-cancel", "warning", "m", [1, 2, 3], [], []]]
    files[0].write_text(json.dumps(data))
    assert _cached_run([str(tmp_path)], capsys)[:2] == first[:2]


def test_concurrent_runs_share_the_cache_safely(tmp_path: Path, _own_cache_dir: Path) -> None:
    for i in range(30):
        directory = tmp_path / f"p{i}"
        directory.mkdir()
        (directory / "leak.go").write_text(LEAK)
        (directory / "clean.go").write_text(CLEAN)
    command = [sys.executable, "-m", "golsp_leaks", "check", "--format", "json", "--no-progress", "-j", "1"]
    runs = [
        subprocess.Popen([*command, str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    outputs = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [1, 1, 1, 1]
    assert len({out for out, _ in outputs}) == 1
    assert len(json.loads(outputs[0][0])["diagnostics"]) == 30
    assert not list(_own_cache_dir.rglob("*.tmp"))


def test_clean_removes_the_cache_and_nothing_else(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], _own_cache_dir: Path
) -> None:
    (tmp_path / "leak.go").write_text(LEAK)
    _cached_run([str(tmp_path)], capsys)
    assert _own_cache_dir.exists()
    assert main(["clean"]) == 0
    assert not _own_cache_dir.exists()
    assert main(["clean"]) == 0  # nothing to remove is fine
    # A directory that is not a cache is refused.
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "keep.txt").write_text("x")
    assert main(["clean", "--cache-dir", str(precious)]) == 2
    assert (precious / "keep.txt").exists()


MIXED = """package mixed

import (
	"context"
	"os"
	"time"
)

func work(ctx context.Context) error { return ctx.Err() }

func safe() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	if err := work(ctx); err != nil {
		return err
	}
	cancel()
	return nil
}

func unsafe(paths []string) {
	for _, p := range paths {
		f, err := os.Open(p)
		if err == nil {
			defer f.Close()
			_, _ = f.Stat()
		}
	}
}
"""


def test_fix_applies_safe_fixes_and_counts_the_unsafe_ones_left(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "mixed.go"
    path.write_text(MIXED)
    _, out, err = cli(capsys, "check", "--diff", path)
    assert "+\tdefer cancel()" in out and "func() {" not in out
    assert "would fix 1 finding in 1 file (lost-cancel: 1)\n1 more fix available with --unsafe-fixes\n" in err
    assert path.read_text() == MIXED
    diff_unsafe = cli(capsys, "check", "--diff", "--unsafe-fixes", path)[1]
    assert "+\tdefer cancel()" in diff_unsafe and "+\t\tfunc() {" in diff_unsafe

    err = cli(capsys, "check", "--fix", path)[2]
    assert "fixed 1 finding in 1 file (lost-cancel: 1)\n1 more fix available with --unsafe-fixes\n" in err
    fixed = path.read_text()
    assert "defer cancel()" in fixed and "func() {" not in fixed
    err = cli(capsys, "check", "--fix", "--unsafe-fixes", path)[2]
    assert "fixed 1 finding in 1 file (defer-in-loop: 1)\n" in err and "--unsafe-fixes" not in err
    assert "\t\tfunc() {" in path.read_text()
    assert gotool.gofmt_diff(path.read_bytes()) == ""
    path.write_text(MIXED)
    assert "2 findings (1 fixable, 1 more with --unsafe-fixes) in 1 file" in cli(capsys, "check", path)[2]
    # --diff showed exactly what --fix then did, flag for flag.
    path.write_text(MIXED)
    cli(capsys, "check", "--fix", "--unsafe-fixes", path)
    patched = tmp_path / "patched"
    patched.mkdir()
    (patched / "mixed.go").write_text(MIXED)
    patch = shutil.which("patch")
    if patch:
        subprocess.run([patch, "-s", str(patched / "mixed.go")], input=diff_unsafe, text=True, check=True)
        assert (patched / "mixed.go").read_text() == path.read_text()


def test_json_reports_each_fix_applicability(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "mixed.go"
    path.write_text(MIXED)
    diagnostics = json.loads(cli(capsys, "check", "--format", "json", path)[1])["diagnostics"]
    by_rule = {d["rule"]: d for d in diagnostics}
    assert [f["applicability"] for f in by_rule["lost-cancel"]["fixes"]] == ["safe"]
    assert [f["applicability"] for f in by_rule["defer-in-loop"]["fixes"]] == ["unsafe"]
    assert by_rule["lost-cancel"]["fixable"] and not by_rule["defer-in-loop"]["fixable"]
