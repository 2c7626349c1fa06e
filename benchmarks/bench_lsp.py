#!/usr/bin/env python3
"""Measure the language server's latency while a large Go file is edited.

Starts ``golsp-leaks serve`` (stdio) as a subprocess and speaks raw JSON-RPC
to it (Content-Length framing, no LSP library), as an editor would:

* ``initialize`` offering position encodings (by default once with
  ``["utf-8", "utf-16"]`` and once with ``["utf-16"]`` only) and
  ``initializationOptions = {"debounceMs": D}``;
* ``didOpen`` of a file made by ``gen_large_file.py`` (>= 10,000 lines);
* N single-character incremental ``didChange`` edits spread over different
  functions of the file: a letter typed at the end of an identifier, and
  now and then deleted again on the next edit.

Two kinds of client are measured, each with its own server process:

push
    a client *without* the ``textDocument.diagnostic`` capability, to which
    the server publishes.  Latency = time from sending the ``didChange`` to
    the ``textDocument/publishDiagnostics`` carrying that document
    ``version``, minus the debounce D.  The next edit is sent only after
    that publish has arrived.
pull
    a client *with* ``textDocument.diagnostic``.  After each ``didChange`` it
    immediately sends ``textDocument/diagnostic`` (with the previous
    ``resultId``); latency = the request's round trip.

Prints a table (median, p95, max in ms) and writes
``benchmarks/results/lsp.json``.  Target: p95 ≤ 10 ms (pull: the answer; push: beyond the
debounce).

    python benchmarks/bench_lsp.py                       # N=200, D=50
    python benchmarks/bench_lsp.py -n 500 --debounce 100 --lines 30000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from provenance import code_under_test, machine

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from gen_large_file import generate  # noqa: E402

RESULTS = HERE / "results"
IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


#: Set by --server: another command to measure.
SERVER: list[str] = []


#: A keystroke's budget at p95 (pull: the answer; push: beyond the debounce), in ms.
TARGET_P95_MS = 10.0


def server_command() -> list[str]:
    if SERVER:
        return SERVER
    exe = shutil.which("golsp-leaks")
    if exe:
        return [exe, "serve"]
    return [sys.executable, "-m", "golsp_leaks", "serve"]


# --------------------------------------------------------------------------- JSON-RPC


class ServerDied(RuntimeError):
    pass


class LspClient:
    """A minimal LSP client over a subprocess's stdin/stdout.

    A reader thread timestamps every message as it is parsed, answers the
    server's own requests (``workspace/configuration``, registrations,
    progress tokens) and queues responses and ``publishDiagnostics``.
    """

    def __init__(self, cmd: list[str], settings: dict[str, Any], stderr_path: Path) -> None:
        self.settings = settings
        self._stderr = stderr_path.open("wb")
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            bufsize=0,
            cwd=stderr_path.parent,
        )
        self._write_lock = threading.Lock()
        self._cond = threading.Condition()
        self._responses: dict[int, tuple[float, dict[str, Any]]] = {}
        self._published: dict[tuple[str, int | None], tuple[float, dict[str, Any]]] = {}
        self._next_id = 0
        self._closed = False
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()

    # -- wire

    def _send(self, message: dict[str, Any]) -> float:
        body = json.dumps(message, separators=(",", ":")).encode()
        frame = b"Content-Length: %d\r\n\r\n" % len(body) + body
        assert self.proc.stdin is not None
        with self._write_lock:
            sent = time.perf_counter()
            self.proc.stdin.write(frame)
            self.proc.stdin.flush()
        return sent

    def _read_frame(self) -> bytes | None:
        stdout = self.proc.stdout
        assert stdout is not None
        length = None
        while True:
            line = stdout.readline()
            if not line:
                return None
            line = line.strip()
            if not line:
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        if length is None:
            return None
        data = b""
        while len(data) < length:
            chunk = stdout.read(length - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def _read_loop(self) -> None:
        while True:
            frame = self._read_frame()
            now = time.perf_counter()
            if frame is None:
                with self._cond:
                    self._closed = True
                    self._cond.notify_all()
                return
            message = json.loads(frame)
            method = message.get("method")
            if method is not None and "id" in message:
                self._answer(message)
            elif method == "textDocument/publishDiagnostics":
                params = message["params"]
                with self._cond:
                    self._published[(params["uri"], params.get("version"))] = (now, params)
                    self._cond.notify_all()
            elif method is None and "id" in message:
                with self._cond:
                    self._responses[message["id"]] = (now, message)
                    self._cond.notify_all()

    def _answer(self, request: dict[str, Any]) -> None:
        method = request["method"]
        result: Any = None
        if method == "workspace/configuration":
            result = [self.settings for _ in request["params"].get("items", [])]
        self._send({"jsonrpc": "2.0", "id": request["id"], "result": result})

    # -- API

    def notify(self, method: str, params: Any) -> float:
        return self._send({"jsonrpc": "2.0", "method": method, "params": params})

    def request_async(self, method: str, params: Any) -> tuple[int, float]:
        self._next_id += 1
        ident = self._next_id
        sent = self._send({"jsonrpc": "2.0", "id": ident, "method": method, "params": params})
        return ident, sent

    def wait_response(self, ident: int, timeout: float) -> tuple[float, dict[str, Any]]:
        return self._wait(lambda: self._responses.pop(ident, None), timeout, f"response {ident}")

    def request(self, method: str, params: Any, timeout: float = 30.0) -> tuple[Any, float]:
        """Send a request; (result, round trip in seconds)."""
        ident, sent = self.request_async(method, params)
        received, message = self.wait_response(ident, timeout)
        if "error" in message:
            raise RuntimeError(f"{method} failed: {message['error']}")
        return message.get("result"), received - sent

    def wait_publish(self, uri: str, version: int | None, timeout: float) -> tuple[float, dict[str, Any]]:
        return self._wait(lambda: self._published.pop((uri, version), None), timeout, f"publish v{version}")

    def _wait(self, take: Callable[[], Any], timeout: float, what: str) -> Any:
        deadline = time.perf_counter() + timeout
        with self._cond:
            while True:
                found = take()
                if found is not None:
                    return found
                if self._closed:
                    raise ServerDied(f"the server exited while waiting for {what}")
                left = deadline - time.perf_counter()
                if left <= 0:
                    raise TimeoutError(what)
                self._cond.wait(left)

    def close(self) -> None:
        try:
            if not self._closed:
                self.request("shutdown", None, timeout=10)
                self.notify("exit", None)
                self.proc.wait(timeout=10)
        except (TimeoutError, ServerDied, OSError, subprocess.TimeoutExpired):
            pass
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self._stderr.close()


# --------------------------------------------------------------------------- the document


def units(text: str, encoding: str) -> int:
    """Length of ``text`` in the negotiated position encoding's code units."""
    if encoding == "utf-8":
        return len(text.encode("utf-8"))
    if encoding == "utf-32":
        return len(text)
    return len(text.encode("utf-16-le")) // 2


@dataclass
class Edit:
    line: int
    column: int  # in characters (code points)
    insert: str  # "" for a deletion of one character


def plan_edits(lines: list[str], count: int, seed: int) -> list[Edit]:
    """``count`` single-character edits, each in a different function where possible.

    A letter is typed at the end of the first identifier of a function's first
    statement; a third of the time the next edit deletes it again.
    """
    rng = random.Random(seed)
    starts = [i for i, line in enumerate(lines) if line.startswith("func ") and line.endswith("{")]
    targets: list[tuple[int, int]] = []
    for start in starts:
        body = start + 1
        if body < len(lines):
            match = IDENT.search(lines[body])
            if match:
                targets.append((body, match.end()))
    rng.shuffle(targets)
    edits: list[Edit] = []
    index = 0
    while len(edits) < count:
        line, column = targets[index % len(targets)]
        index += 1
        edits.append(Edit(line, column, rng.choice("abcdefghijklmnopqrstuvwxyz")))
        if len(edits) < count and rng.random() < 1 / 3:
            edits.append(Edit(line, column, ""))
    return edits


class Document:
    def __init__(self, text: str) -> None:
        self.lines = text.split("\n")

    def text(self) -> str:
        return "\n".join(self.lines)

    def change(self, edit: Edit, encoding: str) -> dict[str, Any]:
        """Apply the edit; the LSP content change for it in ``encoding``."""
        line = self.lines[edit.line]
        start = {"line": edit.line, "character": units(line[: edit.column], encoding)}
        if edit.insert:
            self.lines[edit.line] = line[: edit.column] + edit.insert + line[edit.column :]
            return {"range": {"start": start, "end": start}, "text": edit.insert}
        end = {"line": edit.line, "character": units(line[: edit.column + 1], encoding)}
        self.lines[edit.line] = line[: edit.column] + line[edit.column + 1 :]
        return {"range": {"start": start, "end": end}, "text": ""}


# --------------------------------------------------------------------------- a run


@dataclass
class Run:
    mode: str
    offered: list[str]
    encoding: str = "utf-16"
    open_ms: float = 0.0
    open_diagnostics: int = 0
    samples: list[float] = field(default_factory=list)
    missing: int = 0
    unchanged: int = 0
    error: str | None = None
    rss_mb: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "mode": self.mode,
            "offered_encodings": self.offered,
            "encoding": self.encoding,
            "open_ms": round(self.open_ms, 2),
            "open_diagnostics": self.open_diagnostics,
            "edits": len(self.samples),
            "missing": self.missing,
        }
        if self.mode == "pull":
            out["unchanged_reports"] = self.unchanged
        if self.samples:
            ordered = sorted(self.samples)
            out.update(
                median_ms=round(statistics.median(ordered), 2),
                p95_ms=round(percentile(ordered, 95), 2),
                max_ms=round(ordered[-1], 2),
                mean_ms=round(statistics.fmean(ordered), 2),
            )
        if self.rss_mb:
            out["rss_mb"] = self.rss_mb
        out.update(self.extra)
        if self.error:
            out["error"] = self.error
        return out


def rss_mb(pid: int) -> float:
    """Resident memory of a process, in MiB (Linux)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return float("nan")


def percentile(ordered: list[float], pct: float) -> float:
    """Nearest-rank percentile of sorted values."""
    if not ordered:
        return float("nan")
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


def capabilities(pull: bool) -> dict[str, Any]:
    text_document: dict[str, Any] = {
        "synchronization": {"dynamicRegistration": False, "didSave": True},
        "publishDiagnostics": {"relatedInformation": True, "versionSupport": True, "codeDescriptionSupport": True},
        "codeAction": {"codeActionLiteralSupport": {"codeActionKind": {"valueSet": ["quickfix", "source"]}}},
    }
    if pull:
        text_document["diagnostic"] = {"dynamicRegistration": False, "relatedDocumentSupport": False}
    return {"textDocument": text_document, "workspace": {"configuration": False}}


def start_session(
    mode: str, offered: list[str], path: Path, debounce_ms: int, log_dir: Path, run: Run
) -> LspClient:
    """A server process, initialised as a push or pull client offering ``offered``."""
    settings = {"debounceMs": debounce_ms}
    stderr = log_dir / f"server-{mode}-{'-'.join(offered)}.log"
    client = LspClient(server_command(), settings, stderr)
    result, _ = client.request(
        "initialize",
        {
            "processId": os.getpid(),
            "clientInfo": {"name": "golsp-leaks-bench", "version": "1"},
            "rootUri": path.parent.as_uri(),
            "workspaceFolders": [{"uri": path.parent.as_uri(), "name": path.parent.name}],
            "capabilities": {**capabilities(mode != "push"), "general": {"positionEncodings": offered}},
            "initializationOptions": settings,
        },
    )
    run.encoding = (result or {}).get("capabilities", {}).get("positionEncoding", "utf-16")
    client.notify("initialized", {})
    return client


def finish(run: Run, client: LspClient, log_dir: Path) -> None:
    client.close()
    stderr = log_dir / f"server-{run.mode}-{'-'.join(run.offered)}.log"
    if run.error and stderr.exists():
        tail = stderr.read_text(errors="replace").strip().splitlines()[-15:]
        if tail:
            run.error += "\nserver stderr:\n" + "\n".join(tail)


def open_document(client: LspClient, uri: str, source: str, version: int = 1) -> float:
    return client.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "go", "version": version, "text": source}},
    )


def pull(client: LspClient, uri: str, result_id: str | None, timeout: float) -> tuple[float, dict[str, Any]]:
    """One textDocument/diagnostic round trip: (seconds, report)."""
    params: dict[str, Any] = {"textDocument": {"uri": uri}}
    if result_id is not None:
        params["previousResultId"] = result_id
    ident, sent = client.request_async("textDocument/diagnostic", params)
    received, message = client.wait_response(ident, timeout)
    if "error" in message:
        raise RuntimeError(str(message["error"]))
    return received - sent, message["result"]


def run_one(
    mode: str,
    offered: list[str],
    source: str,
    path: Path,
    edits: list[Edit],
    debounce_ms: int,
    timeout: float,
    log_dir: Path,
    rss_every: int = 0,
) -> Run:
    """Edits timed one by one (push or pull); with ``rss_every``, the server's RSS every that many edits."""
    run = Run(mode, offered)
    client = start_session(mode, offered, path, debounce_ms, log_dir, run)
    uri = path.as_uri()
    pull_mode = mode != "push"
    try:
        run.rss_mb["start"] = rss_mb(client.proc.pid)
        doc = Document(source)
        version = 1
        opened = open_document(client, uri, source)
        result_id: str | None = None
        if pull_mode:
            took, report = pull(client, uri, None, timeout)
            run.open_ms = took * 1000
            run.open_diagnostics = len(report.get("items", []))
            result_id = report.get("resultId")
        else:
            received, params = client.wait_publish(uri, version, timeout)
            run.open_ms = (received - opened) * 1000 - debounce_ms
            run.open_diagnostics = len(params["diagnostics"])
        run.rss_mb["opened"] = rss_mb(client.proc.pid)
        for n, edit in enumerate(edits, 1):
            version += 1
            change = doc.change(edit, run.encoding)
            sent = client.notify(
                "textDocument/didChange",
                {"textDocument": {"uri": uri, "version": version}, "contentChanges": [change]},
            )
            try:
                if pull_mode:
                    took, report = pull(client, uri, result_id, timeout)
                    if report.get("kind") == "unchanged":
                        run.unchanged += 1
                    result_id = report.get("resultId", result_id)
                    run.samples.append(took * 1000)
                else:
                    received, _ = client.wait_publish(uri, version, timeout)
                    run.samples.append((received - sent) * 1000 - debounce_ms)
            except TimeoutError:
                run.missing += 1
            if rss_every and n % rss_every == 0:
                run.rss_mb[f"after {n} edits"] = rss_mb(client.proc.pid)
        run.rss_mb["edited"] = rss_mb(client.proc.pid)
        if rss_every:
            # Closing the document frees what it held: open and close it again and again.
            for cycle in range(10):
                client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
                pull(client, uri, None, timeout)  # answered once the close is handled
                if cycle == 0:
                    run.rss_mb["closed"] = rss_mb(client.proc.pid)
                version += 1
                open_document(client, uri, doc.text(), version)
                pull(client, uri, None, timeout)
            client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
            pull(client, uri, None, timeout)
            run.rss_mb["after 10 more open/close cycles"] = rss_mb(client.proc.pid)
    except (ServerDied, RuntimeError, TimeoutError) as exc:
        run.error = f"{type(exc).__name__}: {exc}"
    finally:
        finish(run, client, log_dir)
    return run


SMALL = """package orders

import (
\t"context"
\t"time"
)

func lookup(parent context.Context) error {
\tctx, cancel := context.WithTimeout(parent, time.Second)
\tif ctx == nil {
\t\treturn nil
\t}
\tdefer cancel()
\treturn nil
}
"""


def run_concurrency(
    offered: list[str], source: str, path: Path, timeout: float, log_dir: Path, rounds: int
) -> Run:
    """How much opening the large file delays a code action on another, small file.

    The small file is open and analysed; code actions on it are timed idle, then
    again, one every 5 ms, from the large file's didOpen until its diagnostics
    arrive (the whole file analysed cold).  Repeated ``rounds`` times, the large
    file opened under a new name each time.
    """
    run = Run("concurrency", offered)
    client = start_session("push", offered, path, 0, log_dir, run)
    small = (path.parent / "small.go").as_uri()
    action = {
        "textDocument": {"uri": small},
        "range": {"start": {"line": 8, "character": 0}, "end": {"line": 8, "character": 40}},
        "context": {"diagnostics": []},
    }
    idle: list[float] = []
    busy: list[float] = []
    opens: list[float] = []
    try:
        open_document(client, small, SMALL)
        client.wait_publish(small, 1, timeout)
        for _ in range(50):
            _, took = client.request("textDocument/codeAction", action, timeout)
            idle.append(took * 1000)
        for r in range(rounds):
            uri = (path.parent / f"large{r}.go").as_uri()
            opened = open_document(client, uri, source)
            while True:
                _, took = client.request("textDocument/codeAction", action, timeout)
                busy.append(took * 1000)
                try:
                    received, _ = client.wait_publish(uri, 1, 0.005)
                    opens.append((received - opened) * 1000)
                    break
                except TimeoutError:
                    continue
            client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
        run.samples = busy
        run.open_ms = statistics.median(opens)
        idle.sort()
        run.extra = {
            "idle_median_ms": round(statistics.median(idle), 2),
            "idle_p95_ms": round(percentile(idle, 95), 2),
            "code_actions_during_open": len(busy),
            "open_ms_each": [round(x, 1) for x in opens],
        }
    except (ServerDied, RuntimeError, TimeoutError) as exc:
        run.error = f"{type(exc).__name__}: {exc}"
    finally:
        finish(run, client, log_dir)
    return run


def table(runs: list[Run]) -> str:
    head = f"{'client':<6} {'offered':<14} {'encoding':<8} {'edits':>5} {'miss':>4} {'open ms':>8} {'median':>8} {'p95':>8} {'max':>8}"
    rows = [head, "-" * len(head)]
    for run in runs:
        s = run.summary()
        if "median_ms" in s:
            stats = f"{s['median_ms']:>8.2f} {s['p95_ms']:>8.2f} {s['max_ms']:>8.2f}"
        else:
            stats = f"{'-':>8} {'-':>8} {'-':>8}"
        rows.append(
            f"{run.mode:<6} {','.join(run.offered):<14} {run.encoding:<8} {len(run.samples):>5} "
            f"{run.missing:>4} {run.open_ms:>8.1f} {stats}"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--edits", type=int, default=200, help="edits per run (default 200)")
    parser.add_argument("--debounce", type=int, default=50, help="debounceMs sent to the server (default 50)")
    parser.add_argument("--lines", type=int, default=12_000, help="size of the generated file (default 12000)")
    parser.add_argument(
        "--leak-rate", type=float, default=0.5, help="share of leaky functions in the file (default 0.5: 160 findings)"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed for the file and the edits (default 1)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for one answer (default 10)")
    parser.add_argument(
        "--modes",
        default="push,pull",
        help="push, pull, concurrency (a code action on another file while the large one opens), "
        "memory (RSS over --memory-edits pull edits, then closing) (default push,pull)",
    )
    parser.add_argument("--memory-edits", type=int, default=10_000, help="edits of the memory run (default 10000)")
    parser.add_argument("--warmup", type=int, default=1_000, help="memory run: edits before RSS counts (default 1000)")
    parser.add_argument("--rounds", type=int, default=5, help="concurrency run: times the large file is opened")
    parser.add_argument(
        "--offer",
        action="append",
        metavar="ENC,...",
        help="position encodings to offer, one run per option (default: utf-8,utf-16 and utf-16)",
    )
    parser.add_argument("--server", help="the server command to measure (default: golsp-leaks serve)")
    parser.add_argument("--label", help="free text stored in the JSON, e.g. the commit measured")
    parser.add_argument("--output", default=str(RESULTS / "lsp.json"), help="JSON results file")
    args = parser.parse_args(argv)
    if args.server:
        SERVER[:] = shlex.split(args.server)

    load_start = [round(x, 2) for x in os.getloadavg()]
    offers = [o.split(",") for o in args.offer] if args.offer else [["utf-8", "utf-16"], ["utf-16"]]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    source, stats = generate(args.lines, args.seed, args.leak_rate)
    edits = plan_edits(source.split("\n"), args.edits, args.seed)

    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="golsp-bench-") as tmp:
        work = Path(tmp)
        (work / "go.mod").write_text("module example.com/orders\n\ngo 1.22\n")
        path = work / "orders.go"
        path.write_text(source, encoding="utf-8")
        for mode in modes:
            for offered in offers:
                print(f"{mode} client, offering {','.join(offered)} ...", file=sys.stderr, flush=True)
                if mode == "concurrency":
                    run = run_concurrency(offered, source, path, args.timeout, work, args.rounds)
                elif mode == "memory":
                    many = plan_edits(source.split("\n"), args.memory_edits, args.seed)
                    run = run_one("pull", offered, source, path, many, args.debounce, args.timeout, work, args.warmup)
                    run.mode = "memory"
                    warm = run.rss_mb.get(f"after {args.warmup} edits", float("nan"))
                    run.extra = {"rss_growth_after_warmup_mb": round(run.rss_mb.get("edited", float("nan")) - warm, 1)}
                else:
                    run = run_one(mode, offered, source, path, edits, args.debounce, args.timeout, work)
                if run.error:
                    print(f"  error: {run.error}", file=sys.stderr)
                runs.append(run)

    print(
        f"\n{stats['lines']} lines, {stats['functions']} functions; {args.edits} edits per run; "
        f"debounce {args.debounce} ms (subtracted from push latencies)\n"
    )
    print(table(runs))
    for run in runs:
        if run.rss_mb:
            rss = ", ".join(f"{k} {v}" for k, v in run.rss_mb.items())
            print(f"{run.mode} {','.join(run.offered)}: RSS MiB: {rss}")
        if run.extra:
            print(f"{run.mode} {','.join(run.offered)}: {json.dumps(run.extra)}")
    print(f"\nload average at start {load_start}, at end {[round(x, 2) for x in os.getloadavg()]} ({os.cpu_count()} CPUs)")
    worst = max((r.summary().get("p95_ms", float("inf")) for r in runs), default=float("inf"))
    verdict = "met" if worst <= TARGET_P95_MS else "NOT met"
    print(f"\ntarget p95 <= {TARGET_P95_MS:g} ms: {verdict} (worst p95 {worst:.2f} ms)")

    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "benchmark": "lsp",
                "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
                "server": server_command(),
                "machine": machine(),
                "code": {**code_under_test(), "label": args.label},
                "loadavg_at_start": load_start,
                "file": stats,
                "edits": args.edits,
                "debounce_ms": args.debounce,
                "target_p95_ms": TARGET_P95_MS,
                "runs": [r.summary() for r in runs],
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {out}")
    return 0 if all(not r.error for r in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
