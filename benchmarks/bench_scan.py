#!/usr/bin/env python3
"""Measure ``golsp-leaks scan``: requests until a leak is certain, and the time to scan ten endpoints.

1. Requests until certain: for each leaky endpoint of the example services
   (gin-worker, fiber-shop, nethttp-api, built from their real frameworks) and of the
   ten-endpoint net/http service of ``tests/goservices.py``, the smallest
   ``--requests N`` (per endpoint, sent as two bursts of N/2) at which the scan
   reports the leak at its line in ``--repeat`` scans in a row, trying
   N = 2, 4, 6, 8, 10, 12, 16, 24, 32, 48, 64, 100.  Each service is started once
   and scanned by URL, except for an endpoint whose leak is in descriptors (read
   from /proc only when the scan starts the service) or in latency (which the
   requests of earlier scans would have raised already): those are scanned with
   ``-- <binary>``, a fresh service each time.  nethttp-api runs on PostgreSQL
   (a throw-away cluster from Debian's packages, as the tests start it), with its
   ``scan/endpoints-postgres``.  The clean endpoints are scanned --repeat times at
   the default N (100) and must report nothing.
2. Ten endpoints: wall time of ``golsp-leaks scan -- <binary>`` on the
   ten-endpoint service, endpoints taken from the routes in its code
   (``--param id=7``), at the default ``--requests``: start-up, scan, stop.
   Best and median of ``--runs``.  Aim: under 30 s on 2 cores.

Writes ``benchmarks/results/scan.json``.  The Go modules come through the
module proxy into the shared module cache on first use (``go mod download``).

    python benchmarks/bench_scan.py
    python benchmarks/bench_scan.py --repeat 5 --runs 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from provenance import code_under_test, machine

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
sys.path.insert(0, str(ROOT))

from golsp_leaks.scan import DEFAULT_REQUESTS  # noqa: E402
from golsp_leaks.scan.process import Service  # noqa: E402
from tests.goservices import (  # noqa: E402
    DEMO_LEAKS,
    build,
    carriers,
    demo_line,
    download_modules,
    expected_runtime_findings,
    free_port,
    go_build,
    write_demo_service,
)
from tests.postgres import Cluster, postgres_binaries  # noqa: E402

STEPS = (2, 4, 6, 8, 10, 12, 16, 24, 32, 48, 64, 100)


def scan_json(*args: str, cwd: Path, env: dict[str, str] | None = None) -> tuple[dict[str, Any], float]:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "golsp_leaks", "scan", "--format", "json", "--no-progress", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    elapsed = time.perf_counter() - started
    if result.returncode not in (0, 1):
        raise SystemExit(f"scan failed ({result.returncode}):\n{result.stderr}")
    document: dict[str, Any] = json.loads(result.stdout)["scan"]
    return document, elapsed


class Target:
    """A built service: where it runs, its endpoints, and the (endpoint, path, line, rule) leaks expected."""

    def __init__(
        self,
        name: str,
        workspace: Path,
        binary: Path,
        endpoints: list[str],
        leaks: set[tuple[str, str, int, str]],
        env: dict[str, str] | None = None,
        options: tuple[str, ...] = (),
    ) -> None:
        self.name = name
        self.workspace = workspace
        self.binary = binary
        self.endpoints = endpoints
        self.leaks = leaks
        self.env = env or {}
        self.options = options


#: (app, endpoints file, section of examples/README.md, scan options, service environment)
APPS: tuple[tuple[str, str, str, tuple[str, ...], dict[str, str]], ...] = (
    ("gin-worker", "endpoints", "gin-worker", (), {}),
    ("fiber-shop", "endpoints", "fiber-shop", (), {}),
    (
        "nethttp-api",
        "endpoints-postgres",
        "nethttp-api on PostgreSQL",
        ("--header", "X-User: ann", "--timeout", "1"),
        {"RATE_LIMIT": "10000", "DATABASE_DRIVER": "postgres", "DATABASE_MAX_CONNS": "350"},
    ),
)


def targets(directory: Path, postgres: Cluster) -> list[Target]:
    found: list[Target] = []
    for app, endpoints_file, section, options, env in APPS:
        download_modules(app)
        workspace, binary = build(app, directory)
        specs = [  # body files are relative to the endpoints file; the scan runs in the workspace
            line.strip().replace(" @", " @scan/")
            for line in (workspace / "scan" / endpoints_file).read_text().splitlines()
            if line.strip() and not line.startswith("#")
        ]
        if env.get("DATABASE_DRIVER") == "postgres":
            env = {**env, "DATABASE_URL": postgres.create_database(app.replace("-", "_"))}
        found.append(Target(app, workspace, binary, specs, expected_runtime_findings(section), env, options))
    demo = write_demo_service(directory / "demo")
    binary = go_build(demo, directory / "demo.bin")
    leaks = {
        (endpoint, "main.go", demo_line(handler), rule)
        for endpoint, (handler, rules) in DEMO_LEAKS.items()
        for rule in rules
    }
    endpoints = sorted({*DEMO_LEAKS, "GET /health", "GET /items/7", "GET /quote/first", "GET /proxy/closed"})
    found.append(Target("demo (net/http, 10 endpoints)", demo, binary, endpoints, leaks))
    return found


#: Leaks a scan by URL cannot measure, or that earlier scans of the same service would blur.
FRESH_SERVICE = ("runtime-fd-growth", "runtime-latency-growth")


def service_env(target: Target, port: int, pprof_port: int) -> dict[str, str]:
    env = dict(os.environ, ADDR=f"127.0.0.1:{port}", PPROF_ADDR=f"127.0.0.1:{pprof_port}")
    env["DATABASE_URL"] = f"file:{target.workspace}/bench.db?_pragma=busy_timeout(5000)"  # fiber-shop's SQLite
    env.update(target.env)
    return env


def requests_until_certain(target: Target, repeat: int) -> list[dict[str, Any]]:
    port, pprof_port = free_port(), free_port()
    env = service_env(target, port, pprof_port)
    rows: list[dict[str, Any]] = []
    with ExitStack() as stack:
        env["CARRIERS"] = stack.enter_context(carriers())
        log = target.workspace / ".golsp-leaks" / "bench-service.log"
        stack.enter_context(Service([str(target.binary)], log, env=env))
        url, pprof = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{pprof_port}"
        _wait(pprof)
        for spec in target.endpoints:
            path = spec.split(" @")[0].split("?")[0]
            wanted = {(p, n, r) for e, p, n, r in target.leaks if e.split("?")[0] == path}
            fresh = any(r in FRESH_SERVICE for _, _, r in wanted)
            if not wanted:
                false_alarms = sum(
                    bool(scan_endpoint(target, url, pprof, spec, DEFAULT_REQUESTS)) for _ in range(repeat)
                )
                rows.append(_row(target, spec, wanted, None, false_alarms))
                continue
            certain: int | None = None
            for steps in STEPS:
                if all(scan_endpoint(target, url, pprof, spec, steps, fresh) == wanted for _ in range(repeat)):
                    certain = steps
                    break
            rows.append(_row(target, spec, wanted, certain, None))
    return rows


def scan_endpoint(
    target: Target, url: str, pprof: str, spec: str, requests: int, fresh: bool = False
) -> set[tuple[str, int, str]]:
    """One scan of one endpoint: of the running service, or of a fresh one that the scan starts."""
    args = ["--workspace", str(target.workspace), "--endpoint", spec, "--requests", str(requests), *target.options]
    if fresh:
        port, pprof_port = free_port(), free_port()
        env = service_env(target, port, pprof_port)
        args += ["--url", f"http://127.0.0.1:{port}", "--pprof", f"http://127.0.0.1:{pprof_port}"]
        document, _ = scan_json(*args, "--", str(target.binary), cwd=target.workspace, env=env)
    else:
        document, _ = scan_json(*args, "--url", url, "--pprof", pprof, cwd=target.workspace)
    return {(f["path"], f["line"], f["rule"]) for f in document["findings"]}


def _row(
    target: Target, spec: str, wanted: set[tuple[str, int, str]], certain: int | None, false_alarms: int | None
) -> dict[str, Any]:
    return {
        "service": target.name,
        "endpoint": spec.split(" @")[0],
        "leaks": sorted(r for _, _, r in wanted),
        "requests_until_certain": certain,
        "clean_scans_with_findings": false_alarms,
    }
def _wait(pprof: str) -> None:
    import httpx

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(pprof + "/debug/pprof/", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{pprof} did not answer")


def ten_endpoints(target: Target, runs: int) -> dict[str, Any]:
    times: list[float] = []
    findings = 0
    endpoints = 0
    for _ in range(runs):
        port, pprof_port = free_port(), free_port()
        env = dict(os.environ, ADDR=f"127.0.0.1:{port}", PPROF_ADDR=f"127.0.0.1:{pprof_port}")
        document, elapsed = scan_json(
            "--url", f"http://127.0.0.1:{port}", "--pprof", f"http://127.0.0.1:{pprof_port}",
            "--workspace", str(target.workspace), "--param", "id=7", "--", str(target.binary),
            cwd=target.workspace, env=env,
        )  # fmt: skip
        times.append(elapsed)
        findings = len(document["findings"])
        endpoints = len(document["endpoints"])
    return {
        "endpoints": endpoints,
        "findings": findings,
        "best_s": round(min(times), 2),
        "median_s": round(statistics.median(times), 2),
        "runs": [round(t, 2) for t in times],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="scans in a row that must agree (default: 3)")
    parser.add_argument("--runs", type=int, default=3, help="timed ten-endpoint scans (default: 3)")
    parser.add_argument("--ten-only", action="store_true", help="only the ten-endpoint timing")
    args = parser.parse_args()
    report: dict[str, Any] = {"machine": machine(), "code": code_under_test()}
    postgres = Cluster(postgres_binaries()).start()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-scan-") as tmp:
            built = targets(Path(tmp), postgres)
            rows: list[dict[str, Any]] = []
            for target in [] if args.ten_only else built:
                rows.extend(requests_until_certain(target, args.repeat))
            report["requests_until_certain"] = rows
            report["ten_endpoints"] = ten_endpoints(built[-1], args.runs)
    finally:
        postgres.stop()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "scan.json").write_text(json.dumps(report, indent=2) + "\n")

    print(f"{'service':32} {'endpoint':40} {'leak':42} requests until certain ({args.repeat} in a row)")
    for row in rows:
        leak = ", ".join(row["leaks"]) or "(clean)"
        figure = row["requests_until_certain"] if row["leaks"] else f"{row['clean_scans_with_findings']} false alarms"
        print(f"{row['service']:32} {row['endpoint']:40} {leak:42} {figure}")
    ten = report["ten_endpoints"]
    print(
        f"\nten endpoints, routes from the code, default --requests: {ten['endpoints']} endpoints, "
        f"{ten['findings']} findings, best {ten['best_s']} s, median {ten['median_s']} s ({ten['runs']})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
