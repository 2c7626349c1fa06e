"""A stand-in for gopls in the editor tests (gopls cannot be installed here).

A minimal stdio language server: answers initialize/shutdown, publishes one diagnostic
(source "gopls", message "fake gopls was here") for each opened or changed document, returns
no code actions, and appends every method it receives to the file named by FAKE_GOPLS_LOG.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

LOG = os.environ.get("FAKE_GOPLS_LOG")


def read() -> dict[str, Any] | None:
    length = None
    while True:
        line = sys.stdin.buffer.readline()
        if not line:
            return None
        line = line.strip()
        if not line:
            break
        name, _, value = line.decode("ascii").partition(":")
        if name.lower() == "content-length":
            length = int(value)
    if length is None:
        return None
    return json.loads(sys.stdin.buffer.read(length))


def send(message: dict[str, Any]) -> None:
    body = json.dumps({"jsonrpc": "2.0", **message}).encode()
    sys.stdout.buffer.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    sys.stdout.buffer.flush()


def publish(uri: str, version: int | None) -> None:
    diagnostic = {
        "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 7}},
        "severity": 3,
        "source": "gopls",
        "message": "fake gopls was here",
    }
    params: dict[str, Any] = {"uri": uri, "diagnostics": [diagnostic]}
    if version is not None:
        params["version"] = version
    send({"method": "textDocument/publishDiagnostics", "params": params})


def main() -> int:
    while True:
        message = read()
        if message is None:
            return 0
        method = message.get("method")
        if LOG:
            with open(LOG, "a", encoding="utf-8") as log:
                log.write(f"{method or 'response'}\n")
        params = message.get("params") or {}
        if method == "initialize":
            send(
                {
                    "id": message["id"],
                    "result": {
                        "capabilities": {
                            "textDocumentSync": 1,
                            "codeActionProvider": True,
                            "hoverProvider": True,
                        },
                        "serverInfo": {"name": "gopls", "version": "fake"},
                    },
                }
            )
        elif method == "shutdown":
            send({"id": message["id"], "result": None})
        elif method == "exit":
            return 0
        elif method in ("textDocument/didOpen", "textDocument/didChange"):
            doc = params["textDocument"]
            publish(doc["uri"], doc.get("version"))
        elif method == "textDocument/codeAction":
            send({"id": message["id"], "result": []})
        elif method == "textDocument/hover":
            send(
                {
                    "id": message["id"],
                    "result": {"contents": {"kind": "plaintext", "value": "fake gopls hover"}},
                }
            )
        elif "id" in message and method is not None:
            send({"id": message["id"], "result": None})


if __name__ == "__main__":
    raise SystemExit(main())
