"""The engine: per-declaration caching, isolation of failing rules, suppression, severity."""

from __future__ import annotations

from collections.abc import Iterable

from tree_sitter import Node

from golsp_leaks.config import Settings
from golsp_leaks.engine import Engine
from golsp_leaks.goanalysis.syntax.parse import parse
from golsp_leaks.model import (
    AnalysisStats,
    Applicability,
    Edit,
    Finding,
    Fix,
    Severity,
    automatic_fix,
)
from golsp_leaks.rules import FileContext, Rule, get_rule

LEAK = """
func f{n}(p context.Context) error {{
	ctx, cancel := context.WithTimeout(p, time.Second)
	if ctx == nil {{
		return nil
	}}
	defer cancel()
	return nil
}}
"""


def big_file(functions: int) -> bytes:
    head = 'package p\n\nimport (\n\t"context"\n\t"time"\n)\n'
    return (head + "".join(LEAK.format(n=i) for i in range(functions))).encode()


def test_an_edit_in_one_function_reanalyses_only_that_function() -> None:
    engine = Engine()
    source = big_file(200)
    first = AnalysisStats()
    found = engine.analyze(source, parse(source), Settings(), stats=first)
    assert len(found) == 200 and first.analysed == 200
    body = source.index(b"{\n", source.index(b"func f7(")) + 2
    edited = source[:body] + b"\t// a note\n" + source[body:]
    second = AnalysisStats()
    again = engine.analyze(edited, parse(edited), Settings(), stats=second)
    assert second.analysed == 1 and second.cached == 199
    shift = len(b"\t// a note\n")
    assert [d.finding.start for d in again][8:] == [d.finding.start + shift for d in found][8:]


def test_cache_key_includes_the_imports() -> None:
    engine = Engine()
    source = big_file(1)
    assert engine.analyze(source, parse(source), Settings())
    unimported = source.replace(b'"context"', b'"github.com/other/context"')
    assert engine.analyze(unimported, parse(unimported), Settings()) == []


class Boom(Rule):
    id = "boom"
    summary = "always fails"

    def check(self, decl: Node, ctx: FileContext) -> Iterable[Finding]:
        raise RecursionError("too deep")


class BrokenFix(Rule):
    id = "broken-fix"
    summary = "offers a fix that does not parse"

    def check(self, decl: Node, ctx: FileContext) -> Iterable[Finding]:
        if decl.type == "function_declaration":
            yield Finding(
                self.id,
                decl.start_byte,
                decl.start_byte + 4,
                "x",
                fixes=(
                    Fix("bad", (Edit(decl.start_byte, decl.start_byte, "}}}("),), Applicability.SAFE),
                    Fix("good", (Edit(decl.start_byte, decl.start_byte, "// ok\n"),), Applicability.SAFE),
                ),
            )


def test_a_failing_rule_is_isolated_and_recorded() -> None:
    lost_cancel = get_rule("lost-cancel")
    assert lost_cancel is not None
    engine = Engine([Boom(), lost_cancel])
    source = big_file(2)
    stats = AnalysisStats()
    found = engine.analyze(source, parse(source), Settings(), stats=stats)
    assert [d.rule for d in found] == ["lost-cancel", "lost-cancel"]
    assert len(stats.rule_errors) == 2 and "boom" in stats.rule_errors[0]


def test_fixes_that_would_not_parse_are_dropped() -> None:
    engine = Engine([BrokenFix()])
    source = big_file(1)
    [diagnostic] = engine.analyze(source, parse(source), Settings())
    assert [f.title for f in diagnostic.finding.fixes] == ["good"]


def test_declarations_with_syntax_errors_are_skipped() -> None:
    source = big_file(2).replace(b"func f1(p context.Context) error {", b"func f1(p context.Context error {")
    found = Engine().analyze(source, parse(source), Settings())
    assert len(found) == 1


def test_suppression_comments() -> None:
    source = big_file(3)
    lines = source.split(b"\n")
    marked = []
    count = 0
    for line in lines:
        if b"ctx, cancel :=" in line:
            count += 1
            if count == 1:
                marked.append(b"\t//golsp-leaks:ignore lost-cancel")
            elif count == 2:
                line += b" // golsp-leaks:ignore lost-cancel,other-rule -- reviewed"
            else:
                marked.append(b"\t//golsp-leaks:ignore some-other-rule")
        marked.append(line)
    source = b"\n".join(marked)
    found = Engine().analyze(source, parse(source), Settings())
    assert len(found) == 1


def test_severity_configuration_and_per_request_escalation() -> None:
    source = big_file(1) + b'\nfunc h(w http.ResponseWriter, r *http.Request) {\n\tctx, cancel := context.WithCancel(r.Context())\n\tif ctx == nil {\n\t\treturn\n\t}\n\tcancel()\n}\n'
    source = source.replace(b'\t"time"\n', b'\t"net/http"\n\t"time"\n')
    found = Engine().analyze(source, parse(source), Settings())
    assert [d.severity for d in found] == [Severity.WARNING, Severity.ERROR]
    configured = Settings(severity={"lost-cancel": Severity.HINT})
    found = Engine().analyze(source, parse(source), configured)
    assert [d.severity for d in found] == [Severity.HINT, Severity.INFORMATION]
    assert Engine().analyze(source, parse(source), Settings(rules={"lost-cancel": False})) == []


def test_a_change_outside_function_bodies_reaches_every_declaration() -> None:
    engine = Engine()
    source = big_file(3) + b"\ntype T struct{ n int }\n"
    first = AnalysisStats()
    engine.analyze(source, parse(source), Settings(), stats=first)
    inside = source.replace(b"return nil\n}\n", b"return nil // x\n}\n", 1)
    second = AnalysisStats()
    engine.analyze(inside, parse(inside), Settings(), stats=second)
    assert second.analysed == 1  # only the edited body
    retyped = source.replace(b"n int", b"n int64")
    third = AnalysisStats()
    engine.analyze(retyped, parse(retyped), Settings(), stats=third)
    assert third.analysed == third.declarations  # a type changed: everything again


def test_an_unchanged_declaration_gives_back_the_same_block() -> None:
    engine = Engine()
    source = big_file(20)
    first = engine.analyze_blocks(source, parse(source), Settings())
    body = source.index(b"{\n", source.index(b"func f7(")) + 2
    edited = source[:body] + b"\t// a note\n" + source[body:]
    second = engine.analyze_blocks(edited, parse(edited), Settings())
    assert len(first.blocks) == len(second.blocks) == 20
    for i, (a, b) in enumerate(zip(first.blocks, second.blocks, strict=True)):
        assert (a.block is b.block) == (i != 7), i  # only the edited function's block is new
        assert b.row == a.row + (1 if i > 7 else 0)
    # Absolute offsets follow the edit.
    assert [d.finding.start for d in second.diagnostics()][8] == [d.finding.start for d in first.diagnostics()][8] + 11


def test_a_stale_analysis_stops() -> None:
    import pytest

    from golsp_leaks.engine import Superseded

    engine = Engine()
    source = big_file(30)
    asked: list[int] = []

    def stale() -> bool:
        asked.append(1)
        return len(asked) > 5

    with pytest.raises(Superseded):
        engine.analyze_blocks(source, parse(source), Settings(), stale=stale)
    # What was analysed before it stopped is kept.
    stats = AnalysisStats()
    engine.analyze(source, parse(source), Settings(), stats=stats)
    assert stats.cached == 5 and stats.analysed == 25


def test_the_cache_is_bounded_by_bytes() -> None:
    engine = Engine(cache_bytes=64 << 10)
    source = big_file(50)
    for n in range(200):
        variant = source.replace(b"func f1(", b"func f1%d(" % n)
        engine.analyze(variant, parse(variant), Settings())
        stats = engine.cache_stats()
        assert stats["bytes"] <= max(stats["max_bytes"], 2 * len(variant))
    assert engine.cache_stats()["declarations"] < 250


def test_one_policy_picks_the_fix_a_batch_applies() -> None:
    edit = (Edit(0, 0, "x"),)
    safe = Fix("add the release", edit, Applicability.SAFE)
    unsafe = Fix("change behaviour", edit, Applicability.UNSAFE)
    shown = Fix("only shown", edit, Applicability.DISPLAY_ONLY)
    empty = Fix("nothing to do", (), Applicability.SAFE)
    assert automatic_fix((unsafe, safe)) is safe  # a safe fix first, wherever it is
    assert automatic_fix((unsafe, safe), unsafe=True) is safe
    assert automatic_fix((shown, unsafe)) is None
    assert automatic_fix((shown, unsafe), unsafe=True) is unsafe
    assert automatic_fix((shown,), unsafe=True) is None  # display-only: never applied by a batch
    assert automatic_fix((empty,), unsafe=True) is None
    assert (safe.label, unsafe.label, shown.label) == (
        "add the release",
        "change behaviour (unsafe)",
        "only shown (display-only)",
    )


def test_a_change_to_a_helper_reaches_the_findings_of_its_callers() -> None:
    """A caller's findings depend on the body of the function of the file it hands its file to."""
    engine = Engine()
    closes = b"""package p

import "os"

func use(f *os.File) {
	f.Close()
}

func open(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	use(f)
	return nil
}
"""
    reads = closes.replace(b"\tf.Close()\n", b"\t_, _ = f.Stat()\n")

    def rules_at(source: bytes) -> list[tuple[str, int]]:
        found = engine.analyze(source, parse(source), Settings())
        return [(d.rule, source[: d.finding.start].count(b"\n") + 1) for d in found]

    assert ("unclosed-file", 10) not in rules_at(closes)
    assert ("unclosed-file", 10) in rules_at(reads)  # the caller is analysed again
    assert ("unclosed-file", 10) not in rules_at(closes)


class AskedRule(Rule):
    """Counts the declarations it is asked about."""

    id = "asked"
    summary = "test rule"
    triggers = (b"never_written_here(",)

    def __init__(self) -> None:
        self.asked = 0

    def wants(self, decl_text: bytes, ctx: FileContext | None = None) -> bool:
        self.asked += 1
        return super().wants(decl_text, ctx)

    def check(self, decl: Node, ctx: FileContext) -> Iterable[Finding]:
        return ()


def test_with_the_prefilter_a_rule_whose_triggers_are_absent_costs_nothing() -> None:
    rule = AskedRule()
    source = big_file(20)
    Engine([rule]).analyze(source, parse(source), Settings())
    assert rule.asked == 20
    rule.asked = 0
    Engine([rule]).analyze(source, parse(source), Settings(), prefilter=True)
    assert rule.asked == 0
    present = source + b"\nfunc g() {\n\tnever_written_here()\n}\n"
    Engine([rule]).analyze(present, parse(present), Settings(), prefilter=True)
    assert rule.asked == 21


def test_forgetting_a_file_frees_its_declarations() -> None:
    engine = Engine()
    source = big_file(30)
    tree = parse(source)
    engine.analyze(source, tree, Settings())
    assert engine.cache_stats()["declarations"] >= 30
    engine.forget(source, tree)
    assert engine.cache_stats()["declarations"] == 0 and engine.cache_stats()["bytes"] == 0
