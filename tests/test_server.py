"""End-to-end LSP tests: the server as a subprocess, driven with the capabilities of real clients."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities

from tests.lsp_support import (
    CLIENTS,
    CONFIG,
    SERVER_COMMAND,
    apply_text_edits,
    edits_of,
    position_of,
    wait_until,
)
from tests.test_overlay import CLOSES as CLOSES_GO
from tests.test_overlay import FETCH as FETCH_GO
from tests.test_overlay import READS as READS_GO

URI = "file:///work/example/handler.go"

# Non-ASCII before the leak: a letter outside the BMP in an identifier on the same
# line (two UTF-16 code units, four UTF-8 bytes), and text with emoji in comments.
LEAKY = """package main

import (
	"context"
	"time"
)

// héllo 🎉 — a greeting before the leak
func work(ctx context.Context) error { return ctx.Err() }

func handler(parent context.Context) error {
	ctx𝒳, cancel := context.WithTimeout(parent, time.Second) // héllo 🎉
	if err := work(ctx𝒳); err != nil {
		return err
	}
	defer cancel()
	return nil
}
"""


class Session:
    """One client session: capabilities, negotiated encoding and the client's view of the text."""

    def __init__(self, client: LanguageClient, name: str, result: types.InitializeResult) -> None:
        self.client = client
        self.name = name
        self.caps = client_capabilities(name)
        self.encoding = str(result.capabilities.position_encoding or "utf-16")
        self.pull = self.caps.text_document is not None and self.caps.text_document.diagnostic is not None
        self.text = ""
        self.version = 0
        self.result_id: str | None = None

    def open(self, text: str, uri: str = URI) -> None:
        self.text = text
        self.version = 1
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, "go", self.version, text))
        )

    def change(self, start: types.Position, end: types.Position, new_text: str, uri: str = URI) -> None:
        self.version += 1
        self.text = apply_text_edits(self.text, [types.TextEdit(types.Range(start, end), new_text)], self.encoding)
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=self.version),
                content_changes=[types.TextDocumentContentChangePartial(types.Range(start, end), new_text)],
            )
        )

    def replace(self, text: str, uri: str = URI) -> None:
        self.version += 1
        self.text = text
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=self.version),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text)],
            )
        )

    async def diagnostics(self, uri: str = URI) -> list[types.Diagnostic]:
        """The diagnostics for the current version, pulled or pushed as the client would get them."""
        if self.pull:
            report = await self.client.text_document_diagnostic_async(
                types.DocumentDiagnosticParams(types.TextDocumentIdentifier(uri))
            )
            assert isinstance(report, types.RelatedFullDocumentDiagnosticReport)
            self.result_id = report.result_id
            return list(report.items)
        published = self.client.published  # type: ignore[attr-defined]
        params = await wait_until(
            lambda: next((p for p in reversed(published) if p.uri == uri and p.version == self.version), None)
        )
        return list(params.diagnostics)

    async def actions(self, rng: types.Range, only: list[str] | None = None) -> list[types.CodeAction]:
        result = await self.client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(URI),
                range=rng,
                context=types.CodeActionContext(diagnostics=[], only=only),
            )
        )
        return [a for a in result or [] if isinstance(a, types.CodeAction)]

    async def edit_of(self, action: types.CodeAction) -> types.WorkspaceEdit:
        resolve = self.caps.text_document.code_action.resolve_support  # type: ignore[union-attr]
        if resolve is not None and "edit" in resolve.properties:
            assert action.edit is None, "edits are computed lazily for clients that resolve them"
            action = await self.client.code_action_resolve_async(action)
        assert action.edit is not None
        return action.edit


@pytest_lsp.fixture(config=CONFIG, params=CLIENTS)
async def client(request: pytest.FixtureRequest, lsp_client: LanguageClient):  # type: ignore[no-untyped-def]
    result = await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities(request.param),
            initialization_options={"debounceMs": 5},
            root_uri="file:///work/example",
        )
    )
    lsp_client.spec = request.param  # type: ignore[attr-defined]
    lsp_client.init_result = result  # type: ignore[attr-defined]
    yield
    await lsp_client.shutdown_session()


@pytest.fixture
def session(client: LanguageClient) -> Session:
    return Session(client, client.spec, client.init_result)  # type: ignore[attr-defined]


def expected_range(text: str, encoding: str) -> types.Range:
    start = position_of(text, "cancel :=", encoding)
    return types.Range(start, types.Position(start.line, start.character + len("cancel")))


async def test_position_encoding_is_negotiated(session: Session) -> None:
    offered = session.caps.general.position_encodings if session.caps.general else None
    if offered and "utf-8" in offered:
        assert session.encoding == "utf-8"
    elif offered:
        assert session.encoding == offered[0]
    else:
        assert session.encoding == "utf-16"


async def test_diagnostic_on_open_with_non_ascii_positions(session: Session) -> None:
    session.open(LEAKY)
    diagnostics = await session.diagnostics()
    assert len(diagnostics) == 1
    d = diagnostics[0]
    assert d.code == "lost-cancel"
    assert d.source == "golsp-leaks"
    assert d.severity == types.DiagnosticSeverity.Warning
    assert "cancel" in d.message and "every path" in d.message
    assert d.range == expected_range(LEAKY, session.encoding)
    publish = session.caps.text_document.publish_diagnostics  # type: ignore[union-attr]
    if publish is not None and publish.related_information:
        assert d.related_information is not None
        related = d.related_information[0]
        assert related.location.range.start == position_of(LEAKY, "return err", session.encoding)
        assert "without calling cancel()" in related.message


async def test_incremental_edits_update_diagnostics(session: Session) -> None:
    session.open(LEAKY)
    assert len(await session.diagnostics()) == 1
    # Type "defer cancel()" right after the assignment, a character at a time for the first few.
    line_end = position_of(LEAKY, "\n\tif err := work", session.encoding)
    inserted = "\n\tdefer cancel()"
    for i, ch in enumerate(inserted):
        pos = line_end if i == 0 else types.Position(line_end.line + 1, i - 1)
        session.change(pos, pos, ch)
    assert "\tdefer cancel()\n\tif err" in session.text
    assert await session.diagnostics() == []
    # Delete it again: the leak is back, at the same place.
    start = types.Position(line_end.line + 1, 0)
    session.change(start, types.Position(line_end.line + 2, 0), "")
    assert session.text == LEAKY
    diagnostics = await session.diagnostics()
    assert [d.range for d in diagnostics] == [expected_range(LEAKY, session.encoding)]


async def test_quick_fix_applies_cleanly(session: Session) -> None:
    session.open(LEAKY)
    diagnostics = await session.diagnostics()
    actions = await session.actions(diagnostics[0].range)
    fixes = [a for a in actions if a.kind == types.CodeActionKind.QuickFix and a.is_preferred]
    assert len(fixes) == 1
    assert fixes[0].diagnostics and fixes[0].diagnostics[0].code == "lost-cancel"
    edit = await session.edit_of(fixes[0])
    fixed = apply_text_edits(session.text, edits_of(edit, URI), session.encoding)
    assert "time.Second) // héllo 🎉\n\tdefer cancel()\n\tif err := work" in fixed
    assert fixed.count("defer cancel()") == 1  # the later defer moved up
    session.replace(fixed)
    assert await session.diagnostics() == []


async def test_fix_all_and_suppression(session: Session) -> None:
    session.open(LEAKY)
    diagnostics = await session.diagnostics()
    rng = diagnostics[0].range
    fix_all = await session.actions(rng, only=["source.fixAll"])
    assert [a.kind for a in fix_all] == ["source.fixAll.golsp-leaks"]
    fixed = apply_text_edits(session.text, edits_of(await session.edit_of(fix_all[0]), URI), session.encoding)
    assert "\tdefer cancel()\n\tif err" in fixed

    quick = await session.actions(rng, only=[types.CodeActionKind.QuickFix])
    suppress = [a for a in quick if "golsp-leaks:ignore" in a.title]
    assert len(suppress) == 1
    suppressed = apply_text_edits(session.text, edits_of(await session.edit_of(suppress[0]), URI), session.encoding)
    assert "\t//golsp-leaks:ignore lost-cancel\n\tctx𝒳, cancel :=" in suppressed
    session.replace(suppressed)
    assert await session.diagnostics() == []


UNSAFE_ONLY = """package main

import "os"

func statAll(paths []string) {
	for _, p := range paths {
		f, err := os.Open(p)
		if err == nil {
			defer f.Close()
			_, _ = f.Stat()
		}
	}
}
"""


async def test_unsafe_fixes_are_marked_and_left_out_of_fix_all(session: Session) -> None:
    session.open(LEAKY.replace('"context"\n', '"context"\n\t"os"\n') + UNSAFE_ONLY.split("\n", 3)[3])
    diagnostics = await session.diagnostics()
    assert sorted(str(d.code) for d in diagnostics) == ["defer-in-loop", "lost-cancel"]
    loop = next(d for d in diagnostics if d.code == "defer-in-loop")
    quick = await session.actions(loop.range, only=[types.CodeActionKind.QuickFix])
    wrap = [a for a in quick if "function literal" in a.title]
    assert len(wrap) == 1 and wrap[0].title.endswith("(unsafe)") and not wrap[0].is_preferred
    # Fix-all applies the safe fix only, whatever range it is asked for.
    (fix_all,) = await session.actions(loop.range, only=["source.fixAll"])
    fixed = apply_text_edits(session.text, edits_of(await session.edit_of(fix_all), URI), session.encoding)
    assert "\tdefer cancel()\n\tif err" in fixed and "func() {" not in fixed
    # A file whose only fixes are unsafe gets no fix-all action.
    session.replace(UNSAFE_ONLY)
    (only_unsafe,) = await session.diagnostics()
    assert await session.actions(only_unsafe.range, only=["source.fixAll"]) == []


async def _configure(session: Session, settings: dict[str, object]) -> None:
    workspace = session.caps.workspace
    if workspace is not None and workspace.configuration:
        session.client.set_configuration(settings, section="golspLeaks")
        session.client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    else:  # Neovim 0.7: no workspace/configuration, settings come with the notification
        session.client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"golspLeaks": settings})
        )


async def _eventually(session: Session, predicate: object) -> list[types.Diagnostic]:
    """Diagnostics once ``predicate`` holds for them (settings are applied asynchronously)."""
    assert callable(predicate)
    if session.pull:
        for _ in range(200):
            diagnostics = await session.diagnostics()
            if predicate(diagnostics):
                return diagnostics
            await wait_until(lambda: True)
        raise AssertionError(f"diagnostics never matched: {diagnostics}")
    published = session.client.published  # type: ignore[attr-defined]
    try:
        last = await wait_until(
            lambda: published and published[-1].uri == URI and predicate(list(published[-1].diagnostics)) and published[-1]
        )
    except TimeoutError:
        raise AssertionError(f"diagnostics never matched: {published}") from None
    return list(last.diagnostics)


async def test_configuration_change_turns_a_rule_off_and_sets_severity(session: Session) -> None:
    session.open(LEAKY)
    assert len(await session.diagnostics()) == 1
    await _configure(session, {"rules": {"lost-cancel": False}})
    await _eventually(session, lambda ds: ds == [])
    await _configure(session, {"rules": {"lost-cancel": True}, "severity": {"lost-cancel": "error"}})
    diagnostics = await _eventually(session, lambda ds: bool(ds) and ds[0].severity == types.DiagnosticSeverity.Error)
    assert diagnostics[0].code == "lost-cancel"


async def test_push_carries_the_document_version_and_pull_reports_unchanged(session: Session) -> None:
    session.open(LEAKY)
    await session.diagnostics()
    session.change(types.Position(0, 0), types.Position(0, 0), "// top\n")
    diagnostics = await session.diagnostics()
    assert diagnostics[0].range.start.line == expected_range(LEAKY, session.encoding).start.line + 1
    if session.pull:
        first = session.result_id
        assert first
        again = await session.client.text_document_diagnostic_async(
            types.DocumentDiagnosticParams(types.TextDocumentIdentifier(URI), previous_result_id=first)
        )
        assert isinstance(again, types.RelatedUnchangedDocumentDiagnosticReport)
        assert again.result_id == first
    else:
        published = session.client.published  # type: ignore[attr-defined]
        assert published[-1].version == session.version == 2


def _first_href(diagnostics: list[types.Diagnostic]) -> str | None:
    first = diagnostics[0].code_description if diagnostics else None
    return first.href if first else None


async def test_diagnostics_link_to_their_rule_page(session: Session) -> None:
    """codeDescription.href: the repository's docs/rules/<id>.md by default, or the docsUrl setting."""
    session.open(LEAKY)
    diagnostics = await session.diagnostics()
    page = Path(__file__).resolve().parents[1] / "docs" / "rules" / "lost-cancel.md"
    assert page.is_file() and _first_href(diagnostics) == page.as_uri()
    for settings, href in (
        ({"docsUrl": "https://docs.example/golsp-leaks/rules"}, "https://docs.example/golsp-leaks/rules/lost-cancel.md"),
        ({"docs-url": "https://docs.example/r?id={rule}"}, "https://docs.example/r?id=lost-cancel"),
    ):
        await _configure(session, settings)
        await _eventually(session, lambda ds, href=href: _first_href(ds) == href)
    await _configure(session, {"docsUrl": ""})
    await _eventually(session, lambda ds: bool(ds) and ds[0].code_description is None)


def test_docs_href_and_the_default_base_outside_a_source_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the repository (a wheel install) the pages are rendered into the user's cache."""
    import golsp_leaks
    from golsp_leaks.server import convert

    assert convert.docs_href("https://x/docs/", "lost-cancel") == "https://x/docs/lost-cancel.md"
    assert (
        convert.docs_href("https://x/{rule}.html", "unclosed-rows")
        == "https://x/unclosed-rows.html"
    )
    assert convert.docs_href("", "lost-cancel") is None
    installed = tmp_path / "site-packages" / "golsp_leaks"
    installed.mkdir(parents=True)
    monkeypatch.setattr(golsp_leaks, "__file__", str(installed / "__init__.py"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    base = convert.default_docs_base.__wrapped__()
    folder = tmp_path / "cache" / "golsp-leaks" / "docs" / golsp_leaks.__version__
    assert base == folder.as_uri() + "/"
    repo_page = Path(__file__).resolve().parents[1] / "docs" / "rules" / "lost-cancel.md"
    assert (folder / "lost-cancel.md").read_text(encoding="utf-8") == repo_page.read_text(
        encoding="utf-8"
    )
    # A cache that cannot be written: no link rather than a broken one.
    monkeypatch.setenv("XDG_CACHE_HOME", str(repo_page))  # a file, not a folder
    assert convert.default_docs_base.__wrapped__() == ""


async def test_unknown_settings_are_reported_not_fatal(session: Session) -> None:
    await _configure(session, {"rules": {"no-such-rule": False}, "colour": "blue"})
    messages = await wait_until(
        lambda: [m for m in session.client.messages if "no-such-rule" in m.message]  # type: ignore[attr-defined]
    )
    assert "colour" in messages[0].message
    assert messages[0].type == types.MessageType.Warning
    session.open(LEAKY)
    assert len(await session.diagnostics()) == 1


async def test_bad_input_never_breaks_the_server(session: Session) -> None:
    session.open(LEAKY)
    await session.diagnostics()
    # A range far past the end of the document (clamped to the end, as the specification says).
    session.change(types.Position(999, 5), types.Position(1000, 0), "\n// tail\n")
    # Binary junk, NULs and a very long line in the middle of a function.
    junk = "\x00\x01\ufffd" + "x" * 200_000
    session.change(types.Position(0, 0), types.Position(0, 0), f"// {junk}\n")
    # A character past the end of a line is clamped to the line's end.
    session.change(types.Position(0, 10**6), types.Position(0, 10**6), " end")
    diagnostics = await session.diagnostics()
    assert [d.code for d in diagnostics] == ["lost-cancel"]
    assert diagnostics[0].range.start == position_of(session.text, "cancel :=", session.encoding)
    # Requests about documents that are not open get empty answers, not errors.
    other = "file:///work/example/missing.go"
    actions = await session.client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(other),
            range=types.Range(types.Position(0, 0), types.Position(0, 0)),
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    assert not actions
    if session.pull:
        report = await session.client.text_document_diagnostic_async(
            types.DocumentDiagnosticParams(types.TextDocumentIdentifier(other))
        )
        assert isinstance(report, types.RelatedFullDocumentDiagnosticReport)
        assert list(report.items) == []
    # Malformed Go is fine too, and the server still answers afterwards.
    session.replace("package main\nfunc (((( {\n\x00")
    assert await session.diagnostics() == []
    session.replace(LEAKY)
    assert len(await session.diagnostics()) == 1


HANDLER = """package main

import "net/http"

func track(w http.ResponseWriter, r *http.Request) {
	visits[r.URL.Path]++
}
"""

STORE = """package main

var visits = map[string]int{}
"""

PRUNE = """
func reset() {
	clear(visits)
}
"""


def _package(session: Session, directory: Path, opened: tuple[str, str], other: tuple[str, str]) -> tuple[str, Path]:
    """A module of two files on disk, the first of them opened: its uri, and the other's path."""
    (directory / "go.mod").write_text("module example.com/app\n\ngo 1.22\n")
    (directory / other[0]).write_text(other[1])
    (directory / opened[0]).write_text(opened[1])
    uri = (directory / opened[0]).as_uri()
    session.open(opened[1], uri=uri)
    return uri, directory / other[0]


async def test_package_facts_come_from_the_other_files_and_follow_saves(session: Session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    handler_uri, store = _package(session, tmp_path, ("handler.go", HANDLER), ("store.go", STORE))
    diagnostics = await session.diagnostics(handler_uri)
    assert [d.code for d in diagnostics] == ["unbounded-global-growth"]
    # Another file of the package starts bounding the map, and is saved.
    store.write_text(STORE + PRUNE)
    store_uri = store.as_uri()
    session.client.text_document_did_open(
        types.DidOpenTextDocumentParams(types.TextDocumentItem(store_uri, "go", 1, STORE + PRUNE))
    )
    session.client.text_document_did_save(
        types.DidSaveTextDocumentParams(types.TextDocumentIdentifier(store_uri))
    )
    await _eventually_for(session, handler_uri, lambda ds: ds == [])


FETCH, FINISH_READS, FINISH_CLOSES = (text.decode() for text in (FETCH_GO, READS_GO, CLOSES_GO))


async def test_package_facts_read_the_unsaved_buffers_of_the_other_open_files(session: Session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    fetch_uri, helper = _package(session, tmp_path, ("fetch.go", FETCH), ("helper.go", FINISH_READS))
    assert [d.code for d in await session.diagnostics(fetch_uri)] == ["unclosed-body"]
    helper_uri = helper.as_uri()
    session.client.text_document_did_open(
        types.DidOpenTextDocumentParams(types.TextDocumentItem(helper_uri, "go", 1, FINISH_READS))
    )
    # The helper closes its argument in the buffer only: the finding goes.
    _change_all(session, helper_uri, 2, FINISH_CLOSES)
    await _eventually_after(session, fetch_uri, lambda ds: ds == [])
    assert helper.read_text() == FINISH_READS
    # Reverted in the buffer: it comes back.
    _change_all(session, helper_uri, 3, FINISH_READS)
    await _eventually_after(session, fetch_uri, lambda ds: [d.code for d in ds] == ["unclosed-body"])
    # Changed again, then closed without saving: the disk's version counts again.
    _change_all(session, helper_uri, 4, FINISH_CLOSES)
    await _eventually_after(session, fetch_uri, lambda ds: ds == [])
    session.client.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(helper_uri)))
    await _eventually_after(session, fetch_uri, lambda ds: [d.code for d in ds] == ["unclosed-body"])


def _change_all(session: Session, uri: str, version: int, text: str) -> None:
    session.client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text)],
        )
    )


async def _eventually_after(session: Session, uri: str, predicate: object) -> None:
    """Like ``_eventually_for``, but only what is published from now on counts."""
    assert callable(predicate)
    if session.pull:
        await _eventually_for(session, uri, predicate)
        return
    published = session.client.published  # type: ignore[attr-defined]
    seen = len(published)
    await wait_until(lambda: any(p.uri == uri and predicate(list(p.diagnostics)) for p in published[seen:]))


async def _eventually_for(session: Session, uri: str, predicate: object) -> None:
    assert callable(predicate)
    if session.pull:
        for _ in range(300):
            if predicate(await session.diagnostics(uri)):
                return
            await wait_until(lambda: True)
        raise AssertionError("diagnostics never matched")
    published = session.client.published  # type: ignore[attr-defined]
    await wait_until(lambda: any(p.uri == uri and predicate(list(p.diagnostics)) for p in published[-3:]))


# --- raw JSON-RPC: what a typed client library cannot even send -------------------


class RawClient:
    """The server as a subprocess, spoken to in raw JSON-RPC frames (no LSP library in between)."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.responses: dict[int, dict[str, Any]] = {}
        self.notifications: list[dict[str, Any]] = []
        self.arrivals: list[tuple[str, Any]] = []  # ("response", id) or (method, uri), in arrival order
        self._next = 0
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def start(cls, capabilities: dict[str, Any] | None = None) -> RawClient:
        process = await asyncio.create_subprocess_exec(
            *SERVER_COMMAND,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        client = cls(process)
        await client.request(
            "initialize",
            {"processId": None, "rootUri": None, "capabilities": capabilities or {}, "initializationOptions": {"debounceMs": 0}},
        )
        client.notify("initialized", {})
        return client

    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps(message).encode()
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    async def _read(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        while True:
            header = await stdout.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"Content-Length: *(\d+)", header, re.I).group(1))  # type: ignore[union-attr]
            message = json.loads(await stdout.readexactly(length))
            if "method" in message and "id" in message:  # a request from the server
                self._send({"jsonrpc": "2.0", "id": message["id"], "result": None})
            elif "method" in message:
                self.notifications.append(message)
                self.arrivals.append((message["method"], (message.get("params") or {}).get("uri")))
            else:
                self.responses[message["id"]] = message
                self.arrivals.append(("response", message["id"]))

    def send_request(self, method: str, params: Any) -> int:
        self._next += 1
        self._send({"jsonrpc": "2.0", "id": self._next, "method": method, "params": params})
        return self._next

    async def answer(self, ident: int, timeout: float = 60.0) -> dict[str, Any]:
        await wait_until(lambda: ident in self.responses, timeout)
        return self.responses[ident]

    async def request(self, method: str, params: Any) -> dict[str, Any]:
        return await self.answer(self.send_request(method, params))

    def notify(self, method: str, params: Any) -> None:
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    def open(self, uri: str, text: str, version: int = 1) -> None:
        self.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": uri, "languageId": "go", "version": version, "text": text}},
        )

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.request("shutdown", None), 10)
            self.notify("exit", None)
            await asyncio.wait_for(self.process.wait(), 10)
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        self._reader.cancel()


@pytest.fixture
async def raw() -> AsyncIterator[RawClient]:
    client = await RawClient.start()
    yield client
    await client.close()


def _range(a: int, b: int, c: int, d: int) -> dict[str, Any]:
    return {"start": {"line": a, "character": b}, "end": {"line": c, "character": d}}


async def test_every_request_gets_an_answer(raw: RawClient) -> None:
    raw.open(URI, LEAKY)
    doc = {"uri": URI}
    ctx = {"diagnostics": []}
    answered_empty = [
        # Negative numbers and numbers past the uinteger range: clamped into the document.
        ("textDocument/codeAction", {"textDocument": doc, "range": _range(-1, -5, -1, -1), "context": ctx}),
        ("textDocument/codeAction", {"textDocument": doc, "range": _range(2**40, 2**40, 2**53, 0), "context": ctx}),
        # A document that is not open.
        ("textDocument/codeAction", {"textDocument": {"uri": "file:///nowhere.go"}, "range": _range(0, 0, 0, 0), "context": ctx}),
        ("textDocument/diagnostic", {"textDocument": {"uri": "file:///nowhere.go"}}),
    ]
    for method, params in answered_empty:
        answer = await raw.request(method, params)
        assert "error" not in answer, (method, params, answer)
        result = answer["result"]
        if method == "textDocument/diagnostic":
            assert result == {"kind": "full", "items": []}
        else:  # nothing at the start or past the end of the document: at most the file-wide fix-all
            assert [a["kind"] for a in result if a["kind"] == "quickfix"] == [], (params, result)
    # A range clamped into the document still finds what is there.
    whole = await raw.request(
        "textDocument/codeAction", {"textDocument": doc, "range": _range(-3, -3, 2**31, 2**31), "context": ctx}
    )
    assert any("cancel" in a["title"] for a in whole["result"])
    malformed = [
        ("textDocument/codeAction", {"textDocument": 5}),
        ("textDocument/codeAction", {"textDocument": doc, "range": "everything", "context": ctx}),
        ("textDocument/diagnostic", {"foo": 1}),
        ("codeAction/resolve", 7),
    ]
    for method, params in malformed:
        answer = await raw.request(method, params)
        assert answer["error"]["code"] == -32602, (method, params, answer)
    # A change with negative numbers is applied, clamped, and the server goes on answering.
    raw.notify(
        "textDocument/didChange",
        {"textDocument": {"uri": URI, "version": 2}, "contentChanges": [{"range": _range(-1, -1, -1, -1), "text": "\n"}]},
    )
    report = await raw.request("textDocument/diagnostic", {"textDocument": doc})
    assert [d["code"] for d in report["result"]["items"]] == ["lost-cancel"]
    assert report["result"]["items"][0]["range"]["start"]["line"] == LEAKY.split("\n").index(
        next(line for line in LEAKY.split("\n") if "cancel :=" in line)
    ) + 1
    # A request that is not part of the protocol gets MethodNotFound.
    assert (await raw.request("golsp/nothing", {}))["error"]["code"] == -32601


def _big_go_file(functions: int = 1500) -> str:
    """Thousands of lines, each function with a lost cancel: seconds of cold analysis."""
    head = 'package main\n\nimport (\n\t"context"\n\t"time"\n)\n'
    body = """
func f{n}(p context.Context) error {{
	ctx, cancel := context.WithTimeout(p, time.Second)
	if ctx == nil {{
		return nil
	}}
	defer cancel()
	return nil
}}
"""
    return head + "".join(body.format(n=i) for i in range(functions))


BIG_URI = "file:///work/example/big.go"


async def test_other_documents_are_answered_while_a_large_one_is_analysed(raw: RawClient) -> None:
    raw.open(URI, LEAKY)
    await wait_until(lambda: any(n["params"]["uri"] == URI for n in raw.notifications))
    raw.open(BIG_URI, _big_go_file())
    await asyncio.sleep(0.3)  # the server has read the didOpen and started on the large file
    action = raw.send_request(
        "textDocument/codeAction",
        {"textDocument": {"uri": URI}, "range": _range(11, 0, 11, 200), "context": {"diagnostics": []}},
    )
    answer = await raw.answer(action)
    assert any("cancel" in a["title"] for a in answer["result"])
    await wait_until(lambda: ("textDocument/publishDiagnostics", BIG_URI) in raw.arrivals, 120)
    # The code action was answered before the large file's analysis was done.
    assert raw.arrivals.index(("response", action)) < raw.arrivals.index(("textDocument/publishDiagnostics", BIG_URI))


async def test_a_newer_change_supersedes_the_analysis_under_way(raw: RawClient) -> None:
    text = _big_go_file()
    raw.open(BIG_URI, text)
    await asyncio.sleep(0.3)  # the server has started on version 1
    raw.notify(
        "textDocument/didChange",
        {
            "textDocument": {"uri": BIG_URI, "version": 2},
            "contentChanges": [{"range": _range(1, 0, 1, 0), "text": "// v2\n"}],
        },
    )
    await wait_until(lambda: any(n["params"]["uri"] == BIG_URI for n in raw.notifications), 120)
    published = [n["params"] for n in raw.notifications if n["params"]["uri"] == BIG_URI]
    # Version 1 was never published: its analysis gave way to version 2's.
    assert published[0]["version"] == 2
    assert len(published[0]["diagnostics"]) == 1500
    assert published[0]["diagnostics"][0]["range"]["start"]["line"] == 9


async def test_cancel_request_is_honoured(raw: RawClient) -> None:
    raw.open(BIG_URI, _big_go_file())
    pending = raw.send_request("textDocument/diagnostic", {"textDocument": {"uri": BIG_URI}})
    await asyncio.sleep(0.3)  # the server has started on the request
    raw.notify("$/cancelRequest", {"id": pending})
    answer = await raw.answer(pending, 120)
    assert answer["error"]["code"] == -32800  # RequestCancelled
    # The server goes on: the next request gets the diagnostics.
    report = await raw.request("textDocument/diagnostic", {"textDocument": {"uri": BIG_URI}})
    assert len(report["result"]["items"]) == 1500


async def test_closing_a_document_frees_what_it_held() -> None:
    import gc
    import weakref

    from golsp_leaks.server.server import create_server

    server = create_server()
    server.features.pull = True  # nothing to publish: no transport here
    fm = server.protocol.fm
    fm.features[types.TEXT_DOCUMENT_DID_OPEN](
        types.DidOpenTextDocumentParams(types.TextDocumentItem(URI, "go", 1, LEAKY))
    )
    entry = server.docs[URI]
    result = await server.result_of(entry)
    assert [d.finding.rule for d in result.diagnostics] == ["lost-cancel"]
    held = [weakref.ref(x) for x in (entry, entry.document, result)]
    del entry, result
    fm.features[types.TEXT_DOCUMENT_DID_CLOSE](
        types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(URI))
    )
    await asyncio.sleep(0)
    gc.collect()
    assert server.docs == {}
    assert [ref() for ref in held] == [None, None, None]
    server.worker.shutdown()


async def test_pull_reports_unchanged_when_no_diagnostic_moved(raw: RawClient) -> None:
    raw.open(URI, LEAKY)
    first = (await raw.request("textDocument/diagnostic", {"textDocument": {"uri": URI}}))["result"]
    assert first["kind"] == "full" and len(first["items"]) == 1
    work = LEAKY.split("\n").index("func work(ctx context.Context) error { return ctx.Err() }")

    def change(version: int, line: int, character: int, text: str) -> None:
        raw.notify(
            "textDocument/didChange",
            {
                "textDocument": {"uri": URI, "version": version},
                "contentChanges": [{"range": _range(line, character, line, character), "text": text}],
            },
        )

    # An edit in another function, on another line: the same diagnostics, the same result id.
    change(2, work, len("func work(ctx context.Context) error { return"), " ")
    params = {"textDocument": {"uri": URI}, "previousResultId": first["resultId"]}
    second = (await raw.request("textDocument/diagnostic", params))["result"]
    assert second == {"kind": "unchanged", "resultId": first["resultId"]}
    # A line added above moves the diagnostic: a full report with a new id.
    change(3, 0, 0, "// moved\n")
    third = (await raw.request("textDocument/diagnostic", params))["result"]
    assert third["kind"] == "full" and third["resultId"] != first["resultId"]
    assert third["items"][0]["range"]["start"]["line"] == first["items"][0]["range"]["start"]["line"] + 1
