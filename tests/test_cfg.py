"""The control-flow graph on small functions: which statements and exits each path reaches."""

from __future__ import annotations

import re

import pytest

from golsp_leaks.goanalysis.cfg.graph import LOOP_DONE, Graph, graph
from golsp_leaks.goanalysis.syntax.nodes import text
from golsp_leaks.goanalysis.syntax.parse import parse

_MARK = re.compile(r"^m([0-9]+)\(\)$")


def _graph(body: str, never_return: frozenset[str] = frozenset()) -> Graph:
    source = f"package p\n\nfunc f(x int, ch chan int, t T) int {{\n{body}\n}}\n".encode()
    func = parse(source).root_node.named_children[1]
    return graph(func, source, never_return)


def _reached(g: Graph) -> tuple[list[str], list[str]]:
    """The marker calls (``m1()``...) on some path from the entry, and the exits reached (return texts, "end")."""
    reachable = g.reachable()
    marks: list[str] = []
    for block in g.blocks:
        if block.index in reachable:
            marks.extend(f"m{m.group(1)}" for n in block.nodes if (m := _MARK.match(text(n))))
    exits = []
    for block in g.returns():
        if block.index in reachable:
            exits.append("end" if block.kind == "end" else text(block.last))
    return sorted(marks), sorted(exits)


CASES = [
    ("straight line", "m1()\nreturn 1", ["m1"], ["return 1"]),
    ("falls off the end", "m1()", ["m1"], ["end"]),
    ("after return is unreachable", "return 1\nm1()", [], ["return 1"]),
    ("if without else", "if x > 0 {\nreturn 1\n}\nm1()", ["m1"], ["end", "return 1"]),
    ("if both branches return", "if x > 0 {\nreturn 1\n} else {\nreturn 2\n}\nm1()", [], ["return 1", "return 2"]),
    ("panic ends the path", "if x > 0 {\npanic(1)\n}\nm1()\nreturn 3", ["m1"], ["return 3"]),
    ("os.Exit", "os.Exit(1)\nm1()", [], []),
    ("log.Fatalf", "log.Fatalf(\"x\")\nm1()", [], []),
    ("t.Fatal", "t.Fatal(1)\nm1()", [], []),
    ("t.FailNow and SkipNow", "if x > 0 {\nt.FailNow()\n}\nt.SkipNow()\nm1()", [], []),
    ("runtime.Goexit", "runtime.Goexit()\nm1()", [], []),
    ("for ever", "for {\nm1()\n}\nm2()", ["m1"], []),
    ("for ever with break", "for {\nif x > 0 {\nbreak\n}\n}\nm2()", ["m2"], ["end"]),
    ("for with a condition may end", "for x > 0 {\nm1()\n}\nm2()", ["m1", "m2"], ["end"]),
    ("range may end", "for range ch {\nm1()\n}\nreturn 1", ["m1"], ["return 1"]),
    ("continue skips the rest", "for {\ncontinue\nm1()\n}", [], []),
    (
        "labelled break leaves the outer loop",
        "Outer:\nfor {\nfor {\nbreak Outer\n}\nm1()\n}\nm2()",
        ["m2"],
        ["end"],
    ),
    (
        "labelled continue goes to the outer loop",
        "Outer:\nfor x > 0 {\nfor {\ncontinue Outer\n}\nm1()\n}\nm2()",
        ["m2"],
        ["end"],
    ),
    ("break in a switch leaves the switch", "for {\nswitch x {\ncase 1:\nbreak\n}\nm1()\n}", ["m1"], []),
    ("switch without default may skip", "switch x {\ncase 1:\nreturn 1\n}\nm1()", ["m1"], ["end", "return 1"]),
    ("switch with default", "switch x {\ncase 1:\nreturn 1\ndefault:\nreturn 2\n}\nm1()", [], ["return 1", "return 2"]),
    (
        "fallthrough into an exiting case",
        "switch x {\ncase 1:\nm1()\nfallthrough\ncase 2:\nos.Exit(1)\ndefault:\nreturn 2\n}\nm2()",
        ["m1"],
        ["return 2"],
    ),
    ("type switch", "var a any\nswitch v := a.(type) {\ncase int:\n_ = v\nreturn 1\n}\nm1()", ["m1"], ["end", "return 1"]),
    ("select waits for a case", "select {\ncase <-ch:\nreturn 1\ncase ch <- 1:\nreturn 2\n}\nm1()", [], ["return 1", "return 2"]),
    ("empty select blocks for ever", "select {}\nm1()", [], []),
    ("break leaves a select", "select {\ncase <-ch:\nbreak\n}\nm1()", ["m1"], ["end"]),
    ("goto backwards loops", "L:\nm1()\ngoto L", ["m1"], []),
    ("goto forwards skips", "goto Done\nm1()\nDone:\nm2()", ["m2"], ["end"]),
    ("defer is a statement of its block", "defer m1()\nreturn 1", [], ["return 1"]),
]


@pytest.mark.parametrize(("description", "body", "marks", "exits"), CASES, ids=[c[0] for c in CASES])
def test_paths(description: str, body: str, marks: list[str], exits: list[str]) -> None:
    assert _reached(_graph(body)) == (marks, exits)


def test_package_functions_that_never_return() -> None:
    body = "if x > 0 {\nfatal(1)\n}\nm1()\nreturn 1"
    assert _reached(_graph(body, frozenset({"fatal"}))) == (["m1"], ["return 1"])
    assert not _graph("fatal(1)\nm1()", frozenset({"fatal"})).may_return()
    assert _graph("fatal(1)\nm1()").may_return()


def test_functions_of_the_file_that_never_return() -> None:
    """``fatal()`` ends every path; ``maybe()`` returns on one; ``loop()`` calls itself and is taken to return."""
    source = (
        b"package p\n\nfunc fatal(err error) {\n\tprintln(err)\n\tos.Exit(1)\n}\n\n"
        b"func maybe(err error) {\n\tif err != nil {\n\t\tos.Exit(1)\n\t}\n}\n\n"
        b"func loop() {\n\tloop()\n}\n\n"
        b"func f(err error) int {\n\tmaybe(err)\n\tloop()\n\tm1()\n\tfatal(err)\n\tm2()\n\treturn 1\n}\n"
    )
    func = parse(source).root_node.named_children[-1]
    assert _reached(graph(func, source)) == (["m1"], [])
    assert _reached(graph(func)) == (["m1", "m2"], ["return 1"])  # without the file, nothing is known


def test_branches_name_their_statement() -> None:
    g = _graph("for range ch {\n}\nif x > 0 {\nreturn 1\n}")
    guards = sorted((b.guard[0].type, b.guard[1]) for b in g.blocks if b.guard is not None)
    assert guards == [("for_statement", LOOP_DONE), ("if_statement", -2), ("if_statement", -1)]


def test_function_literals_are_not_entered() -> None:
    g = _graph("go func() {\nreturn\n}()\nm1()")
    assert _reached(g) == (["m1"], ["end"])


def test_built_once_per_function() -> None:
    source = b"package p\n\nfunc f() {}\n"
    func = parse(source).root_node.named_children[1]
    assert graph(func, source) is graph(func, source)
