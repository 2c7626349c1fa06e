"""A small blocking LSP client over stdio, for driving a server exactly as an editor would."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

Handler = Callable[[dict[str, Any]], Any]


class LspStdioClient:
    """Starts a server command, frames JSON-RPC over its stdin/stdout, answers its requests."""

    def __init__(
        self, cmd: Sequence[str], *, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> None:
        self.proc = subprocess.Popen(
            list(cmd),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=cwd,
        )
        self._next_id = 0
        self._responses: dict[int, queue.Queue[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self.notifications: queue.Queue[dict[str, Any]] = queue.Queue()
        self.received: list[dict[str, Any]] = []
        self.server_requests: list[dict[str, Any]] = []
        self.handlers: dict[str, Handler] = {}
        self.stderr_lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    # -- wire ------------------------------------------------------------------
    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        assert self.proc.stdin is not None
        with self._lock:
            self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            self.proc.stdin.flush()

    def _read(self) -> None:
        stream = self.proc.stdout
        assert stream is not None
        while True:
            length = None
            while True:
                line = stream.readline()
                if not line:
                    return
                line = line.strip()
                if not line:
                    break
                name, _, value = line.decode("ascii").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            if length is None:
                return
            message = json.loads(stream.read(length))
            self.received.append(message)
            if "method" in message and "id" in message:
                self.server_requests.append(message)
                handler = self.handlers.get(message["method"])
                result = handler(message.get("params") or {}) if handler else None
                self._send({"id": message["id"], "result": result})
            elif "method" in message:
                self.notifications.put(message)
            elif "id" in message and message["id"] in self._responses:
                self._responses[message["id"]].put(message)

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            self.stderr_lines.append(raw.decode(errors="replace").rstrip())

    # -- API -------------------------------------------------------------------
    def request(self, method: str, params: Any, timeout: float = 15) -> Any:
        with self._lock:
            self._next_id += 1
            rid = self._next_id
        box: queue.Queue[dict[str, Any]] = queue.Queue()
        self._responses[rid] = box
        self._send({"id": rid, "method": method, "params": params})
        try:
            answer = box.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(
                f"no answer to {method} within {timeout} s; stderr: {self.stderr_lines[-20:]}"
            ) from None
        if "error" in answer:
            raise RuntimeError(f"{method} failed: {answer['error']}")
        return answer.get("result")

    def notify(self, method: str, params: Any) -> None:
        self._send({"method": method, "params": params})

    def wait_notification(
        self, method: str, timeout: float = 15, pred: Callable[[dict[str, Any]], bool] | None = None
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(
                    f"no {method} within {timeout} s; stderr: {self.stderr_lines[-20:]}"
                )
            try:
                message = self.notifications.get(timeout=left)
            except queue.Empty:
                continue
            if message["method"] == method and (pred is None or pred(message.get("params") or {})):
                return message

    def close(self, timeout: float = 10) -> int:
        """shutdown + exit; returns the server's exit code (kills it if it does not exit in time)."""
        try:
            self.request("shutdown", None, timeout=timeout)
            self.notify("exit", None)
            return self.proc.wait(timeout=timeout)
        except Exception:
            self.proc.kill()
            self.proc.wait(timeout=timeout)
            raise
