"""The path engine on small functions: from ``r := acquire()`` to the exits, with ``release(r)`` as the use."""

from __future__ import annotations

import pytest
from tree_sitter import Node

from golsp_leaks.goanalysis.dataflow.counters import counter_guards
from golsp_leaks.goanalysis.dataflow.engine import (
    NilTests,
    Paths,
    exits_missing_release,
    follow,
    may_return,
)
from golsp_leaks.goanalysis.dataflow.ownership import NilSubjects, nil_tests
from golsp_leaks.goanalysis.names.scopes import declaration_of
from golsp_leaks.goanalysis.syntax.nodes import text, walk
from golsp_leaks.goanalysis.syntax.parse import parse


def _func(body: str) -> tuple[bytes, Node]:
    source = f"package p\n\nfunc f(x int, ch chan int) error {{\n{body}\n}}\n".encode()
    return source, parse(source).root_node.named_children[1]


def _nodes(func: Node, kind: str, spelled: str | None = None) -> list[Node]:
    return [n for n in walk(func) if n.type == kind and (spelled is None or text(n).startswith(spelled))]


def _run(body: str, *, nil_tests: bool = False, endless: bool = False) -> tuple[list[str], bool, bool]:
    source, func = _func(body)
    acquire = _nodes(func, "short_var_declaration", "r, err := acquire()")[0]
    uses = [n.start_byte for n in _nodes(func, "call_expression", "release(")]
    tests = None
    if nil_tests:  # every `if err != nil` holds nothing
        ifs = [n for n in _nodes(func, "if_statement") if text(n.child_by_field_name("condition")) == "err != nil"]
        tests = NilTests({n.start_byte: (True, False) for n in ifs})
    loops = [n.start_byte for n in _nodes(func, "for_statement")] if endless else []
    report = exits_missing_release(func, acquire, uses, nil_tests=tests, endless_loops=loops, source=source)
    return [text(n) for n in report.missed], report.falls_off_end_unused, report.reacquired


CASES = [
    ("released", "r, err := acquire()\nrelease(r)\nreturn err", {}, ([], False, False)),
    ("never released", "r, err := acquire()\n_ = r\nreturn err", {}, (["return err"], False, False)),
    ("one branch misses", "r, err := acquire()\nif x > 0 {\nreturn nil\n}\nrelease(r)\nreturn err", {}, (["return nil"], False, False)),
    ("error branch without nil tests", "r, err := acquire()\nif err != nil {\nreturn err\n}\nrelease(r)\nreturn nil", {}, (["return err"], False, False)),
    ("error branch holds nothing", "r, err := acquire()\nif err != nil {\nreturn err\n}\nrelease(r)\nreturn nil", {"nil_tests": True}, ([], False, False)),
    ("deferred release", "r, err := acquire()\ndefer release(r)\nif x > 0 {\nreturn nil\n}\nreturn err", {}, ([], False, False)),
    ("panic is not a leak", "r, err := acquire()\nif x > 0 {\npanic(err)\n}\nrelease(r)\nreturn nil", {}, ([], False, False)),
    ("released in a switch case only", "r, err := acquire()\nswitch x {\ncase 1:\nrelease(r)\n}\nreturn err", {}, (["return err"], False, False)),
    ("fallthrough into a releasing case", "r, err := acquire()\nswitch x {\ncase 1:\nfallthrough\ncase 2:\nrelease(r)\ndefault:\nrelease(r)\n}\nreturn err", {}, ([], False, False)),
    ("reacquired in a loop", "for x > 0 {\nr, err := acquire()\n_, _ = r, err\n}\nreturn nil", {}, (["return nil"], False, True)),
    ("loop releasing each pass", "for x > 0 {\nr, err := acquire()\n_ = err\nrelease(r)\n}\nreturn nil", {}, ([], False, False)),
    ("goto past the release", "r, err := acquire()\nif err != nil {\ngoto Out\n}\nrelease(r)\nOut:\nreturn err", {}, (["return err"], False, False)),
    ("endless loop never reaches the end", "r, err := acquire()\n_ = err\nfor range ch {\n}\nrelease(r)\nreturn nil", {"endless": True}, ([], False, False)),
    ("select branch returns", "r, err := acquire()\nselect {\ncase <-ch:\nreturn err\ndefault:\n}\nrelease(r)\nreturn nil", {}, (["return err"], False, False)),
]


@pytest.mark.parametrize(("description", "body", "options", "expected"), CASES, ids=[c[0] for c in CASES])
def test_exits(description: str, body: str, options: dict[str, bool], expected: tuple[list[str], bool, bool]) -> None:
    assert _run(body, **options) == expected


def test_acquired_after_an_error_check() -> None:
    """Acquiring at a compound statement means: the resource exists once control leaves it."""
    source, func = _func("r, err := acquire()\nif err != nil {\nreturn err\n}\nif x > 0 {\nreturn nil\n}\nrelease(r)\nreturn nil")
    check = _nodes(func, "if_statement")[0]
    uses = [n.start_byte for n in _nodes(func, "call_expression", "release(")]
    report = follow(func, Paths(check, uses), source=source)
    assert [text(n) for n in report.missed] == ["return nil"]


def test_overwritten_while_held() -> None:
    source, func = _func("r, err := acquire()\nr = nil\nrelease(r)\nreturn err")
    acquire = _nodes(func, "short_var_declaration")[0]
    overwrite = _nodes(func, "assignment_statement")[0]
    uses = [n.start_byte for n in _nodes(func, "call_expression", "release(")]
    report = follow(func, Paths(acquire, uses, overwritten=[overwrite.start_byte]), source=source)
    assert [text(n) for n in report.overwritten] == ["r = nil"] and report.missed == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [("return nil", (True, False)), ("for {\n}", (False, False)), ("if x > 0 {\nreturn nil\n}\nos.Exit(1)", (True, False)), ("_ = x", (False, True))],
)
def test_may_return(body: str, expected: tuple[bool, bool]) -> None:
    source, func = _func(body)
    assert may_return(func, source=source) == expected


NIL_FIELDS = [
    ("resp and its body checked", "resp != nil && resp.Body != nil", (False, True)),
    ("the body alone", "resp.Body != nil", (False, True)),
    ("the body is nil", "resp.Body == nil", (True, False)),
    ("another value's body", "prev.Body != nil", (False, False)),
    ("another field", "resp.Header != nil", (False, False)),
]


@pytest.mark.parametrize(("description", "condition", "expected"), NIL_FIELDS, ids=[c[0] for c in NIL_FIELDS])
def test_nil_fields_are_nil_with_the_resource(description: str, condition: str, expected: tuple[bool, bool]) -> None:
    source = f"package p\n\nfunc f() {{\n\tresp, err := get()\n\tif {condition} {{\n\t}}\n\t_ = err\n}}\n".encode()
    func = parse(source).root_node.named_children[1]
    acquire = _nodes(func, "short_var_declaration")[0]
    branch = _nodes(func, "if_statement")[0]
    tested = _tested(acquire, source)
    tests = nil_tests(func, acquire, tested, frozenset({"Body"}))
    assert tests.branches.get(branch.start_byte, (False, False)) == expected
    # Without the field, a test of the body says nothing (and `resp != nil && ...` skipped neither).
    assert nil_tests(func, acquire, tested).branches.get(branch.start_byte, (False, False)) == (False, False)


def _tested(acquire: Node, source: bytes) -> NilSubjects:
    """The resource and the error the acquisition ``resp, err := ...`` declares."""
    left = acquire.child_by_field_name("left")
    assert left is not None
    resource, error = (declaration_of(n, source) for n in left.named_children)
    return NilSubjects(resource, error, source)


SHADOWED = [
    # (description, the code after `resp, err := get()`, which `if` (1-based), (then, else) hold no resource)
    ("the acquisition's error", "if err != nil {\n}", 1, (True, False)),
    ("another err declared by the if", "if err := other(); err != nil {\n}", 1, (False, False)),
    ("another resp declared by the if", "if resp := other(); resp == nil {\n}", 1, (False, False)),
    ("an inner block's err", "{\nerr := other()\nif err != nil {\n}\n}", 1, (False, False)),
    ("the outer err after the inner block", "{\nerr := other()\n_ = err\n}\nif err != nil {\n}", 1, (True, False)),
    ("a closure's parameter err", "_ = func(err error) bool {\nif err != nil {\n}\nreturn false\n}", 1, (False, False)),
    ("os.IsNotExist of the acquisition's error", "if os.IsNotExist(err) {\n}", 1, (True, False)),
    ("os.IsNotExist of another err", "if err := other(); os.IsNotExist(err) {\n}", 1, (False, False)),
]


@pytest.mark.parametrize(("description", "code", "which", "expected"), SHADOWED, ids=[c[0] for c in SHADOWED])
def test_nil_tests_know_the_variables_by_declaration(
    description: str, code: str, which: int, expected: tuple[bool, bool]
) -> None:
    """A test of a variable of the same name declared elsewhere says nothing about the resource."""
    source = f"package p\n\nfunc f() {{\n\tresp, err := get()\n{code}\n\t_, _ = resp, err\n}}\n".encode()
    func = parse(source).root_node.named_children[1]
    acquire = _nodes(func, "short_var_declaration")[0]
    branch = _nodes(func, "if_statement")[which - 1]
    tests = nil_tests(func, acquire, _tested(acquire, source))
    assert tests.branches.get(branch.start_byte, (False, False)) == expected


BATCH = (
    "var r R\n_ = r\nn := 0\nfor range ch {\nif n == 0 {\nr, err := acquire()\n_ = err\n}\n{INC}\nif n > 9 {\n{RESET}\n}\n}\n"
    "if n == 0 {\nreturn nil\n}\nrelease(r)\nreturn nil"
)
COUNTERS = [
    ("reset after the release", "n++", "release(r)\nn = 0", True),
    ("reset before the release", "n++", "n = 0\nrelease(r)", False),
    ("never incremented", "_ = n", "release(r)\nn = 0", False),
    ("decremented too", "n++\nn--", "release(r)\nn = 0", False),
    ("changed by a closure", "n++\nfunc() { n = 0 }()", "release(r)\nn = 0", False),
]


@pytest.mark.parametrize(("description", "inc", "reset", "guarded"), COUNTERS, ids=[c[0] for c in COUNTERS])
def test_counter_guards(description: str, inc: str, reset: str, guarded: bool) -> None:
    source, func = _func(BATCH.replace("{INC}", inc).replace("{RESET}", reset))
    acquire = _nodes(func, "short_var_declaration", "r, err := acquire()")[0]
    uses = [n.start_byte for n in _nodes(func, "call_expression", "release(")]
    found = counter_guards(func, acquire, uses, source)
    tests = [n for n in _nodes(func, "if_statement") if text(n.child_by_field_name("condition")) == "n == 0"]
    assert (found == {t.start_byte: (True, False) for t in tests}) is guarded
    assert bool(found) is guarded
