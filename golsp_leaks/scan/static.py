"""Runtime findings meet static ones: a static finding in the same function is "confirmed at runtime".

Only a static finding of a kind that can cause what the scan saw counts: a
blocked send explains goroutines that pile up, not descriptors that do.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from golsp_leaks.config import Settings
from golsp_leaks.document import LineIndex
from golsp_leaks.engine import Engine
from golsp_leaks.goanalysis.libraries.routes import FunctionSpan, functions_in_source
from golsp_leaks.goanalysis.summaries.gomod import go_version_for
from golsp_leaks.goanalysis.summaries.package import package_facts
from golsp_leaks.goanalysis.syntax.parse import parse
from golsp_leaks.scan.report import Place, RuntimeFinding

_GOROUTINE_CAUSES = frozenset(
    (
        "blocked-send",
        "goroutine-no-exit",
        "unclosed-channel",
        "ticker-not-stopped",
        "lost-cancel",
        "request-context-escape",
        "unclosed-body",
        "unclosed-rows",
        "unfinished-tx",
        "time-after-in-loop",
    )
)
_FD_CAUSES = frozenset(
    (
        "unclosed-body",
        "unclosed-file",
        "unclosed-rows",
        "unclosed-stmt",
        "unfinished-tx",
        "db-open-per-request",
        "defer-in-loop",
    )
)
_HEAP_CAUSES = frozenset(
    (
        "large-context-value",
        "unbounded-global-growth",
        "request-context-escape",
        "goroutine-no-exit",
        "blocked-send",
        "defer-in-loop",
    )
)
#: The static rules whose findings can explain each runtime rule's.
CAUSES: dict[str, frozenset[str]] = {
    "runtime-goroutine-growth": _GOROUTINE_CAUSES,
    "runtime-goroutine-leak": _GOROUTINE_CAUSES,
    "runtime-fd-growth": _FD_CAUSES,
    "runtime-heap-growth": _HEAP_CAUSES,
    "runtime-latency-growth": frozenset(("unbounded-global-growth", "db-open-per-request", "defer-in-loop")),
}


def _static_findings(path: Path, engine: Engine) -> tuple[list[FunctionSpan], list[Place]]:
    try:
        source = path.read_bytes()
    except OSError:
        return [], []
    tree = parse(source)
    diagnostics = engine.analyze(
        source,
        tree,
        Settings(),
        path=str(path),
        go_version=go_version_for(path),
        package=package_facts(str(path), source, tree),
    )
    lines = LineIndex(source)
    places = [
        Place(str(path), lines.byte_column(d.finding.start)[0], f"{d.rule}: {d.finding.message}")
        for d in diagnostics
    ]
    return functions_in_source(source), places


def _function_at(functions: list[FunctionSpan], line: int) -> FunctionSpan | None:
    for function in functions:
        if function.start_line <= line <= function.end_line:
            return function
    return None


_CALL = re.compile(rb"\b([A-Za-z_]\w*)\s*\(")


def _called_names(path: Path, function: FunctionSpan) -> set[str]:
    """The names the function's body calls (``s.store.Search(...)`` gives ``Search``)."""
    try:
        lines = path.read_bytes().split(b"\n")[function.start_line : function.end_line]
    except OSError:
        return set()
    return {m.group(1).decode() for line in lines for m in _CALL.finditer(line)}


class _Statics:
    """The static findings of the workspace's files, analysed once each."""

    def __init__(self, workspace: Path) -> None:
        self.workspace = workspace
        self.engine = Engine()
        self.cache: dict[str, tuple[list[FunctionSpan], list[Place]]] = {}

    def of(self, rel: str) -> tuple[list[FunctionSpan], list[Place]]:
        if rel not in self.cache:
            self.cache[rel] = _static_findings(self.workspace / rel, self.engine)
        return self.cache[rel]

    def within(self, rel: str, function: FunctionSpan, causes: frozenset[str]) -> list[Place]:
        """The static findings of rules in ``causes`` inside ``function`` of file ``rel``."""
        return [
            Place(rel, static.line, static.message)
            for static in self.of(rel)[1]
            if static.message.split(":", 1)[0] in causes and function.start_line <= static.line <= function.end_line
        ]

    def in_callees(self, rel: str, function: FunctionSpan, causes: frozenset[str]) -> list[Place]:
        """Those inside the package's functions that ``function`` calls (one level down)."""
        called = _called_names(self.workspace / rel, function)
        found: list[Place] = []
        directory = (self.workspace / rel).parent
        for path in sorted(directory.glob("*.go")):
            if path.name.endswith("_test.go"):
                continue
            other = path.relative_to(self.workspace).as_posix()
            for callee in self.of(other)[0]:
                if callee.name.rsplit(".", 1)[-1] in called and (other, callee) != (rel, function):
                    found.extend(self.within(other, callee, causes))
        return found


def cross_reference(findings: list[RuntimeFinding], workspace: Path) -> list[RuntimeFinding]:
    """The findings, each with the static findings that can explain it.

    Those in the function its line (or a related line) is in; when there are none,
    those in the package's functions that the finding's own function calls (a
    handler whose store method leaves rows open, say).
    """
    statics = _Statics(workspace)
    out: list[RuntimeFinding] = []
    for finding in findings:
        causes = CAUSES.get(finding.rule, frozenset())
        confirms: list[Place] = []
        places = (Place(finding.path, finding.line, ""), *finding.related)
        for place in places:
            function = _function_at(statics.of(place.path)[0], place.line)
            if function is None:
                continue
            for confirmed in statics.within(place.path, function, causes):
                if confirmed not in confirms:
                    confirms.append(confirmed)
        exact = [c for c in confirms if any(c.path == p.path and c.line == p.line for p in places)]
        confirms = exact or confirms
        if not confirms:
            own = _function_at(statics.of(finding.path)[0], finding.line)
            if own is not None:
                confirms = statics.in_callees(finding.path, own, causes)
        if confirms:
            names = ", ".join(f"{c.message.split(':', 1)[0]} at {c.path}:{c.line}" for c in confirms)
            finding = replace(
                finding,
                confirms=tuple(confirms),
                message=f"{finding.message}; confirms the static finding {names}",
            )
        out.append(finding)
    return out
