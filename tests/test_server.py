"""End-to-end LSP tests: the server as a subprocess, driven with the capabilities of real clients."""

from __future__ import annotations

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities

from tests.lsp_support import (
    CLIENTS,
    CONFIG,
    apply_text_edits,
    edits_of,
    position_of,
    wait_until,
)

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


async def test_package_facts_come_from_the_other_files_and_follow_saves(session: Session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "go.mod").write_text("module example.com/app\n\ngo 1.22\n")
    store = tmp_path / "store.go"
    store.write_text(STORE)
    handler_uri = (tmp_path / "handler.go").as_uri()
    (tmp_path / "handler.go").write_text(HANDLER)
    session.open(HANDLER, uri=handler_uri)
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
