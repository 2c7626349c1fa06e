"""Local channels: who sends, who receives, who closes — and how many times, on each path.

:func:`local_channels` finds the channels a function makes (``ch := make(chan T)``)
and sorts every mention of one into what it does: a send, a receive (plain, in a
``select`` case, or a ``range``), a ``close``, ``len``/``cap``; and where: in the
function itself (the *creator*) or in a goroutine it starts with
``go func() {...}()``.  Any other mention — passed to a function, stored,
returned, captured by some other closure, shadowed — makes the channel
*escape*, and no rule says anything about it: someone we cannot see may be
sending or receiving.

:func:`count_paths` then walks a function body path by path with a pair of
counters, ``(sent, received)``, each capped at :data:`MANY`: a ``go`` statement
that starts a sender adds the most values that goroutine can send; a receive
adds one.  A loop that contains such an event counts as :data:`MANY` when it
ends normally (its condition or range ends it): loops over the same items
usually start as many senders as they receive.  A ``break`` or ``return`` out
of the loop keeps the counts it has.  What reaches an exit with more sent
than received has left a sender blocked for ever.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from tree_sitter import Node

from golsp_leaks.goanalysis.syntax.nodes import (
    FUNCTION_TYPES,
    identifiers_named,
    inside_statement,
    is_no_return_call,
    label_of,
    statements,
    text,
)
from golsp_leaks.goanalysis.syntax.parse import cursor

#: Counts are capped here: MANY means "as many as there are items" (or more).
MANY = 3

_MAKES = """
[(short_var_declaration
   left: (expression_list . (identifier) @name .)
   right: (expression_list . (call_expression function: (identifier) @make
                                              arguments: (argument_list . (channel_type) @type)) @call .)) @decl
 (var_spec
   name: (identifier) @name
   value: (expression_list . (call_expression function: (identifier) @make
                                              arguments: (argument_list . (channel_type) @type)) @call .)) @decl]
"""


class GiveUp(Exception):
    """Control flow beyond the analysis (``goto``)."""


@dataclass
class Goroutine:
    """A ``go func() {...}()`` of the creator that mentions the channel."""

    go: Node
    literal: Node
    sends: list[Node] = field(default_factory=list)  # blocking sends (not in a select with another way out)
    guarded_sends: list[Node] = field(default_factory=list)
    receives: list[Node] = field(default_factory=list)
    ranges: list[Node] = field(default_factory=list)  # for statements ranging over the channel
    closes: list[Node] = field(default_factory=list)
    #: calls that hand the channel to a function whose use of it is not known (with ``passes``)
    passed: list[Node] = field(default_factory=list)
    in_loop: bool = False


@dataclass
class LocalChannel:
    """A channel made in ``func`` and everything done with it."""

    name: str
    func: Node
    decl: Node  # the short_var_declaration or var_spec
    ident: Node
    call: Node  # make(...)
    size: Node | None  # the buffer size argument
    goroutines: list[Goroutine] = field(default_factory=list)
    sends: list[Node] = field(default_factory=list)  # by the creator
    receives: list[Node] = field(default_factory=list)  # unary receive expressions of the creator
    ranges: list[Node] = field(default_factory=list)  # for statements of the creator ranging over it
    closes: list[Node] = field(default_factory=list)
    returns: list[Node] = field(default_factory=list)  # return statements of the creator that hand it on

    @property
    def unbuffered(self) -> bool:
        return self.size is None or text(self.size) == "0"

    @property
    def statement(self) -> Node:
        """The statement that makes the channel (for a var_spec, its var_declaration)."""
        node = self.decl
        while node.parent is not None and node.type != "short_var_declaration" and node.type != "var_declaration":
            node = node.parent
        return node

    def senders(self) -> list[Goroutine]:
        return [g for g in self.goroutines if g.sends]


#: What a callee does with a channel passed as its ``index``-th argument: the operations among
#: "send", "receive", "range" and "close" it applies to it, or None when it does anything else.
ChannelHelpers = Callable[[Node, int], "frozenset[str] | None"]


def local_channels(
    func: Node, returned: bool = False, helpers: ChannelHelpers | None = None, passes: bool = False
) -> list[LocalChannel]:
    """The channels made in ``func``'s own body whose every mention is understood; with
    ``returned``, also those the function hands to its caller by returning them (in
    :attr:`LocalChannel.returns`); with ``helpers``, also those that a goroutine passes to a
    function whose use of it ``helpers`` knows: the call then counts as that use (a worker
    ``go func() { work(jobs, results) }()`` whose ``work`` ranges over ``jobs``); with ``passes``,
    a goroutine's call of any other function with the channel as an argument is kept in
    :attr:`Goroutine.passed` instead of making the channel escape."""
    body = func.child_by_field_name("body")
    if body is None:
        return []
    found: list[LocalChannel] = []
    qc = cursor(_MAKES)
    for _, captures in qc.matches(body):
        if text(captures["make"][0]) != "make":
            continue
        decl = captures["decl"][0]
        if _inside_nested(decl, func):
            continue
        call = captures["call"][0]
        args = call.child_by_field_name("arguments")
        size = args.named_children[1] if args is not None and args.named_child_count > 1 else None
        channel = LocalChannel(text(captures["name"][0]), func, decl, captures["name"][0], call, size)
        if _classify(channel, returned, helpers, passes):
            found.append(channel)
    return found


def _inside_nested(node: Node, func: Node) -> bool:
    current = node.parent
    while current is not None and current != func:
        if current.type in FUNCTION_TYPES:
            return True
        current = current.parent
    return False


def _go_literal(node: Node, func: Node) -> tuple[Node, Node] | bool | None:
    """Where a mention is: (go statement, literal) for a goroutine literal, None for the
    creator itself, False for anywhere else (another closure)."""
    current = node.parent
    innermost: Node | None = None
    while current is not None and current != func:
        if current.type in FUNCTION_TYPES:
            if innermost is not None:
                return False  # nested twice
            innermost = current
        current = current.parent
    if innermost is None:
        return None
    call = innermost.parent
    if call is None or call.type != "call_expression" or call.child_by_field_name("function") != innermost:
        return False
    go = call.parent
    if go is None or go.type != "go_statement":
        return False
    return go, innermost


def _classify(
    channel: LocalChannel, returned: bool = False, helpers: ChannelHelpers | None = None, passes: bool = False
) -> bool:
    """Sort every mention of the channel; False when one of them escapes us."""
    body = channel.func.child_by_field_name("body")
    if body is None:
        return False
    goroutines: dict[int, Goroutine] = {}
    for ident in identifiers_named(body, channel.name):
        if ident.start_byte < channel.decl.start_byte:
            continue
        if ident == channel.ident:
            continue
        place = _go_literal(ident, channel.func)
        if place is False:
            return False
        routine: Goroutine | None = None
        if isinstance(place, tuple):
            go, literal = place
            if _shadows(literal, channel.name):
                return False
            routine = goroutines.get(go.start_byte)
            if routine is None:
                routine = Goroutine(go, literal, in_loop=inside_statement(go, channel.func, "for_statement"))
                goroutines[go.start_byte] = routine
        kind, node = _operation(ident)
        if kind == "return" and returned and routine is None:
            channel.returns.append(node)
            continue
        if kind == "other" and routine is not None and (helpers is not None or passes):
            roles = _helper_roles(ident, helpers) if helpers is not None else None
            args = ident.parent
            call = args.parent if args is not None else None
            if roles is None:
                if not passes or args is None or args.type != "argument_list" or call is None or call.type != "call_expression":
                    return False
                routine.passed.append(call)
                continue
            for role in roles:
                uses = {"send": routine.sends, "receive": routine.receives, "range": routine.ranges,
                        "close": routine.closes}[role]
                uses.append(call if call is not None else ident)
            continue
        if kind in ("other", "return"):
            return False
        if kind == "ignore":
            continue
        if routine is None:
            if kind == "declare":
                return False  # redeclared or shadowed
            target = {"send": channel.sends, "receive": channel.receives, "range": channel.ranges,
                      "close": channel.closes}.get(kind)
            if target is None:
                return False
            target.append(node)
        else:
            if kind == "send":
                (routine.guarded_sends if _guarded(node) else routine.sends).append(node)
            elif kind == "receive":
                routine.receives.append(node)
            elif kind == "range":
                routine.ranges.append(node)
            elif kind == "close":
                routine.closes.append(node)
            else:
                return False
    channel.goroutines = sorted(goroutines.values(), key=lambda g: g.go.start_byte)
    return True


def _helper_roles(ident: Node, helpers: ChannelHelpers) -> frozenset[str] | None:
    """What the function called with ``ident`` as a plain argument does with it (see :data:`ChannelHelpers`)."""
    args = ident.parent
    call = args.parent if args is not None and args.type == "argument_list" else None
    if args is None or call is None or call.type != "call_expression":
        return None
    index = [c.id for c in args.named_children if c.type != "comment"].index(ident.id)
    return helpers(call, index)


def channel_uses(func: Node, name: str) -> frozenset[str] | None:
    """What ``func``'s body does with the channel ``name`` (a parameter): the operations among
    "send", "receive", "range" and "close", or None when it passes it on, stores it, mentions
    it in a function literal or otherwise does something we do not follow."""
    body = func.child_by_field_name("body")
    if body is None:
        return None
    found: set[str] = set()
    for ident in identifiers_named(body, name):
        if _inside_nested(ident, func):
            return None
        kind, _ = _operation(ident)
        if kind == "ignore":
            continue
        if kind not in ("send", "receive", "range", "close"):
            return None
        found.add(kind)
    return frozenset(found)


def _shadows(literal: Node, name: str) -> bool:
    params = literal.child_by_field_name("parameters")
    return params is not None and any(
        text(n) == name for p in params.named_children for n in p.children_by_field_name("name")
    )


def _operation(ident: Node) -> tuple[str, Node]:
    """What a mention does: send, receive, range, close, ignore (len/cap), declare, other."""
    parent = ident.parent
    if parent is None:
        return "other", ident
    kind = parent.type
    if kind == "send_statement" and parent.child_by_field_name("channel") == ident:
        return "send", parent
    if kind == "unary_expression" and text(parent.child_by_field_name("operator")) == "<-":
        return "receive", parent
    if kind == "range_clause" and parent.child_by_field_name("right") == ident:
        loop = parent.parent
        return ("range", loop) if loop is not None else ("other", ident)
    if kind == "argument_list" and parent.named_child_count == 1:
        call = parent.parent
        function = call.child_by_field_name("function") if call is not None else None
        if function is not None and function.type == "identifier":
            name = text(function)
            if name == "close" and call is not None:
                return "close", call
            if name in ("len", "cap"):
                return "ignore", ident
    if kind in ("expression_list",) and parent.parent is not None:
        holder = parent.parent
        if holder.type == "short_var_declaration" and holder.child_by_field_name("left") == parent:
            return "declare", ident
    if kind == "var_spec":
        return "declare", ident
    around = parent.parent
    if kind == "expression_list" and parent.named_child_count == 1 and around is not None and around.type == "return_statement":
        return "return", around
    return "other", ident


def _guarded(send: Node) -> bool:
    """A send that is a case of a select with a default or another case: it never blocks for ever
    on its own."""
    case = send.parent
    if case is None or case.type != "communication_case":
        return False
    select = case.parent
    if select is None:
        return False
    cases = [c for c in select.named_children if c.type in ("communication_case", "default_case")]
    return len(cases) > 1


# --------------------------------------------------------------------------- counting on paths

State = tuple[int, int]


@dataclass
class Exit:
    """An exit of the function and the counts that reach it."""

    node: Node | None  # the return statement, or None for the end of the body
    states: frozenset[State]


@dataclass(frozen=True)
class _Jump:
    label: str | None
    states: frozenset[State]


def _add(a: int, b: int) -> int:
    return min(MANY, a + b)


class _Counter:
    """Abstract interpretation of a body with a set of (sent, received) states."""

    def __init__(self, events: dict[int, tuple[int, int]], loop_kinds: Callable[[Node], tuple[bool, bool]]) -> None:
        # events: start byte of a node -> (sent, received) it adds
        self.events = events
        self.positions = sorted(events)
        self.loop_kinds = loop_kinds
        self.exits: list[Exit] = []
        self.breaks: list[list[_Jump]] = []
        self.continues: list[list[_Jump]] = []
        #: How many unconditional loops that receive we are in (see :func:`_drained`).
        self.open_ended = 0

    def _apply(self, states: frozenset[State], node: Node | None) -> frozenset[State]:
        if node is None or not states:
            return states
        i = bisect_left(self.positions, node.start_byte)
        sent = received = 0
        while i < len(self.positions) and self.positions[i] < node.end_byte:
            ds, dr = self.events[self.positions[i]]
            sent += ds
            received += dr
            i += 1
        if not sent and not received:
            return states
        return frozenset((_add(s, sent), _add(r, received)) for s, r in states)

    def _total(self, node: Node) -> tuple[int, int]:
        i = bisect_left(self.positions, node.start_byte)
        sent = received = 0
        while i < len(self.positions) and self.positions[i] < node.end_byte:
            ds, dr = self.events[self.positions[i]]
            sent += ds
            received += dr
            i += 1
        return sent, received

    def seq(self, stmts: Sequence[Node], states: frozenset[State]) -> frozenset[State]:
        for stmt in stmts:
            if not states:
                return states
            states = self.stmt(stmt, states)
        return states

    def stmt(self, node: Node, states: frozenset[State]) -> frozenset[State]:
        kind = node.type
        if kind == "return_statement":
            states = self._apply(states, node)
            if self.open_ended:
                states = _drained(states)
            self.exits.append(Exit(node, states))
            return frozenset()
        if kind == "block":
            return self.seq(statements(node), states)
        if kind == "if_statement":
            states = self._apply(states, node.child_by_field_name("initializer"))
            states = self._apply(states, node.child_by_field_name("condition"))
            consequence = node.child_by_field_name("consequence")
            alternative = node.child_by_field_name("alternative")
            then = self.stmt(consequence, states) if consequence is not None else states
            other = self.stmt(alternative, states) if alternative is not None else states
            return then | other
        if kind == "for_statement":
            return self._for(node, states)
        if kind in ("expression_switch_statement", "type_switch_statement", "select_statement"):
            return self._cases(node, states)
        if kind == "labeled_statement":
            inner = node.named_children[-1] if node.named_child_count > 1 else None
            return states if inner is None else self.stmt(inner, states)
        if kind in ("break_statement", "continue_statement"):
            label_node = node.named_children[0] if node.named_child_count else None
            stack = self.breaks if kind == "break_statement" else self.continues
            if stack:
                stack[-1].append(_Jump(text(label_node) if label_node is not None else None, states))
            return frozenset()
        if kind == "goto_statement":
            raise GiveUp
        if is_no_return_call(node):
            return frozenset()
        return self._apply(states, node)

    def _for(self, node: Node, states: frozenset[State]) -> frozenset[State]:
        header: Node | None = None
        for child in node.named_children:
            if child.type not in ("block", "comment"):
                header = child  # a for clause, a range clause or a bare condition
        infinite = header is None or (header.type == "for_clause" and header.child_by_field_name("condition") is None)
        if header is not None and header.type == "for_clause":
            states = self._apply(states, header.child_by_field_name("initializer"))
        body = node.child_by_field_name("body")
        label = label_of(node)
        sends, receives = self.loop_kinds(node)
        open_ended = infinite and receives
        self.open_ended += open_ended
        self.breaks.append([])
        self.continues.append([])
        entry = states
        brk: frozenset[State] = frozenset()
        try:
            for _ in range(2 * MANY + 2):
                self.breaks[-1].clear()
                self.continues[-1].clear()
                looped = self._apply(entry, header)  # a condition, or the receive of a range over the channel
                end = self.seq(statements(body), looped) if body is not None else looped
                cont: frozenset[State] = frozenset()
                brk = frozenset()
                for jump in self.continues[-1]:
                    if jump.label is None or jump.label == label:
                        cont |= jump.states
                for jump in self.breaks[-1]:
                    if jump.label is None or jump.label == label:
                        brk |= jump.states
                again = entry | end | cont
                if again == entry:
                    break
                entry = again
            outer_breaks = [j for j in self.breaks[-1] if j.label is not None and j.label != label]
            outer_continues = [j for j in self.continues[-1] if j.label is not None and j.label != label]
        finally:
            self.breaks.pop()
            self.continues.pop()
            self.open_ended -= open_ended
        if self.breaks:
            self.breaks[-1].extend(outer_breaks)
        if self.continues:
            self.continues[-1].extend(outer_continues)
        if infinite:
            return _drained(brk) if open_ended else brk
        bound = literal_bound(node)
        if bound is not None and (sends or receives):
            # A loop that runs a known number of times: each pass adds what its body holds.
            ds, dr = self._total(node)
            counted = frozenset((_add(s, bound * ds), _add(r, bound * dr)) for s, r in states)
            return counted | brk
        normal = frozenset((MANY if sends else s, MANY if receives else r) for s, r in entry)
        return normal | brk

    def _cases(self, node: Node, states: frozenset[State]) -> frozenset[State]:
        states = self._apply(states, node.child_by_field_name("initializer"))
        states = self._apply(states, node.child_by_field_name("value"))
        self.breaks.append([])
        result: frozenset[State] = frozenset()
        has_default = node.type == "select_statement"
        try:
            for case in node.named_children:
                if case.type not in ("expression_case", "type_case", "default_case", "communication_case"):
                    continue
                if case.type == "default_case" and node.type != "select_statement":
                    has_default = True
                case_states = self._apply(states, case.child_by_field_name("communication"))
                case_states = self._apply(case_states, case.child_by_field_name("value"))
                body = next((c for c in case.named_children if c.type == "statement_list"), None)
                result |= self.seq(statements(body), case_states) if body is not None else case_states
            label = label_of(node)
            for jump in self.breaks[-1]:
                if jump.label is None or jump.label == label:
                    result |= jump.states
                elif len(self.breaks) > 1:
                    self.breaks[-2].append(jump)
        finally:
            self.breaks.pop()
        if not has_default:
            result |= states
        return result


def literal_bound(loop: Node) -> int | None:
    """How many times a loop runs when its header says so plainly: ``for i := 0; i < 4; i++``,
    ``for range 4``, ``for i := range 4``."""
    clause = next((c for c in loop.named_children if c.type in ("for_clause", "range_clause")), None)
    if clause is None:
        return None
    if clause.type == "range_clause":
        right = clause.child_by_field_name("right")
        return int(text(right)) if right is not None and right.type == "int_literal" and text(right).isdigit() else None
    initializer = clause.child_by_field_name("initializer")
    condition = clause.child_by_field_name("condition")
    update = clause.child_by_field_name("update")
    if initializer is None or condition is None or update is None or condition.type != "binary_expression":
        return None
    counter = text(condition.child_by_field_name("left"))
    bound = condition.child_by_field_name("right")
    if text(condition.child_by_field_name("operator")) != "<" or bound is None or bound.type != "int_literal":
        return None
    if text(initializer).replace(" ", "") != f"{counter}:=0" or text(update).replace(" ", "") != f"{counter}++":
        return None
    return int(text(bound)) if text(bound).isdigit() else None


def _drained(states: frozenset[State]) -> frozenset[State]:
    """Leaving an unconditional receive loop after some receives: it decided it had them all.

    Such a loop (``for { select { case v := <-ch: ... } }``) ends when its own
    bookkeeping says so — a counter of active workers, a sentinel value — which
    this analysis cannot follow.  Only leaving it before any receive is a leak
    for sure.
    """
    return frozenset((s, MANY if r >= 1 else r) for s, r in states)


def count_paths(
    body: Node,
    events: dict[int, tuple[int, int]],
    loop_kinds: Callable[[Node], tuple[bool, bool]],
) -> list[Exit] | None:
    """The exits of a function body with the (sent, received) counts that reach each.

    ``events`` maps the start byte of a node to what it adds when executed;
    ``loop_kinds(loop)`` says whether a loop starts senders, and whether it
    receives (such a loop counts as :data:`MANY` of them when it ends
    normally).  None when the control flow is beyond the analysis.
    """
    counter = _Counter(events, loop_kinds)
    try:
        end = counter.seq(statements(body), frozenset({(0, 0)}))
    except GiveUp:
        return None
    exits = list(counter.exits)
    if end:
        exits.append(Exit(None, end))
    return exits


_RESULT_BINDINGS = """
[(short_var_declaration
   left: (expression_list . (identifier) @name .)
   right: (expression_list . (call_expression function: (identifier) @callee) @call .)) @decl
 (var_spec
   name: (identifier) @name
   value: (expression_list . (call_expression function: (identifier) @callee) @call .)) @decl]
"""


def abandoned_results(func: Node) -> set[str]:
    """The functions whose result ``func`` keeps in a local it only ever receives from
    (``ch := fetch(ctx)`` ... ``v := <-ch``), but on some path returns without receiving.

    When such a function returns an unbuffered channel that a goroutine of its own sends one
    value on, that goroutine blocks for ever on every one of those paths.  Mentions in a
    nested function literal, or any other use of the local, make it a value we do not follow.
    """
    body = func.child_by_field_name("body")
    if body is None or b"<-" not in (body.text or b""):
        return set()
    found: set[str] = set()
    for _, captures in cursor(_RESULT_BINDINGS).matches(body):
        decl = captures["decl"][0]
        callee = text(captures["callee"][0])
        if callee in found or callee in ("make", "new") or _inside_nested(decl, func):
            continue
        name = captures["name"][0]
        receives: list[Node] = []
        for ident in identifiers_named(body, name.text or b""):
            if ident.start_byte <= name.start_byte:
                continue
            parent = ident.parent
            if (
                parent is None
                or parent.type != "unary_expression"
                or text(parent.child_by_field_name("operator")) != "<-"
                or _inside_nested(ident, func)
            ):
                receives = []
                break
            receives.append(parent)
        if not receives:
            continue
        call = captures["call"][0].start_byte
        events = {call: (1, 0)}
        events.update((r.start_byte, (0, 1)) for r in receives)
        positions = [r.start_byte for r in receives]

        def loop_kinds(loop: Node, call: int = call, positions: list[int] = positions) -> tuple[bool, bool]:
            return loop.start_byte <= call < loop.end_byte, contains_any(loop, positions)

        exits = count_paths(body, events, loop_kinds)
        if exits and any(s > r for e in exits for s, r in e.states):
            found.add(callee)
    return found


def contains_any(node: Node, positions: Iterable[int]) -> bool:
    return any(node.start_byte <= p < node.end_byte for p in positions)


def max_sends(literal: Node, sends: list[Node]) -> int:
    """The most blocking sends a goroutine can make on one path (capped at :data:`MANY`)."""
    body = literal.child_by_field_name("body")
    if body is None:
        return 0
    events = {s.start_byte: (1, 0) for s in sends}
    positions = list(events)

    def loop_kinds(loop: Node) -> tuple[bool, bool]:
        return contains_any(loop, positions), False

    exits = count_paths(body, events, loop_kinds)
    if exits is None:
        return MANY
    return max((s for e in exits for s, _ in e.states), default=0)
