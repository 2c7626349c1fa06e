"""Runtime findings meet static ones: a static finding in the same function is "confirmed at runtime".

Only a static finding of a kind that can cause what the scan saw counts: a
blocked send explains goroutines that pile up, not descriptors that do.
"""

from __future__ import annotations

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


def cross_reference(findings: list[RuntimeFinding], workspace: Path) -> list[RuntimeFinding]:
    """The findings, each with the static findings of the function its line (or a related line) is in."""
    engine = Engine()
    cache: dict[str, tuple[list[FunctionSpan], list[Place]]] = {}
    out: list[RuntimeFinding] = []
    for finding in findings:
        confirms: list[Place] = []
        places = (Place(finding.path, finding.line, ""), *finding.related)
        for place in places:
            if place.path not in cache:
                cache[place.path] = _static_findings(workspace / place.path, engine)
            functions, statics = cache[place.path]
            function = _function_at(functions, place.line)
            if function is None:
                continue
            causes = CAUSES.get(finding.rule, frozenset())
            for static in statics:
                if static.message.split(":", 1)[0] not in causes:
                    continue
                if function.start_line <= static.line <= function.end_line:
                    confirmed = Place(place.path, static.line, static.message)
                    if confirmed not in confirms:
                        confirms.append(confirmed)
        exact = [c for c in confirms if any(c.path == p.path and c.line == p.line for p in places)]
        confirms = exact or confirms
        if confirms:
            names = ", ".join(f"{c.message.split(':', 1)[0]} at {c.path}:{c.line}" for c in confirms)
            finding = replace(
                finding,
                confirms=tuple(confirms),
                message=f"{finding.message}; confirms the static finding {names}",
            )
        out.append(finding)
    return out
