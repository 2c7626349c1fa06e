"""Package facts declared by the rules that read them, computed when first read."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from tree_sitter import Node

from golsp_leaks.config import Settings
from golsp_leaks.engine import Engine
from golsp_leaks.goanalysis.summaries.facts import (
    CALLS,
    ENDLESS,
    ENDLESS_SOURCE,
    GLOBALS,
    PER_REQUEST,
    PackageFacts,
)
from golsp_leaks.goanalysis.summaries.package import source_facts
from golsp_leaks.goanalysis.syntax.nodes import text
from golsp_leaks.goanalysis.syntax.parse import parse
from golsp_leaks.model import AnalysisStats, Finding
from golsp_leaks.rules import FileContext, Rule, all_rules

SOURCE = b"package p\n\nfunc a() {\n\tmark()\n}\n\nfunc b() {\n}\n"


class Counting:
    """A provider that counts what it is asked for."""

    def __init__(self, values: Mapping[str, object]) -> None:
        self.values = dict(values)
        self.asked: list[str] = []

    def __call__(self, source: str) -> Mapping[str, object]:
        self.asked.append(source)
        return self.values if source == CALLS else {}


class MarksGlobals(Rule):
    """Reports `mark()` in a function the package lists as a global (a stand-in for a real fact)."""

    id = "marks-globals"
    summary = "test rule"
    triggers = (b"mark(",)
    requires = (GLOBALS,)

    def check(self, decl: Node, ctx: FileContext) -> Iterable[Finding]:
        name = decl.child_by_field_name("name")
        if name is not None and text(name) in ctx.package.globals:
            yield Finding(rule=self.id, start=decl.start_byte, end=decl.end_byte, message="marked")


class ReadsUndeclared(MarksGlobals):
    id = "reads-undeclared"
    requires = ()


def _run(engine: Engine, facts: PackageFacts, stats: AnalysisStats | None = None) -> list[str]:
    found = engine.analyze(SOURCE, parse(SOURCE), Settings(), package=facts, stats=stats)
    return [d.finding.message for d in found]


def test_a_fact_is_computed_once_when_first_read_with_the_others_of_its_source() -> None:
    provider = Counting({"globals": frozenset({"a"}), "startup": frozenset({"b"})})
    facts = PackageFacts(provider=provider)
    assert provider.asked == []
    assert facts.get(GLOBALS) == {"a"} and facts.startup == {"b"} and facts.handlers == frozenset()
    assert provider.asked == [CALLS]
    assert facts.db_fields == frozenset() and provider.asked.count(CALLS) == 1


def test_facts_no_rule_reads_are_never_computed() -> None:
    provider = Counting({"globals": frozenset({"a"})})
    # b() has no trigger and a() none of the facts' names: the rule never runs, nothing is read.
    source = b"package p\n\nfunc b() {\n}\n"
    engine = Engine([MarksGlobals()])
    engine.analyze(source, parse(source), Settings(), package=PackageFacts(provider=provider))
    assert provider.asked == []
    assert _run(engine, PackageFacts(provider=provider)) == ["marked"]
    assert provider.asked == [CALLS]


def test_findings_follow_the_facts_the_rules_read_and_only_those() -> None:
    engine = Engine([MarksGlobals()])
    first = AnalysisStats()
    assert _run(engine, PackageFacts(globals=frozenset({"a"})), first) == ["marked"]
    assert first.analysed == 2
    # A fact the rule does not read changes: the findings are taken from the cache.
    same = AnalysisStats()
    assert _run(engine, PackageFacts(globals=frozenset({"a"}), endless=frozenset({"x"})), same) == ["marked"]
    assert same.analysed == 0
    # The fact it read changes: the declaration that read it is analysed again.
    changed = AnalysisStats()
    assert _run(engine, PackageFacts(globals=frozenset({"b"})), changed) == []
    assert changed.analysed == 1
    # And the earlier version of the facts is still known.
    back = AnalysisStats()
    assert _run(engine, PackageFacts(globals=frozenset({"a"})), back) == ["marked"] and back.analysed == 0


def test_reading_an_undeclared_fact_is_a_rule_error_and_still_keys_the_findings() -> None:
    engine = Engine([ReadsUndeclared()])
    stats = AnalysisStats()
    assert _run(engine, PackageFacts(globals=frozenset({"a"})), stats) == ["marked"]
    assert stats.rule_errors == [
        "reads-undeclared reads package facts it does not declare in requires: globals"
    ]
    changed = AnalysisStats()
    assert _run(engine, PackageFacts(globals=frozenset({"b"})), changed) == [] and changed.analysed == 1
    facts = PackageFacts()
    facts.allow(())
    assert facts.globals == frozenset() and facts.undeclared == {GLOBALS}


def test_every_rule_that_reads_facts_declares_them() -> None:
    """Every rule on every fixture-like file reads only what it declares (the engine would say)."""
    source = (
        b'package main\n\nimport (\n\t"context"\n\t"net/http"\n\t"time"\n)\n\nvar seen = map[string]int{}\n\n'
        b"func handle(w http.ResponseWriter, r *http.Request) {\n\tseen[r.URL.Path]++\n"
        b"\tctx, cancel := context.WithTimeout(r.Context(), time.Second)\n\t_ = ctx\n\t_ = cancel\n"
        b"\tgo func() {\n\t\tfor {\n\t\t\ttime.Sleep(time.Second)\n\t\t}\n\t}()\n"
        b"\tresp, _ := http.Get(\"http://x\")\n\t_ = resp\n}\n\n"
        b'func main() {\n\thttp.HandleFunc("/", handle)\n}\n'
    )
    stats = AnalysisStats()
    found = Engine(all_rules()).analyze(source, parse(source), Settings(), package=source_facts(source), stats=stats)
    assert stats.rule_errors == []
    assert {"goroutine-no-exit", "unclosed-body", "unbounded-global-growth"} <= {d.rule for d in found}


def test_equal_facts_compare_equal_whatever_computed_them() -> None:
    assert PackageFacts(provider=Counting({})) == PackageFacts()
    assert PackageFacts(provider=Counting({"handlers": frozenset({"h"})})) == PackageFacts(handlers=frozenset({"h"}))
    assert PackageFacts(endless=frozenset({"x"})) != PackageFacts()
    assert PER_REQUEST.name == "handlers" and ENDLESS.source == ENDLESS_SOURCE
