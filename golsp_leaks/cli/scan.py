"""``golsp-leaks scan``: put a running service's endpoints under load and report what leaked.

Two forms::

    golsp-leaks scan --url http://127.0.0.1:8080 [--pprof http://127.0.0.1:6060]
    golsp-leaks scan [options] -- COMMAND...     # starts the service, scans it, stops it

Exit status: 0 no finding at or above ``--fail-on``, 1 some, 2 a usage error, an
unreachable service or pprof, or a command that exited.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import TextIO
from urllib.parse import urlsplit

import httpx

from golsp_leaks.cli.files import CliError
from golsp_leaks.cli.report import json_document, render_text
from golsp_leaks.cli.run import FileResult, Outcome, ProgressLine, to_reports
from golsp_leaks.cli.sarif import sarif_document
from golsp_leaks.document import LineIndex, content_span
from golsp_leaks.model import Diagnostic, Finding, Related, Severity
from golsp_leaks.scan import DEFAULT_REQUESTS
from golsp_leaks.scan.endpoints import (
    SpecError,
    attach_routes,
    from_routes,
    parse_params,
    parse_spec,
    read_spec_file,
)
from golsp_leaks.scan.process import Service
from golsp_leaks.scan.report import CONFIRMED, RuntimeFinding, ScanReport, report_path, write_report
from golsp_leaks.scan.rules import runtime_rules
from golsp_leaks.scan.scanner import (
    PPROF_HINT,
    Options,
    PprofUnreachable,
    ScanError,
    Scanner,
    is_loopback,
)
from golsp_leaks.scan.static import cross_reference


class ProgressBar(ProgressLine):
    """``[########------------] 120/400 requests`` on a terminal's stderr."""

    WIDTH = 24

    def render(self, done: int, total: int) -> str:
        if not total:  # --duration: no known end
            return f"{done} requests\x1b[K"
        filled = self.WIDTH * min(done, total) // total
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        return f"[{bar}] {done}/{total} requests\x1b[K"


def _headers(values: list[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for value in values:
        name, sep, text = value.partition(":")
        if not sep or not name.strip():
            raise CliError(f"bad --header {value!r}: expected 'NAME: VALUE'")
        headers[name.strip()] = text.strip()
    return headers


def _options(args: argparse.Namespace) -> Options:
    workspace = Path(args.workspace).resolve()
    if not workspace.is_dir():
        raise CliError(f"{args.workspace}: not a directory")
    if args.concurrency < 1 or (args.requests is not None and args.requests < 2):
        raise CliError("--concurrency must be at least 1 and --requests at least 2")
    if args.duration is not None and not 0 < args.duration <= 600:
        raise CliError("--duration must be between 0 and 600 seconds")
    pprof_url = args.pprof or args.url
    for url in (args.url, pprof_url):
        if not url.startswith(("http://", "https://")):
            raise CliError(f"{url}: expected an http:// or https:// URL")
        if not args.allow_remote and not is_loopback(url):
            raise CliError(f"{url} is not a loopback address; pass --allow-remote to scan it")
    try:
        params = parse_params(args.param)
        specs = [parse_spec(s, Path.cwd()) for s in args.endpoint]
        if args.endpoints:
            specs += read_spec_file(Path(args.endpoints))
    except SpecError as exc:
        raise CliError(str(exc)) from exc
    notes: list[str] = []
    if specs:
        endpoints = attach_routes(specs, workspace)
    else:
        endpoints, notes = from_routes(workspace, params)
        if not endpoints:
            raise CliError(
                f"no endpoints: none given (--endpoint) and no routes found in {workspace}"
                + (f" ({len(notes)} skipped for want of --param)" if notes else "")
            )
    requests = args.requests if args.requests is not None or args.duration is not None else DEFAULT_REQUESTS
    return Options(
        target=args.url,
        pprof=pprof_url,
        workspace=workspace,
        endpoints=endpoints,
        concurrency=args.concurrency,
        requests=requests,
        duration=args.duration,
        timeout=args.timeout,
        settle=args.settle,
        headers=_headers(args.header),
        notes=notes,
    )


def _pprof_error(options: Options, detail: str) -> CliError:
    lines = "\n".join("    " + line for line in PPROF_HINT.splitlines())
    return CliError(
        f"net/http/pprof is not reachable at {options.pprof.rstrip('/')}/debug/pprof/ ({detail}).\n"
        f"Add these two lines to the program (the import, and serving it, e.g. in main):\n{lines}\n"
        "then pass --pprof http://127.0.0.1:6060 (or mount it on the service's own address)."
    )


def _refuse_taken_addresses(options: Options) -> None:
    """Before starting COMMAND: nothing may answer at its addresses yet, or the scan would measure that."""
    for url in dict.fromkeys((options.target, options.pprof)):
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            with socket.create_connection((parts.hostname or "127.0.0.1", port), timeout=0.5):
                pass
        except OSError:
            continue
        raise CliError(
            f"something already listens on {parts.hostname}:{port}; stop it, or give the command "
            "other addresses (and --url / --pprof to match)"
        )


def _wait_until_ready(service: Service, options: Options, timeout: float) -> None:
    """Until pprof answers; an error when the command exits, or answers without pprof."""
    deadline = time.monotonic() + timeout
    answered_at: float | None = None
    detail = "no answer"
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        while time.monotonic() < deadline:
            status = service.exited()
            if status is not None:
                tail = service.log_tail()
                raise CliError(
                    f"the command exited with status {status} before it answered"
                    + (f"; its last output:\n{tail}" if tail else "")
                )
            try:
                response = client.get(options.pprof.rstrip("/") + "/debug/pprof/")
                if response.status_code == 200:
                    return
                detail = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                detail = str(exc) or type(exc).__name__
            if answered_at is None:
                with contextlib.suppress(httpx.HTTPError):
                    client.get(options.target)
                    answered_at = time.monotonic()
            elif time.monotonic() - answered_at > 2.0:
                raise _pprof_error(options, detail)
            time.sleep(0.1)
    if answered_at is not None:
        raise _pprof_error(options, detail)
    raise CliError(f"the service did not answer at {options.target} within {timeout:.0f} s")


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (and SIGHUP) end the scan like Ctrl-C, so that the service is stopped all the same."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _outcome(report: ScanReport, workspace: Path) -> Outcome:
    """The runtime findings as a ``check`` outcome, so that the same reporters print them."""
    by_path: dict[str, list[RuntimeFinding]] = {}
    for finding in report.findings:
        by_path.setdefault(finding.path, []).append(finding)
    outcome = Outcome(files_checked=len(by_path), warnings=list(report.notes))
    for rel, findings in sorted(by_path.items()):
        fs_path = workspace / rel
        try:
            source = fs_path.read_bytes()
        except OSError:
            continue
        lines = LineIndex(source)
        diagnostics: list[Diagnostic] = []
        for finding in findings:
            start, end = content_span(lines, source, finding.line - 1)
            related = tuple(
                Related(*content_span(lines, source, place.line - 1), message)
                for place, message in (
                    *((p, p.message) for p in finding.related),
                    *((p, f"{CONFIRMED}: {p.message}") for p in finding.confirms),
                )
                if place.path == rel
            )
            diagnostics.append(
                Diagnostic(
                    Finding(finding.rule, start, end, f"{finding.message} [{finding.endpoint}]", related),
                    Severity.parse(finding.severity),
                )
            )
        display = os.path.relpath(fs_path) if not os.path.relpath(fs_path).startswith("..") else str(fs_path)
        outcome.files.append(FileResult(display, str(fs_path), to_reports(source, diagnostics)))
    return outcome


def run(args: argparse.Namespace, out: TextIO) -> int:
    command = list(args.service_command)
    if command and command[0] == "--":
        command = command[1:]
    options = _options(args)
    progress = None
    if not args.no_progress and sys.stderr.isatty():
        progress = ProgressBar(sys.stderr)
    service: Service | None = None
    try:
        with _terminate_as_interrupt(), contextlib.ExitStack() as stack:
            if command:
                _refuse_taken_addresses(options)
                log = report_path(options.workspace).parent / "scan-service.log"
                try:
                    service = stack.enter_context(Service(command, log))
                except OSError as exc:
                    raise CliError(f"cannot start {command[0]}: {exc.strerror or exc}") from exc
                _wait_until_ready(service, options, args.start_timeout)
            running = service
            scanner = Scanner(
                options,
                stats=running.stats if running is not None else None,
                progress=progress,
                alive=(lambda: running.exited() is None) if running is not None else None,
            )
            try:
                report = asyncio.run(scanner.run())
            except PprofUnreachable as exc:
                raise _pprof_error(options, str(exc)) from exc
            except ScanError as exc:
                raise CliError(str(exc)) from exc
    finally:
        if progress is not None:
            progress.clear()
    report.findings = cross_reference(report.findings, options.workspace)
    path = write_report(options.workspace, report)
    outcome = _outcome(report, options.workspace)
    if args.format == "json":
        document = json_document(outcome)
        document["scan"] = report.to_json()
        out.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    elif args.format == "sarif":
        out.write(json.dumps(sarif_document(outcome, runtime_rules()), indent=2) + "\n")
    else:
        out.write(render_text(outcome))
        for note in report.notes:
            print(f"note: {note}", file=sys.stderr)
        requests = sum(e.requests for e in report.endpoints)
        print(
            f"scanned {len(report.endpoints)} endpoints ({requests:,} requests) in {report.elapsed:.1f} s: "
            f"{len(report.findings)} runtime finding{'' if len(report.findings) == 1 else 's'}; "
            f"report in {os.path.relpath(path)}",
            file=sys.stderr,
        )
    if args.fail_on == "never":
        return 0
    threshold = Severity.parse(args.fail_on)
    return 1 if any(Severity.parse(f.severity) >= threshold for f in report.findings) else 0
