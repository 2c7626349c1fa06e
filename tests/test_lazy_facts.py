"""The goroutine, channel and request rules ask for the package's facts only once a declaration
has something they could be about: a file without such a candidate costs no package summary."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from golsp_leaks.config import Settings
from golsp_leaks.engine import Engine
from golsp_leaks.goanalysis.summaries.facts import CALLS, ENDLESS_SOURCE, PackageFacts
from golsp_leaks.goanalysis.summaries.lifetime import typed_locals
from golsp_leaks.goanalysis.syntax.parse import parse
from golsp_leaks.rules import all_rules


class Counting:
    """A provider of empty facts that records which sources it is asked for."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def __call__(self, source: str) -> Mapping[str, object]:
        self.asked.append(source)
        return {}


def _asked(rule_id: str, body: str) -> list[str]:
    source = f'package p\n\nimport "net/http"\n\n{body}'.encode()
    rule = next(r for r in all_rules() if r.id == rule_id)
    provider = Counting()
    Engine([rule]).analyze(source, parse(source), Settings(), package=PackageFacts(provider=provider))
    return provider.asked


# (rule, a declaration with nothing the facts could change, one with a candidate)
CASES = [
    (
        "goroutine-no-exit",
        "func a() {\n\tgo func() {\n\t\tprintln()\n\t}()\n}\n",
        "func a() {\n\tgo run()\n}\n",
    ),
    (
        "unclosed-channel",
        "func a(w *W) {\n\tw.Start()\n\tgo w.run()\n}\n",
        "func a() {\n\tw := &W{}\n\tw.Start()\n}\n\nfunc (w *W) Start() {\n\tgo func() {\n\t\t<-w.done\n\t}()\n}\n"
        "\nfunc (w *W) Stop() {\n\tclose(w.done)\n}\n",
    ),
    (
        "blocked-receive",
        "func a() {\n\tch := make(chan int)\n\tgo func() {\n\t\t<-ch\n\t}()\n\tch <- 1\n}\n",
        "func a() {\n\tch := make(chan int)\n\tgo func() {\n\t\t<-ch\n\t}()\n}\n",
    ),
    (
        "large-context-value",
        'import "context"\n\nfunc a(r *http.Request) *http.Request {\n'
        "\treturn r.WithContext(context.WithValue(r.Context(), key, 1))\n}\n",
        'import "context"\n\nfunc a(r *http.Request) *http.Request {\n\tbuf := make([]byte, 64<<20)\n'
        "\treturn r.WithContext(context.WithValue(r.Context(), key, buf))\n}\n",
    ),
    (
        "unbounded-global-growth",
        "func a(w http.ResponseWriter, r *http.Request) {\n\tm := map[string]int{}\n\tm[r.URL.Path] = 1\n\t_ = m\n}\n",
        "var m = map[string]int{}\n\nfunc a(w http.ResponseWriter, r *http.Request) {\n\tm[r.URL.Path] = 1\n}\n",
    ),
    (
        "request-context-escape",
        "func (s *S) f(r *http.Request) {\n\ts.last = r.URL.Path\n}\n",
        "func (s *S) f(w http.ResponseWriter, r *http.Request) {\n\tcache[r.URL.Path] = r\n}\n",
    ),
]


#: What a candidate is looked up in first: the functions whose loops never end, before the calls.
FIRST = {"goroutine-no-exit": ENDLESS_SOURCE}


@pytest.mark.parametrize(("rule_id", "without", "with_candidate"), CASES, ids=[c[0] for c in CASES])
def test_facts_are_read_only_for_a_candidate(rule_id: str, without: str, with_candidate: str) -> None:
    assert _asked(rule_id, without) == []
    assert FIRST.get(rule_id, CALLS) in _asked(rule_id, with_candidate)


def test_a_started_function_is_looked_up_in_the_calls_only_when_its_loop_never_ends() -> None:
    """``go run()``: the cheap ``endless`` source first; the package's call graph (is the starter
    run once?) only for a function that loops for ever."""
    rule = next(r for r in all_rules() if r.id == "goroutine-no-exit")
    source = b"package p\n\nfunc a() {\n\tgo run()\n}\n"

    class Endless(Counting):
        def __call__(self, source: str) -> Mapping[str, object]:
            self.asked.append(source)
            return {"endless": frozenset({"run"})} if source == ENDLESS_SOURCE else {}

    for provider, calls in ((Counting(), False), (Endless(), True)):
        Engine([rule]).analyze(source, parse(source), Settings(), package=PackageFacts(provider=provider))
        assert provider.asked[0] == ENDLESS_SOURCE
        assert (CALLS in provider.asked) is calls


def test_typed_locals_are_those_a_declaration_may_give_a_type() -> None:
    source = (
        b"package p\n\nfunc a(p *W) {\n\tw := &W{}\n\tn := newW()\n\tvar t T\n\tb := bytes.NewBuffer(nil)\n"
        b"\tvar i, j = 1, 2\n\tgo func() {\n\t\tinner := &W{}\n\t\t_ = inner\n\t}()\n}\n"
    )
    func = parse(source).root_node.named_children[1]
    assert typed_locals(func) == {"w", "n", "t"}
