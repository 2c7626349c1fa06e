"""The language server: thin wiring between LSP and the engine.

Documents live in :class:`golsp_leaks.document.Document` (bytes, LSP line
index, incrementally re-parsed tree-sitter tree).  Diagnostics are pushed
(``publishDiagnostics`` with the document version, after a debounce that a
newer change cancels) to clients without pull diagnostics, and served through
``textDocument/diagnostic`` (with ``resultId`` and unchanged reports) to the
clients that have them.  Code actions offer each fix, a fix-all source action
and a suppression comment; their edits are computed at resolve time for
clients that can resolve ``edit``, and included directly for the others.

Every handler logs and carries on: no input from a client takes the server down.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from golsp_leaks import __version__
from golsp_leaks.config import (
    SECTION,
    ConfigProblems,
    Settings,
    find_config_file,
    merge,
    read_config_file,
)
from golsp_leaks.document import Document, Encoding, encode_text
from golsp_leaks.engine import Engine
from golsp_leaks.fixes.apply import overlapping
from golsp_leaks.fixes.suppress import suppression_edit
from golsp_leaks.goanalysis.gomod import go_version_for
from golsp_leaks.goanalysis.package import invalidate, package_facts, source_facts
from golsp_leaks.model import AnalysisStats, Diagnostic, Edit, automatic_fix
from golsp_leaks.rules import rule_ids
from golsp_leaks.server import convert
from golsp_leaks.server.protocol import GolspProtocol, negotiated_encoding

log = logging.getLogger("golsp_leaks.server")

FIX_ALL_KIND = f"{types.CodeActionKind.SourceFixAll.value}.golsp-leaks"
F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class _Result:
    """The analysis of one state of one document."""

    key: tuple[int, int]
    diagnostics: list[Diagnostic]
    lsp: list[types.Diagnostic]
    result_id: str


@dataclass
class _Open:
    """A document and what the server knows about it."""

    document: Document
    path: Path | None
    serial: int
    edits: int = 0
    result: _Result | None = None
    task: asyncio.Task[None] | None = None


@dataclass
class _ClientFeatures:
    pull: bool = False
    resolve_edit: bool = False
    related_information: bool = False
    document_changes: bool = False
    configuration: bool = False
    diagnostic_refresh: bool = False

    @classmethod
    def of(cls, caps: types.ClientCapabilities) -> _ClientFeatures:
        td = caps.text_document
        ws = caps.workspace
        resolve = td.code_action.resolve_support if td and td.code_action else None
        publish = td.publish_diagnostics if td else None
        pull = td.diagnostic if td else None
        return cls(
            pull=pull is not None,
            resolve_edit=bool(resolve and "edit" in resolve.properties),
            related_information=bool(
                (publish and publish.related_information) or (pull and pull.related_information)
            ),
            document_changes=bool(ws and ws.workspace_edit and ws.workspace_edit.document_changes),
            configuration=bool(ws and ws.configuration),
            diagnostic_refresh=bool(ws and ws.diagnostics and ws.diagnostics.refresh_support),
        )


@dataclass
class _SettingsState:
    init_options: Any = None
    client: Any = None
    generation: int = 0
    cache: dict[tuple[str, float], Settings] = field(default_factory=dict)
    reported: set[str] = field(default_factory=set)


def _guard(default: Callable[[], Any]) -> Callable[[F], F]:
    """Log any exception from a handler and answer with ``default()`` instead."""

    def decorate(handler: F) -> F:
        @functools.wraps(handler)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return handler(*args, **kwargs)
            except Exception:
                log.exception("%s failed", handler.__name__)
                return default()

        return cast(F, wrapper)

    return decorate


class GolspLeaksServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__(
            "golsp-leaks",
            __version__,
            protocol_cls=GolspProtocol,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
        )
        self.engine = Engine()
        self.docs: dict[str, _Open] = {}
        self.features = _ClientFeatures()
        self.encoding = Encoding.UTF16
        self.settings_state = _SettingsState()
        self.root: Path | None = None
        self._serial = 0

    # --- settings --------------------------------------------------------------

    def settings_for(self, path: Path | None) -> Settings:
        state = self.settings_state
        start = path.parent if path is not None else self.root
        config = find_config_file(start) if start is not None else None
        try:
            mtime = config.stat().st_mtime if config else 0.0
        except OSError:
            mtime = 0.0
        key = (f"{config}|{state.generation}", mtime)
        cached = state.cache.get(key)
        if cached is not None:
            return cached
        problems = ConfigProblems()
        known = rule_ids()
        settings = Settings()
        if config is not None:
            settings = merge(settings, read_config_file(config, problems), str(config), known, problems)
        settings = merge(settings, state.init_options, "initializationOptions", known, problems)
        settings = merge(settings, state.client, f"settings ({SECTION})", known, problems)
        state.cache[key] = settings
        self._report_problems(problems)
        return settings

    def _report_problems(self, problems: ConfigProblems) -> None:
        fresh = [m for m in problems.messages if m not in self.settings_state.reported]
        if not fresh:
            return
        self.settings_state.reported.update(fresh)
        text = "golsp-leaks configuration: " + "; ".join(fresh)
        log.warning(text)
        self.window_show_message(types.ShowMessageParams(type=types.MessageType.Warning, message=text))

    def settings_changed(self) -> None:
        self.settings_state.generation += 1
        self.settings_state.cache.clear()
        self.settings_for(None)  # report problems now, not at the next edit
        for uri, entry in self.docs.items():
            entry.result = None
            if not self.features.pull:
                self.schedule(uri, 0)
        if self.features.pull and self.features.diagnostic_refresh and self.docs:
            self.workspace_diagnostic_refresh(None)

    # --- analysis --------------------------------------------------------------

    def analyse(self, entry: _Open) -> _Result:
        key = (entry.edits, self.settings_state.generation)
        if entry.result is not None and entry.result.key == key:
            return entry.result
        doc = entry.document
        settings = self.settings_for(entry.path)
        diagnostics: list[Diagnostic] = []
        if not self._excluded(entry.path, settings):
            stats = AnalysisStats()
            if entry.path is not None:
                facts = package_facts(entry.path, doc.source, doc.tree)
            else:
                facts = source_facts(doc.source, doc.tree)
            diagnostics = self.engine.analyze(
                doc.source,
                doc.tree,
                settings,
                path=str(entry.path) if entry.path else None,
                go_version=go_version_for(entry.path) if entry.path else None,
                package=facts,
                stats=stats,
            )
            for problem in stats.rule_errors:
                log.error("%s: %s", doc.uri, problem)
        lines = doc.lines
        lsp = [
            convert.to_lsp(d, doc.uri, lines, self.encoding, related_support=self.features.related_information)
            for d in diagnostics
        ]
        entry.result = _Result(key, diagnostics, lsp, f"{entry.serial}.{key[0]}.{key[1]}")
        return entry.result

    def _excluded(self, path: Path | None, settings: Settings) -> bool:
        if path is None or not settings.exclude:
            return False
        config = find_config_file(path.parent)
        base = config.parent if config else self.root
        try:
            relative = path.resolve().relative_to(base.resolve()) if base else Path(path.name)
        except ValueError:
            relative = Path(path.name)
        return settings.is_excluded(relative.as_posix())

    def schedule(self, uri: str, delay_ms: int | None = None) -> None:
        """Publish diagnostics for ``uri`` after the debounce; a newer call cancels an older one."""
        entry = self.docs.get(uri)
        if entry is None or self.features.pull:
            return
        if entry.task is not None and not entry.task.done():
            entry.task.cancel()
        delay = self.settings_for(entry.path).debounce_ms if delay_ms is None else delay_ms
        entry.task = asyncio.get_running_loop().create_task(self._publish_later(uri, entry, delay))

    async def _publish_later(self, uri: str, entry: _Open, delay_ms: int) -> None:
        if delay_ms > 0:
            await asyncio.sleep(delay_ms / 1000)
        if self.docs.get(uri) is not entry:
            return
        try:
            result = self.analyse(entry)
        except Exception:
            log.exception("analysis of %s failed", uri)
            return
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=result.lsp, version=entry.document.version)
        )


def create_server() -> GolspLeaksServer:
    server = GolspLeaksServer()

    @server.feature(types.INITIALIZE)
    @_guard(lambda: None)
    def initialize(ls: GolspLeaksServer, params: types.InitializeParams) -> None:
        ls.features = _ClientFeatures.of(params.capabilities)
        ls.settings_state.init_options = _section(params.initialization_options)
        root = params.root_uri or (params.workspace_folders[0].uri if params.workspace_folders else None)
        if root is None and params.root_path:
            ls.root = Path(params.root_path)
        elif root is not None:
            fs = to_fs_path(root)
            ls.root = Path(fs) if fs else None
        log.info("client features: %s", ls.features)

    @server.feature(types.INITIALIZED)
    async def initialized(ls: GolspLeaksServer, params: types.InitializedParams) -> None:
        ls.encoding = Encoding(negotiated_encoding(ls.workspace.position_encoding))
        log.info("position encoding: %s", ls.encoding.value)
        await _pull_configuration(ls)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(ls: GolspLeaksServer, params: types.DidChangeConfigurationParams) -> None:
        if ls.features.configuration:
            await _pull_configuration(ls)
            return
        if params.settings is not None:
            ls.settings_state.client = _section(params.settings)
        ls.settings_changed()

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    @_guard(lambda: None)
    def did_open(ls: GolspLeaksServer, params: types.DidOpenTextDocumentParams) -> None:
        item = params.text_document
        ls._serial += 1
        path = to_fs_path(item.uri)
        ls.docs[item.uri] = _Open(
            Document(item.uri, encode_text(item.text), item.version),
            Path(path) if path and item.uri.startswith("file:") else None,
            ls._serial,
        )
        ls.schedule(item.uri, 0)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    @_guard(lambda: None)
    def did_change(ls: GolspLeaksServer, params: types.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        entry = ls.docs.get(uri)
        if entry is None:
            log.warning("didChange for a document that is not open: %s", uri)
            return
        doc = entry.document
        for change in params.content_changes:
            if isinstance(change, types.TextDocumentContentChangePartial):
                r = change.range
                ok = doc.apply_change(
                    (r.start.line, r.start.character), (r.end.line, r.end.character), change.text, ls.encoding
                )
                if not ok:
                    log.warning("%s: change range %s was outside the document or reversed; clamped", uri, r)
            else:
                doc.replace_all(change.text)
            entry.edits += 1
        doc.version = params.text_document.version
        ls.schedule(uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    @_guard(lambda: None)
    def did_save(ls: GolspLeaksServer, params: types.DidSaveTextDocumentParams) -> None:
        # What is on disk changed: other open files of the package may learn new facts from it.
        entry = ls.docs.get(params.text_document.uri)
        if entry is None or entry.path is None:
            return
        invalidate(entry.path)
        for uri, other in ls.docs.items():
            if other is not entry and other.path is not None and other.path.parent == entry.path.parent:
                other.result = None
                ls.schedule(uri)
        if ls.features.pull and ls.features.diagnostic_refresh:
            ls.workspace_diagnostic_refresh(None)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    @_guard(lambda: None)
    def did_close(ls: GolspLeaksServer, params: types.DidCloseTextDocumentParams) -> None:
        entry = ls.docs.pop(params.text_document.uri, None)
        if entry is not None and entry.task is not None:
            entry.task.cancel()
        if not ls.features.pull:
            ls.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[])
            )

    @server.feature(
        types.TEXT_DOCUMENT_DIAGNOSTIC,
        types.DiagnosticOptions(identifier="golsp-leaks", inter_file_dependencies=False, workspace_diagnostics=False),
    )
    @_guard(lambda: types.RelatedFullDocumentDiagnosticReport(items=[]))
    def diagnostic(
        ls: GolspLeaksServer, params: types.DocumentDiagnosticParams
    ) -> types.RelatedFullDocumentDiagnosticReport | types.RelatedUnchangedDocumentDiagnosticReport:
        entry = ls.docs.get(params.text_document.uri)
        if entry is None:
            return types.RelatedFullDocumentDiagnosticReport(items=[])
        result = ls.analyse(entry)
        if params.previous_result_id == result.result_id:
            return types.RelatedUnchangedDocumentDiagnosticReport(result_id=result.result_id)
        return types.RelatedFullDocumentDiagnosticReport(items=result.lsp, result_id=result.result_id)

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(
            code_action_kinds=[types.CodeActionKind.QuickFix, types.CodeActionKind.SourceFixAll, FIX_ALL_KIND],
            resolve_provider=True,
        ),
    )
    @_guard(list)
    def code_action(ls: GolspLeaksServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        return _code_actions(ls, params)

    @server.feature(types.CODE_ACTION_RESOLVE)
    @_guard(lambda: None)
    def code_action_resolve(ls: GolspLeaksServer, action: types.CodeAction) -> types.CodeAction:
        edit = _resolve_edit(ls, action.data)
        if edit is not None:
            action.edit = edit
        return action

    return server


_KEYS = {"rules", "severity", "exclude", "debouncems", "trace"}


def _section(settings: Any) -> Any:
    """Our settings from what a client sent: the ``golspLeaks`` section when it is wrapped in one
    (Helix, Neovim and VS Code send it so), else the object itself when it holds only our keys."""
    if not isinstance(settings, Mapping):
        return settings
    if SECTION in settings:
        return settings[SECTION]
    if all(str(k).replace("-", "").replace("_", "").lower() in _KEYS for k in settings):
        return dict(settings)
    return None  # settings of other servers only


async def _pull_configuration(ls: GolspLeaksServer) -> None:
    if ls.features.configuration:
        try:
            answer = await asyncio.wait_for(
                ls.workspace_configuration_async(
                    types.ConfigurationParams(items=[types.ConfigurationItem(section=SECTION)])
                ),
                timeout=5,
            )
            value = answer[0] if answer else None
            ls.settings_state.client = value if isinstance(value, Mapping) else None
        except Exception as exc:
            log.warning("workspace/configuration failed: %r", exc)
    ls.settings_changed()


# --- code actions ------------------------------------------------------------------


def _wanted(only: list[str] | None, kind: str) -> bool:
    if not only:
        return True
    return any(kind == k or kind.startswith(k + ".") for k in only)


def _code_actions(ls: GolspLeaksServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    uri = params.text_document.uri
    entry = ls.docs.get(uri)
    if entry is None:
        return []
    result = ls.analyse(entry)
    doc = entry.document
    lines = doc.lines
    r = params.range
    start = lines.offset(r.start.line, r.start.character, ls.encoding)
    end = lines.offset(r.end.line, r.end.character, ls.encoding)
    if end < start:
        start, end = end, start
    only = [str(k) for k in params.context.only] if params.context.only else None
    actions: list[types.CodeAction] = []
    for index, (diagnostic, lsp) in enumerate(zip(result.diagnostics, result.lsp, strict=True)):
        finding = diagnostic.finding
        if finding.start > end or finding.end < start:
            continue
        if not _wanted(only, types.CodeActionKind.QuickFix.value):
            continue
        for fix_index, fix in enumerate(finding.fixes):
            actions.append(
                _action(
                    ls,
                    entry,
                    fix.label,
                    types.CodeActionKind.QuickFix,
                    {"uri": uri, "result": result.result_id, "kind": "fix", "index": index, "fix": fix_index},
                    [lsp],
                    preferred=fix.safe,
                )
            )
        actions.append(
            _action(
                ls,
                entry,
                f"Ignore {finding.rule} here (//golsp-leaks:ignore)",
                types.CodeActionKind.QuickFix,
                {"uri": uri, "result": result.result_id, "kind": "suppress", "index": index},
                [lsp],
                preferred=False,
            )
        )
    if _wanted(only, FIX_ALL_KIND) and any(automatic_fix(d.finding.fixes) for d in result.diagnostics):
        actions.append(
            _action(
                ls,
                entry,
                "Fix all golsp-leaks findings",
                FIX_ALL_KIND,
                {"uri": uri, "result": result.result_id, "kind": "fixAll"},
                None,
                preferred=False,
            )
        )
    return actions


def _action(
    ls: GolspLeaksServer,
    entry: _Open,
    title: str,
    kind: str,
    data: dict[str, Any],
    diagnostics: list[types.Diagnostic] | None,
    *,
    preferred: bool,
) -> types.CodeAction:
    action = types.CodeAction(
        title=title.replace("`", ""),  # titles are plain text in every editor
        kind=kind,
        diagnostics=diagnostics,
        is_preferred=preferred or None,
        data=data,
    )
    if not ls.features.resolve_edit:
        action.edit = _resolve_edit(ls, data)
    return action


def _edits_for(result: _Result, data: Mapping[str, Any], source: bytes) -> list[Edit] | None:
    kind = data.get("kind")
    if kind == "fixAll":
        chosen: list[Edit] = []
        for diagnostic in result.diagnostics:
            fix = automatic_fix(diagnostic.finding.fixes)  # safe fixes only, as `check --fix`
            if fix is not None and not overlapping([*chosen, *fix.edits]):
                chosen.extend(fix.edits)
        return chosen
    index = data.get("index")
    if not isinstance(index, int) or not 0 <= index < len(result.diagnostics):
        return None
    finding = result.diagnostics[index].finding
    if kind == "suppress":
        return [suppression_edit(source, finding)]
    fix_index = data.get("fix")
    if kind == "fix" and isinstance(fix_index, int) and 0 <= fix_index < len(finding.fixes):
        return list(finding.fixes[fix_index].edits)
    return None


def _resolve_edit(ls: GolspLeaksServer, data: Any) -> types.WorkspaceEdit | None:
    if not isinstance(data, Mapping):
        return None
    uri = data.get("uri")
    entry = ls.docs.get(uri) if isinstance(uri, str) else None
    if entry is None:
        return None
    result = ls.analyse(entry)
    if data.get("result") != result.result_id:
        log.info("code action for %s is out of date (the document changed); not applied", uri)
        return None
    edits = _edits_for(result, data, entry.document.source)
    if not edits:
        return None
    doc = entry.document
    return convert.workspace_edit(
        doc.uri,
        doc.version,
        convert.text_edits(edits, doc.lines, ls.encoding),
        document_changes=ls.features.document_changes,
    )
