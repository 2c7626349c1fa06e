"""The path engine: from an acquisition to the exits of a function, over its control-flow graph.

Every ownership question — *which returns (or the end of the function) can be
reached from the acquisition without passing a place that releases or hands
on the resource?* — is answered here, by a forward dataflow analysis over the
:mod:`golsp_leaks.goanalysis.cfg.graph` of the function.  A path's state is a
set of flags, joined by union where paths meet:

``NOT_ACQUIRED``  the acquisition has not run (or, on this branch, produced nothing);
``UNUSED``        the resource is held and nothing released or handed it on yet;
``USED``          released, or handed on;
``STALE``         held, and the variables a nil test looks at were assigned again,
                  so that the test says nothing about the resource any more.

What counts as a release is the caller's: :class:`Paths` gives the places (as
start offsets) and how branches refine the state — a branch on which the
resource does not exist (``if err != nil``), a branch on which it is released
(``for rows.Next()`` run to its end closes the rows), a loop that never ends
by itself (ranging over a ticker's channel).  An assignment that overwrites
the variable while the resource is held drops it: the engine reports where.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field

from tree_sitter import Node

from golsp_leaks.goanalysis.cfg.graph import LOOP_DONE, Block, Graph, graph
from golsp_leaks.goanalysis.syntax.nodes import function_results, has_named_results
from golsp_leaks.model import Related

NOT_ACQUIRED = 1
UNUSED = 2
USED = 4
STALE = 8
HELD = UNUSED | STALE


@dataclass
class ExitReport:
    """What the analysis found.

    ``missed`` holds the return statements reached with the resource held (in
    source order), ``falls_off_end_unused`` says whether the end of the body is
    too; ``reacquired``: the acquisition is reached again (in a loop) while the
    previous resource is still held; ``overwritten``: statements that assign
    the variable again while it holds the resource.
    """

    missed: list[Node] = field(default_factory=list)
    reacquired: bool = False
    falls_off_end_unused: bool = False
    overwritten: list[Node] = field(default_factory=list)


#: A branch: the statement that chose it and which one (see :mod:`golsp_leaks.goanalysis.cfg.graph`).
Guard = tuple[Node, int]


@dataclass(frozen=True)
class Paths:
    """One resource, as the engine follows it.

    ``acquire`` is the node that creates it: a simple statement of the graph
    (or an ``if``/``for``/``switch`` initializer), a compound statement
    after which the resource exists (an error check: ``if err != nil {...}``),
    or the function itself (held from its entry).
    ``uses`` are start offsets of the places that release or hand it on;
    ``reassigned`` those after which the nil tests of the path say nothing
    (``STALE``); ``overwritten`` those that assign its variable something else.
    ``absent(guard)`` is true on a branch without the resource,
    ``released(guard)`` on a branch that releases it; ``endless`` are start
    offsets of loops that never stop at their condition.
    """

    acquire: Node
    uses: Sequence[int] = ()
    reassigned: Sequence[int] = ()
    overwritten: Sequence[int] = ()
    absent: Callable[[Guard], bool] | None = None
    released: Callable[[Guard], bool] | None = None
    endless: Collection[int] = ()


@dataclass(frozen=True)
class NilTests:
    """Branches on which the resource does not exist, by statement: a ready-made ``Paths.absent``.

    ``branches`` maps the start offset of an ``if`` statement to two flags, for
    its consequence and its alternative (or skipping it); ``cases`` maps that of
    a tagless ``switch`` to one flag per case clause and a last one for "no case
    taken".  ``reassigned`` are the places after which the tests say nothing.
    """

    branches: Mapping[int, tuple[bool, bool]] = field(default_factory=dict)
    reassigned: Sequence[int] = ()
    cases: Mapping[int, tuple[bool, ...]] = field(default_factory=dict)

    def __call__(self, guard: Guard) -> bool:
        node, index = guard
        if node.type == "if_statement":
            flags = self.branches.get(node.start_byte)
            return flags is not None and flags[0 if index == -1 else 1]
        flags_per_case = self.cases.get(node.start_byte)
        return flags_per_case is not None and 0 <= index < len(flags_per_case) and flags_per_case[index]


def _contains(offsets: Sequence[int], node: Node) -> bool:
    i = bisect_left(offsets, node.start_byte)
    return i < len(offsets) and offsets[i] < node.end_byte


def _absent(state: int) -> int:
    """No resource on this branch; paths on which the tested variables were assigned again keep it."""
    return (state & ~UNUSED) | NOT_ACQUIRED if state & UNUSED else state


def _released(state: int) -> int:
    return (state & ~UNUSED) | USED if state & UNUSED else state


class _Run:
    def __init__(self, g: Graph, paths: Paths) -> None:
        self.graph = g
        self.paths = paths
        self.uses = sorted(paths.uses)
        self.reassigned = sorted(paths.reassigned)
        self.overwritten = sorted(paths.overwritten)
        self.key = (paths.acquire.start_byte, paths.acquire.end_byte, paths.acquire.type)
        self.at_entry_of = _block_after(g, paths.acquire)
        self.report = ExitReport()

    def _is_acquire(self, node: Node) -> bool:
        return (node.start_byte, node.end_byte, node.type) == self.key

    def enter(self, block: Block, state: int) -> int:
        """The state on entering ``block`` from a predecessor."""
        guard = block.guard
        if guard is not None and state:
            node, index = guard
            if index == LOOP_DONE and node.start_byte in self.paths.endless:
                return 0
            if self.paths.absent is not None and self.paths.absent(guard):
                state = _absent(state)
            if self.paths.released is not None and self.paths.released(guard):
                state = _released(state)
        return state

    def through(self, block: Block, state: int, record: bool) -> int:
        """The state after running the nodes of ``block``."""
        if block is self.at_entry_of:
            state = self._acquire(state, record)
        for node in block.nodes:
            if not state:
                return 0
            if self._is_acquire(node):
                state = self._acquire(state, record)
                continue
            if state & HELD and _contains(self.uses, node):
                state = (state & ~HELD) | USED
            elif state & HELD and self.overwritten and _contains(self.overwritten, node):
                if record:
                    self.report.overwritten.append(node)
                state = (state & ~HELD) | USED  # dropped: reported here, not again at the exits
            elif state & UNUSED and self.reassigned and _contains(self.reassigned, node):
                state = (state & ~UNUSED) | STALE
        return state

    def _acquire(self, state: int, record: bool) -> int:
        if state & HELD and record:
            self.report.reacquired = True
        if state & (NOT_ACQUIRED | HELD):
            state = (state & ~(NOT_ACQUIRED | HELD)) | UNUSED
        return state

    def solve(self) -> ExitReport:
        g = self.graph
        entry_states = [0] * len(g.blocks)
        entry_states[g.entry.index] = UNUSED if self._is_acquire(g.func) else NOT_ACQUIRED
        work = [g.entry]
        queued = {g.entry.index}
        while work:
            block = work.pop()
            queued.discard(block.index)
            out = self.through(block, entry_states[block.index], False)
            if not out:
                continue
            for succ in block.succs:
                state = self.enter(succ, out)
                merged = entry_states[succ.index] | state
                if merged != entry_states[succ.index]:
                    entry_states[succ.index] = merged
                    if succ.index not in queued:
                        queued.add(succ.index)
                        work.append(succ)
        for block in g.blocks:
            if entry_states[block.index]:
                out = self.through(block, entry_states[block.index], True)
                if block in g.exit.preds and out & HELD:
                    if block.kind == "end":
                        self.report.falls_off_end_unused = True
                    elif block.last is not None:
                        self.report.missed.append(block.last)
        self.report.missed.sort(key=lambda n: n.start_byte)
        self.report.overwritten.sort(key=lambda n: n.start_byte)
        return self.report


def _block_after(g: Graph, node: Node) -> Block | None:
    """For a compound statement (not itself a node of the graph), the block control reaches after it."""
    return g.after.get((node.start_byte, node.end_byte))


def follow(func: Node, paths: Paths, *, source: bytes | None = None, never_return: frozenset[str] = frozenset()) -> ExitReport:
    """The exits of ``func`` reached from ``paths.acquire`` with the resource still held."""
    return _Run(graph(func, source, never_return), paths).solve()


def exits_missing_release(
    func: Node,
    acquire: Node,
    uses: Sequence[int],
    *,
    nil_tests: NilTests | None = None,
    endless_loops: Collection[int] = (),
    source: bytes | None = None,
) -> ExitReport:
    """The exits of ``func`` reachable from ``acquire`` with none of ``uses`` (start offsets) on the way.

    ``nil_tests`` are the branches without the resource; ``endless_loops`` the
    start offsets of loops that only end by ``break`` or ``return``.
    """
    paths = Paths(
        acquire,
        uses,
        reassigned=nil_tests.reassigned if nil_tests is not None else (),
        absent=nil_tests,
        endless=endless_loops,
    )
    return follow(func, paths, source=source)


def may_return(func: Node, *, endless_loops: Collection[int] = (), source: bytes | None = None) -> tuple[bool, bool]:
    """Can ``func`` reach a ``return`` — and can it fall off the end of its body?"""
    body = func.child_by_field_name("body")
    if body is None:
        return False, False
    report = _Run(graph(func, source), Paths(func, endless=endless_loops)).solve()
    return bool(report.missed), report.falls_off_end_unused


def related_locations(exits: ExitReport, func: Node, stmt: Node, missing: str) -> list[Related]:
    """The places that explain a leak: returns, the end of the function, the loop's way back, overwrites.

    ``missing`` words what they lack: "without closing f"."""
    related = [Related(r.start_byte, r.end_byte, f"this return is reached {missing}") for r in exits.missed]
    body = func.child_by_field_name("body")
    if exits.falls_off_end_unused and body is not None and (
        function_results(func) is None or has_named_results(func)
    ):
        related.append(Related(body.end_byte - 1, body.end_byte, f"the function ends here {missing}"))
    if exits.reacquired:
        related.append(Related(stmt.start_byte, stmt.end_byte, f"the loop comes back here {missing}"))
    related.extend(
        Related(n.start_byte, n.end_byte, f"the variable is assigned again here {missing}") for n in exits.overwritten
    )
    return related
