"""dataflow.channels on small snippets: what a callee does with a channel parameter, and which
callers abandon a channel they got from a call."""

from __future__ import annotations

import pytest
from tree_sitter import Node

from golsp_leaks.goanalysis.dataflow.channels import abandoned_results, channel_uses, local_channels
from golsp_leaks.goanalysis.syntax.parse import parse


def _func(body: str, signature: str = "f(ch chan int)") -> Node:
    tree = parse(f"package p\n\nfunc {signature} {{\n{body}\n}}\n".encode())
    return next(n for n in tree.root_node.named_children if n.type == "function_declaration")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("for v := range ch { _ = v }", {"range"}),
        ("ch <- 1\nclose(ch)", {"send", "close"}),
        ("select { case v := <-ch: _ = v }", {"receive"}),
        ("_ = len(ch)", set()),
        ("keep(ch)", None),  # handed on: not followed
        ("go func() { ch <- 1 }()", None),  # in a function literal
        ("store = ch", None),
    ],
)
def test_channel_uses(body: str, expected: set[str] | None) -> None:
    found = channel_uses(_func(body), "ch")
    assert (set(found) if found is not None else None) == expected


@pytest.mark.parametrize(
    ("description", "body", "expected"),
    [
        ("an early return before the receive", "c := fetch()\nif bad { return }\n_ = <-c", {"fetch"}),
        ("a select that gives up", "c := fetch()\nselect {\ncase <-c:\ncase <-done:\n}", {"fetch"}),
        ("received on every path", "c := fetch()\nv := <-c\nif bad { return }\n_ = v", set()),
        ("handed on", "c := fetch()\nif bad { return }\nuse(c)", set()),
        ("received in a closure", "c := fetch()\nif bad { return }\ngo func() { <-c }()", set()),
    ],
)
def test_abandoned_results(description: str, body: str, expected: set[str]) -> None:
    assert abandoned_results(_func(body, "f(bad bool, done chan int)")) == expected


def test_returned_channels_are_kept_only_when_asked() -> None:
    func = _func("ch := make(chan int)\ngo func() { ch <- 1 }()\nreturn ch", "f() chan int")
    assert local_channels(func) == []
    (channel,) = local_channels(func, returned=True)
    assert channel.name == "ch" and len(channel.returns) == 1 and channel.senders()


def test_helpers_and_passes() -> None:
    """A goroutine's call with the channel counts as what the callee does with it; unknown callees
    make it escape, or are kept apart with ``passes``."""
    func = _func("ch := make(chan int)\ngo func() { work(ch) }()\nfor v := range ch { _ = v }", "f()")
    assert local_channels(func) == []
    (channel,) = local_channels(func, helpers=lambda call, index: frozenset({"send", "close"}))
    assert channel.goroutines[0].sends and channel.goroutines[0].closes
    (kept,) = local_channels(func, helpers=lambda call, index: None, passes=True)
    assert kept.goroutines[0].passed and not kept.goroutines[0].sends


def test_the_abandoned_fact_names_function_and_caller() -> None:
    from golsp_leaks.goanalysis.summaries.package import source_facts

    source = b"""package p

func fetch() <-chan int {
	ch := make(chan int)
	go func() { ch <- 1 }()
	return ch
}

func show(bad bool) int {
	c := fetch()
	if bad {
		return 0
	}
	return <-c
}

func (s *S) method() <-chan int { return nil }

func caller(s *S, bad bool) int {
	c := s.method()
	if bad {
		return 0
	}
	return <-c
}
"""
    assert source_facts(source).abandoned == frozenset({("fetch", "show")})
