"""The values that flow from the rules to the outputs.

Everything here is in byte offsets into the UTF-8 source of one file.  Lines,
columns and position encodings are the business of the outputs (the LSP server
and the CLI reporters), which convert with :class:`golsp_leaks.document.LineIndex`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace


class Severity(enum.IntEnum):
    """How serious a finding is; higher is more severe."""

    HINT = 1
    INFORMATION = 2
    WARNING = 3
    ERROR = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        """Parse ``error``, ``warning``, ``information`` (or ``info``) and ``hint``."""
        key = text.strip().lower()
        if key == "info":
            key = "information"
        for sev in cls:
            if sev.label == key:
                return sev
        raise ValueError(f"unknown severity {text!r} (expected error, warning, information or hint)")

    def raised(self) -> Severity:
        """One step more severe (an error stays an error)."""
        return Severity(min(self.value + 1, Severity.ERROR.value))


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace ``source[start:end]`` with ``text``."""

    start: int
    end: int
    text: str

    def shifted(self, delta: int) -> Edit:
        return Edit(self.start + delta, self.end + delta, self.text)


@dataclass(frozen=True, slots=True)
class Fix:
    """A quick fix: a title and the edits that make it."""

    title: str
    edits: tuple[Edit, ...]
    preferred: bool = False

    def shifted(self, delta: int) -> Fix:
        return replace(self, edits=tuple(e.shifted(delta) for e in self.edits))


@dataclass(frozen=True, slots=True)
class Related:
    """A place that explains a finding, e.g. the return reached without ``cancel()``."""

    start: int
    end: int
    message: str

    def shifted(self, delta: int) -> Related:
        return Related(self.start + delta, self.end + delta, self.message)


@dataclass(frozen=True, slots=True)
class Finding:
    """One leak found by a rule.

    ``per_request`` marks code that runs once per request (a handler or a
    middleware): the engine reports it one severity step higher.  ``severity``
    lets a rule lower (or raise) its default for one finding, e.g. a leak that is
    only churn on a newer Go version.
    """

    rule: str
    start: int
    end: int
    message: str
    related: tuple[Related, ...] = ()
    fixes: tuple[Fix, ...] = ()
    per_request: bool = False
    severity: Severity | None = None

    def shifted(self, delta: int) -> Finding:
        if delta == 0:
            return self
        return replace(
            self,
            start=self.start + delta,
            end=self.end + delta,
            related=tuple(r.shifted(delta) for r in self.related),
            fixes=tuple(f.shifted(delta) for f in self.fixes),
        )


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """A finding after the engine has applied configuration: its final severity."""

    finding: Finding
    severity: Severity

    @property
    def rule(self) -> str:
        return self.finding.rule


@dataclass(slots=True)
class AnalysisStats:
    """What one analysis did; the server logs it and the benchmarks read it."""

    declarations: int = 0
    analysed: int = 0
    cached: int = 0
    rule_errors: list[str] = field(default_factory=list)
