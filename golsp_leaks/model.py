"""The values that flow from the rules to the outputs.

Everything here is in byte offsets into the UTF-8 source of one file.  Lines,
columns and position encodings are the business of the outputs (the LSP server
and the CLI reporters), which convert with :class:`golsp_leaks.document.LineIndex`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

# Defined apart (see there), exported from here as well.
from golsp_leaks.severity import Applicability as Applicability
from golsp_leaks.severity import Severity as Severity


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
