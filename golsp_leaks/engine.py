"""The engine: runs the enabled rules over a file, one top-level declaration at a time.

A declaration's findings depend only on its own text, on the file context
(imports, Go version, package facts) and on the set of enabled rules; they
are cached under that key, relative to the declaration's start.  An edit in
one function of a large file therefore re-runs the rules on that function
alone.  Declarations with syntax errors are skipped (no finding on code that
cannot be read), and a rule that fails on one declaration is recorded in the
stats and skipped there: it never takes the file, or the server, down.

Every fix a rule offers is re-parsed before it is kept; one that would leave
a syntax error behind is dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Sequence
from dataclasses import replace

from tree_sitter import Node, Tree

from golsp_leaks.config import Settings
from golsp_leaks.fixes.apply import fix_parses
from golsp_leaks.fixes.suppress import unsuppressed
from golsp_leaks.goanalysis.syntax.imports import Imports
from golsp_leaks.goanalysis.syntax.nodes import declarations
from golsp_leaks.model import AnalysisStats, Diagnostic, Finding, Severity
from golsp_leaks.rules import FileContext, PackageFacts, Rule, all_rules

log = logging.getLogger(__name__)

_CacheKey = tuple[bytes, int]


class Engine:
    """Runs rules over parsed files, with a bounded cache of per-declaration findings."""

    def __init__(self, rules: Sequence[Rule] | None = None, cache_size: int = 20_000) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules) if rules is not None else all_rules()
        self._cache: dict[_CacheKey, tuple[Finding, ...]] = {}
        self._cache_size = cache_size
        self._contexts: dict[Hashable, int] = {}

    def triggers(self, settings: Settings) -> tuple[bytes, ...] | None:
        """Substrings one of which a file must contain for any enabled rule to run (None: any file)."""
        found: list[bytes] = []
        for rule in self.rules:
            if settings.enabled(rule.id):
                if not rule.triggers:
                    return None
                found.extend(rule.triggers)
        return tuple(found)

    def analyze(
        self,
        source: bytes,
        tree: Tree,
        settings: Settings,
        *,
        path: str | None = None,
        go_version: tuple[int, int] | None = None,
        package: PackageFacts | None = None,
        stats: AnalysisStats | None = None,
    ) -> list[Diagnostic]:
        """Diagnostics for one file, sorted by position, suppressions applied."""
        stats = stats if stats is not None else AnalysisStats()
        rules = tuple(r for r in self.rules if settings.enabled(r.id))
        if not rules:
            return []
        root = tree.root_node
        ctx = FileContext(
            source=source,
            root=root,
            imports=Imports.from_root(root),
            path=path,
            go_version=go_version,
            package=package or PackageFacts(),
        )
        context_id = self._context_id((ctx.fingerprint(), tuple(r.id for r in rules)))
        findings: list[Finding] = []
        for decl in declarations(root):
            stats.declarations += 1
            start, end = decl.start_byte, decl.end_byte
            decl_text = source[start:end]
            key: _CacheKey = (decl_text, context_id)
            cached = self._cache.get(key)
            if cached is not None:
                stats.cached += 1
                findings.extend(f.shifted(start) for f in cached)
                continue
            stats.analysed += 1
            found = self._run(rules, decl, decl_text, ctx, tree, stats) if not decl.has_error else []
            self._store(key, tuple(f.shifted(-start) for f in found))
            findings.extend(found)
        findings = unsuppressed(source, findings)
        findings.sort(key=lambda f: (f.start, f.rule, f.end))
        by_id = {r.id: r for r in rules}
        return [Diagnostic(f, _severity(f, by_id[f.rule], settings)) for f in findings]

    def _run(
        self,
        rules: tuple[Rule, ...],
        decl: Node,
        decl_text: bytes,
        ctx: FileContext,
        tree: Tree,
        stats: AnalysisStats,
    ) -> list[Finding]:
        out: list[Finding] = []
        for rule in rules:
            if not rule.wants(decl_text, ctx):
                continue
            try:
                produced = list(rule.check(decl, ctx))
            except (Exception, RecursionError) as exc:  # a rule's bug must not take the server down
                where = decl.start_point.row + 1
                stats.rule_errors.append(f"{rule.id} failed on the declaration at line {where}: {exc!r}")
                log.exception("rule %s failed on the declaration at line %d", rule.id, where)
                continue
            for finding in produced:
                valid = tuple(f for f in finding.fixes if fix_parses(ctx.source, tree, f))
                out.append(finding if len(valid) == len(finding.fixes) else replace(finding, fixes=valid))
        return out

    def _context_id(self, context: Hashable) -> int:
        """A small number for a file context and rule set, so that cache keys compare cheaply."""
        found = self._contexts.get(context)
        if found is None:
            if len(self._contexts) >= 4096:
                self._contexts.clear()
                self._cache.clear()
            found = self._contexts[context] = len(self._contexts)
        return found

    def _store(self, key: _CacheKey, findings: tuple[Finding, ...]) -> None:
        self._cache[key] = findings
        if len(self._cache) > self._cache_size:
            del self._cache[next(iter(self._cache))]  # the oldest entry


def _severity(finding: Finding, rule: Rule, settings: Settings) -> Severity:
    """The configured (or the rule's) severity, one step higher for per-request code."""
    configured = settings.severity.get(rule.id)
    if configured is not None:
        base = configured
    else:
        base = finding.severity if finding.severity is not None else rule.default_severity
    return base.raised() if finding.per_request else base
