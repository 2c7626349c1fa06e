"""The pieces of ``golsp-leaks scan``: profile parsing, attribution, the growth test, routes, endpoints, the CLI's errors."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from golsp_leaks.cli.main import main
from golsp_leaks.goanalysis.libraries.routes import (
    fill_path,
    find_routes,
    path_parameters,
    routes_in_source,
)
from golsp_leaks.scan import pprof
from golsp_leaks.scan.endpoints import (
    Endpoint,
    SpecError,
    match_route,
    parse_params,
    parse_spec,
    read_spec_file,
)
from golsp_leaks.scan.load import LoadResult
from golsp_leaks.scan.process import Service
from golsp_leaks.scan.report import Place, RuntimeFinding, ScanReport, from_json
from golsp_leaks.scan.scanner import Options, Sample, Scanner, _steady_growth, is_loopback
from golsp_leaks.scan.static import cross_reference
from tests.goservices import free_port

ROOT = Path("/src/app")

DUMP = """goroutine 1 [IO wait, 3 minutes]:
internal/poll.runtime_pollWait(0x7f, 0x72)
	/usr/local/go/src/runtime/netpoll.go:351 +0x85
net/http.(*Server).Serve(0xc000152000, {0x9a1d40, 0xc0000a6000})
	/usr/local/go/src/net/http/server.go:3360 +0x485
main.main()
	/src/app/main.go:40 +0x2d3

goroutine 35 [sleep]:
time.Sleep(0xdf8475800)
	/usr/local/go/src/runtime/time.go:363 +0x165
main.(*Handlers).SubmitBatch.func1()
	/src/app/handlers.go:146 +0x2c
created by main.(*Handlers).SubmitBatch in goroutine 34
	/src/app/handlers.go:144 +0x3d6

goroutine 36 [sleep]:
time.Sleep(0xdf8475800)
	/usr/local/go/src/runtime/time.go:363 +0x165
main.(*Handlers).SubmitBatch.func1()
	/src/app/handlers.go:146 +0x2c
created by main.(*Handlers).SubmitBatch in goroutine 30
	/src/app/handlers.go:144 +0x3d6

goroutine 40 gp=0xc000007c00 m=nil [chan send (leaked)]:
main.(*Shop).shippingQuote.func1({0xc000014030, 0x1f})
	/src/app/handlers.go:177 +0x118
created by main.(*Shop).shippingQuote in goroutine 39
	/src/app/handlers.go:170 +0x10b

goroutine 50 [select]:
net/http.(*persistConn).writeLoop(0xc0001b2000)
	/usr/local/go/src/net/http/transport.go:2590 +0xe7
created by net/http.(*Transport).dialConn in goroutine 49
	/usr/local/go/src/net/http/transport.go:1947 +0x1745

goroutine 60 [chan receive]:
main.(*Handlers).wait(...)
	/src/app/handlers.go:30
main.(*Handlers).Status(0xc000010000)
	/src/app/handlers.go:66 +0x45
github.com/gin-gonic/gin.(*Context).Next(...)
	/root/go/pkg/mod/github.com/gin-gonic/gin@v1.10.0/context.go:185
created by net/http.(*Server).Serve in goroutine 1
	/usr/local/go/src/net/http/server.go:3454 +0x485
"""


def test_goroutine_dump_is_parsed() -> None:
    goroutines = pprof.parse_goroutines(DUMP)
    assert [g.id for g in goroutines] == [1, 35, 36, 40, 50, 60]
    first = goroutines[0]
    assert first.wait == "IO wait" and first.created_by is None
    assert first.frames[-1] == pprof.Frame("main.main", "/src/app/main.go", 40)
    batch = goroutines[1]
    assert batch.frames[1] == pprof.Frame("main.(*Handlers).SubmitBatch.func1", "/src/app/handlers.go", 146)
    assert batch.created_by == pprof.Frame("main.(*Handlers).SubmitBatch", "/src/app/handlers.go", 144)
    quote = goroutines[3]
    assert quote.wait == "chan send" and quote.leaked and not batch.leaked
    assert quote.frames[0].function == "main.(*Shop).shippingQuote.func1"
    assert goroutines[5].frames[0] == pprof.Frame("main.(*Handlers).wait", "/src/app/handlers.go", 30)


def test_goroutines_are_attributed_to_the_modules_code() -> None:
    sites = pprof.group_goroutines(pprof.parse_goroutines(DUMP), pprof.Locator(ROOT))
    batch = sites[("created", "/src/app/handlers.go", "144")]
    assert batch.count == 2 and batch.leaked == 0
    assert batch.site.blocked == pprof.Frame("main.(*Handlers).SubmitBatch.func1", "/src/app/handlers.go", 146)
    assert batch.site.wait == "sleep"
    assert sites[("created", "/src/app/handlers.go", "170")].leaked == 1
    # Started by the standard library: the first frame of the module's own code, past the mod cache.
    stuck = sites[("running", "/src/app/handlers.go", "30")]
    assert stuck.site.created is None and stuck.site.origin == "net/http.(*Server).Serve"
    assert sites[("running", "/src/app/main.go", "40")].count == 1
    foreign = sites[("foreign", "net/http.(*Transport).dialConn")]
    assert foreign.site.blocked is None


def test_locator_knows_module_files_in_normal_and_trimpath_builds(tmp_path: Path) -> None:
    (tmp_path / "go.mod").write_text("module github.com/example/shop\n\ngo 1.22\n")
    locate = pprof.Locator(tmp_path, pprof.module_path(tmp_path))
    assert locate.relative(str(tmp_path / "api" / "h.go")) == "api/h.go"
    assert locate.relative("github.com/example/shop/api/h.go") == "api/h.go"
    assert locate.relative("/usr/local/go/src/net/http/server.go") is None
    assert locate.relative("github.com/example/shopping/h.go") is None
    assert locate.relative(str(tmp_path / "vendor" / "x" / "y.go")) is None


def test_debug1_profile_and_heap_profile() -> None:
    total, stacks = pprof.parse_goroutine_counts(
        "goroutine profile: total 103\n"
        "100 @ 0x43e 0x47a 0x8c2\n"
        "#\t0x479f84\ttime.Sleep+0x124\t/usr/local/go/src/runtime/time.go:363\n"
        "#\t0x8c2f1b\tmain.poll.func1+0x3b\t/src/app/handlers.go:97\n"
        "\n"
        "3 @ 0x43e\n"
        "#\t0x43e1\truntime.gopark+0xce\t/usr/local/go/src/runtime/proc.go:435\n"
    )
    assert total == 103
    assert [s.count for s in stacks] == [100, 3]
    assert stacks[0].frames[1] == pprof.Frame("main.poll.func1", "/src/app/handlers.go", 97)
    heap = pprof.parse_heap(
        "heap profile: 2: 20971520 [9: 94371840] @ heap/524288\n"
        "2: 20971520 [9: 94371840] @ 0x4b0a1d 0x4b0a5f\n"
        "#\t0x4b0a1c\tmain.attach+0x3c\t/src/app/handlers.go:110\n"
        "#\t0x4b0a5e\tgithub.com/gin-gonic/gin.(*Context).Next+0x3e\t/mod/gin/context.go:185\n"
        "\n"
        "1: 4096 [1: 4096] @ 0x41\n"
        "#\t0x41\truntime.malg+0x1\t/usr/local/go/src/runtime/proc.go:5000\n"
        "\n"
        "# runtime.MemStats\n"
        "# Alloc = 21000000\n"
        "# HeapAlloc = 21000000\n"
    )
    assert heap.heap_alloc == 21_000_000
    assert heap.records[0][0] == 20_971_520
    sites = pprof.heap_by_site(heap, pprof.Locator(ROOT))
    assert sites == {pprof.Frame("main.attach", "/src/app/handlers.go", 110): 20_971_520}


@pytest.mark.parametrize(
    ("counts", "served", "growth"),
    [
        ([10, 60, 110], [50, 50], 100.0),  # one per request, both bursts: a leak
        ([10, 68, 118], [50, 50], 108.0),  # a worker pool warming up in the first burst as well
        ([10, 18, 18], [50, 50], None),  # a one-off: a pool filled, then nothing
        ([10, 10, 60], [50, 50], None),  # only the second burst
        ([10, 12, 14], [50, 50], None),  # noise, below the minimum
        ([10, 60, 65], [50, 50], None),  # not in proportion
        ([10, 9, 10], [50, 50], None),
    ],
)
def test_growth_must_repeat_in_proportion(counts: list[int], served: list[int], growth: float | None) -> None:
    assert _steady_growth(counts, served, 3, 0.05) == growth


def _heap_samples(tmp_path: Path, steps: list[int], size: int) -> list[RuntimeFinding]:
    """What the scanner decides when a site's heap grew by ``steps`` bytes, in objects of ``size``."""
    site = pprof.Frame("main.handle", str(tmp_path / "main.go"), 3)
    (tmp_path / "main.go").write_text("package main\n\nfunc handle() { keep = append(keep, make([]byte, 1<<20)) }\n")
    scanner = Scanner(Options("http://127.0.0.1:1", "http://127.0.0.1:2", tmp_path, []))
    samples, inuse = [], 0
    for step in [0, *steps]:
        inuse += step
        samples.append(Sample({}, 10, (1 << 20) + inuse, {site: inuse}, {site: size}, None))
    bursts = [LoadResult(requests=20, latencies=[0.001] * 20) for _ in steps]
    return scanner.judge(Endpoint("POST", "/keep"), samples, bursts)


def test_heap_growth_counts_objects_not_only_bytes(tmp_path: Path) -> None:
    # Twenty 256 KiB objects per burst of twenty requests: a leak, at the allocation.
    [finding] = _heap_samples(tmp_path, [20 * (256 << 10)] * 2, 256 << 10)
    assert (finding.rule, finding.path, finding.line) == ("runtime-heap-growth", "main.go", 3)
    # One 10 MiB object per burst (each idle pooled connection keeping its last request's
    # context, say): bounded by the pool, not a leak, although the bytes grew in both bursts.
    assert _heap_samples(tmp_path, [10 << 20] * 2, 10 << 20) == []


def _go_module(directory: Path, **files: list[str]) -> None:
    """A module in ``directory``: go.mod and one file per keyword (``main=[lines]`` is main.go)."""
    (directory / "go.mod").write_text("module example.com/app\n\ngo 1.22\n")
    for name, lines in files.items():
        (directory / f"{name}.go").write_text("\n".join(lines) + "\n")


def test_only_a_static_finding_that_can_cause_it_is_confirmed(tmp_path: Path) -> None:
    _go_module(
        tmp_path,
        main=[
            "package main", "", 'import "net/http"', "",
            "func search(w http.ResponseWriter, r *http.Request) {",
            "\tresults := make(chan int)",
            "\tgo func() { results <- 1 }()",
            "\tselect {", "\tcase <-results:", "\tcase <-r.Context().Done():", "\t}",
            "}",
        ],
    )  # fmt: skip

    def finding(rule: str) -> RuntimeFinding:
        return RuntimeFinding(rule, "error", "GET /search", "main.go", 5, "grew", "", 10, 10.0, 1.0)

    goroutines, fds = cross_reference([finding("runtime-goroutine-growth"), finding("runtime-fd-growth")], tmp_path)
    assert [c.message.split(":")[0] for c in goroutines.confirms] == ["blocked-send"]
    assert fds.confirms == ()


def test_a_finding_on_a_handler_confirms_what_the_functions_it_calls_leave_open(tmp_path: Path) -> None:
    _go_module(
        tmp_path,
        store=[
            "package main", "", 'import "database/sql"', "",
            "func search(db *sql.DB) error {",
            '\trows, err := db.Query("SELECT 1")',
            "\tif err != nil {", "\t\treturn err", "\t}",
            "\t_ = rows",
            "\treturn nil",
            "}",
        ],
        main=[
            "package main", "", "import (", '\t"database/sql"', '\t"net/http"', ")", "",
            "var db *sql.DB", "",
            "func handle(w http.ResponseWriter, r *http.Request) {",
            "\tif err := search(db); err != nil {", "\t\thttp.Error(w, err.Error(), 500)", "\t}",
            "}", "",
            "func other(w http.ResponseWriter, r *http.Request) {}",
        ],
    )  # fmt: skip

    def finding(line: int) -> RuntimeFinding:
        return RuntimeFinding("runtime-fd-growth", "error", "GET /", "main.go", line, "grew", "", 10, 10.0, 1.0)

    handled, unrelated = cross_reference([finding(10), finding(16)], tmp_path)
    assert [(c.path, c.line, c.message.split(":")[0]) for c in handled.confirms] == [("store.go", 6, "unclosed-rows")]
    assert "confirms the static finding unclosed-rows at store.go:6" in handled.message
    assert unrelated.confirms == ()


def test_routes_of_the_frameworks() -> None:
    source = b"""package main

func main() {
	r := gin.New()
	r.GET("/jobs/:id", h.Status)
	v1 := r.Group("/v1")
	v1.POST("/jobs", h.Submit)
	admin := v1.Group("/admin")
	admin.DELETE("/jobs/:id", h.Drop)
	app.Group("/api").Get("/products/:id", shop.getProduct)
	r.Handle("PUT", "/raw", h.Raw)
	e.Add("PATCH", "/items/:id", patch)
	c := chi.NewRouter()
	c.Route("/notes", func(r chi.Router) {
		r.Get("/", s.list)
		r.Post("/{id}/share", s.share)
		r.Route("/{id}/tags", func(t chi.Router) { t.Get("/", s.tags) })
	})
	c.Method("GET", "/m", http.HandlerFunc(s.m))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", getOrder)
	mux.Handle("/static/", http.StripPrefix("/static/", files))
	http.HandleFunc("POST example.com/hooks/{name...}", hook)
	fmt.Println("GET /not-a-route")
}
"""
    routes = {(r.method, r.path, r.handler) for r in routes_in_source(source, "main.go")}
    assert routes == {
        ("GET", "/jobs/:id", "Status"),
        ("POST", "/v1/jobs", "Submit"),
        ("DELETE", "/v1/admin/jobs/:id", "Drop"),
        ("GET", "/api/products/:id", "getProduct"),
        ("PUT", "/raw", "Raw"),
        ("PATCH", "/items/:id", "patch"),
        ("GET", "/notes/", "list"),
        ("POST", "/notes/{id}/share", "share"),
        ("GET", "/notes/{id}/tags/", "tags"),
        ("GET", "/m", "m"),
        ("GET", "/orders/{id}", "getOrder"),
        ("GET", "/static/", "files"),
        ("POST", "/hooks/{name...}", "hook"),
    }


def test_routes_of_the_examples() -> None:
    routes = {r.spec: r for r in find_routes(Path(__file__).parent.parent / "examples" / "fiber-shop")}
    assert routes["GET /api/products/:id/watch"].handler == "watchProduct"
    assert routes["GET /api/admin/export"].handler == "export"  # the last of prepareExport, export
    buffalo = {r.spec for r in find_routes(Path(__file__).parent.parent / "examples" / "buffalo-blog")}
    assert "POST /posts/{slug}/comments" in buffalo


def test_path_parameters_are_filled_or_named() -> None:
    assert path_parameters("/a/:id/{slug}/{n:[0-9]+}/{rest...}/*") == ["id", "slug", "n", "rest", "*"]
    assert fill_path("/notes/{id}/share", {"id": "7"}) == ("/notes/7/share", [])
    assert fill_path("/p/:id/:sku", {"id": "1"}) == ("/p/1/:sku", ["sku"])
    assert parse_params(["id=1", "q=a=b"]) == {"id": "1", "q": "a=b"}
    with pytest.raises(SpecError):
        parse_params(["id"])


def test_endpoint_specs(tmp_path: Path) -> None:
    assert parse_spec("get /orders?limit=5") == Endpoint("GET", "/orders?limit=5")
    (tmp_path / "order.json").write_text('{"sku": "a"}')
    posted = parse_spec("POST /orders @order.json", tmp_path)
    assert posted.body == b'{"sku": "a"}' and posted.content_type == "application/json"
    for bad in ("/orders", "FETCH /orders", "GET orders", "POST /orders @missing.json"):
        with pytest.raises(SpecError):
            parse_spec(bad, tmp_path)
    (tmp_path / "endpoints").write_text("# the API\n\nGET /a\nPOST /orders @order.json\n")
    assert [e.name for e in read_spec_file(tmp_path / "endpoints")] == ["GET /a", "POST /orders"]
    (tmp_path / "bad").write_text("GET /a\nnonsense\n")
    with pytest.raises(SpecError, match=r"bad:2:"):
        read_spec_file(tmp_path / "bad")


def test_endpoints_match_their_routes() -> None:
    routes = routes_in_source(b'package main\nfunc main() {\n\tr.GET("/jobs/:id", h.Status)\n\tr.POST("/jobs/batch", h.Batch)\n}\n')
    assert match_route(Endpoint("GET", "/jobs/42?x=1"), routes).handler == "Status"  # type: ignore[union-attr]
    assert match_route(Endpoint("POST", "/jobs/batch"), routes).handler == "Batch"  # type: ignore[union-attr]
    assert match_route(Endpoint("GET", "/jobs/42/more"), routes) is None


def test_loopback_only() -> None:
    assert is_loopback("http://127.0.0.1:8080") and is_loopback("http://localhost") and is_loopback("http://[::1]:1")
    assert not is_loopback("http://10.0.0.1:8080") and not is_loopback("https://example.com")


def test_cli_refuses_remote_targets_and_bad_specs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "--workspace", str(tmp_path), "--url", "http://192.0.2.1:80", "--endpoint", "GET /"]) == 2
    assert "--allow-remote" in capsys.readouterr().err
    assert main(["scan", "--workspace", str(tmp_path), "--endpoint", "GET"]) == 2
    assert "bad endpoint" in capsys.readouterr().err
    assert main(["scan", "--workspace", str(tmp_path)]) == 2
    assert "no endpoints" in capsys.readouterr().err


def test_cli_says_how_to_add_pprof_when_it_is_unreachable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    code = main(["scan", "--workspace", str(tmp_path), "--url", f"http://127.0.0.1:{port}", "--endpoint", "GET /"])
    err = capsys.readouterr().err
    assert code == 2
    assert 'import _ "net/http/pprof"' in err and "ListenAndServe" in err


def test_service_stops_its_whole_process_group(tmp_path: Path) -> None:
    marker = tmp_path / "child.pid"
    command = [sys.executable, "-c", f"import subprocess,time; p=subprocess.Popen(['sleep','300']); open({str(marker)!r},'w').write(str(p.pid)); time.sleep(300)"]
    with Service(command, tmp_path / "log") as service:
        deadline = time.monotonic() + 10
        while not marker.exists() or not marker.read_text():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        child = int(marker.read_text())
        assert service.exited() is None
        assert service.stats().threads is not None
    assert service.exited() is not None
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the grandchild outlived the scan"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_ctrl_c_stops_the_service(tmp_path: Path) -> None:
    """An interrupted scan (SIGINT to the scanner, as Ctrl-C sends it) leaves nothing running."""
    script = tmp_path / "server.py"
    script.write_text("import time\ntime.sleep(300)\n")  # never answers: the scanner keeps waiting
    port = free_port()
    scanner = subprocess.Popen(
        [sys.executable, "-m", "golsp_leaks", "scan", "--workspace", str(tmp_path), "--url", f"http://127.0.0.1:{port}",
         "--pprof", "http://127.0.0.1:9", "--endpoint", "GET /", "--start-timeout", "60", "--", sys.executable, str(script), str(port)],
        stderr=subprocess.PIPE,
        text=True,
    )
    log = tmp_path / ".golsp-leaks" / "scan-service.log"
    deadline = time.monotonic() + 20
    while not log.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    scanner.send_signal(2)
    _, err = scanner.communicate(timeout=30)
    assert scanner.returncode == 130, err
    assert not [p for p in os.listdir("/proc") if p.isdigit() and _cmdline_has(p, str(script))]


def _cmdline_has(pid: str, text: str) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return text.encode() in handle.read()
    except OSError:
        return False


def test_report_round_trip() -> None:
    report = ScanReport("http://127.0.0.1:1", "http://127.0.0.1:2", True, 1.5)
    report.findings.append(
        RuntimeFinding("runtime-goroutine-leak", "error", "GET /q", "h.go", 170, "m", "go f()", 60, 60.0, 1.0,
                       (Place("h.go", 177, "blocked here"),), (Place("h.go", 177, "blocked-send: ..."),))
    )
    back = from_json(report.to_json())
    assert back.findings == report.findings and back.leak_profile


def test_runtime_findings_print_as_check_does(tmp_path: Path) -> None:
    """Text, JSON and SARIF come from the check reporters; the SARIF is valid and names the runtime rules."""
    from golsp_leaks.cli.report import json_document, render_text
    from golsp_leaks.cli.sarif import sarif_document
    from golsp_leaks.cli.scan import _outcome
    from golsp_leaks.scan.rules import runtime_rules
    from tests.test_cli import sarif_errors

    (tmp_path / "h.go").write_text("package main\n\nfunc q() {\n\tgo send()\n\t<-wait\n}\n")
    report = ScanReport("http://127.0.0.1:1", "http://127.0.0.1:2", True, 1.0)
    report.findings.append(
        RuntimeFinding("runtime-goroutine-leak", "error", "GET /q", "h.go", 4, "60 requests left 60 goroutines",
                       "go send()", 60, 60.0, 1.0, (Place("h.go", 5, "blocked here (chan send)"),))
    )
    outcome = _outcome(report, tmp_path)
    text = render_text(outcome)
    assert ":4:2: error: 60 requests left 60 goroutines [GET /q] [runtime-goroutine-leak]" in text
    assert ":5:2: blocked here (chan send)" in text
    [row] = json_document(outcome)["diagnostics"]
    assert (row["line"], row["column"], row["end_column"], row["rule"]) == (4, 2, 11, "runtime-goroutine-leak")
    sarif = sarif_document(outcome, runtime_rules())
    assert sarif_errors(sarif) == []
    [result] = sarif["runs"][0]["results"]
    assert result["ruleId"] == "runtime-goroutine-leak" and result["level"] == "error"
    assert {r["id"] for r in sarif["runs"][0]["tool"]["driver"]["rules"]} >= {"runtime-goroutine-leak"}


def test_progress_bar() -> None:
    import io

    from golsp_leaks.cli.scan import ProgressBar

    bar = ProgressBar(io.StringIO())
    assert bar.render(6, 24).startswith("[######------------------] 6/24 requests")
    assert bar.render(30, 24).startswith("[########################] 30/24")
    assert bar.render(7, 0).startswith("7 requests")


def test_command_mode_refuses_an_address_already_taken(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(
            ["scan", "--workspace", str(tmp_path), "--url", f"http://127.0.0.1:{port}", "--endpoint", "GET /",
             "--", sys.executable, "-c", "pass"]
        )
    assert code == 2
    assert f"already listens on 127.0.0.1:{port}" in capsys.readouterr().err
