#!/usr/bin/env python3
"""Recall of golsp-leaks on leaks that real Go projects fixed.

Each case in ``benchmarks/fixes/cases.toml`` names a public repository, a
commit that fixed a leak, the commit before it, and where the leak was: the
package directory, the file, the enclosing function (``f`` or ``T.m``) and
the rule that should report it.  The cases hold coordinates only, no code.

For every case the script takes the package directory (its ``.go`` files,
one level) and the ``go.mod`` files above it out of a local git mirror of
the repository, at the parent and at the fix, runs
``golsp-leaks check --format json`` on each copy in a process of its own
(over several packages at once it placed some findings differently), and decides:

caught before
    some finding of the case's rule lies inside the function in the parent;
still reported after
    some finding of that rule lies inside the function after the fix.

It prints a table per rule (cases, caught before, still reported after,
recall = caught / cases), the recall of the resource rules and of the
goroutine / channel / lock / timer rules (cases of rules that do not exist
yet count as misses in their group and are listed apart), and the missed
cases by the shape of the leak.  Writes ``benchmarks/results/fixes.json``.

    python benchmarks/fixes.py                        # mirrors: --mirrors, $GOLSP_LEAKS_MIRRORS, or see README
    python benchmarks/fixes.py --mirrors ~/mirrors --rule unclosed-body
    python benchmarks/fixes.py --json > fixes.json

A mirror of ``owner/name`` is a git directory (bare or not) at
``DIR/owner+name/repo``, ``DIR/owner+name.git`` or ``DIR/owner+name``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

HERE = Path(__file__).resolve().parent
CASES = HERE / "fixes" / "cases.toml"
RESULTS = HERE / "results"

#: The rules that track one resource through a function, and the rules about
#: goroutines, channels, locks and timers; the two groups are measured apart.
RESOURCE_RULES = (
    "lost-cancel",
    "unclosed-rows",
    "unclosed-stmt",
    "unfinished-tx",
    "unclosed-body",
    "unclosed-file",
    "ticker-not-stopped",
    "pool-get-without-put",
    "defer-in-loop",
    "db-open-per-request",
    "rows-err-unchecked",
)
CONCURRENCY_RULES = (
    "goroutine-no-exit",
    "blocked-send",
    "unclosed-channel",
    "time-after-in-loop",
    "lock-not-released",
    "waitgroup-misuse",
    "blocked-receive",
)
GROUPS = {"resource": RESOURCE_RULES, "concurrency": CONCURRENCY_RULES}


# --------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Case:
    repo: str
    fix: str
    parent: str
    dir: str
    file: str
    function: str
    rule: str
    description: str
    shape: str = ""
    future: bool = False

    @property
    def id(self) -> str:
        return f"{self.repo}@{self.fix[:10]}:{self.function}"

    @property
    def path(self) -> str:
        """The file's path in the repository."""
        return str(PurePosixPath(self.dir) / self.file) if self.dir not in ("", ".") else self.file

    @property
    def group(self) -> str:
        return group_of(self.rule)


def group_of(rule: str) -> str:
    for name, rules in GROUPS.items():
        if rule in rules:
            return name
    return "other"


REQUIRED = ("repo", "fix", "parent", "dir", "file", "function", "rule", "description")


def parse_cases(data: Mapping[str, Any]) -> list[Case]:
    """The ``[[case]]`` tables of a cases file, checked for the fields every case needs."""
    cases: list[Case] = []
    for number, raw in enumerate(data.get("case", []), 1):
        missing = [key for key in REQUIRED if not raw.get(key)]
        if missing:
            raise ValueError(f"case {number}: missing {', '.join(missing)}")
        unknown = set(raw) - set(REQUIRED) - {"shape", "future"}
        if unknown:
            raise ValueError(f"case {number}: unknown field(s) {', '.join(sorted(unknown))}")
        case = Case(**{key: raw[key] for key in raw})
        if case.group == "other":
            raise ValueError(f"case {number}: rule {case.rule!r} is in neither group")
        cases.append(case)
    return cases


def load_cases(path: Path = CASES) -> list[Case]:
    with path.open("rb") as handle:
        return parse_cases(tomllib.load(handle))


# --------------------------------------------------------------------------- functions


_PARSER: Any = None


def _parser() -> Any:
    global _PARSER
    if _PARSER is None:
        import tree_sitter
        import tree_sitter_go

        _PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_go.language()))
    return _PARSER


def _receiver_type(receiver: Any) -> str:
    """``T`` of a receiver ``(r *T)``, ``(T)``, ``(r *T[K, V])``."""
    declarations = [child for child in receiver.named_children if child.type == "parameter_declaration"]
    node = declarations[0].child_by_field_name("type") if declarations else None
    while node is not None and node.type != "type_identifier":
        if node.type == "generic_type":
            node = node.child_by_field_name("type")
        else:  # pointer_type, parenthesized_type
            node = node.named_children[0] if node.named_children else None
    return str(node.text.decode()) if node is not None else "?"


def declaration_name(node: Any) -> str:
    """``f`` for a function declaration, ``T.m`` for a method (pointer and type parameters dropped)."""
    name: str = node.child_by_field_name("name").text.decode()
    if node.type == "method_declaration":
        return f"{_receiver_type(node.child_by_field_name('receiver'))}.{name}"
    return name


def functions(source: bytes) -> list[tuple[str, int, int]]:
    """The top-level function and method declarations of a Go file: (name, first line, last line), 1-based."""
    tree = _parser().parse(source)
    found = []
    for node in tree.root_node.named_children:
        if node.type in ("function_declaration", "method_declaration"):
            found.append((declaration_name(node), node.start_point[0] + 1, node.end_point[0] + 1))
    return found


def enclosing_function(spans: Sequence[tuple[str, int, int]], line: int) -> str | None:
    """The name of the declaration whose lines hold ``line`` (a finding in a closure belongs to it)."""
    for name, first, last in spans:
        if first <= line <= last:
            return name
    return None


def reported_in(findings: Iterable[Mapping[str, Any]], spans: Sequence[tuple[str, int, int]], rule: str, function: str) -> list[int]:
    """Lines of the findings of ``rule`` inside ``function``."""
    return [
        finding["line"]
        for finding in findings
        if finding["rule"] == rule and enclosing_function(spans, finding["line"]) == function
    ]


# --------------------------------------------------------------------------- verdicts and tables


@dataclass
class Verdict:
    case: Case
    caught: bool
    still_after: bool
    error: str = ""
    before_lines: list[int] = field(default_factory=list)
    after_lines: list[int] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.case.id,
            "repo": self.case.repo,
            "fix": self.case.fix,
            "file": self.case.path,
            "function": self.case.function,
            "rule": self.case.rule,
            "future": self.case.future,
            "shape": self.case.shape,
            "caught": self.caught,
            "still_after": self.still_after,
            "before_lines": self.before_lines,
            "after_lines": self.after_lines,
            "error": self.error,
        }


@dataclass(frozen=True)
class Row:
    name: str
    cases: int
    caught: int
    still_after: int

    @property
    def recall(self) -> float | None:
        return self.caught / self.cases if self.cases else None

    @property
    def fixed(self) -> int:
        """Caught before and gone after: the cases the tool gets fully right."""
        return self.caught - self.still_after


def row(name: str, verdicts: Sequence[Verdict]) -> Row:
    caught = [v for v in verdicts if v.caught]
    return Row(name, len(verdicts), len(caught), sum(1 for v in caught if v.still_after))


def rule_rows(verdicts: Sequence[Verdict]) -> list[Row]:
    order = {rule: index for index, rule in enumerate(RESOURCE_RULES + CONCURRENCY_RULES)}
    rules = sorted({v.case.rule for v in verdicts}, key=lambda rule: order.get(rule, len(order)))
    return [row(rule, [v for v in verdicts if v.case.rule == rule]) for rule in rules]


def group_rows(verdicts: Sequence[Verdict]) -> list[Row]:
    rows = []
    for name in GROUPS:
        members = [v for v in verdicts if v.case.group == name]
        if members:
            rows.append(row(f"{name} rules", members))
            existing = [v for v in members if not v.case.future]
            if len(existing) != len(members):
                rows.append(row(f"{name} rules (existing only)", existing))
    return rows


def miss_shapes(verdicts: Sequence[Verdict]) -> dict[str, Counter[str]]:
    """Per group, how many missed cases (not future) have each shape."""
    shapes: dict[str, Counter[str]] = {name: Counter() for name in GROUPS}
    for verdict in verdicts:
        if not verdict.caught and not verdict.case.future:
            shapes[verdict.case.group][verdict.case.shape or "unclassified"] += 1
    return {name: counts for name, counts in shapes.items() if counts}


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def format_table(rows: Sequence[Row]) -> str:
    width = max([len("rule")] + [len(r.name) for r in rows])
    lines = [f"{'rule':<{width}}  cases  caught before  still reported after  recall"]
    for r in rows:
        lines.append(f"{r.name:<{width}}  {r.cases:>5}  {r.caught:>13}  {r.still_after:>20}  {_percent(r.recall):>6}")
    return "\n".join(lines)


def report(verdicts: Sequence[Verdict]) -> str:
    parts = [format_table(rule_rows(verdicts)), "", format_table(group_rows(verdicts))]
    future = [v for v in verdicts if v.case.future]
    if future:
        parts += ["", "cases of rules that do not exist yet (misses in their group):"]
        parts += [f"  {v.case.rule:<18} {v.case.id}" for v in future]
    for name, counts in miss_shapes(verdicts).items():
        parts += ["", f"missed {name} cases by shape:"]
        parts += [f"  {count:>3}  {shape}" for shape, count in counts.most_common()]
    still = [v for v in verdicts if v.caught and v.still_after]
    if still:
        parts += ["", "still reported after the fix:"]
        parts += [f"  {v.case.rule:<18} {v.case.id}  lines {v.after_lines}" for v in still]
    errors = [v for v in verdicts if v.error]
    if errors:
        parts += ["", "cases that could not be checked (counted as misses):"]
        parts += [f"  {v.case.id}: {v.error}" for v in errors]
    return "\n".join(parts)


# --------------------------------------------------------------------------- mirrors and the run


def default_mirrors() -> Path:
    """``$GOLSP_LEAKS_MIRRORS``, else the workplace's mirror directory, else a cache directory."""
    if "GOLSP_LEAKS_MIRRORS" in os.environ:
        return Path(os.environ["GOLSP_LEAKS_MIRRORS"])
    workplace = Path("/work/.mirror")
    return workplace if workplace.is_dir() else Path.home() / ".cache" / "golsp-leaks" / "mirrors"


def mirror_of(mirrors: Path, repo: str) -> Path | None:
    flat = repo.replace("/", "+")
    for candidate in (mirrors / flat / "repo", mirrors / f"{flat}.git", mirrors / flat):
        if candidate.is_dir() and subprocess.run(
            ["git", "-C", str(candidate), "rev-parse", "--git-dir"], capture_output=True, check=False
        ).returncode == 0:
            return candidate
    return None


def missing_mirrors_message(mirrors: Path, repos: Sequence[str]) -> str:
    lines = [f"no git mirror under {mirrors} for {len(repos)} repositor{'y' if len(repos) == 1 else 'ies'}:"]
    lines += [f"  {repo}" for repo in repos]
    lines += [
        "get each with its history, e.g.:",
        f"  git clone --bare https://github.com/OWNER/NAME {mirrors}/OWNER+NAME/repo",
        "or point --mirrors (or $GOLSP_LEAKS_MIRRORS) at the directory that holds them",
    ]
    return "\n".join(lines)


def _git(repo: Path, *args: str) -> bytes:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=True).stdout


def materialise(mirror: Path, commit: str, package: str, into: Path) -> Path:
    """The package's ``.go`` files (one level) and the ``go.mod`` files above it, at ``commit``, under ``into``."""
    package = "" if package in ("", ".") else package.strip("/")
    parts = PurePosixPath(package).parts if package else ()
    wanted = [f"{package}/" if package else "."]
    wanted += ["/".join((*parts[:depth], "go.mod")) for depth in range(len(parts) + 1)]
    names = []
    for entry in _git(mirror, "ls-tree", commit, "--", *wanted).decode().splitlines():
        meta, _, name = entry.partition("\t")
        if meta.split()[1] == "blob" and (name.endswith(".go") or PurePosixPath(name).name == "go.mod"):
            names.append(name)
    into.mkdir(parents=True, exist_ok=True)
    if names:
        archive = _git(mirror, "archive", "--format=tar", commit, "--", *names)
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(into, filter="data")
    return into / package if package else into


def check(package: Path) -> list[dict[str, Any]]:
    """The findings of ``golsp-leaks check`` on one materialised package, in a process of its own."""
    command = [sys.executable, "-m", "golsp_leaks", "check", "--format", "json", "--no-progress", "--fail-on", "never"]
    result = subprocess.run([*command, "-j", "1", str(package)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"golsp-leaks check {package} failed ({result.returncode}):\n{result.stderr}")
    diagnostics: list[dict[str, Any]] = json.loads(result.stdout)["diagnostics"]
    return diagnostics


def check_all(packages: Sequence[Path], jobs: int | None) -> list[dict[str, Any]]:
    """Every package checked on its own, so that a finding's line does not depend on the other packages of the run."""
    with ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 1) as pool:
        return [finding for findings in pool.map(check, packages) for finding in findings]


def existing_rules() -> set[str]:
    result = subprocess.run(
        [sys.executable, "-m", "golsp_leaks", "rules"], capture_output=True, text=True, check=True
    )
    return {line.split()[0] for line in result.stdout.splitlines()[1:] if line.strip()}


def run(cases: Sequence[Case], mirrors: Path, jobs: int | None) -> list[Verdict]:
    mirror_paths = {repo: mirror_of(mirrors, repo) for repo in sorted({c.repo for c in cases})}
    missing = [repo for repo, path in mirror_paths.items() if path is None]
    if missing:
        raise SystemExit(missing_mirrors_message(mirrors, missing))
    with tempfile.TemporaryDirectory(prefix="golsp-fixes-") as tmp:
        root = Path(tmp)
        trees: dict[tuple[str, str, str], Path] = {}
        errors: dict[Case, str] = {}
        for case in cases:
            mirror = mirror_paths[case.repo]
            assert mirror is not None
            for commit in (case.parent, case.fix):
                key = (case.repo, commit, case.dir)
                if key in trees:
                    continue
                into = root / case.repo.replace("/", "+") / commit[:12] / f"p{len(trees)}"
                try:
                    trees[key] = materialise(mirror, commit, case.dir, into)
                except subprocess.CalledProcessError as failure:
                    errors[case] = f"git: {failure.stderr.decode(errors='replace').strip()}"
        by_file: dict[str, list[dict[str, Any]]] = {}
        for finding in check_all(sorted(set(trees.values())), jobs):
            by_file.setdefault(str(Path(finding["path"]).resolve()), []).append(finding)
        verdicts = []
        for case in cases:
            if case in errors:
                verdicts.append(Verdict(case, False, False, error=errors[case]))
                continue
            lines: list[list[int]] = []
            error = ""
            for commit in (case.parent, case.fix):
                source = trees[(case.repo, commit, case.dir)] / case.file
                if not source.is_file():  # a fix may delete the file, and the leak with it
                    if commit == case.parent:
                        error = f"{case.path} does not exist at {commit[:10]}"
                    lines.append([])
                    continue
                spans = functions(source.read_bytes())
                if commit == case.parent and case.function not in {name for name, _, _ in spans}:
                    error = f"no declaration {case.function} in {case.path} at {commit[:10]}"
                lines.append(reported_in(by_file.get(str(source.resolve()), []), spans, case.rule, case.function))
            verdicts.append(Verdict(case, bool(lines[0]), bool(lines[1]), error, lines[0], lines[1]))
    return verdicts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mirrors", type=Path, default=default_mirrors(), help="directory of git mirrors")
    parser.add_argument("--cases", type=Path, default=CASES, help="cases file (TOML)")
    parser.add_argument("--rule", action="append", help="only the cases of this rule (repeatable, or comma-separated)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of the tables")
    parser.add_argument("-j", "--jobs", type=int, default=None, help="packages checked at once (default: the number of CPUs)")
    parser.add_argument("--output", type=Path, default=RESULTS / "fixes.json", help="JSON results file")
    args = parser.parse_args(argv)

    cases = load_cases(args.cases)
    if args.rule:
        wanted = {rule for value in args.rule for rule in value.split(",") if rule}
        cases = [case for case in cases if case.rule in wanted]
        if not cases:
            parser.error(f"no case of {', '.join(sorted(wanted))}")
    rules = existing_rules()
    unflagged = sorted({c.rule for c in cases if not c.future and c.rule not in rules})
    if unflagged:
        parser.error(f"rule(s) {', '.join(unflagged)} do not exist: mark their cases future = true")
    flagged = sorted({c.rule for c in cases if c.future and c.rule in rules})
    if flagged:
        print(f"note: {', '.join(flagged)} exist now; their cases are still marked future", file=sys.stderr)

    verdicts = run(cases, args.mirrors, args.jobs)
    sys.path.insert(0, str(HERE))
    from provenance import code_under_test, machine

    data = {
        "code": code_under_test(),
        "machine": machine(),
        "rules": [r.__dict__ | {"recall": r.recall} for r in rule_rows(verdicts)],
        "groups": [r.__dict__ | {"recall": r.recall} for r in group_rows(verdicts)],
        "missed_shapes": {name: dict(counts) for name, counts in miss_shapes(verdicts).items()},
        "cases": [v.as_json() for v in verdicts],
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(data, indent=2) + "\n")
    print(json.dumps(data, indent=2) if args.json else report(verdicts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
