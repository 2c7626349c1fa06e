"""editors/helix/languages.toml: Helix is not packaged in Debian bookworm, so the test reads the
snippet as Helix does (TOML), checks what it declares, and starts the server with exactly that
command and those arguments, talking to it as Helix does: `config` as the initializationOptions
and as the answer to workspace/configuration (looked up by section), Helix's code-action and
diagnostics capabilities, then initialize, a diagnostic, a resolved quick fix, shutdown and exit.
"""

from __future__ import annotations

import copy
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.editors import support
from tests.editors.lsp_stdio import LspStdioClient

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

pytestmark = pytest.mark.editor

SNIPPET = support.EDITORS / "helix" / "languages.toml"

# What Helix 25.x declares (helix-lsp's initialize), trimmed to what matters to this server.
HELIX_CAPABILITIES: dict[str, Any] = {
    "workspace": {
        "configuration": True,
        "didChangeConfiguration": {"dynamicRegistration": False},
        "workspaceFolders": True,
        "applyEdit": True,
        "workspaceEdit": {
            "documentChanges": True,
            "resourceOperations": ["create", "rename", "delete"],
            "failureHandling": "abort",
            "normalizesLineEndings": False,
        },
        "inlayHint": {"refreshSupport": False},
    },
    "textDocument": {
        "codeAction": {
            "codeActionLiteralSupport": {
                "codeActionKind": {
                    "valueSet": [
                        "",
                        "quickfix",
                        "refactor",
                        "refactor.extract",
                        "refactor.inline",
                        "refactor.rewrite",
                        "source",
                        "source.organizeImports",
                    ]
                }
            },
            "isPreferredSupport": True,
            "disabledSupport": True,
            "dataSupport": True,
            "resolveSupport": {"properties": ["edit", "command"]},
        },
        "publishDiagnostics": {"versionSupport": True, "tagSupport": {"valueSet": [1, 2]}},
    },
    "window": {"workDoneProgress": True},
    "general": {"positionEncodings": ["utf-8", "utf-32", "utf-16"]},
}


def _snippet() -> dict[str, Any]:
    with SNIPPET.open("rb") as f:
        return tomllib.load(f)


def test_helix_snippet_declares_server_and_keeps_gopls() -> None:
    conf = _snippet()
    server = conf["language-server"]["golsp-leaks"]
    assert server["command"] == "golsp-leaks"
    assert server["args"] == ["serve"]
    settings = server["config"]["golspLeaks"]
    assert set(settings) <= {"rules", "severity", "exclude", "debounceMs"}
    assert all(
        v in {"error", "warning", "information", "hint"}
        for v in settings.get("severity", {}).values()
    )
    go = [lang for lang in conf["language"] if lang["name"] == "go"]
    assert len(go) == 1
    # The list replaces Helix's default for Go: gopls must stay in it, first.
    assert go[0]["language-servers"] == ["gopls", "golsp-leaks"]
    assert (support.EDITORS / "helix" / "README.md").is_file()


def _apply(text: str, edits: list[dict[str, Any]]) -> str:
    """Apply LSP text edits (utf-8 positions, as negotiated with Helix) to text."""
    lines = text.splitlines(keepends=True)
    data = text.encode()

    def offset(pos: dict[str, int]) -> int:
        return sum(len(line.encode()) for line in lines[: pos["line"]]) + pos["character"]

    for edit in sorted(edits, key=lambda e: offset(e["range"]["start"]), reverse=True):
        start, end = offset(edit["range"]["start"]), offset(edit["range"]["end"])
        data = data[:start] + edit["newText"].encode() + data[end:]
    return data.decode()


def _session(
    tmp_path: Path, config: dict[str, Any], want: Callable[[dict[str, Any]], bool] = lambda d: True
) -> dict[str, Any]:
    """One Helix-like session with the snippet's command; returns what was seen."""
    conf = _snippet()
    server = conf["language-server"]["golsp-leaks"]
    command = shutil.which(server["command"], path=support.child_path())
    assert command, f"{server['command']} is not on PATH"
    workspace = support.make_workspace(tmp_path)
    uri = (workspace / "main.go").as_uri()
    client = LspStdioClient([command, *server["args"]], env=support.child_env(), cwd=workspace)

    def configuration(params: dict[str, Any]) -> list[Any]:
        answers = []
        for item in params.get("items", []):
            value: Any = config
            for part in (item.get("section") or "").split("."):
                if part:
                    value = value.get(part) if isinstance(value, dict) else None
            answers.append(value)
        return answers

    client.handlers["workspace/configuration"] = configuration
    seen: dict[str, Any] = {}
    try:
        init = client.request(
            "initialize",
            {
                "processId": os.getpid(),
                "rootUri": workspace.as_uri(),
                "rootPath": str(workspace),
                "workspaceFolders": [{"uri": workspace.as_uri(), "name": workspace.name}],
                "initializationOptions": config,
                "capabilities": HELIX_CAPABILITIES,
                "clientInfo": {"name": "helix", "version": "25.07.1"},
            },
        )
        seen["capabilities"] = init["capabilities"]
        client.notify("initialized", {})
        client.notify(
            "textDocument/didOpen",
            {
                "textDocument": {
                    "uri": uri,
                    "languageId": "go",
                    "version": 0,
                    "text": support.LEAKY_GO,
                }
            },
        )
        # The diagnostics Helix ends up showing (a first publication may come before the server
        # has read the workspace configuration).
        published = client.wait_notification(
            "textDocument/publishDiagnostics",
            pred=lambda p: p["uri"] == uri and bool(p["diagnostics"]) and want(p["diagnostics"][0]),
        )["params"]
        diagnostic = published["diagnostics"][0]
        seen["diagnostic"] = diagnostic
        actions = client.request(
            "textDocument/codeAction",
            {
                "textDocument": {"uri": uri},
                "range": diagnostic["range"],
                "context": {"diagnostics": [diagnostic], "triggerKind": 1},
            },
        )
        seen["titles"] = [a["title"] for a in actions]
        fix = next(a for a in actions if a["title"] == support.FIX_TITLE)
        if "edit" not in fix:
            fix = client.request("codeAction/resolve", fix)
        edit = fix["edit"]
        edits = (
            edit["changes"][uri]
            if "changes" in edit
            else next(
                dc["edits"] for dc in edit["documentChanges"] if dc["textDocument"]["uri"] == uri
            )
        )
        seen["fixed"] = _apply(support.LEAKY_GO, edits)
        seen["exit_code"] = client.close()
    finally:
        if client.proc.poll() is None:
            client.proc.kill()
    seen["messages"] = [
        m["params"]["message"]
        for m in client.received
        if m.get("method") in ("window/showMessage", "window/logMessage")
    ]
    seen["asked_configuration"] = [
        r["params"] for r in client.server_requests if r["method"] == "workspace/configuration"
    ]
    return seen


def test_helix_server_handshake_with_snippet_command(tmp_path: Path) -> None:
    config = _snippet()["language-server"]["golsp-leaks"]["config"]
    seen = _session(tmp_path, config)
    assert seen["exit_code"] == 0
    assert seen["capabilities"]["positionEncoding"] == "utf-8"  # Helix's first choice
    assert seen["diagnostic"]["code"] == "lost-cancel"
    assert seen["diagnostic"]["source"] == "golsp-leaks"
    assert support.FIX_TITLE in seen["titles"]
    assert seen["fixed"] == support.FIXED_GO
    assert {"items": [{"section": "golspLeaks"}]} in seen["asked_configuration"]


def test_helix_settings_reach_the_server(tmp_path: Path) -> None:
    """A setting in `config.golspLeaks` changes what Helix shows: lost-cancel as an error."""
    config = copy.deepcopy(_snippet()["language-server"]["golsp-leaks"]["config"])
    config["golspLeaks"]["severity"] = {"lost-cancel": "error"}
    seen = _session(tmp_path, config, want=lambda d: d.get("severity") == 1)
    assert seen["diagnostic"]["severity"] == 1


def test_helix_config_table_raises_no_configuration_warning(tmp_path: Path) -> None:
    config = _snippet()["language-server"]["golsp-leaks"]["config"]
    seen = _session(tmp_path, config)
    assert not [m for m in seen["messages"] if "configuration" in m], seen["messages"]
