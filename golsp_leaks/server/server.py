"""The language server: thin wiring between LSP and the engine.

Documents live in :class:`golsp_leaks.document.Document` (bytes, LSP line
index, incrementally re-parsed tree-sitter tree).  Diagnostics are pushed
(``publishDiagnostics`` with the document version, after a debounce that a
newer change cancels) to clients without pull diagnostics, and served through
``textDocument/diagnostic`` (with ``resultId`` and unchanged reports) to the
clients that have them.  Code actions offer each fix, a fix-all source action
and a suppression comment; their edits are computed at resolve time for
clients that can resolve ``edit``, and included directly for the others.

Analysis runs on one background thread, never on the event loop: requests
about other documents are answered while a large file is analysed.  The
engine is asked, before each declaration it has to analyse, whether the
document has changed since; if so the analysis stops and the newest version
is analysed instead (the latest change wins), and every request waiting for
diagnostics gets those of the newest version.  Requests are ``async``: a
``$/cancelRequest`` cancels the one waiting, and the client gets
``RequestCancelled``.

Per keystroke the work follows what changed: the engine hands back the very
same :class:`~golsp_leaks.engine.Block` for every declaration that did not
change, and the JSON of a block's diagnostics is kept per document under
(block, row) and reused; a pull client gets ``unchanged`` when no block moved.

Every handler logs and carries on: no input from a client takes the server down.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import functools
import gc
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
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
from golsp_leaks.document import Document, Encoding, LineIndex, encode_text
from golsp_leaks.engine import Block, Engine, FileAnalysis, Superseded
from golsp_leaks.fixes.apply import overlapping
from golsp_leaks.fixes.suppress import suppression_edit
from golsp_leaks.goanalysis.summaries import overlay
from golsp_leaks.goanalysis.summaries.gomod import go_version_for
from golsp_leaks.goanalysis.summaries.package import forget as forget_package_file
from golsp_leaks.goanalysis.summaries.package import invalidate, package_facts, source_facts
from golsp_leaks.goanalysis.syntax.parse import parse
from golsp_leaks.model import AnalysisStats, Diagnostic, Edit, automatic_fix
from golsp_leaks.rules import rule_ids
from golsp_leaks.server import convert
from golsp_leaks.server.protocol import GolspProtocol, RawText, negotiated_encoding
from golsp_leaks.server.runtime import RuntimeReports

log = logging.getLogger("golsp_leaks.server")

FIX_ALL_KIND = f"{types.CodeActionKind.SourceFixAll.value}.golsp-leaks"
F = TypeVar("F", bound=Callable[..., Any])


_Key = tuple[int, int, int]

#: A full garbage collection after this many analyses.  The server collects the old generation
#: rarely (``golsp_leaks.server.run`` raises the thresholds, for latency), and what an analysis
#: leaves behind in cycles — the control-flow graphs and scopes of the declarations it looked at,
#: which hold the syntax tree of that version of the file — reaches the old generation while the
#: next version is analysed: without this, it piles up edit after edit.
COLLECT_EVERY = 200


def _mtime(config: Path | None) -> float | None:
    """The modification time of a configuration file: 0.0 for none, None for one gone since."""
    if config is None:
        return 0.0
    try:
        return config.stat().st_mtime
    except OSError:
        return None


@dataclass(frozen=True, eq=False)
class _Part:
    """The diagnostics of one block at one row: as JSON objects, and as JSON text."""

    items: list[Any]
    text: str


_Converted = dict[tuple[Block, int], _Part]


@dataclass
class _Result:
    """The analysis of one state of one document: its diagnostics as JSON, and the blocks they come from."""

    key: _Key
    version: int | None
    analysis: FileAnalysis
    parts: list[_Part]
    result_id: str
    converted: _Converted

    @functools.cached_property
    def items(self) -> list[Any]:
        return [item for part in self.parts for item in part.items]

    @functools.cached_property
    def text(self) -> str:
        """``items`` as the text of a JSON array."""
        return "[" + ",".join(part.text for part in self.parts if part.text) + "]"

    @functools.cached_property
    def diagnostics(self) -> list[Diagnostic]:
        """In the order of ``items``."""
        return self.analysis.diagnostics()


@dataclass
class _Job:
    """What the analysis thread is given: a snapshot of the document, taken on the event loop."""

    key: _Key
    version: int | None
    uri: str
    source: bytes
    tree: Any  # a copy of the document's tree, or None: parse in the thread
    path: Path | None
    excluded: bool
    settings: Settings
    stale: Callable[[], bool]
    previous: _Converted


@dataclass
class _Open:
    """A document and what the server knows about it."""

    document: Document
    path: Path | None
    serial: int
    edits: int = 0
    epoch: int = 0  # bumped when what is on disk around it changed (a save of another file)
    closed: bool = False
    result: _Result | None = None
    results: int = 0  # distinct diagnostic sets so far, for result ids
    task: asyncio.Task[None] | None = None
    analysis: asyncio.Task[_Result] | None = None
    analysis_key: _Key | None = None
    #: The result id of the diagnostics last shown: published (push) or pulled by the client.
    shown: str | None = None
    #: A re-analysis after another open file of the package changed (see ``siblings_changed``).
    refresh: asyncio.Task[None] | None = None


class _Closed(Exception):
    """The document was closed while a request waited for its diagnostics."""


@dataclass
class _ClientFeatures:
    pull: bool = False
    resolve_edit: bool = False
    related_information: bool = False
    document_changes: bool = False
    configuration: bool = False
    diagnostic_refresh: bool = False
    watch_files: bool = False

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
            related_information=bool((publish and publish.related_information) or (pull and pull.related_information)),
            document_changes=bool(ws and ws.workspace_edit and ws.workspace_edit.document_changes),
            configuration=bool(ws and ws.configuration),
            diagnostic_refresh=bool(ws and ws.diagnostics and ws.diagnostics.refresh_support),
            watch_files=bool(ws and ws.did_change_watched_files and ws.did_change_watched_files.dynamic_registration),
        )


@dataclass
class _SettingsState:
    init_options: Any = None
    client: Any = None
    generation: int = 0
    cache: dict[tuple[str, float], Settings] = field(default_factory=dict)
    reported: set[str] = field(default_factory=set)
    #: The nearest configuration file of each directory asked about (None: none): looked up once,
    #: not on every request; forgotten on a settings change and on a change of workspace folders.
    configs: dict[Path, Path | None] = field(default_factory=dict)


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


def _guard_async(default: Callable[[], Any]) -> Callable[[F], F]:
    """:func:`_guard` for ``async`` handlers; a cancellation (``$/cancelRequest``) is let through."""

    def decorate(handler: F) -> F:
        @functools.wraps(handler)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return await cast(Callable[..., Awaitable[Any]], handler)(*args, **kwargs)
            except _Closed:
                return default()
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
        self.analyses = 0
        #: The one thread analyses run on (the engine's caches are not shared between threads).
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="golsp-analysis")
        # A new scan report re-publishes everything, as a settings change does.
        self.runtime = RuntimeReports(self.settings_changed)

    @property
    def rpc(self) -> GolspProtocol:
        return cast(GolspProtocol, self.protocol)

    # --- settings --------------------------------------------------------------

    def config_for(self, start: Path | None) -> Path | None:
        """The nearest configuration file of ``start`` (a directory), from the cache."""
        if start is None:
            return None
        configs = self.settings_state.configs
        if start not in configs:
            if len(configs) >= 1024:
                configs.clear()
            configs[start] = find_config_file(start)
        return configs[start]

    def settings_for(self, path: Path | None) -> Settings:
        state = self.settings_state
        start = path.parent if path is not None else self.root
        config = self.config_for(start)
        mtime = _mtime(config)
        if mtime is None:  # removed since it was found: looked up again, and the new one's time read
            if start is not None:
                state.configs.pop(start, None)
            config = self.config_for(start)
            mtime = _mtime(config)
        key = (f"{config}|{state.generation}", mtime or 0.0)
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
        self.settings_state.configs.clear()  # a configuration file may have come or gone
        self.settings_for(None)  # report problems now, not at the next edit
        for uri, entry in self.docs.items():
            entry.result = None
            if not self.features.pull:
                self.schedule(uri, 0)
        if self.features.pull and self.features.diagnostic_refresh and self.docs:
            self.workspace_diagnostic_refresh(None)

    # --- analysis --------------------------------------------------------------

    def _key(self, entry: _Open) -> _Key:
        return (entry.edits, self.settings_state.generation, entry.epoch)

    async def result_of(self, entry: _Open) -> _Result:
        """The diagnostics of the document's newest version, analysed off the event loop if need be."""
        while True:
            if entry.closed:
                raise _Closed
            if entry.result is not None and entry.result.key == self._key(entry):
                return entry.result
            try:
                # Shielded: a cancelled request leaves the analysis running for the others.
                await asyncio.shield(self.start_analysis(entry))
            except Superseded:
                continue  # a newer change came in: analyse that instead

    def start_analysis(self, entry: _Open) -> asyncio.Future[_Result]:
        """The analysis of the document's newest version, started unless it is under way."""
        key = self._key(entry)
        if entry.analysis is None or entry.analysis_key != key:
            entry.analysis_key = key
            entry.analysis = asyncio.ensure_future(self._analyse(entry, self._job(entry, key)))
            entry.analysis.add_done_callback(_retrieve)
        return entry.analysis

    def _job(self, entry: _Open, key: _Key) -> _Job:
        doc = entry.document
        settings = self.settings_for(entry.path)
        generation = self.settings_state.generation

        def stale() -> bool:
            return entry.closed or self._key(entry) != key or self.settings_state.generation != generation

        # Converted diagnostics are reused only under the same settings (docsUrl is in them).
        previous = (
            entry.result.converted
            if entry.result is not None and entry.result.key[1] == generation
            else {}
        )
        return _Job(
            key,
            doc.version,
            doc.uri,
            doc.source,
            doc.tree.copy() if doc.tree is not None else None,
            entry.path,
            self._excluded(entry.path, settings),
            settings,
            stale,
            previous,
        )

    async def _analyse(self, entry: _Open, job: _Job) -> _Result:
        loop = asyncio.get_running_loop()
        analysis, tree, parts, converted = await loop.run_in_executor(self.worker, self._compute, job)
        doc = entry.document
        if doc.tree is None and doc.source is job.source:
            doc.tree = tree  # parsed in the thread: later edits re-parse incrementally from it
        if self._key(entry) != job.key:
            raise Superseded
        previous = entry.result
        if previous is not None and _same(previous.parts, parts):
            result_id = previous.result_id
        else:
            entry.results += 1
            result_id = f"{entry.serial}.{entry.results}"
        entry.result = _Result(job.key, job.version, analysis, parts, result_id, converted)
        return entry.result

    def close(self, uri: str) -> None:
        """``didClose``: the document is no longer open; what was kept of it is let go on the
        analysis thread (see :meth:`forget`)."""
        entry = self.docs.pop(uri, None)
        if entry is None:
            return
        entry.closed = True  # a running analysis of it stops at its next declaration
        entry.result = None
        entry.analysis = None
        if entry.task is not None:
            entry.task.cancel()
        if entry.refresh is not None:
            entry.refresh.cancel()
        if entry.path is not None and overlay.drop(entry.path) and not _same_as_disk(entry.path, entry.document.source):
            self.siblings_changed(entry)  # the package's other files read it from disk again
        doc = entry.document
        tree = doc.tree.copy() if doc.tree is not None else None
        with contextlib.suppress(RuntimeError):  # free what the analysis kept of it, on its thread
            self.worker.submit(self.forget, doc.uri, entry.path, doc.source, tree)

    def forget(self, uri: str, path: Path | None, source: bytes, tree: Any) -> None:
        """Drop what the engine and the package facts keep of a closed document, and free it now.

        The control-flow graphs and scopes of its declarations are cycles that hold its tree:
        only a full collection frees them (see :data:`COLLECT_EVERY`)."""
        self.engine.forget(source, tree, keep=uri)
        forget_package_file(path, source)
        _collect()

    def _compute(self, job: _Job) -> tuple[FileAnalysis, Any, list[_Part], _Converted]:
        """On the analysis thread: parse if need be, learn the package facts, analyse, convert to JSON."""
        tree = job.tree if job.tree is not None else parse(job.source)
        if job.stale():
            raise Superseded
        analysis = FileAnalysis(())
        if not job.excluded:
            stats = AnalysisStats()
            if job.path is not None:
                facts = package_facts(job.path, job.source, tree)
            else:
                facts = source_facts(job.source, tree)
            analysis = self.engine.analyze_blocks(
                job.source,
                tree,
                job.settings,
                path=str(job.path) if job.path else None,
                go_version=go_version_for(job.path) if job.path else None,
                package=facts,
                stats=stats,
                stale=job.stale,
                keep=job.uri,
            )
            for problem in stats.rule_errors:
                log.error("%s: %s", job.uri, problem)
        whole: list[LineIndex] = []

        def whole_lines() -> LineIndex:
            if not whole:
                whole.append(LineIndex(job.source))
            return whole[0]

        self.analyses += 1
        if self.analyses % COLLECT_EVERY == 0:
            _collect()
        converted: _Converted = {}
        parts: list[_Part] = []
        for placed in analysis.blocks:
            cache_key = (placed.block, placed.row)
            part = job.previous.get(cache_key) if placed.block.local else None
            if part is None:
                items = convert.block_items(
                    placed,
                    job.uri,
                    self.encoding,
                    related_support=self.features.related_information,
                    unstructure=self.rpc.converter.unstructure,
                    whole=whole_lines,
                    docs_url=job.settings.docs_url,
                )
                part = _Part(items, ",".join(json.dumps(item, separators=(",", ":")) for item in items))
            if placed.block.local:
                converted[cache_key] = part
            parts.append(part)
        return analysis, tree, parts, converted

    def _excluded(self, path: Path | None, settings: Settings) -> bool:
        if path is None or not settings.exclude:
            return False
        config = self.config_for(path.parent)
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
        # Analysed now, published after the debounce: by then the diagnostics are ready.
        self.start_analysis(entry)
        if entry.task is not None and not entry.task.done():
            entry.task.cancel()
        delay = self.settings_for(entry.path).debounce_ms if delay_ms is None else delay_ms
        entry.task = asyncio.get_running_loop().create_task(self._publish_later(uri, entry, delay))

    async def _publish_later(self, uri: str, entry: _Open, delay_ms: int) -> None:
        if delay_ms > 0:
            await asyncio.sleep(delay_ms / 1000)
        if self.docs.get(uri) is not entry:
            return
        result = await self._newest(uri, entry)
        if result is not None:
            self._publish(uri, entry, result)

    async def _newest(self, uri: str, entry: _Open) -> _Result | None:
        """``result_of``, or None when the document was closed or its analysis failed (logged)."""
        try:
            return await self.result_of(entry)
        except _Closed:
            return None
        except Exception:
            log.exception("analysis of %s failed", uri)
            return None

    def _publish(self, uri: str, entry: _Open, result: _Result) -> None:
        version = "" if result.version is None else f',"version":{int(result.version)}'
        entry.shown = result.result_id
        self.rpc.notify_text(
            types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS,
            f'{{"uri":{json.dumps(uri)}{version},"diagnostics":{self.diagnostics_text(entry, result)}}}',
        )

    # --- the package's other open files ---------------------------------------------

    def buffer_changed(self, entry: _Open) -> None:
        """The document's text is what the package facts read for its file from now on (not the
        disk); re-analyse the package's other open files when that is new."""
        if entry.path is not None and overlay.put(entry.path, entry.document.source):
            self.siblings_changed(entry)

    def siblings_changed(self, entry: _Open) -> None:
        """What the package's other open files read of ``entry``'s file changed: re-analyse them
        after the debounce and after ``entry``'s own analysis (until then their requests are
        answered from what they have), and show their diagnostics again only if these changed."""
        if entry.path is None:
            return
        for uri, other in self.docs.items():
            if other is entry or other.closed or other.path is None or other.path.parent != entry.path.parent:
                continue
            if other.refresh is not None and not other.refresh.done():
                other.refresh.cancel()
            other.refresh = asyncio.get_running_loop().create_task(self._refresh_later(uri, other, entry))

    async def _refresh_later(self, uri: str, entry: _Open, changed: _Open) -> None:
        await asyncio.sleep(self.settings_for(entry.path).debounce_ms / 1000)
        if changed.analysis is not None and not changed.closed:
            await asyncio.wait([changed.analysis])  # the file being edited comes first
        if self.docs.get(uri) is not entry:
            return
        entry.epoch += 1
        before = entry.shown
        result = await self._newest(uri, entry)
        if result is None or result.result_id == before:
            return  # closed, failed, or the same diagnostics: nothing to show
        if not self.features.pull:
            self._publish(uri, entry, result)
        elif self.features.diagnostic_refresh:
            self.workspace_diagnostic_refresh(None)

    # --- runtime findings: golsp_leaks.server.runtime -------------------------------

    def diagnostics_text(self, entry: _Open, result: _Result) -> str:
        """The result's diagnostics as a JSON array, with the scan report's findings for the file.

        Without a report for the file this is the result's own text, converted once per block.
        """
        if entry.path is None or not self.runtime.covers(entry.path):
            return result.text
        doc = entry.document
        converter = self.rpc.converter
        static = [converter.structure(item, types.Diagnostic) for item in result.items]
        merged = self.runtime.merge(
            static, entry.path, doc.source, doc.lines, self.encoding, related_support=self.features.related_information
        )
        return json.dumps([converter.unstructure(d) for d in merged], separators=(",", ":"))


def _same_as_disk(path: Path, source: bytes) -> bool:
    """Is ``source`` what the file at ``path`` holds on disk?"""
    try:
        return path.stat().st_size == len(source) and path.read_bytes() == source
    except OSError:
        return False


def _collect() -> None:
    """A full garbage collection, and the C heap's free pages handed back to the system.

    Syntax trees are C memory, made on the event loop's thread and freed on the analysis
    thread: without the trim, what they leave free stays in the process (glibc only)."""
    gc.collect()
    if _malloc_trim is not None:
        _malloc_trim(0)


def _find_malloc_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


_malloc_trim = _find_malloc_trim()


def _retrieve(task: asyncio.Future[Any]) -> None:
    """Collect what a finished analysis raised (a superseded one that nobody awaited included)."""
    if not task.cancelled() and not isinstance(task.exception(), (Superseded, _Closed, type(None))):
        log.error("analysis failed", exc_info=task.exception())


def _same(a: list[_Part], b: list[_Part]) -> bool:
    """The same blocks' JSON, object for object (so the same diagnostics)."""
    return len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=True))


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
        await ls.runtime.watch(ls.client_register_capability_async, ls.features.watch_files)

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    async def did_change_watched_files(ls: GolspLeaksServer, params: types.DidChangeWatchedFilesParams) -> None:
        await ls.runtime.changed_files(params.changes)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(ls: GolspLeaksServer, params: types.DidChangeConfigurationParams) -> None:
        if ls.features.configuration:
            await _pull_configuration(ls)
            return
        if params.settings is not None:
            ls.settings_state.client = _section(params.settings)
        ls.settings_changed()

    @server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    @_guard(lambda: None)
    def did_change_workspace_folders(ls: GolspLeaksServer, params: types.DidChangeWorkspaceFoldersParams) -> None:
        # Configuration files are looked up again (one may be in a folder just added).
        ls.settings_changed()

    @server.feature(types.SHUTDOWN)
    @_guard(lambda: None)
    def shutdown(ls: GolspLeaksServer, params: Any) -> None:
        # An analysis under way stops at its next declaration, so that the exit does not wait for it.
        for entry in ls.docs.values():
            entry.closed = True
        ls.worker.shutdown(wait=False, cancel_futures=True)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    @_guard(lambda: None)
    def did_open(ls: GolspLeaksServer, params: types.DidOpenTextDocumentParams) -> None:
        item = params.text_document
        ls._serial += 1
        path = to_fs_path(item.uri)
        old = ls.docs.get(item.uri)
        if old is not None:
            old.closed = True
        entry = ls.docs[item.uri] = _Open(
            Document(item.uri, encode_text(item.text), item.version, parse_now=False),  # parsed off the loop
            Path(path) if path and item.uri.startswith("file:") else None,
            ls._serial,
        )
        ls.schedule(item.uri, 0)
        if entry.path is not None:
            overlay.put(entry.path, entry.document.source)
            if not _same_as_disk(entry.path, entry.document.source):
                ls.siblings_changed(entry)

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
                    (r.start.line, r.start.character),
                    (r.end.line, r.end.character),
                    change.text,
                    ls.encoding,
                )
                if not ok:
                    log.warning("%s: change range %s was outside the document or reversed; clamped", uri, r)
            else:
                doc.replace_all(change.text, parse_now=False)
            entry.edits += 1
        doc.version = params.text_document.version
        ls.schedule(uri)
        ls.buffer_changed(entry)

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
                other.epoch += 1
                ls.schedule(uri)
        if ls.features.pull and ls.features.diagnostic_refresh:
            ls.workspace_diagnostic_refresh(None)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    @_guard(lambda: None)
    def did_close(ls: GolspLeaksServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.close(params.text_document.uri)
        if not ls.features.pull:
            ls.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[])
            )

    @server.feature(
        types.TEXT_DOCUMENT_DIAGNOSTIC,
        types.DiagnosticOptions(identifier="golsp-leaks", inter_file_dependencies=False, workspace_diagnostics=False),
    )
    @_guard_async(lambda: types.RelatedFullDocumentDiagnosticReport(items=[]))
    async def diagnostic(
        ls: GolspLeaksServer, params: types.DocumentDiagnosticParams
    ) -> types.RelatedFullDocumentDiagnosticReport | RawText:
        entry = ls.docs.get(params.text_document.uri)
        if entry is None:
            return types.RelatedFullDocumentDiagnosticReport(items=[])
        result = await ls.result_of(entry)
        entry.shown = result.result_id
        result_id = json.dumps(result.result_id)
        if params.previous_result_id == result.result_id:
            return RawText(f'{{"kind":"unchanged","resultId":{result_id}}}')
        return RawText(f'{{"kind":"full","resultId":{result_id},"items":{ls.diagnostics_text(entry, result)}}}')

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(
            code_action_kinds=[
                types.CodeActionKind.QuickFix,
                types.CodeActionKind.SourceFixAll,
                FIX_ALL_KIND,
            ],
            resolve_provider=True,
        ),
    )
    @_guard_async(list)
    async def code_action(ls: GolspLeaksServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        entry = ls.docs.get(params.text_document.uri)
        if entry is None:
            return []
        return _code_actions(ls, params, entry, await ls.result_of(entry))

    @server.feature(types.CODE_ACTION_RESOLVE)
    @_guard_async(lambda: None)
    async def code_action_resolve(ls: GolspLeaksServer, action: types.CodeAction) -> types.CodeAction:
        data = action.data
        if not isinstance(data, Mapping):
            return action
        uri = data.get("uri")
        entry = ls.docs.get(uri) if isinstance(uri, str) else None
        if entry is not None:
            edit = _resolve_edit(ls, data, entry, await ls.result_of(entry))
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


def _code_actions(
    ls: GolspLeaksServer, params: types.CodeActionParams, entry: _Open, result: _Result
) -> list[types.CodeAction]:
    uri = params.text_document.uri
    doc = entry.document
    lines = doc.lines
    r = params.range
    start = lines.offset(r.start.line, r.start.character, ls.encoding)
    end = lines.offset(r.end.line, r.end.character, ls.encoding)
    if end < start:
        start, end = end, start
    only = [str(k) for k in params.context.only] if params.context.only else None
    actions: list[types.CodeAction] = []
    for index, (diagnostic, item) in enumerate(zip(result.diagnostics, result.items, strict=True)):
        finding = diagnostic.finding
        if finding.start > end or finding.end < start:
            continue
        if not _wanted(only, types.CodeActionKind.QuickFix.value):
            continue
        lsp = ls.rpc.converter.structure(item, types.Diagnostic)
        for fix_index, fix in enumerate(finding.fixes):
            actions.append(
                _action(
                    ls,
                    entry,
                    result,
                    fix.label,
                    types.CodeActionKind.QuickFix,
                    {
                        "uri": uri,
                        "result": result.result_id,
                        "kind": "fix",
                        "index": index,
                        "fix": fix_index,
                    },
                    [lsp],
                    preferred=fix.safe,
                )
            )
        actions.append(
            _action(
                ls,
                entry,
                result,
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
                result,
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
    result: _Result,
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
        action.edit = _resolve_edit(ls, data, entry, result)
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


def _resolve_edit(
    ls: GolspLeaksServer, data: Mapping[str, Any], entry: _Open, result: _Result
) -> types.WorkspaceEdit | None:
    if data.get("result") != result.result_id:
        log.info(
            "code action for %s is out of date (the document changed); not applied",
            entry.document.uri,
        )
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
