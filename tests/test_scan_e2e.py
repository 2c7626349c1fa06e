"""``golsp-leaks scan -- <binary>`` against the example apps built with their real frameworks.

Every leaky endpoint listed in examples/README.md ("... at runtime") must be
reported at its creation line with about one goroutine per request, and no
other endpoint, in each of three runs.  A service without pprof gets the clear
error.  Nothing may be left running afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.goservices import (
    DEMO_LEAKS,
    build,
    carriers,
    demo_line,
    download_modules,
    expected_runtime_findings,
    free_port,
    go_build,
    running,
    write_demo_service,
)
from tests.postgres import Cluster, postgres_binaries

RUNTIME_APPS = ("gin-worker", "fiber-shop", "nethttp-api", "buffalo-blog")
#: Apps none of whose scanned endpoints leaks at runtime: the scan must report nothing.
CLEAN_AT_RUNTIME = ("buffalo-blog",)
#: What an app needs beyond its endpoints file, as examples/README.md says under "<app> at runtime".
SCAN_OPTIONS: dict[str, tuple[str, ...]] = {"nethttp-api": ("--header", "X-User: ann", "--timeout", "1")}
SERVICE_ENV: dict[str, dict[str, str]] = {"nethttp-api": {"RATE_LIMIT": "10000"}}
#: The SQLite database of a scan, a fresh file each time; pop (buffalo-blog) names its dialect in the URL.
DATABASE_URL = "file:{path}?_pragma=busy_timeout(5000)"
DATABASE_URLS = {"buffalo-blog": "sqlite3://{path}?_pragma=busy_timeout(5000)"}
RUNS = 3
REQUESTS = 60
#: Fewer on PostgreSQL: every leaked transaction there keeps a connection and 10 MiB of heap.
PG_REQUESTS = 40


@pytest.fixture(scope="session")
def services(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    directory = tmp_path_factory.mktemp("services")
    built: dict[str, tuple[Path, Path]] = {}
    for app in RUNTIME_APPS:
        download_modules(app)
        built[app] = build(app, directory)
    return built


def scan(
    workspace: Path, binary: Path, *extra: str, database: str = DATABASE_URL, **service_env: str
) -> subprocess.CompletedProcess[str]:
    port, pprof_port = free_port(), free_port()
    env = dict(os.environ)
    env.update(
        {
            **service_env,
            "ADDR": f"127.0.0.1:{port}",
            "PPROF_ADDR": f"127.0.0.1:{pprof_port}",
            # fiber-shop, nethttp-api and buffalo-blog keep their data in SQLite.
            "DATABASE_URL": database.format(path=workspace / f"scan-{port}.db"),
        }
    )
    command = [
        sys.executable, "-m", "golsp_leaks", "scan",
        "--url", f"http://127.0.0.1:{port}",
        "--pprof", f"http://127.0.0.1:{pprof_port}",
        "--workspace", str(workspace),
        "--format", "json",
        *extra,
        "--", str(binary),
    ]  # fmt: skip
    return subprocess.run(command, cwd=workspace, env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize("run", range(RUNS))
@pytest.mark.parametrize("app", RUNTIME_APPS)
def test_leaky_endpoints_are_reported_at_their_go_statement(
    services: dict[str, tuple[Path, Path]], app: str, run: int
) -> None:
    workspace, binary = services[app]
    expected = expected_runtime_findings(app)
    if app in CLEAN_AT_RUNTIME:
        assert not expected, f"examples/README.md lists runtime leaks of {app}"
    else:
        assert expected, f"examples/README.md has no '{app} at runtime' table"
    with carriers() as carrier_urls:
        result = scan(
            workspace,
            binary,
            "--endpoints",
            "scan/endpoints",
            "--requests",
            str(REQUESTS),
            *SCAN_OPTIONS.get(app, ()),
            database=DATABASE_URLS.get(app, DATABASE_URL),
            CARRIERS=carrier_urls,
            **SERVICE_ENV.get(app, {}),
        )
    assert result.returncode == (0 if app in CLEAN_AT_RUNTIME else 1), result.stderr
    document = json.loads(result.stdout)
    findings = document["scan"]["findings"]
    for summary in document["scan"]["endpoints"]:
        assert summary["requests"] == REQUESTS, summary
        assert "500" not in summary["statuses"], summary  # a database that does not work answers 500
    actual = {(f["endpoint"].split("?")[0], f["path"], f["line"], f["rule"]) for f in findings}
    assert actual == {(e.split("?")[0], p, n, r) for e, p, n, r in expected}, result.stdout
    latency = {summary["endpoint"]: summary["latency_ms"] for summary in document["scan"]["endpoints"]}
    for finding in findings:
        assert finding["requests"] == REQUESTS
        if finding["rule"] == "runtime-latency-growth":
            # gin-worker's replay: 20 ms an event, one event more per request.
            times = latency[finding["endpoint"]]
            assert times["late_p50"] > 3 * times["early_p50"] and times["late_p50"] > 800, times
        else:
            assert 0.8 <= finding["per_request"] <= 1.3, finding
        assert finding["confirms"], "a static finding (goroutine-no-exit, blocked-send, ...) predicts each one"
    # The report is also in the workspace, and the service is gone.
    report = json.loads((workspace / ".golsp-leaks" / "scan.json").read_text())
    assert len(report["findings"]) == len(findings)
    assert running(binary) == []
    assert "requests\x1b[K" not in result.stderr, "a progress bar only on a terminal"


@pytest.fixture(scope="session")
def postgres() -> Iterator[Cluster]:
    """A PostgreSQL cluster from Debian's packages (installed when missing) on a free loopback port."""
    cluster = Cluster(postgres_binaries()).start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.mark.parametrize("run", range(RUNS))
def test_a_transaction_left_open_on_postgres_is_reported(
    services: dict[str, tuple[Path, Path]], postgres: Cluster, run: int
) -> None:
    """nethttp-api on PostgreSQL: each archive of an archived note keeps a connection, its
    transaction's watcher goroutine and, through its context, the request's 10 MiB buffer;
    each search that fails in Scan keeps a connection."""
    workspace, binary = services["nethttp-api"]
    expected = expected_runtime_findings("nethttp-api on PostgreSQL")
    assert expected, "examples/README.md has no 'nethttp-api on PostgreSQL at runtime' table"
    result = scan(
        workspace,
        binary,
        "--endpoints",
        "scan/endpoints-postgres",
        "--requests",
        str(PG_REQUESTS),
        *SCAN_OPTIONS["nethttp-api"],
        database=postgres.create_database(f"notes_{run}"),
        DATABASE_DRIVER="postgres",
        DATABASE_MAX_CONNS=str(4 * PG_REQUESTS),
        **SERVICE_ENV["nethttp-api"],
    )
    assert result.returncode == 1, result.stderr
    document = json.loads(result.stdout)["scan"]
    for summary in document["endpoints"]:
        assert summary["requests"] == PG_REQUESTS, summary
        # The search fails on the archived draft's NULL body, by design; nothing else may.
        failing = summary["endpoint"] == "GET /notes/search?q=plans"
        assert ("500" in summary["statuses"]) == failing, summary
    findings = document["findings"]
    actual = {(f["endpoint"], f["path"], f["line"], f["rule"]) for f in findings}
    assert actual == expected, result.stdout
    #: What each finding confirms: on the handler, the static finding in the store method it calls.
    causes = {
        ("GET /notes/search?q=plans", "runtime-fd-growth"): ("store.go", 83, "unclosed-rows"),
        ("POST /notes/2/archive", "runtime-fd-growth"): ("store.go", 169, "unfinished-tx"),
        ("POST /notes/2/archive", "runtime-goroutine-growth"): ("store.go", 169, "unfinished-tx"),
        ("POST /notes/2/archive", "runtime-heap-growth"): ("middleware.go", 85, "large-context-value"),
    }
    for finding in findings:
        if finding["rule"] == "runtime-heap-growth":
            assert finding["per_request"] >= 8 << 20, finding  # the 10 MiB buffer of every request
        else:
            assert 0.8 <= finding["per_request"] <= 1.3, finding
        confirmed = [(c["path"], c["line"], c["message"].split(":")[0]) for c in finding["confirms"]]
        assert confirmed == [causes[finding["endpoint"], finding["rule"]]], finding
    goroutines = next(f for f in findings if f["rule"] == "runtime-goroutine-growth")
    assert "database/sql.(*DB).beginDC" in goroutines["message"]
    # The service is gone, and with it the connections it held.
    assert running(binary) == []
    assert postgres.query(f"notes_{run}", "SELECT archived FROM notes WHERE id = 2") == "t"


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The ten-endpoint net/http service of tests/goservices.py, built."""
    workspace = write_demo_service(tmp_path_factory.mktemp("demo") / "demo")
    return workspace, go_build(workspace, workspace.parent / "demo.bin")


@pytest.mark.parametrize("run", range(RUNS))
def test_routes_found_in_the_code_are_scanned(demo: tuple[Path, Path], run: int) -> None:
    """No --endpoint: the ten Go 1.22 mux patterns are found in the code, {id} filled by --param."""
    workspace, binary = demo
    result = scan(workspace, binary, "--param", "id=7", "--requests", "40")
    assert result.returncode == 1, result.stderr
    document = json.loads(result.stdout)["scan"]
    assert len(document["endpoints"]) == 10
    expected = {
        (endpoint, demo_line(handler), rule): per_request
        for endpoint, (handler, rules) in DEMO_LEAKS.items()
        for rule, per_request in rules.items()
    }
    actual = {(f["endpoint"], f["line"], f["rule"]): f["per_request"] for f in document["findings"]}
    assert set(actual) == set(expected), result.stdout
    for key, per_request in actual.items():
        assert abs(per_request - expected[key]) <= 0.25 * expected[key], key
    assert running(binary) == []


def test_a_service_without_pprof_gets_the_two_lines_to_add(tmp_path: Path) -> None:
    (tmp_path / "go.mod").write_text("module example.com/plain\n\ngo 1.22\n")
    (tmp_path / "main.go").write_text(
        "package main\n\n"
        'import (\n\t"net/http"\n\t"os"\n)\n\n'
        "func main() {\n"
        '\thttp.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("hi")) })\n'
        '\thttp.ListenAndServe(os.Getenv("ADDR"), nil)\n'
        "}\n"
    )
    binary = go_build(tmp_path, tmp_path / "plain")
    port = free_port()
    env = dict(os.environ, ADDR=f"127.0.0.1:{port}")
    command = [
        sys.executable, "-m", "golsp_leaks", "scan", "--url", f"http://127.0.0.1:{port}",
        "--workspace", str(tmp_path), "--start-timeout", "20", "--", str(binary),
    ]  # fmt: skip
    result = subprocess.run(
        command,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert 'import _ "net/http/pprof"' in result.stderr
    assert "http.ListenAndServe(" in result.stderr
    assert running(binary) == []
