"""Paths through a function body from an acquisition to the function's exits.

:func:`exits_missing_release` answers the question every ownership rule asks:
*from the statement that acquires a resource, which returns (or the end of the
function) can be reached without passing a statement that uses it?*  A "use"
is whatever the caller says it is, given as byte offsets of the places that
count (for ``cancel`` that is every mention of the name: a call, a ``defer``,
passing it on, returning it, storing it, a closure that captures it).

The analysis is an abstract interpretation over the syntax tree with three
states — not yet acquired, acquired and unused, used — joined as sets.  It
follows ``if``, ``for`` (with ``break``/``continue`` and labels), ``switch``,
``type switch`` and ``select``; calls that never return (``panic``,
``os.Exit``, ``log.Fatal``, ``t.Fatal``) end a path without a leak.  Function
literals are not entered for control flow: their returns are theirs.  A
``goto`` makes the analysis give up (no report: a miss is better than a false
alarm).  Optionally, branches on which the resource does not exist
(:class:`NilTests`) hold nothing to release, and loops known never to end by
themselves (ranging over a ticker's channel) are treated like ``for {}``.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from tree_sitter import Node

from golsp_leaks.goanalysis.syntax.nodes import is_no_return_call, label_of, statements

NOT_ACQUIRED = 1
UNUSED = 2
USED = 4
#: Acquired and unused, and the variables a nil test looks at no longer hold what the acquisition assigned.
STALE = 8
_HELD = UNUSED | STALE


class GiveUp(Exception):
    """The function's control flow is beyond this analysis (``goto``)."""


@dataclass
class ExitReport:
    """What the analysis found.

    ``missed`` holds the return statements, and for a function that can fall off
    its end the closing ``}`` of the body, reached with the resource unused.
    ``reacquired`` holds acquisitions reached again (in a loop) while the
    previous resource was still unused.
    """

    missed: list[Node] = field(default_factory=list)
    reacquired: bool = False
    falls_off_end_unused: bool = False


@dataclass(frozen=True)
class NilTests:
    """Branches on which the resource does not exist, so that there is nothing to release.

    ``branches`` maps the start offset of an ``if`` statement to two flags: its
    consequence, and its alternative (or skipping it), run only without the
    resource — ``if err != nil {...}`` and ``if resp == nil {...}``, or the
    ``else`` of ``if err == nil {...}``.  The tests hold only while the variables
    they look at keep what the acquisition assigned: ``reassigned`` are start
    offsets of the places that assign them again, after which a path's tests
    say nothing.  ``cases`` does the same for a ``switch`` without a tag: one
    flag for each case clause, in order, and a last one for "no case taken".
    """

    branches: Mapping[int, tuple[bool, bool]] = field(default_factory=dict)
    reassigned: Sequence[int] = ()
    cases: Mapping[int, tuple[bool, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class _Jump:
    label: str | None
    state: int


class _Interpreter:
    def __init__(
        self,
        acquire: Node,
        uses: Sequence[int],
        report: ExitReport,
        nil_tests: NilTests | None = None,
        endless_loops: Collection[int] = (),
    ) -> None:
        self.acquire_key = (acquire.start_byte, acquire.end_byte, acquire.type)
        self.uses = sorted(uses)
        self.report = report
        self.breaks: list[list[_Jump]] = []
        self.continues: list[list[_Jump]] = []
        self.absent_when = nil_tests.branches if nil_tests is not None else {}
        self.reassigned = sorted(nil_tests.reassigned) if nil_tests is not None else []
        self.absent_cases = nil_tests.cases if nil_tests is not None else {}
        self.endless_loops = endless_loops

    # --- helpers -------------------------------------------------------------

    def _contains_use(self, node: Node | None, offsets: Sequence[int] | None = None) -> bool:
        if node is None:
            return False
        offsets = self.uses if offsets is None else offsets
        i = bisect_left(offsets, node.start_byte)
        return i < len(offsets) and offsets[i] < node.end_byte

    def _is_acquire(self, node: Node) -> bool:
        return (node.start_byte, node.end_byte, node.type) == self.acquire_key

    def _use(self, state: int, node: Node | None) -> int:
        if state & _HELD and self._contains_use(node):
            return (state & ~_HELD) | USED
        if state & UNUSED and self.reassigned and self._contains_use(node, self.reassigned):
            return (state & ~UNUSED) | STALE
        return state

    def _acquire(self, state: int) -> int:
        if state & _HELD:
            self.report.reacquired = True
        if state & (NOT_ACQUIRED | _HELD):
            state = (state & ~(NOT_ACQUIRED | _HELD)) | UNUSED
        return state

    def _simple(self, state: int, node: Node | None) -> int:
        """A statement (or header) with no control flow of its own."""
        if node is None:
            return state
        if self._is_acquire(node):
            return self._acquire(state)
        return self._use(state, node)

    # --- statements ----------------------------------------------------------

    def seq(self, stmts: Sequence[Node], state: int) -> int:
        for stmt in stmts:
            if state == 0:
                return 0
            state = self.stmt(stmt, state)
        return state

    def stmt(self, node: Node, state: int) -> int:
        kind = node.type
        if self._is_acquire(node):
            return self._acquire(state)
        if kind == "return_statement":
            state = self._use(state, node)
            if state & _HELD:
                self.report.missed.append(node)
            return 0
        if kind == "block":
            return self.seq(statements(node), state)
        if kind == "if_statement":
            return self._if(node, state)
        if kind == "for_statement":
            return self._for(node, state)
        if kind in ("expression_switch_statement", "type_switch_statement"):
            return self._switch(node, state)
        if kind == "select_statement":
            return self._select(node, state)
        if kind == "labeled_statement":
            inner = node.named_children[-1] if node.named_child_count > 1 else None
            return state if inner is None else self.stmt(inner, state)
        if kind == "break_statement":
            self._jump(self.breaks, node, state)
            return 0
        if kind == "continue_statement":
            self._jump(self.continues, node, state)
            return 0
        if kind == "goto_statement":
            raise GiveUp
        if kind == "fallthrough_statement":
            return state
        if is_no_return_call(node):
            return 0
        return self._simple(state, node)

    def _jump(self, stack: list[list[_Jump]], node: Node, state: int) -> None:
        label = node.named_children[0] if node.named_child_count else None
        name = label.text.decode() if label is not None and label.text is not None else None
        if stack:
            stack[-1].append(_Jump(name, state))
        # A break or continue outside any loop does not compile; ignore it.

    def _if(self, node: Node, state: int) -> int:
        state = self._simple(state, node.child_by_field_name("initializer"))
        state = self._use(state, node.child_by_field_name("condition"))
        absent_then, absent_else = self.absent_when.get(node.start_byte, (False, False))
        consequence = node.child_by_field_name("consequence")
        then_state = _absent(state) if absent_then else state
        then = self.stmt(consequence, then_state) if consequence is not None else then_state
        alternative = node.child_by_field_name("alternative")
        else_state = _absent(state) if absent_else else state
        other = self.stmt(alternative, else_state) if alternative is not None else else_state
        return then | other

    def _loop_body(self, body: Node | None, state: int, label: str | None) -> tuple[int, int, int]:
        """Run a loop body to a fixed point; returns (end-of-body, break, continue) states."""
        self.breaks.append([])
        self.continues.append([])
        entry = state
        end = brk = cont = 0
        try:
            for _ in range(3):
                self.breaks[-1].clear()
                self.continues[-1].clear()
                end = self.seq(statements(body), entry) if body is not None else entry
                brk = cont = 0
                outer_breaks: list[_Jump] = []
                outer_continues: list[_Jump] = []
                for jump in self.breaks[-1]:
                    if jump.label is None or jump.label == label:
                        brk |= jump.state
                    else:
                        outer_breaks.append(jump)
                for jump in self.continues[-1]:
                    if jump.label is None or jump.label == label:
                        cont |= jump.state
                    else:
                        outer_continues.append(jump)
                again = entry | end | cont
                if again == entry:
                    break
                entry = again
        finally:
            self.breaks.pop()
            self.continues.pop()
        # Labeled jumps to an outer statement travel on.
        if self.breaks:
            self.breaks[-1].extend(outer_breaks)
        if self.continues:
            self.continues[-1].extend(outer_continues)
        return end | cont, brk, entry

    def _for(self, node: Node, state: int) -> int:
        header = None
        for child in node.named_children:
            if child.type in ("for_clause", "range_clause"):
                header = child
            elif child.type not in ("block", "comment"):
                header = child  # a bare condition: for cond { }
        infinite = header is None
        if header is not None and header.type == "for_clause":
            state = self._simple(state, header.child_by_field_name("initializer"))
            infinite = header.child_by_field_name("condition") is None
        infinite = infinite or node.start_byte in self.endless_loops
        state = self._use(state, header)
        body = node.child_by_field_name("body")
        _, brk, entry = self._loop_body(body, state, label_of(node))
        if infinite:
            return brk
        # The loop may run zero times or stop at its condition on any pass.
        return entry | brk

    def _switch(self, node: Node, state: int) -> int:
        state = self._simple(state, node.child_by_field_name("initializer"))
        state = self._use(state, node.child_by_field_name("value"))
        self.breaks.append([])
        result = 0
        has_default = False
        absent = self.absent_cases.get(node.start_byte, ())
        index = 0
        try:
            for case in node.named_children:
                if case.type not in ("expression_case", "type_case", "default_case"):
                    continue
                has_default = has_default or case.type == "default_case"
                case_state = state
                value = case.child_by_field_name("value")
                case_state = self._use(case_state, value)
                if index < len(absent) - 1 and absent[index]:
                    case_state = _absent(case_state)
                index += 1
                result |= self.seq(_case_body(case), case_state)
            label = label_of(node)
            for jump in self.breaks[-1]:
                if jump.label is None or jump.label == label:
                    result |= jump.state
                elif len(self.breaks) > 1:
                    self.breaks[-2].append(jump)
        finally:
            self.breaks.pop()
        if not has_default:
            result |= _absent(state) if absent and absent[-1] else state
        return result

    def _select(self, node: Node, state: int) -> int:
        self.breaks.append([])
        result = 0
        try:
            for case in node.named_children:
                if case.type not in ("communication_case", "default_case"):
                    continue
                case_state = self._use(state, case.child_by_field_name("communication"))
                result |= self.seq(_case_body(case), case_state)
            label = label_of(node)
            for jump in self.breaks[-1]:
                if jump.label is None or jump.label == label:
                    result |= jump.state
                elif len(self.breaks) > 1:
                    self.breaks[-2].append(jump)
        finally:
            self.breaks.pop()
        return result


def _absent(state: int) -> int:
    """The state on a branch where the resource does not exist (its error is set, or it is nil).

    Paths on which the tested variables were assigned again (``STALE``) keep it.
    """
    if state & UNUSED:
        return (state & ~UNUSED) | NOT_ACQUIRED
    return state


def _case_body(case: Node) -> list[Node]:
    for child in case.named_children:
        if child.type == "statement_list":
            return statements(child)
    return []


def exits_missing_release(
    func: Node,
    acquire: Node,
    uses: Sequence[int],
    *,
    nil_tests: NilTests | None = None,
    endless_loops: Collection[int] = (),
) -> ExitReport | None:
    """The exits of ``func`` reachable from ``acquire`` with none of ``uses`` on the way.

    ``acquire`` is the statement (or ``if``/``for``/``switch`` initializer) that
    creates the resource; ``uses`` are start offsets of the nodes that release or
    hand it on.  Returns None when the function's control flow is beyond the
    analysis (a ``goto``).

    ``nil_tests`` are branches on which the resource does not exist (see
    :class:`NilTests`).  ``endless_loops`` are start offsets of ``for``
    statements that only end by a ``break`` or ``return`` (ranging over a
    ticker's channel, say).
    """
    return run(func, _Interpreter(acquire, uses, ExitReport(), nil_tests, endless_loops))


def run(func: Node, interpreter: _Interpreter) -> ExitReport | None:
    """Run a path interpreter (this module's, or a rule family's refinement of it) over
    ``func``'s body: its report, missed exits unique and in source order; None on a ``goto``."""
    body = func.child_by_field_name("body")
    if body is None:
        return None
    report = interpreter.report
    try:
        end = interpreter.seq(statements(body), NOT_ACQUIRED)
    except GiveUp:
        return None
    if end & _HELD:
        report.falls_off_end_unused = True
    unique: dict[tuple[int, int], Node] = {}
    for node in report.missed:
        unique.setdefault((node.start_byte, node.end_byte), node)
    report.missed = sorted(unique.values(), key=lambda n: n.start_byte)
    return report


def may_return(func: Node, *, endless_loops: Collection[int] = ()) -> tuple[bool, bool] | None:
    """Can ``func`` reach a ``return`` — and can it fall off the end of its body?

    Calls that never return end a path, and ``endless_loops`` (start offsets of
    ``for`` statements) only end by ``break`` or ``return``.  None when the
    control flow is beyond the analysis (a ``goto``).
    """
    body = func.child_by_field_name("body")
    if body is None:
        return None
    report = ExitReport()
    interpreter = _Interpreter(func, (), report, None, endless_loops)
    try:
        end = interpreter.seq(statements(body), UNUSED)
    except GiveUp:
        return None
    return bool(report.missed), bool(end & UNUSED)
