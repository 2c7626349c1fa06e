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


class Applicability(enum.Enum):
    """How far a fix may be trusted, as ruff has it.

    ``SAFE``: it adds the release the code lacks and changes nothing else a test
    could observe; ``check --fix`` and the editor's fix-all apply it.
    ``UNSAFE``: it changes behaviour (a closure around a loop body, a goroutine
    stopped when the handler returns, ``c.Copy()``, ``Exec`` for ``Query``, a send
    that gives up, a timer made once...); applied only with ``--unsafe-fixes``, or
    one at a time by a user who reads it.  ``DISPLAY_ONLY``: shown, never applied
    automatically.
    """

    SAFE = "safe"
    UNSAFE = "unsafe"
    DISPLAY_ONLY = "display-only"


@dataclass(frozen=True, slots=True)
class Fix:
    """A quick fix: a title, the edits that make it, and how far it may be trusted."""

    title: str
    edits: tuple[Edit, ...]
    applicability: Applicability

    @property
    def safe(self) -> bool:
        return self.applicability is Applicability.SAFE

    @property
    def label(self) -> str:
        """The title an editor shows: an unsafe or display-only fix says so."""
        if self.applicability is Applicability.SAFE:
            return self.title
        return f"{self.title} ({self.applicability.value})"

    def automatic(self, unsafe: bool = False) -> bool:
        """True when a batch (``--fix``, fix-all) may apply it: safe, or unsafe when asked for."""
        return self.applicability is Applicability.SAFE or (unsafe and self.applicability is Applicability.UNSAFE)

    def shifted(self, delta: int) -> Fix:
        return replace(self, edits=tuple(e.shifted(delta) for e in self.edits))


def automatic_fix(fixes: tuple[Fix, ...], unsafe: bool = False) -> Fix | None:
    """The fix a batch applies to one finding: its first safe fix, else (with ``unsafe``) its first unsafe one.

    The one policy of ``check --fix`` / ``--diff`` (``unsafe`` is ``--unsafe-fixes``)
    and of the editor's ``source.fixAll`` (never unsafe).
    """
    for fix in fixes:
        if fix.edits and fix.safe:
            return fix
    if unsafe:
        for fix in fixes:
            if fix.edits and fix.automatic(unsafe=True):
                return fix
    return None


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
