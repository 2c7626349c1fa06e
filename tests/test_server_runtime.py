"""The language server shows a scan report's findings: at the right place, updated, dropped when the code changes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities

from golsp_leaks.server.runtime import RuntimeReports
from tests.lsp_support import CONFIG, position_of

CLIENTS = ["neovim@v0.11.0", "visual_studio_code@v1.65.2", "emacs@v29.1"]
#: The clients whose capabilities offer dynamic registration of file watchers.
WATCHING_CLIENTS = ("visual_studio_code@v1.65.2", "emacs@v29.1")
#: The source of the diagnostics a scan report gives.
RUNTIME_SOURCE = "golsp-leaks (runtime)"

HANDLER = """package main

import (
	"log"
	"net/http"
	"time"
)

// réglé 🎉: non-ASCII before the leak moves UTF-16 columns.
func batch(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id") // é🎉
	go func() { log.Printf("é🎉 %s", id); for { time.Sleep(time.Minute) } }()
	w.WriteHeader(http.StatusAccepted)
}
"""
GO_LINE = 12  # 1-based: the go statement
GO_TEXT = 'go func() { log.Printf("é🎉 %s", id); for { time.Sleep(time.Minute) } }()'


def report(line: int = GO_LINE, line_text: str = GO_TEXT, growth: int = 100) -> dict[str, object]:
    return {
        "version": 1,
        "target": "http://127.0.0.1:8080",
        "pprof": "http://127.0.0.1:6060",
        "leak_profile": False,
        "elapsed": 3.0,
        "findings": [
            {
                "rule": "runtime-goroutine-growth",
                "severity": "error",
                "endpoint": "POST /batch",
                "path": "handler.go",
                "line": line,
                "message": f"100 requests to POST /batch left {growth} goroutines created at handler.go:{line}",
                "line_text": line_text,
                "requests": 100,
                "growth": growth,
                "per_request": growth / 100,
                "related": [{"path": "handler.go", "line": 10, "message": "handler of POST /batch"}],
                "confirms": [{"path": "handler.go", "line": line, "message": "goroutine-no-exit: loops for ever"}],
            }
        ],
        "endpoints": [],
        "notes": [],
    }


def write_report(workspace: Path, document: dict[str, object], client: LanguageClient | None = None) -> None:
    """Write the report as the scan does; a client that watches it then says so, as an editor would."""
    directory = workspace / ".golsp-leaks"
    directory.mkdir(exist_ok=True)
    tmp = directory / "tmp.json"
    tmp.write_text(json.dumps(document))
    tmp.replace(directory / "scan.json")
    if client is not None and watches(client):
        event = types.FileEvent((directory / "scan.json").as_uri(), types.FileChangeType.Changed)
        client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams([event]))


def watches(client: LanguageClient) -> bool:
    """Whether the server registered a watcher for the scan reports with this client."""
    for registration in client.registrations:  # type: ignore[attr-defined]
        if registration.method == types.WORKSPACE_DID_CHANGE_WATCHED_FILES:
            options = registration.register_options
            globs = [w["globPattern"] for w in options["watchers"]] if isinstance(options, dict) else []
            assert globs == ["**/.golsp-leaks/scan.json"], options
            return True
    return False


@pytest_lsp.fixture(config=CONFIG, params=CLIENTS)
async def client(request: pytest.FixtureRequest, lsp_client: LanguageClient):  # type: ignore[no-untyped-def]
    result = await lsp_client.initialize_session(
        types.InitializeParams(capabilities=client_capabilities(request.param), initialization_options={"debounceMs": 5})
    )
    lsp_client.spec = request.param  # type: ignore[attr-defined]
    lsp_client.encoding = str(result.capabilities.position_encoding or "utf-16")  # type: ignore[attr-defined]
    watched = lsp_client.spec in WATCHING_CLIENTS  # type: ignore[attr-defined]
    # The server registers its watcher after `initialized`, without a reply to wait for: wait for it.
    for _ in range(100):
        if watches(lsp_client) or not watched:
            break
        await asyncio.sleep(0.1)
    yield
    await lsp_client.shutdown_session()


async def static_diagnostics(client: LanguageClient, uri: str) -> list[types.Diagnostic]:
    return [d for d in await current(client, uri) if d.source == "golsp-leaks"]


async def current(client: LanguageClient, uri: str) -> list[types.Diagnostic]:
    """The file's diagnostics as the client has them now: pulled, or the last published."""
    caps = client_capabilities(client.spec)  # type: ignore[attr-defined]
    if caps.text_document is not None and caps.text_document.diagnostic is not None:
        answer = await client.text_document_diagnostic_async(
            types.DocumentDiagnosticParams(types.TextDocumentIdentifier(uri))
        )
        return list(answer.items) if isinstance(answer, types.RelatedFullDocumentDiagnosticReport) else []
    published = [p for p in client.published if p.uri == uri]  # type: ignore[attr-defined]
    return list(published[-1].diagnostics) if published else []


async def _wait_for(
    client: LanguageClient, uri: str, keep: Callable[[types.Diagnostic], bool], enough: Callable[[int], bool],
    timeout: float,
) -> list[types.Diagnostic]:
    """Poll (pull clients) or watch the published diagnostics until enough of those kept are there."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    found: list[types.Diagnostic] = []
    while loop.time() < deadline:
        found = [d for d in await current(client, uri) if keep(d)]
        if enough(len(found)):
            return found
        await asyncio.sleep(0.1)
    raise TimeoutError(f"diagnostics never as expected, have {found}")


async def runtime_diagnostics(client: LanguageClient, uri: str, want: int, timeout: float = 10.0) -> list[types.Diagnostic]:
    """Wait until the file has ``want`` runtime diagnostics."""
    return await _wait_for(client, uri, lambda d: d.source == RUNTIME_SOURCE, lambda n: n == want, timeout)


async def first_static_diagnostics(client: LanguageClient, uri: str, timeout: float = 10.0) -> list[types.Diagnostic]:
    """Wait until the file's static diagnostics are there."""
    return await _wait_for(client, uri, lambda d: d.source != RUNTIME_SOURCE, lambda n: n > 0, timeout)


async def replace_text(client: LanguageClient, uri: str, version: int, text: str) -> None:
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            [types.TextDocumentContentChangeWholeDocument(text)],
        )
    )
    await asyncio.sleep(0.3)  # past the debounce: the next diagnostics are of this version


async def test_a_scan_report_becomes_diagnostics_and_follows_the_code(client: LanguageClient, tmp_path: Path) -> None:
    (tmp_path / "go.mod").write_text("module example.com/app\n\ngo 1.22\n")
    path = tmp_path / "handler.go"
    path.write_text(HANDLER)
    uri = path.as_uri()
    encoding = client.encoding  # type: ignore[attr-defined]
    client.text_document_did_open(types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, "go", 1, HANDLER)))
    assert await runtime_diagnostics(client, uri, 0) == []

    # A report appears: its finding is shown on the go statement, with the endpoint and the counts.
    write_report(tmp_path, report(), client)
    [diagnostic] = await runtime_diagnostics(client, uri, 1)
    start = position_of(HANDLER, "go func()", encoding)
    end = position_of(HANDLER, "\n\tw.WriteHeader", encoding)
    assert diagnostic.range == types.Range(start, end)
    assert diagnostic.code == "runtime-goroutine-growth"
    assert diagnostic.severity == types.DiagnosticSeverity.Error
    assert "POST /batch" in diagnostic.message and "100 goroutines" in diagnostic.message
    # The static finding it confirms says so too.
    [static] = await static_diagnostics(client, uri)
    assert static.code == "goroutine-no-exit"
    assert static.message.endswith("(confirmed at runtime by a scan of POST /batch)")
    caps = client_capabilities(client.spec)  # type: ignore[attr-defined]
    publish = caps.text_document.publish_diagnostics if caps.text_document else None
    if publish is not None and publish.related_information:
        assert diagnostic.related_information is not None
        related = diagnostic.related_information[0]
        assert related.location.range.start == position_of(HANDLER, "func batch", encoding)

    # A new report replaces it.
    write_report(tmp_path, report(growth=150), client)
    [diagnostic] = await runtime_diagnostics(client, uri, 1)
    for _ in range(100):
        if "150 goroutines" in diagnostic.message:
            break
        await asyncio.sleep(0.1)
        [diagnostic] = await runtime_diagnostics(client, uri, 1)
    assert "150 goroutines" in diagnostic.message

    # A line inserted above moves it along; changing the go statement's code drops it.
    moved = HANDLER.replace("\tid :=", "\t// one more line\n\tid :=")
    await replace_text(client, uri, 2, moved)
    [diagnostic] = await runtime_diagnostics(client, uri, 1)
    assert diagnostic.range.start == position_of(moved, "go func()", encoding)
    changed = moved.replace("time.Sleep(time.Minute)", "time.Sleep(time.Second)")
    await replace_text(client, uri, 3, changed)
    assert await runtime_diagnostics(client, uri, 0) == []


async def test_the_client_watches_the_report_when_it_can_and_the_server_polls_otherwise(
    client: LanguageClient, tmp_path: Path
) -> None:
    caps = client_capabilities(client.spec)  # type: ignore[attr-defined]
    watched = caps.workspace.did_change_watched_files if caps.workspace else None
    dynamic = bool(watched and watched.dynamic_registration)
    assert dynamic == (client.spec in WATCHING_CLIENTS)  # type: ignore[attr-defined]
    assert watches(client) == dynamic
    (tmp_path / "go.mod").write_text("module example.com/app\n\ngo 1.22\n")
    path = tmp_path / "handler.go"
    path.write_text(HANDLER)
    uri = path.as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, "go", 1, HANDLER)))
    # The file's first diagnostics read the report directory once: wait for them before writing one.
    await first_static_diagnostics(client, uri)
    assert await runtime_diagnostics(client, uri, 0) == []
    write_report(tmp_path, report())  # no notification
    if dynamic:
        # The server does not poll a report the client watches: nothing until the client tells.
        await asyncio.sleep(2.5)
        assert await runtime_diagnostics(client, uri, 0) == []
        write_report(tmp_path, report(), client)
    # Told, or polled (once a second): the finding appears.
    [diagnostic] = await runtime_diagnostics(client, uri, 1)
    assert diagnostic.code == "runtime-goroutine-growth"


async def test_a_refused_registration_falls_back_to_polling() -> None:
    async def refuse(params: types.RegistrationParams) -> None:
        raise RuntimeError("method not found")

    async def accept(params: types.RegistrationParams) -> None:
        return None

    refused, accepted, unsupported = (RuntimeReports(lambda: None) for _ in range(3))
    await refused.watch(refuse, True)
    await accepted.watch(accept, True)
    await unsupported.watch(accept, False)
    assert (refused.watched, refused.polling) == (False, True)
    assert (accepted.watched, accepted.polling) == (True, False)
    assert (unsupported.watched, unsupported.polling) == (False, True)
    for reports in (refused, unsupported):
        assert reports._task is not None
        reports._task.cancel()


STORE = """package main

import "database/sql"

func search(db *sql.DB) error {
	rows, err := db.Query("SELECT 1")
	if err != nil {
		return err
	}
	_ = rows
	return nil
}
"""


async def test_a_static_finding_confirmed_from_another_file_says_so(client: LanguageClient, tmp_path: Path) -> None:
    """The handler's finding (in handler.go) confirms the unclosed rows of the store method it calls."""
    (tmp_path / "go.mod").write_text("module example.com/app\n\ngo 1.22\n")
    (tmp_path / "store.go").write_text(STORE)
    document = report()
    [finding] = document["findings"]  # type: ignore[misc]
    finding["confirms"] = [{"path": "store.go", "line": 6, "message": "unclosed-rows: rows are not closed"}]
    finding["rule"] = "runtime-fd-growth"
    write_report(tmp_path, document, client)
    uri = (tmp_path / "store.go").as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, "go", 1, STORE)))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while loop.time() < deadline:
        statics = await static_diagnostics(client, uri)
        if statics:
            break
        await asyncio.sleep(0.1)
    [static] = statics
    assert static.code == "unclosed-rows"
    assert static.message.endswith("(confirmed at runtime by a scan of POST /batch)")
    assert await runtime_diagnostics(client, uri, 0) == []


@pytest.mark.parametrize("watched", [False, True])
def test_whether_a_report_covers_a_file_is_kept_until_a_report_changes(tmp_path: Path, watched: bool) -> None:
    reports = RuntimeReports(lambda: None)
    file = tmp_path / "handler.go"
    assert not reports.covers(file)
    write_report(tmp_path, report())
    report_path = (tmp_path / ".golsp-leaks" / "scan.json").resolve()
    assert reports.reload([report_path]) if watched else reports._changed()
    assert reports.covers(file)
    report_path.unlink()
    assert reports.reload([report_path]) if watched else reports._changed()
    assert not reports.covers(file)
