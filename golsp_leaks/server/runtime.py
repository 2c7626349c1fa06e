"""The findings of ``golsp-leaks scan`` shown in open Go files.

The scan writes ``.golsp-leaks/scan.json`` in its workspace; a file is shown the
findings of the nearest such report in one of its parent directories.  A client
that can register file watchers dynamically is asked to watch
``**/.golsp-leaks/scan.json`` and tells of a new report with
``workspace/didChangeWatchedFiles``; with any other client, a poller off the
event loop (one ``stat`` per known report a second) notices it.  Either way the
server is asked to publish again.  A finding is shown only while its
line still holds the code it was found on: when the line has moved, the nearest
line with that text is used; when no line has it, the finding is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

from lsprotocol import types
from pygls.uris import to_fs_path

from golsp_leaks.document import Encoding, LineIndex, content_span
from golsp_leaks.scan.report import (
    CONFIRMED,
    REPORT_DIR,
    REPORT_NAME,
    Place,
    RuntimeFinding,
    ScanReport,
    read_report,
)
from golsp_leaks.server.convert import lsp_range

log = logging.getLogger(__name__)

SOURCE = "golsp-leaks (runtime)"
#: How far (in lines) a finding's code may have moved and still be found.
SEARCH_LINES = 200
#: What the client is asked to watch, where it can register watchers dynamically.
REPORT_GLOB = f"**/{REPORT_DIR}/{REPORT_NAME}"
WATCH_REGISTRATION = types.Registration(
    id="golsp-leaks/scan-reports",
    method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
    register_options=types.DidChangeWatchedFilesRegistrationOptions(
        watchers=[types.FileSystemWatcher(glob_pattern=REPORT_GLOB)]
    ),
)
_SEVERITY = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
    "information": types.DiagnosticSeverity.Information,
    "hint": types.DiagnosticSeverity.Hint,
}


class RuntimeReports:
    """The scan reports near the open files, re-read when they change."""

    def __init__(self, on_change: Callable[[], None], interval: float = 1.0) -> None:
        self.on_change = on_change
        self.interval = interval
        #: report path -> (mtime, report or None when absent)
        self._reports: dict[Path, tuple[float, ScanReport | None]] = {}
        self._task: asyncio.Task[None] | None = None
        #: Whether the client watches the reports for us (else they are polled).
        self.watched = False
        #: :meth:`covers` by file, asked at every answer with diagnostics: emptied whenever a
        #: report is read again.
        self._covered: dict[Path, bool] = {}

    # ------------------------------------------------------------------ reports

    def _load(self, path: Path) -> tuple[float, ScanReport | None]:
        try:
            mtime = path.stat().st_mtime
        except OSError:
            return 0.0, None
        return mtime, read_report(path)

    def covers(self, file: Path) -> bool:
        """Whether a scan report lies above ``file`` (the paths looked at once, not at every answer)."""
        found = self._covered.get(file)
        if found is None:
            if len(self._covered) >= 1024:
                self._covered.clear()
            found = self._covered[file] = self._report_for(file.resolve()) is not None
        return found

    def _report_for(self, file: Path) -> tuple[Path, ScanReport] | None:
        """The nearest report above ``file`` (its workspace directory and the report)."""
        for directory in list(file.parents)[:12]:
            path = directory / REPORT_DIR / REPORT_NAME
            if path not in self._reports:
                self._reports[path] = self._load(path)
            report = self._reports[path][1]
            if report is not None:
                return directory, report
        return None

    def _changed(self) -> bool:
        changed = False
        for path, (mtime, _) in list(self._reports.items()):
            try:
                now = path.stat().st_mtime
            except OSError:
                now = 0.0
            if now != mtime:
                self._reports[path] = self._load(path)
                self._covered.clear()
                changed = True
        return changed

    def reload(self, paths: Iterable[Path]) -> bool:
        """Re-read reports the client says changed; whether one that a file was shown changed."""
        changed = False
        for path in paths:
            path = path.resolve()
            if path in self._reports:
                before = self._reports[path]
                self._reports[path] = self._load(path)
                self._covered.clear()
                changed = changed or self._reports[path] != before
        return changed

    # ------------------------------------------------------------------ watching or polling

    async def watch(
        self, register: Callable[[types.RegistrationParams], Awaitable[None]], dynamic_registration: bool
    ) -> None:
        """Have the client watch the reports when it can register watchers; otherwise poll them."""
        if dynamic_registration:
            try:
                await asyncio.wait_for(register(types.RegistrationParams([WATCH_REGISTRATION])), 10.0)
            except Exception as exc:  # an error answer or none: poll instead
                log.info("the client did not register the scan report watcher (%r): polling", exc)
            else:
                self.watched = True
                return
        self.start()

    async def changed_files(self, changes: Iterable[types.FileEvent]) -> None:
        """``workspace/didChangeWatchedFiles``: re-read the reports among ``changes``, publish again if one changed."""
        paths: list[Path] = []
        for change in changes:
            fs = to_fs_path(change.uri)
            if fs and Path(fs).name == REPORT_NAME and Path(fs).parent.name == REPORT_DIR:
                paths.append(Path(fs))
        changed: bool = bool(paths) and await asyncio.to_thread(self.reload, paths)
        if changed:
            self.on_change()

    @property
    def polling(self) -> bool:
        return self._task is not None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._poll())

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                changed = await asyncio.to_thread(self._changed)
            except Exception:
                log.exception("reading the scan reports failed")
                continue
            if changed:
                with contextlib.suppress(Exception):
                    self.on_change()

    # ------------------------------------------------------------------ diagnostics

    def merge(
        self,
        static: list[types.Diagnostic],
        path: Path | None,
        source: bytes,
        lines: LineIndex,
        encoding: Encoding,
        *,
        related_support: bool,
    ) -> list[types.Diagnostic]:
        """The static diagnostics (those a runtime finding confirms say so) and the file's runtime findings."""
        if path is None:
            return static
        found = self._report_for(path.resolve())
        if found is None:
            return static
        workspace, report = found
        try:
            rel = path.resolve().relative_to(workspace).as_posix()
        except ValueError:
            return static
        text_lines = source.split(b"\n")
        runtime: list[types.Diagnostic] = []
        confirmed: dict[tuple[int, str], str] = {}
        for finding in report.findings:
            if finding.path != rel:
                # Found elsewhere (a handler), it may confirm a static finding here (in what it calls).
                for place in finding.confirms:
                    if place.path == rel:
                        confirmed[(place.line - 1, place.message.split(":", 1)[0])] = finding.endpoint
                continue
            row = _locate(text_lines, finding.line - 1, finding.line_text)
            if row is None:
                continue
            runtime.append(_diagnostic(finding, row, rel, workspace, source, lines, encoding, related_support))
            moved = row - (finding.line - 1)
            for place in finding.confirms:
                if place.path == rel:
                    rule = place.message.split(":", 1)[0]
                    confirmed[(place.line - 1 + moved, rule)] = finding.endpoint
        if not runtime and not confirmed:
            return static
        merged = [_confirm(d, confirmed) for d in static] if confirmed else list(static)
        return [*merged, *runtime]


def _confirm(diagnostic: types.Diagnostic, confirmed: dict[tuple[int, str], str]) -> types.Diagnostic:
    endpoint = confirmed.get((diagnostic.range.start.line, str(diagnostic.code)))
    if endpoint is None:
        return diagnostic
    annotated = copy.copy(diagnostic)
    annotated.message = f"{diagnostic.message} ({CONFIRMED} by a scan of {endpoint})"
    return annotated


def _locate(text_lines: list[bytes], row: int, line_text: str) -> int | None:
    """The 0-based row holding ``line_text`` nearest to ``row`` (``row`` itself when the text is unknown)."""
    if not line_text:
        return row if 0 <= row < len(text_lines) else None
    wanted = line_text.encode()
    for distance in range(SEARCH_LINES + 1):
        for candidate in (row - distance, row + distance):
            if 0 <= candidate < len(text_lines) and text_lines[candidate].strip() == wanted:
                return candidate
    return None


def _line_range(lines: LineIndex, source: bytes, row: int, encoding: Encoding) -> types.Range:
    return lsp_range(lines, *content_span(lines, source, row), encoding)


def _diagnostic(
    finding: RuntimeFinding,
    row: int,
    rel: str,
    workspace: Path,
    source: bytes,
    lines: LineIndex,
    encoding: Encoding,
    related_support: bool,
) -> types.Diagnostic:
    moved = row - (finding.line - 1)
    places = [*finding.related, *(Place(p.path, p.line, f"{CONFIRMED}: {p.message}") for p in finding.confirms)]
    related: list[types.DiagnosticRelatedInformation] = []
    for place in places:
        if place.path == rel:
            place_row = place.line - 1 + moved
            if not 0 <= place_row < lines.line_count:
                continue
            location = types.Location(
                (workspace / rel).as_uri(), _line_range(lines, source, place_row, encoding)
            )
        else:
            position = types.Position(max(place.line - 1, 0), 0)
            location = types.Location((workspace / place.path).as_uri(), types.Range(position, position))
        related.append(types.DiagnosticRelatedInformation(location=location, message=place.message))
    message = f"{finding.message} [{finding.endpoint}]"
    if related and not related_support:
        message += " (" + "; ".join(f"{p.path}:{p.line}: {p.message}" for p in places) + ")"
    return types.Diagnostic(
        range=_line_range(lines, source, row, encoding),
        message=message,
        severity=_SEVERITY.get(finding.severity, types.DiagnosticSeverity.Warning),
        code=finding.rule,
        source=SOURCE,
        related_information=related if related and related_support else None,
        data={"rule": finding.rule, "runtime": True},
    )
