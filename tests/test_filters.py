"""The cheap tests a rule makes before it reads the package's facts (a regular expression over the
files' bytes, a fact of a cheaper source) never drop a finding: with each of them answering yes
every time, every fixture gives the same diagnostics, and a package whose facts come from a
sibling file is still reported."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest

from golsp_leaks.config import Settings
from golsp_leaks.engine import Engine
from golsp_leaks.goanalysis.summaries.package import clear_cache, package_facts
from golsp_leaks.goanalysis.syntax.parse import parse
from golsp_leaks.rules import FileContext, rule_ids, unclosed_channel
from tests.test_fixtures import FIXTURES, analyze_fixture

#: (rule, module, name of the filter, what it answers when it lets everything through)
FILTERS: list[tuple[str, Any, str, Callable[..., bool]]] = [
    ("unclosed-channel", unclosed_channel, "may_have_lifecycles", lambda ctx, starts: True),
    ("unclosed-channel", unclosed_channel, "_closes_a_field", lambda ctx: True),
]


def _shown(diagnostics: list[Any]) -> list[tuple[int, int, str, tuple[Any, ...]]]:
    return [(d.finding.start, d.finding.end, d.finding.message, d.finding.related) for d in diagnostics]


@pytest.mark.parametrize(("rule_id", "module", "name", "permissive"), FILTERS, ids=[f[2] for f in FILTERS])
def test_a_filter_agrees_with_the_full_analysis_on_the_fixtures(
    rule_id: str, module: Any, name: str, permissive: Callable[..., bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = sorted((FIXTURES / rule_id).glob("*.go"))
    assert paths
    filtered = [_shown(analyze_fixture(p)[1]) for p in paths]
    monkeypatch.setattr(module, name, permissive)
    full = [_shown(analyze_fixture(p)[1]) for p in paths]
    assert filtered == full
    assert any(filtered)


WORKER = """\
    package p

    type worker struct {
    \tch   chan int
    \tdone chan struct{}
    }

    func (w *worker) Start() {
    \tgo func() {
    \t\tfor {
    \t\t\tselect {
    \t\t\tcase <-w.ch:
    \t\t\tcase <-w.done:
    \t\t\t\treturn
    \t\t\t}
    \t\t}
    \t}()
    }

    func (w *worker) Stop() { close(w.done) }
    """

USE = """\
    package p

    func run(items []int) int {
    \tw := &worker{ch: make(chan int), done: make(chan struct{})}
    \tw.Start()
    \treturn len(items)
    }
    """


@pytest.mark.parametrize("closer", ["close(w.done)", "w.done <- struct{}{}"])
def test_a_lifecycle_declared_in_a_sibling_file_is_still_found(tmp_path: Path, closer: str) -> None:
    clear_cache()
    (tmp_path / "worker.go").write_text(textwrap.dedent(WORKER).replace("close(w.done)", closer))
    source = textwrap.dedent(USE).encode()
    path = tmp_path / "use.go"
    path.write_bytes(source)
    tree = parse(source)
    settings = Settings(rules={r: r == "unclosed-channel" for r in rule_ids()})
    found = Engine().analyze(source, tree, settings, path=str(path), package=package_facts(path, source, tree))
    assert [d.finding.message.split(" runs until")[0] for d in found] == ["w.Start() starts a goroutine that"]
    starts = unclosed_channel._worker_starts(tree.root_node.named_children[-1])
    assert unclosed_channel.may_have_lifecycles(cast(FileContext, _Context(source, path)), starts)


class _Context:
    """What may_have_lifecycles reads of a file context: its text and the package's files."""

    def __init__(self, source: bytes, path: Path) -> None:
        self.source = source
        self.package = package_facts(path, source)


def test_the_methods_that_may_start_or_wait_are_read_from_the_text() -> None:
    from golsp_leaks.goanalysis.summaries.declared import worker_methods_in

    data = textwrap.dedent(WORKER).encode() + (
        b"\nfunc (w *worker) run() {\n\tfor range w.ch {\n\t}\n}\n"
        b"\nfunc (w *worker) Size() int { return len(w.ch) }\n"
        b"\nfunc helper() {\n\tgo func() {}()\n}\n"
    )
    going, waiting = worker_methods_in(data)
    assert going == {"Start"}
    assert waiting == {"Start", "run"}
