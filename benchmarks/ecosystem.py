#!/usr/bin/env python3
"""Run ``golsp-leaks check`` over real public Go repositories and compare with a reviewed baseline.

The repositories are listed, with the commit each is pinned at, in
``benchmarks/ecosystem/repos.toml``; their code is never part of this project.
Each one is read from a local git mirror (``<mirrors>/<owner>+<name>/repo``, the
layout the fetch tool and ``git clone --mirror`` give) and written out at its
pinned commit under the work directory.  Then, per repository:

1. ``golsp-leaks check --format json --no-progress --fail-on never .`` (the CLI
   installed from the current tree), timed;
2. every finding is classified as test code (``_test.go``, or under a
   ``testdata``/``test``/``testutil``/... directory) or not, and given a stable
   identity: repository, path, enclosing declaration, rule and a hash of the
   flagged line's whitespace-normalised text (plus an occurrence number when
   one declaration has the same line twice) -- never the line number, so an
   unrelated edit above a finding does not make it "new";
3. each finding is looked up in ``benchmarks/ecosystem/baseline.json``, whose
   entries carry a verdict (``true`` / ``false-alarm``, or ``unreviewed`` /
   ``unreviewed-test`` until someone has read them) and a one-line reason.

It prints per-repository size and speed, per-rule counts, findings per 100k
lines, precision on non-test code (overall and per rule) from the verdicts, and
the difference from the baseline: new findings (not in it) and gone ones (in it,
no longer reported).  Exit status: 0 when every non-test finding has a verdict,
1 when some are unreviewed (new ones included), 2 on usage errors or missing
mirrors.

    python benchmarks/ecosystem.py                       # all repositories
    python benchmarks/ecosystem.py --only knadh/listmonk --only go-chi/chi
    python benchmarks/ecosystem.py --select request-context-escape,lost-cancel
    python benchmarks/ecosystem.py --update-baseline     # add new findings as "unreviewed"
    python benchmarks/ecosystem.py --materialise-only    # just write the trees (e.g. to build them)
    python benchmarks/ecosystem.py --mirrors /srv/mirrors --work /tmp/eco

Writes ``benchmarks/results/ecosystem.json`` (gitignored; ``--json`` elsewhere).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_check import cli_command, count_lines, walk_go_files  # noqa: E402
from provenance import code_under_test, machine  # noqa: E402

DATA = HERE / "ecosystem"
REPOS_FILE = DATA / "repos.toml"
BASELINE_FILE = DATA / "baseline.json"
RESULTS = HERE / "results"
DEFAULT_MIRRORS = Path(os.environ.get("GOLSP_LEAKS_MIRRORS", "/work/.mirror"))
DEFAULT_WORK = Path(tempfile.gettempdir()) / "golsp-leaks-ecosystem"

#: A path with one of these directory names is test code (helpers, fixtures, end-to-end suites).
TEST_DIRS = frozenset(
    {
        "testdata",
        "test",
        "tests",
        "testutil",
        "testutils",
        "testhelper",
        "testhelpers",
        "testing",
        "e2e",
        "mock",
        "mocks",
    }
)

VERDICT_TRUE = "true"
VERDICT_FALSE = "false-alarm"
UNREVIEWED = "unreviewed"
UNREVIEWED_TEST = "unreviewed-test"
VERDICTS = frozenset({VERDICT_TRUE, VERDICT_FALSE, UNREVIEWED, UNREVIEWED_TEST})


# --------------------------------------------------------------------------- pure parts


def is_test_path(path: str) -> bool:
    """Whether a repository-relative path is test code."""
    parts = path.replace("\\", "/").split("/")
    if parts[-1].endswith("_test.go"):
        return True
    return any(part in TEST_DIRS for part in parts[:-1])


def normalise_line(text: str) -> str:
    """The flagged line's text with indentation and runs of blanks collapsed (gofmt-proof)."""
    return " ".join(text.split())


def line_hash(text: str) -> str:
    """A short hash of the normalised line: identifies the line without copying its code."""
    return hashlib.sha1(normalise_line(text).encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class FindingKey:
    """What stays the same about a finding across unrelated edits of its file."""

    repo: str
    path: str
    function: str
    rule: str
    line_hash: str
    occurrence: int = 0

    def as_str(self) -> str:
        return f"{self.repo}:{self.path}:{self.function}:{self.rule}:{self.line_hash}#{self.occurrence}"


@dataclass
class Finding:
    repo: str
    path: str
    line: int
    column: int
    function: str
    rule: str
    message: str
    line_text: str
    test: bool
    occurrence: int = 0

    @property
    def key(self) -> FindingKey:
        return FindingKey(self.repo, self.path, self.function, self.rule, line_hash(self.line_text), self.occurrence)

    def as_entry(self, verdict: str, reason: str) -> dict[str, Any]:
        """This finding as a baseline entry: coordinates and identity, never the code itself."""
        return {
            "repo": self.repo,
            "path": self.path,
            "line": self.line,
            "function": self.function,
            "rule": self.rule,
            "line_hash": self.key.line_hash,
            "occurrence": self.occurrence,
            "test": self.test,
            "verdict": verdict,
            "reason": reason,
        }


def number_occurrences(findings: list[Finding]) -> None:
    """Tell apart findings whose key is otherwise equal (same line text twice in one declaration), by line order."""
    seen: Counter[tuple[str, str, str, str, str]] = Counter()
    for f in sorted(findings, key=lambda f: (f.repo, f.path, f.line, f.column, f.rule)):
        base = (f.repo, f.path, f.function, f.rule, line_hash(f.line_text))
        f.occurrence = seen[base]
        seen[base] += 1


def entry_key(entry: dict[str, Any]) -> FindingKey:
    return FindingKey(
        entry["repo"],
        entry["path"],
        entry.get("function", ""),
        entry["rule"],
        entry["line_hash"],
        int(entry.get("occurrence", 0)),
    )


def match_entries(findings: Sequence[Finding], entries: Sequence[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Which baseline entry each finding is (keyed by ``id()`` of the finding; unmatched ones are absent).

    A finding and an entry can be the same only when repository, path, declaration, rule and
    line hash agree.  Among several such candidates (the same line text twice in one
    declaration) the pairs are made nearest line first, so when one of two equal lines stops
    being reported, the other keeps its own verdict: occurrence numbers, which shift then,
    only break ties.
    """
    groups: dict[tuple[str, str, str, str, str], tuple[list[Finding], list[dict[str, Any]]]] = {}
    for f in findings:
        groups.setdefault((f.repo, f.path, f.function, f.rule, line_hash(f.line_text)), ([], []))[0].append(f)
    for e in entries:
        group = groups.get((e["repo"], e["path"], e.get("function", ""), e["rule"], e["line_hash"]))
        if group is not None:
            group[1].append(e)
    matched: dict[int, dict[str, Any]] = {}
    for group_findings, group_entries in groups.values():
        pairs = sorted(
            (
                abs(f.line - int(e.get("line", 0))),
                f.occurrence != int(e.get("occurrence", 0)),
                i,
                j,
            )
            for i, f in enumerate(group_findings)
            for j, e in enumerate(group_entries)
        )
        used_f: set[int] = set()
        used_e: set[int] = set()
        for _, _, i, j in pairs:
            if i in used_f or j in used_e:
                continue
            used_f.add(i)
            used_e.add(j)
            matched[id(group_findings[i])] = group_entries[j]
    return matched


@dataclass
class RuleTally:
    findings: int = 0
    test: int = 0
    true: int = 0
    false: int = 0
    unreviewed: int = 0
    test_true: int = 0
    test_false: int = 0

    @property
    def precision(self) -> float | None:
        """On non-test code, the figure the targets are stated in."""
        judged = self.true + self.false
        return self.true / judged if judged else None

    @property
    def test_precision(self) -> float | None:
        judged = self.test_true + self.test_false
        return self.test_true / judged if judged else None


@dataclass
class Comparison:
    new: list[Finding] = field(default_factory=list)
    gone: list[dict[str, Any]] = field(default_factory=list)
    per_rule: dict[str, RuleTally] = field(default_factory=dict)
    overall: RuleTally = field(default_factory=RuleTally)
    #: (rule, class) -> how many non-test false alarms the baseline files under that class
    false_alarm_classes: Counter[tuple[str, str]] = field(default_factory=Counter)


def compare(findings: Sequence[Finding], baseline: Sequence[dict[str, Any]], repos: Iterable[str]) -> Comparison:
    """Findings against the baseline of the repositories that were run.

    Precision counts only non-test findings with a verdict; unreviewed ones
    (new findings included) are counted apart.
    """
    ran = set(repos)
    candidates = [e for e in baseline if e["repo"] in ran]
    matched = match_entries(findings, candidates)
    result = Comparison()
    for f in findings:
        entry = matched.get(id(f))
        if entry is None:
            result.new.append(f)
        tally = result.per_rule.setdefault(f.rule, RuleTally())
        verdict = entry["verdict"] if entry else UNREVIEWED
        if entry and verdict == VERDICT_FALSE and not f.test:
            result.false_alarm_classes[(f.rule, entry.get("class", "unclassified"))] += 1
        for t in (tally, result.overall):
            t.findings += 1
            if f.test:
                t.test += 1
                t.test_true += verdict == VERDICT_TRUE
                t.test_false += verdict == VERDICT_FALSE
                continue
            if verdict == VERDICT_TRUE:
                t.true += 1
            elif verdict == VERDICT_FALSE:
                t.false += 1
            else:
                t.unreviewed += 1
    taken = {id(e) for e in matched.values()}
    result.gone = [e for e in candidates if id(e) not in taken]
    return result


def updated_baseline(
    findings: Sequence[Finding], baseline: Sequence[dict[str, Any]], repos: Iterable[str]
) -> list[dict[str, Any]]:
    """The baseline with the run repositories' entries replaced by this run's findings.

    Verdicts and reasons of findings already judged are kept (their line numbers
    refreshed); new findings come in as ``unreviewed`` (``unreviewed-test`` in
    test code); entries no longer reported are dropped.
    """
    ran = set(repos)
    matched = match_entries(findings, [e for e in baseline if e["repo"] in ran])
    kept = [e for e in baseline if e["repo"] not in ran]
    for f in findings:
        prior = matched.get(id(f))
        if prior:  # keeps what a reviewer added besides the verdict (a false alarm's "class")
            kept.append({**prior, **f.as_entry(prior["verdict"], prior.get("reason", ""))})
        else:
            kept.append(f.as_entry(UNREVIEWED_TEST if f.test else UNREVIEWED, ""))
    return sorted(kept, key=entry_order)


def check_baseline(entries: Sequence[dict[str, Any]]) -> list[str]:
    """Problems with the baseline file: unknown verdicts, judged entries without a reason, duplicate keys."""
    problems = []
    seen: set[FindingKey] = set()
    for e in entries:
        where = f"{e.get('repo')}:{e.get('path')}:{e.get('line')} {e.get('rule')}"
        if e.get("verdict") not in VERDICTS:
            problems.append(f"{where}: unknown verdict {e.get('verdict')!r}")
        if e.get("verdict") in (VERDICT_TRUE, VERDICT_FALSE) and not e.get("reason"):
            problems.append(f"{where}: a verdict without a reason")
        key = entry_key(e)
        if key in seen:
            problems.append(f"{where}: duplicate key {key.as_str()}")
        seen.add(key)
    return problems


def fmt_precision(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def per_100k(count: int, lines: int) -> float:
    return 100_000 * count / lines if lines else 0.0


# --------------------------------------------------------------------------- Go source


_parser: Any = None


def go_parser() -> Any:
    global _parser
    if _parser is None:
        import tree_sitter_go
        from tree_sitter import Language, Parser

        _parser = Parser(Language(tree_sitter_go.language()))
    return _parser


def _receiver_type(text: str) -> str:
    """``(s *Store[T])`` -> ``Store``."""
    inner = text.strip("()").strip()
    inner = re.sub(r"\[.*\]", "", inner)
    names = re.findall(r"[A-Za-z_]\w*", inner)
    return names[-1] if names else ""


def declaration_names(source: bytes) -> list[tuple[int, int, str]]:
    """(first line, last line, name) of every top-level declaration, 1-based.

    Functions are ``Name``, methods ``Type.Name``, other declarations
    ``var a,b`` / ``const ...`` / ``type T``.
    """
    tree = go_parser().parse(source)
    spans = []
    for node in tree.root_node.named_children:
        start, end = node.start_point[0] + 1, node.end_point[0] + 1
        name_node = node.child_by_field_name("name")
        if node.type == "function_declaration" and name_node is not None:
            name = name_node.text.decode()
        elif node.type == "method_declaration" and name_node is not None:
            receiver = node.child_by_field_name("receiver")
            recv = _receiver_type(receiver.text.decode()) if receiver is not None else ""
            name = f"{recv}.{name_node.text.decode()}"
        elif node.type in ("var_declaration", "const_declaration", "type_declaration"):
            idents = []
            for spec in node.named_children:
                for child in spec.named_children:
                    if child.type in ("identifier", "type_identifier"):
                        idents.append(child.text.decode())
                        break
            name = f"{node.type.split('_')[0]} {','.join(idents)}"
        else:
            continue
        spans.append((start, end, name))
    return spans


def enclosing_declaration(spans: Sequence[tuple[int, int, str]], line: int) -> str:
    for start, end, name in spans:
        if start <= line <= end:
            return name
    return ""


# --------------------------------------------------------------------------- repositories


@dataclass
class Repo:
    name: str
    commit: str
    frameworks: list[str]
    builds: bool
    note: str

    @property
    def slug(self) -> str:
        return self.name.replace("/", "+")


def load_repos(path: Path = REPOS_FILE) -> list[Repo]:
    data = tomllib.loads(path.read_text())
    repos = []
    for item in data.get("repo", []):
        repos.append(
            Repo(
                name=item["name"],
                commit=item["commit"],
                frameworks=list(item.get("frameworks", [])),
                builds=bool(item.get("builds", False)),
                note=item.get("note", ""),
            )
        )
    return repos


def mirror_dir(mirrors: Path, repo: Repo) -> Path:
    return mirrors / repo.slug / "repo"


def git(git_dir: Path, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[Any]:
    return subprocess.run(["git", f"--git-dir={git_dir}", *args], check=False, **kwargs)


def missing_mirrors(mirrors: Path, repos: Sequence[Repo]) -> list[str]:
    """The repositories whose mirror is absent or lacks the pinned commit."""
    missing = []
    for repo in repos:
        gd = mirror_dir(mirrors, repo)
        if not gd.is_dir():
            missing.append(f"{repo.name}: no git directory at {gd}")
            continue
        probe = git(gd, "cat-file", "-e", f"{repo.commit}^{{commit}}", capture_output=True)
        if probe.returncode != 0:
            missing.append(f"{repo.name}: {gd} has no commit {repo.commit}")
    return missing


def materialise(mirrors: Path, work: Path, repo: Repo) -> tuple[Path, int]:
    """Write ``repo`` at its pinned commit under ``work``; returns the tree and how many blobs were absent.

    Reads blobs one by one (``git cat-file --batch``) rather than ``git archive``,
    because mirrors may lack their largest files: those are skipped, not fatal.
    """
    target = work / f"{repo.slug}@{repo.commit[:12]}"
    stamp = target / ".golsp-leaks-ecosystem"
    if stamp.exists():
        return target, int(stamp.read_text().split()[1])
    if target.exists():
        shutil.rmtree(target)
    gd = mirror_dir(mirrors, repo)
    listing = git(gd, "ls-tree", "-r", "-z", "--full-tree", repo.commit, capture_output=True)
    if listing.returncode != 0:
        raise RuntimeError(f"{repo.name}: git ls-tree failed: {listing.stderr.decode(errors='replace')}")
    entries = []
    for item in listing.stdout.split(b"\0"):
        if not item:
            continue
        meta, _, name = item.partition(b"\t")
        mode, kind, sha = meta.split()
        if kind == b"blob":
            entries.append((mode.decode(), sha.decode(), name.decode("utf-8", errors="surrogateescape")))
    absent = 0
    batch = subprocess.Popen(
        ["git", f"--git-dir={gd}", "cat-file", "--batch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert batch.stdin is not None and batch.stdout is not None
    for mode, sha, name in entries:
        batch.stdin.write(sha.encode() + b"\n")
        batch.stdin.flush()
        header = batch.stdout.readline().split()
        if len(header) < 3 or header[1] == b"missing":
            absent += 1
            continue
        size = int(header[2])
        data = batch.stdout.read(size)
        batch.stdout.read(1)
        out = target / name
        out.parent.mkdir(parents=True, exist_ok=True)
        if mode == "120000":
            try:
                os.symlink(data.decode(errors="surrogateescape"), out)
            except OSError:
                absent += 1
            continue
        out.write_bytes(data)
        if mode == "100755":
            out.chmod(0o755)
    batch.stdin.close()
    batch.wait()
    stamp.write_text(f"{repo.commit} {absent}\n")
    return target, absent


# --------------------------------------------------------------------------- running the checker


@dataclass
class RepoRun:
    repo: str
    files: int
    lines: int
    test_lines: int
    seconds: float
    absent_blobs: int
    findings: list[Finding]
    stderr: str

    @property
    def lines_per_second(self) -> float:
        return self.lines / self.seconds if self.seconds else 0.0


def run_check(repo: Repo, tree: Path, absent: int, jobs: int | None, select: str | None = None) -> RepoRun:
    files = walk_go_files(tree)
    lines = test_lines = 0
    for p in files:
        n = count_lines(p)
        lines += n
        if is_test_path(p.relative_to(tree).as_posix()):
            test_lines += n
    cmd = [*cli_command(), "check", "--format", "json", "--no-progress", "--fail-on", "never"]
    if jobs:
        cmd += ["-j", str(jobs)]
    if select:
        cmd += ["--select", select]
    started = time.perf_counter()
    proc = subprocess.run([*cmd, "."], cwd=tree, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{repo.name}: golsp-leaks check exited {proc.returncode}: {proc.stderr[-2000:]}")
    diagnostics = json.loads(proc.stdout)["diagnostics"]
    findings: list[Finding] = []
    spans_by_file: dict[str, list[tuple[int, int, str]]] = {}
    lines_by_file: dict[str, list[bytes]] = {}
    for d in diagnostics:
        rel = Path(d["path"]).as_posix().removeprefix("./")
        if rel not in spans_by_file:
            source = (tree / rel).read_bytes()
            spans_by_file[rel] = declaration_names(source)
            lines_by_file[rel] = source.split(b"\n")
        text_lines = lines_by_file[rel]
        line = int(d["line"])
        text = text_lines[line - 1].decode("utf-8", errors="replace") if 0 < line <= len(text_lines) else ""
        findings.append(
            Finding(
                repo=repo.name,
                path=rel,
                line=line,
                column=int(d.get("column", 0)),
                function=enclosing_declaration(spans_by_file[rel], line),
                rule=d["rule"],
                message=d.get("message", ""),
                line_text=text,
                test=is_test_path(rel),
            )
        )
    number_occurrences(findings)
    return RepoRun(repo.name, len(files), lines, test_lines, seconds, absent, findings, proc.stderr)


# --------------------------------------------------------------------------- report


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    rows = [[str(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    out = [" | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    out.append("-+-".join("-" * w for w in widths))
    out.extend(" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)
    return "\n".join(out)


def moved_from(comparison: Comparison) -> dict[int, dict[str, Any]]:
    """New findings that may be a gone one reported at another line of the same declaration.

    Keyed by ``id()`` of the new finding.  A hint for the reviewer only: the
    verdict is not carried over, since the flagged code differs.
    """
    gone: dict[tuple[str, str, str, str], list[dict[str, Any]]] = {}
    for e in comparison.gone:
        gone.setdefault((e["repo"], e["path"], e.get("function", ""), e["rule"]), []).append(e)
    hints = {}
    for f in comparison.new:
        candidates = gone.get((f.repo, f.path, f.function, f.rule))
        if candidates:
            hints[id(f)] = candidates.pop(0)
    return hints


def rule_row(name: str, t: RuleTally) -> tuple[object, ...]:
    return (
        name,
        t.findings - t.test,
        t.true,
        t.false,
        t.unreviewed,
        fmt_precision(t.precision),
        t.test,
        fmt_precision(t.test_precision),
    )


def report(runs: Sequence[RepoRun], comparison: Comparison) -> str:
    parts = []
    total_lines = sum(r.lines for r in runs)
    nontest_lines = sum(r.lines - r.test_lines for r in runs)
    total_seconds = sum(r.seconds for r in runs)
    repo_rows = [
        (
            r.repo,
            r.files,
            r.lines,
            f"{r.seconds:.1f}",
            f"{r.lines_per_second:,.0f}",
            sum(not f.test for f in r.findings),
            sum(f.test for f in r.findings),
        )
        for r in runs
    ]
    nontest = sum(not f.test for r in runs for f in r.findings)
    test = sum(f.test for r in runs for f in r.findings)
    repo_rows.append(
        (
            "total",
            sum(r.files for r in runs),
            total_lines,
            f"{total_seconds:.1f}",
            f"{(total_lines / total_seconds if total_seconds else 0):,.0f}",
            nontest,
            test,
        )
    )
    parts.append(table(["repository", "files", "lines", "s", "lines/s", "findings", "in tests"], repo_rows))
    rule_rows = []
    for rule in sorted(comparison.per_rule):
        t = comparison.per_rule[rule]
        rule_rows.append(rule_row(rule, t))
    rule_rows.append(rule_row("all", comparison.overall))
    parts.append(
        table(
            ["rule", "non-test", "true", "false-alarm", "unreviewed", "precision", "test", "test precision"],
            rule_rows,
        )
    )
    if comparison.false_alarm_classes:
        parts.append(
            table(
                ["rule", "false-alarm class (non-test)", "count"],
                [(rule, cls, n) for (rule, cls), n in sorted(comparison.false_alarm_classes.items())],
            )
        )
    parts.append(
        f"findings per 100k lines: {per_100k(nontest + test, total_lines):.1f} overall, "
        f"{per_100k(nontest, nontest_lines):.1f} in non-test code ({nontest_lines:,} lines)"
    )
    moved = moved_from(comparison)
    new = [f"new (not in the baseline): {len(comparison.new)}"]
    for f in comparison.new:
        line = f"  NEW  {f.repo} {f.path}:{f.line} [{f.rule}] in {f.function or '(package level)'}"
        line += " (test)" if f.test else ""
        was = moved.get(id(f))
        if was is not None:
            line += f" -- perhaps the gone one at line {was['line']} ({was['verdict']}), moved or reworded"
        new.append(line)
    parts.append("\n".join(new))
    gone = [f"gone (in the baseline, no longer reported): {len(comparison.gone)}"]
    gone.extend(
        f"  GONE {e['repo']} {e['path']}:{e['line']} [{e['rule']}] {e.get('verdict')}: {e.get('reason', '')}"
        for e in comparison.gone
    )
    parts.append("\n".join(gone))
    return "\n\n".join(parts)


def tally_json(t: RuleTally) -> dict[str, Any]:
    return {**vars(t), "precision": t.precision, "test_precision": t.test_precision}


def load_baseline(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    data = json.loads(path.read_text())
    entries: list[dict[str, Any]] = data["findings"] if isinstance(data, dict) else data
    return entries


def entry_order(e: dict[str, Any]) -> tuple[str, str, int, str]:
    return (e["repo"], e["path"], e["line"], e["rule"])


def write_baseline(path: Path, entries: list[dict[str, Any]]) -> None:
    entries = sorted(entries, key=entry_order)
    doc = {
        "about": "golsp-leaks findings on the repositories of repos.toml, each read in context and judged. "
        "Identity: repo, path, function, rule, line_hash (sha1 of the whitespace-normalised flagged line, "
        "12 hex digits), occurrence. 'line' is informative only.",
        "findings": entries,
    }
    path.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mirrors", type=Path, default=DEFAULT_MIRRORS, help="git mirrors: <dir>/<owner>+<name>/repo")
    ap.add_argument("--work", type=Path, default=DEFAULT_WORK, help="where the pinned trees are written")
    ap.add_argument("--repos", type=Path, default=REPOS_FILE, help="the repository list (TOML)")
    ap.add_argument("--baseline", type=Path, default=BASELINE_FILE)
    ap.add_argument("--only", action="append", default=[], metavar="OWNER/NAME", help="run only these (repeatable)")
    ap.add_argument("--update-baseline", action="store_true", help="write this run's findings into the baseline")
    ap.add_argument("--materialise-only", action="store_true", help="write the trees, print their paths, stop")
    ap.add_argument("-j", "--jobs", type=int, default=None, help="passed to golsp-leaks check")
    ap.add_argument("--select", metavar="RULE,...", help="run and compare only these rules")
    ap.add_argument("--json", type=Path, default=RESULTS / "ecosystem.json", help="where the results go")
    ap.add_argument("--show-unreviewed", action="store_true", help="print each unreviewed finding's message")
    args = ap.parse_args(argv)

    repos = load_repos(args.repos)
    if args.only:
        unknown = sorted(set(args.only) - {r.name for r in repos})
        if unknown:
            print(f"ecosystem: not in {args.repos}: {', '.join(unknown)}", file=sys.stderr)
            return 2
        repos = [r for r in repos if r.name in args.only]
    missing = missing_mirrors(args.mirrors, repos)
    if missing:
        print(f"ecosystem: {len(missing)} repositories are not in the mirrors directory {args.mirrors}:", file=sys.stderr)
        for line in missing:
            print(f"  {line}", file=sys.stderr)
        print(
            "Get each one as a git directory at <mirrors>/<owner>+<name>/repo, e.g.\n"
            "  git clone --mirror https://github.com/OWNER/NAME <mirrors>/OWNER+NAME/repo\n"
            "(or with the workspace's fetch tool), or point --mirrors elsewhere, or use --only.",
            file=sys.stderr,
        )
        return 2

    baseline = load_baseline(args.baseline)
    problems = check_baseline(baseline)
    if problems:
        print("ecosystem: the baseline has problems:", *problems, sep="\n  ", file=sys.stderr)
        return 2

    args.work.mkdir(parents=True, exist_ok=True)
    runs: list[RepoRun] = []
    for repo in repos:
        tree, absent = materialise(args.mirrors, args.work, repo)
        if args.materialise_only:
            print(f"{repo.name}\t{tree}" + (f"\t({absent} large files absent)" if absent else ""))
            continue
        print(f"checking {repo.name} ...", file=sys.stderr, flush=True)
        runs.append(run_check(repo, tree, absent, args.jobs, args.select))
    if args.materialise_only:
        return 0

    findings = [f for r in runs for f in r.findings]
    names = [r.name for r in repos]
    # With --select, the other rules' entries are neither compared nor touched.
    rules = set(args.select.split(",")) if args.select else None
    in_scope = [e for e in baseline if rules is None or e["rule"] in rules]
    comparison = compare(findings, in_scope, names)
    code = code_under_test()
    head = code.get("git_head", "?") + (" with uncommitted changes" if code.get("uncommitted_changes") else "")
    print(f"golsp_leaks under test: {code.get('package')} at {head}; CLI: {' '.join(cli_command())}\n")
    print(report(runs, comparison))
    if args.show_unreviewed:
        for f in comparison.new:
            print(f"\n{f.repo} {f.path}:{f.line}:{f.column} [{f.rule}] {f.function}\n  {f.message}")

    if args.update_baseline:
        out_of_scope = [e for e in baseline if e not in in_scope]
        write_baseline(args.baseline, updated_baseline(findings, in_scope, names) + out_of_scope)
        print(f"\nbaseline written: {args.baseline}")

    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "code": code,
                "machine": machine(),
                "repos": [
                    {
                        "repo": r.repo,
                        "files": r.files,
                        "lines": r.lines,
                        "test_lines": r.test_lines,
                        "seconds": round(r.seconds, 3),
                        "absent_blobs": r.absent_blobs,
                        "findings": [
                            {
                                "path": f.path,
                                "line": f.line,
                                "function": f.function,
                                "rule": f.rule,
                                "test": f.test,
                                "key": f.key.as_str(),
                            }
                            for f in r.findings
                        ],
                    }
                    for r in runs
                ],
                "per_rule": {rule: tally_json(t) for rule, t in sorted(comparison.per_rule.items())},
                "overall": tally_json(comparison.overall),
                "false_alarm_classes": [
                    {"rule": rule, "class": cls, "count": n}
                    for (rule, cls), n in sorted(comparison.false_alarm_classes.items())
                ],
                "new": [f.key.as_str() for f in comparison.new],
                "gone": [entry_key(e).as_str() for e in comparison.gone],
            },
            indent=1,
        )
    )
    unreviewed = comparison.overall.unreviewed
    if unreviewed and not args.update_baseline:
        print(f"\n{unreviewed} non-test findings have no verdict: judge them in {args.baseline}", file=sys.stderr)
    return 1 if unreviewed else 0


if __name__ == "__main__":
    sys.exit(main())
