"""The scan report, ``.golsp-leaks/scan.json`` in the workspace: written by the scan, read by the server.

Lines are 1-based; ``line_text`` is the finding's source line (stripped) when the
scan ran, so that a reader can tell when the code has changed under it.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPORT_DIR = ".golsp-leaks"
REPORT_NAME = "scan.json"
FORMAT_VERSION = 1
#: How a static finding that a runtime one confirms is labelled, in the CLI and the editor.
CONFIRMED = "confirmed at runtime"


def report_path(workspace: Path) -> Path:
    return workspace / REPORT_DIR / REPORT_NAME


@dataclass(frozen=True)
class Place:
    """A place in the workspace: a path relative to it, a 1-based line, and what it is."""

    path: str
    line: int
    message: str


@dataclass(frozen=True)
class RuntimeFinding:
    """One runtime finding: the rule, the endpoint that caused it and the line it points at."""

    rule: str
    severity: str
    endpoint: str
    path: str
    line: int
    message: str
    line_text: str = ""
    requests: int = 0
    growth: float = 0.0
    per_request: float = 0.0
    related: tuple[Place, ...] = ()
    #: Static findings in the same function that this one confirms.
    confirms: tuple[Place, ...] = ()


@dataclass
class EndpointSummary:
    endpoint: str
    requests: int
    errors: int
    statuses: dict[str, int]
    latency_ms: dict[str, float]
    goroutines: list[int]
    fds: list[int | None]
    threads: list[int | None]
    rss: list[int | None]
    heap_alloc: list[int]
    handler: str | None = None


@dataclass
class ScanReport:
    target: str
    pprof: str
    leak_profile: bool
    elapsed: float
    findings: list[RuntimeFinding] = field(default_factory=list)
    endpoints: list[EndpointSummary] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        document = asdict(self)
        document["version"] = FORMAT_VERSION
        return document


def _places(items: Any) -> tuple[Place, ...]:
    return tuple(Place(str(p["path"]), int(p["line"]), str(p.get("message", ""))) for p in items or ())


def from_json(document: dict[str, Any]) -> ScanReport:
    """A report read back; unknown keys are ignored, a missing key is a ``KeyError``/``TypeError``."""
    findings = [
        RuntimeFinding(
            rule=str(f["rule"]),
            severity=str(f["severity"]),
            endpoint=str(f["endpoint"]),
            path=str(f["path"]),
            line=int(f["line"]),
            message=str(f["message"]),
            line_text=str(f.get("line_text", "")),
            requests=int(f.get("requests", 0)),
            growth=float(f.get("growth", 0.0)),
            per_request=float(f.get("per_request", 0.0)),
            related=_places(f.get("related")),
            confirms=_places(f.get("confirms")),
        )
        for f in document.get("findings", [])
    ]
    return ScanReport(
        target=str(document.get("target", "")),
        pprof=str(document.get("pprof", "")),
        leak_profile=bool(document.get("leak_profile", False)),
        elapsed=float(document.get("elapsed", 0.0)),
        findings=findings,
        notes=[str(n) for n in document.get("notes", [])],
    )


def write_report(workspace: Path, report: ScanReport) -> Path:
    """Write the report atomically (a reader never sees half of it); returns its path."""
    path = report_path(workspace)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps(report.to_json(), indent=2) + "\n"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".scan-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_report(path: Path) -> ScanReport | None:
    """The report at ``path``; None when it is missing or unreadable."""
    try:
        return from_json(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None
