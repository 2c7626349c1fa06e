"""blocked-send: a goroutine sends on an unbuffered channel that nobody may receive from any more."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from tree_sitter import Node

from golsp_leaks.goanalysis.cfg.loops import enclosing_loop
from golsp_leaks.goanalysis.dataflow.channels import (
    MANY,
    Exit,
    Goroutine,
    LocalChannel,
    contains_any,
    count_paths,
    local_channels,
    max_sends,
)
from golsp_leaks.goanalysis.libraries.servers import served, shut_down_before, unless_closed
from golsp_leaks.goanalysis.summaries.declared import text_matches
from golsp_leaks.goanalysis.summaries.facts import ABANDONED, SCOPE_FACTS, SIBLINGS
from golsp_leaks.goanalysis.syntax.edits import insert_statement_after
from golsp_leaks.goanalysis.syntax.nodes import enclosing_function, line_indent, statements, text
from golsp_leaks.goanalysis.syntax.parse import cursor
from golsp_leaks.model import Applicability, Edit, Finding, Fix, Related, Severity
from golsp_leaks.rules.base import FileContext, FixKind, Rule

_FUNCTIONS = "[(function_declaration) (method_declaration) (func_literal)] @f"
_SELECTS = "(select_statement) @select"
_SENDS = "(send_statement) @send"
_DONE_CASES = """
(communication_case
  communication: [(receive_statement right: (unary_expression operand: (call_expression
                      function: (selector_expression operand: (identifier) @ctx field: (field_identifier) @done))))
                  (expression_statement (unary_expression operand: (call_expression
                      function: (selector_expression operand: (identifier) @ctx field: (field_identifier) @done))))])
"""
_DECLARATIONS = """
[(parameter_declaration name: (identifier) @name type: (_) @type)
 (variadic_parameter_declaration name: (identifier) @name)
 (short_var_declaration left: (expression_list (identifier) @name) right: (expression_list) @value)
 (var_spec name: (identifier) @name)
 (range_clause left: (expression_list (identifier) @name))]
"""


class BlockedSend(Rule):
    """
    ## What it does
    Reports a goroutine that sends on an unbuffered channel made by the
    function that starts it, when that function can stop receiving before every
    value has been taken:

    * it returns before it receives (an early `return` on an error: *EarlyReturn*);
    * it waits in a `select` where a timeout or `ctx.Done()` can win (*Timeout*);
    * it starts N senders, in a loop, and receives fewer values (*NCastLeak*), or
      leaves its receive loop early (the first error wins);
    * one goroutine can send twice on a path (a missing `return` after the
      first send: *DoubleSend*);
    * it polls in a loop whose `select` returns as soon as the value comes,
      and leaves the loop another way (time runs out, the server is up): the
      loop has received nothing.

    Two more shapes reach beyond the function:

    * a function that returns the channel (`func fetch() <-chan T`) to a
      caller in the package that keeps it in a local it only receives from,
      and can return before receiving (the package fact `abandoned`);
    * a loop whose `select` receives from an unbuffered package-level
      channel (or a field made unbuffered in the file) and sends on that same
      channel in one of its cases, when nothing else in the package receives
      from it: the loop waits for itself (the hub of a chat server that
      unregisters a client from inside its broadcast).

    The channel must stay in the function: passed to another function, stored,
    or received from by some other goroutine, it is not judged.  A goroutine
    that sends one value on one of two channels (a result or an error), when
    the function only ever receives from them in `select`s over both, hands
    over one value that any of those `select`s takes.  Sends inside a
    `select` with another case or a `default` never block for ever and are not
    counted.  A goroutine that runs an `http.Server` (`srv.Serve(l)`,
    `srv.ListenAndServe()`) and sends its error only when it is not
    `http.ErrServerClosed` is not reported when every exit that stops
    receiving first calls `srv.Shutdown` or `srv.Close` (not in a branch):
    `Serve` then returns `ErrServerClosed`, and nothing is sent.

    ## Why is this bad?
    A send on an unbuffered channel waits until someone receives.  When nobody
    ever will, the goroutine is blocked for the life of the process, with
    everything it references.  In a handler this happens on every request that
    takes the early return or times out, and the goroutines pile up.

    ## Example
    ```go
    func search(w http.ResponseWriter, r *http.Request) {
        results := make(chan []Note)
        go func() {
            results <- store.Search(r.URL.Query().Get("q"))
        }()
        select {
        case notes := <-results:
            writeJSON(w, notes)
        case <-time.After(3 * time.Second):
            http.Error(w, "timed out", http.StatusGatewayTimeout)
        }
    }
    ```

    ## Use instead
    ```go
    func search(w http.ResponseWriter, r *http.Request) {
        results := make(chan []Note, 1)
        go func() {
            results <- store.Search(r.URL.Query().Get("q"))
        }()
        select {
        case notes := <-results:
            writeJSON(w, notes)
        case <-time.After(3 * time.Second):
            http.Error(w, "timed out", http.StatusGatewayTimeout)
        }
    }
    ```

    ## Fix safety
    The first fix gives the channel a buffer with room for every send: the
    number of sends when it is known, or the length of what the loop that
    starts the senders ranges over (`len(items)`, `n`) when that is plain and
    already declared where the channel is made.  With room for every value no
    send ever waits, and the receiving side is unchanged: it still gets the
    values in order and a receive still waits for one.  Alternatives: wrap each
    send in a `select` with the `Done()` channel of the context the receiving
    side gives up on (the goroutine then gives up too), and, for a goroutine
    that sends twice, add the `return` that is missing after the first send.
    """

    id = "blocked-send"
    summary = "a goroutine sends on an unbuffered channel that may never be received from"
    requires = (*SCOPE_FACTS, ABANDONED, SIBLINGS)
    default_severity = Severity.WARNING
    fix_kinds = (
        FixKind("Give {channel} a buffer of {size}, so that every send completes", Applicability.SAFE, "every sending goroutine ends with its send: nothing else changes"),
        FixKind("Give {channel} a buffer of {size}, so that every send completes", Applicability.UNSAFE, "a sender does more after its send: it now does it before the value is received"),
        FixKind("Return after the first send", Applicability.UNSAFE),
        FixKind("Give up the send when {context} is done", Applicability.UNSAFE),
    )
    triggers = (b"make(chan", b"select {")

    def check(self, decl: Node, ctx: FileContext) -> Iterable[Finding]:
        if decl.type not in ("function_declaration", "method_declaration"):
            return
        for func in cursor(_FUNCTIONS).captures(decl).get("f", []):
            body = func.child_by_field_name("body")
            if body is None or b"make(chan" not in (body.text or b""):
                continue
            channels = local_channels(func)
            for channel in channels:
                if channel.unbuffered:
                    finding = self._check(channel, channels, ctx)
                    if finding is not None:
                        yield finding
        source = decl.text or b""
        if decl.type == "function_declaration" and b"return" in source and b"make(chan" in source:
            yield from self._returned(decl, ctx)  # a channel made here (local_channels), returned
        if b"select {" in source and b"<-" in source:
            yield from self._self_sends(decl, ctx)

    def _self_sends(self, decl: Node, ctx: FileContext) -> Iterator[Finding]:
        """A loop whose select receives from an unbuffered channel and, in one of its cases, sends
        on that same channel, when nothing else in the package receives from it: the only
        receiver is the goroutine that is now waiting to send, so it waits for ever."""
        for select in cursor(_SELECTS).captures(decl).get("select", []):
            func = enclosing_function(select)
            if func is None or enclosing_loop(select, func) is None:
                continue
            received = _received_in(select, selectors=True)
            if not received:
                continue
            for send in cursor(_SENDS).captures(select).get("send", []):
                channel = send.child_by_field_name("channel")
                name = text(channel) if channel is not None else ""
                if name not in received or _guarded_send(send) or enclosing_function(send) != func:
                    continue
                if not _unbuffered_shared(name, ctx) or _received_elsewhere(name, func, ctx):
                    continue
                case = received[name]
                yield Finding(
                    rule=self.id,
                    start=send.start_byte,
                    end=send.end_byte if send.end_point.row == send.start_point.row else send.start_byte + len(name),
                    message=(
                        f"this send blocks for ever: {name} is unbuffered, and the only code that receives from it "
                        f"is this loop's select, which is the one waiting to send"
                    ),
                    related=(Related(case.start_byte, case.start_byte + len("case"), f"the only receive from {name}"),),
                    per_request=ctx.scope.is_per_request(send),
                )

    def _returned(self, decl: Node, ctx: FileContext) -> Iterator[Finding]:
        """A function that returns an unbuffered channel its goroutine sends one value on, and a
        caller in the package that can return without receiving it: the goroutine blocks for ever."""
        channels = [
            c
            for c in local_channels(decl, returned=True)
            if c.returns and c.unbuffered and c.senders() and not (c.sends or c.receives or c.ranges)
            and not any(g.receives or g.ranges for g in c.goroutines)
        ]
        if not channels:
            return
        name = text(decl.child_by_field_name("name"))
        callers = sorted(caller for callee, caller in ctx.package.abandoned if callee == name)
        if not callers:
            return
        for channel in channels:
            senders = channel.senders()
            site = senders[0].sends[0]
            shown = ", ".join(callers[:3]) + (" and others" if len(callers) > 3 else "")
            message = (
                f"this goroutine can block for ever on this send: {channel.name} is unbuffered and returned "
                f"to the caller, and {shown} can return without receiving from it"
            )
            related = [Related(r.start_byte, r.start_byte + len("return"), f"{channel.name} is handed to the caller here") for r in channel.returns[:2]]
            related.extend(Related(g.go.start_byte, g.go.start_byte + 2, "the sending goroutine is started here") for g in senders[:2])
            per_goroutine = {g.go.start_byte: max_sends(g.literal, g.sends) for g in senders}
            yield Finding(
                rule=self.id,
                start=site.start_byte,
                end=site.end_byte if site.end_point.row == site.start_point.row else site.start_byte + len(channel.name),
                message=message,
                related=tuple(related),
                fixes=tuple(_buffer_fix(ctx, channel, senders, per_goroutine)),
                per_request=ctx.scope.is_per_request(channel.call),
            )

    def _check(self, channel: LocalChannel, channels: list[LocalChannel], ctx: FileContext) -> Finding | None:
        senders = channel.senders()
        if not senders or channel.sends:
            return None  # the creator sends too: a protocol we do not follow
        if any(g.receives or g.ranges for g in channel.goroutines):
            return None  # some goroutine receives: it may take the rest
        per_goroutine = {g.go.start_byte: max_sends(g.literal, g.sends) for g in senders}
        leaking = _leaking_exits(channel.func, senders, per_goroutine, channel.receives, channel.ranges)
        if not leaking or _silent_after_shutdown(senders, leaking):
            return None
        group = _received_together(channel, channels)
        if group:
            # The goroutines send one value on one of the group's channels, and the function
            # always waits on all of them at once: count the group as one channel.
            members = [channel, *group]
            sends = {
                g.go.start_byte: [s for m in members for h in m.goroutines if h.go == g.go for s in h.sends]
                for g in senders
            }
            merged = {g.go.start_byte: max_sends(g.literal, sends[g.go.start_byte]) for g in senders}
            receives = [r for m in members for r in m.receives]
            leaking = _leaking_exits(channel.func, senders, merged, receives, [])
            if not leaking:
                return None
        return self._finding(channel, ctx, senders, per_goroutine, leaking)


    def _finding(
        self,
        channel: LocalChannel,
        ctx: FileContext,
        senders: list[Goroutine],
        per_goroutine: dict[int, int],
        leaking: list[Exit],
    ) -> Finding:
        name = channel.name
        func_name = _describe(channel.func)
        received = min(r for e in leaking for s, r in e.states if s > r)
        double = next(
            (g for g in senders if per_goroutine[g.go.start_byte] >= 2 and not g.in_loop and len(senders) == 1),
            None,
        )
        looped = any(g.in_loop for g in senders)
        if double is not None and received >= 1:
            site = sorted(double.sends, key=lambda n: n.start_byte)[1] if len(double.sends) > 1 else double.sends[0]
            message = (
                f"this goroutine can send on unbuffered {name} more than once, but {func_name} receives "
                f"{_times(received)}: this send blocks for ever"
            )
        elif looped:
            site = senders[0].sends[0]
            message = (
                f"goroutines started in a loop send on unbuffered {name}, and {func_name} can stop receiving "
                "before it has every value: each goroutine whose value is not received blocks for ever on this send"
            )
        elif len(senders) > 1 and received >= 1:
            site = senders[-1].sends[0]
            message = (
                f"{len(senders)} goroutines send on unbuffered {name}, but {func_name} can receive fewer values: "
                "a goroutine whose value is not received blocks for ever on its send"
            )
        else:
            site = senders[0].sends[0]
            timeout = any(_losing_case(e.node, name) for e in leaking) or any(
                r.parent is not None and r.parent.parent is not None and "case" in r.parent.parent.type
                for r in channel.receives
            )
            how = "gives up waiting in a select" if timeout else "can return"
            message = (
                f"this goroutine can block for ever on this send: {name} is unbuffered, and {func_name} "
                f"{how} without receiving from it"
            )
        related: list[Related] = []
        for exit_ in leaking[:4]:
            related.append(_exit_related(exit_, channel, name))
        for g in senders[:2]:
            related.append(Related(g.go.start_byte, g.go.start_byte + 2, "the sending goroutine is started here"))
        fixes = _buffer_fix(ctx, channel, senders, per_goroutine)
        if double is not None:
            fixes.extend(_return_fix(ctx, double))
        fixes.extend(_select_fix(ctx, channel, senders))
        return Finding(
            rule=self.id,
            start=site.start_byte,
            end=site.end_byte if site.end_point.row == site.start_point.row else site.start_byte + len(name),
            message=message,
            related=tuple(related),
            fixes=tuple(fixes),
            per_request=ctx.scope.is_per_request(channel.call),
        )


def _leaking_exits(
    func: Node, senders: list[Goroutine], per_goroutine: dict[int, int], receives: list[Node], ranges: list[Node]
) -> list[Exit]:
    """The exits of ``func`` reached with more values sent by ``senders`` than received."""
    body = func.child_by_field_name("body")
    if body is None:
        return []
    events: dict[int, tuple[int, int]] = {g.go.start_byte: (per_goroutine[g.go.start_byte], 0) for g in senders}
    for receive in receives:
        events[receive.start_byte] = (0, 1)
    for loop in ranges:
        clause = next((c for c in loop.named_children if c.type == "range_clause"), None)
        right = clause.child_by_field_name("right") if clause is not None else None
        if right is not None:
            events[right.start_byte] = (0, 1)
    sender_positions = [g.go.start_byte for g in senders]
    # A receive whose select case returns never lets its loop run on: the loop's normal end
    # says nothing about how many values it took (a poll that gives up when time runs out).
    leaving = {r.start_byte for r in receives if _case_returns(r)}
    receive_positions = [p for p, (_, r) in events.items() if r and p not in leaving]

    def loop_kinds(loop: Node) -> tuple[bool, bool]:
        return contains_any(loop, sender_positions), contains_any(loop, receive_positions)

    exits = count_paths(body, events, loop_kinds)
    if exits is None:
        return []
    return [e for e in exits if any(s > r for s, r in e.states)]


def _received_together(channel: LocalChannel, channels: list[LocalChannel]) -> list[LocalChannel]:
    """The other unbuffered channels of the function that ``channel``'s goroutines send on and that
    the function receives from only together with it: every receive from any of them is a case of a
    ``select`` with a receive case on each (``case err := <-errs: ... case v := <-vals: ...``).

    A goroutine that sends its result on one channel and its error on another then hands over one
    value, and one receive from the select takes it, whichever it is.
    """
    starts = {g.go.start_byte for g in channel.senders()}
    group = [
        other
        for other in channels
        if other is not channel
        and other.unbuffered
        and not other.sends
        and not other.ranges
        and other.receives
        and {g.go.start_byte for g in other.senders()} == starts
        and not any(g.receives or g.ranges for g in other.goroutines)
    ]
    if not group or channel.ranges or not channel.receives:
        return []
    names = {m.name for m in (channel, *group)}
    for member in (channel, *group):
        for receive in member.receives:
            select = _select_of(receive)
            if select is None or not names <= set(_received_in(select)):
                return []
    return group


def _select_of(receive: Node) -> Node | None:
    """The select statement whose case is this receive (``case <-ch:`` or ``case v := <-ch:``)."""
    holder = receive.parent
    if holder is not None and holder.type == "expression_list":
        holder = holder.parent
    if holder is None or holder.type not in ("receive_statement", "expression_statement"):
        return None
    case = holder.parent
    if case is None or case.type != "communication_case" or case.child_by_field_name("communication") != holder:
        return None
    select = case.parent
    return select if select is not None and select.type == "select_statement" else None


def _case_returns(receive: Node) -> bool:
    """Is this receive a case of a select whose body ends in a ``return``?"""
    select = _select_of(receive)
    case = receive.parent
    while case is not None and case.type != "communication_case":
        case = case.parent
    if select is None or case is None:
        return False
    body = next((c for c in case.named_children if c.type == "statement_list"), None)
    stmts = statements(body) if body is not None else []
    return bool(stmts) and stmts[-1].type == "return_statement"


def _received_in(select: Node, selectors: bool = False) -> dict[str, Node]:
    """The plain channel names a select has receive cases on, with their cases (and, with
    ``selectors``, the ``x.field`` ones)."""
    names: dict[str, Node] = {}
    for case in select.named_children:
        communication = case.child_by_field_name("communication") if case.type == "communication_case" else None
        if communication is None:
            continue
        value = communication.child_by_field_name("right") if communication.type == "receive_statement" else None
        if value is None and communication.named_child_count:
            value = communication.named_children[-1]
        if value is not None and value.type == "expression_list" and value.named_child_count:
            value = value.named_children[-1]
        if value is not None and value.type == "unary_expression":
            operand = value.child_by_field_name("operand")
            if operand is not None and (operand.type == "identifier" or (selectors and _field_of_name(operand))):
                names.setdefault(text(operand), case)
    return names


def _field_of_name(node: Node) -> bool:
    """``x.f``: a field of a plain name."""
    if node.type != "selector_expression":
        return False
    operand = node.child_by_field_name("operand")
    return operand is not None and operand.type == "identifier"


def _guarded_send(send: Node) -> bool:
    """A send that is a case of a select with another way out."""
    case = send.parent
    if case is None or case.type != "communication_case" or case.parent is None:
        return False
    return sum(c.type in ("communication_case", "default_case") for c in case.parent.named_children) > 1


def _unbuffered_shared(name: str, ctx: FileContext) -> bool:
    """Is the package-level variable ``name`` (or every ``f:``/``.f =`` of the field ``x.f``) made
    in this file with ``make(chan T)`` and no buffer?"""
    field = name.rpartition(".")[2]
    pattern = (
        rb"(?m)^\s*(?:var\s+)?" + re.escape(name.encode()) + rb"\s*=\s*make\(chan\b([^()\n]|\([^()\n]*\))*\)"
        if "." not in name
        else rb"(?:\b" + re.escape(field.encode()) + rb"\s*:|\." + re.escape(field.encode()) + rb"\s*=)\s*make\(chan\b([^()\n]|\([^()\n]*\))*\)"
    )
    makes = [m.group(0) for m in re.finditer(pattern, ctx.source)]
    return bool(makes) and all(_make_unbuffered(m) for m in makes)


def _make_unbuffered(make: bytes) -> bool:
    inner = make[make.index(b"make(") + 5 : -1]
    depth = 0
    for ch in inner:
        if ch in b"([{":
            depth += 1
        elif ch in b")]}":
            depth -= 1
        elif ch == ord(",") and depth == 0:
            return False
    return True


def _received_elsewhere(name: str, func: Node, ctx: FileContext) -> bool:
    """Does code outside ``func`` — in this file or the package's others — receive from ``name``
    (or, for ``x.f``, from any ``.f``) or range over it?"""
    tail = name.rpartition(".")[2].encode()
    prefix = rb"(?:\w+\.)?" if "." not in name else rb"\w+(?:\.\w+)*\."
    pattern = re.compile(rb"(?:<-\s*|range\s+)" + prefix + re.escape(tail) + rb"\b")
    for match in pattern.finditer(ctx.source):
        if not func.start_byte <= match.start() < func.end_byte:
            return True
    return any(text_matches(sibling, pattern) for sibling in ctx.package.siblings)


def _silent_after_shutdown(senders: list[Goroutine], leaking: list[Exit]) -> bool:
    """Does every sender only report a server's error other than ``http.ErrServerClosed``, and does
    every exit that leaves a value unreceived shut that server down first?  Then, on those paths,
    ``Serve`` returns ``ErrServerClosed`` and nothing is sent."""
    for goroutine in senders:
        servers = served(goroutine.literal)
        if not servers or not all(unless_closed(send, goroutine.literal) for send in goroutine.sends):
            return False
        if not all(e.node is not None and shut_down_before(e.node, servers) for e in leaking):
            return False
    return True


def _times(n: int) -> str:
    return {0: "nothing", 1: "once", 2: "twice"}.get(n, f"{n} times")


def _describe(func: Node) -> str:
    if func.type == "func_literal":
        return "the function"
    return text(func.child_by_field_name("name")) or "the function"


def _losing_case(node: Node | None, name: str) -> bool:
    """Is this exit inside a select case that does not receive from the channel?"""
    current = node
    while current is not None and current.type not in ("function_declaration", "method_declaration", "func_literal"):
        if current.type == "communication_case":
            communication = current.child_by_field_name("communication")
            return communication is not None and name not in text(communication)
        current = current.parent
    return False


def _exit_related(exit_: Exit, channel: LocalChannel, name: str) -> Related:
    if exit_.node is None:
        body = channel.func.child_by_field_name("body")
        end = body.end_byte if body is not None else channel.func.end_byte
        return Related(end - 1, end, f"the function ends here without receiving every value sent on {name}")
    node = exit_.node
    if _losing_case(node, name):
        message = f"when this case of the select wins, nobody receives from {name} any more"
    else:
        message = f"this return is reached before every value sent on {name} is received"
    return Related(node.start_byte, node.start_byte + len("return"), message)


# --- fixes -----------------------------------------------------------------------


def _buffer_fix(
    ctx: FileContext, channel: LocalChannel, senders: list[Goroutine], per_goroutine: dict[int, int]
) -> list[Fix]:
    if any(g.in_loop for g in senders):
        if len(senders) != 1 or per_goroutine[senders[0].go.start_byte] != 1:
            return []
        size = _loop_count(senders[0].go, channel)
        if size is None:
            return []
    else:
        total = sum(per_goroutine[g.go.start_byte] for g in senders)
        if total >= MANY and any(per_goroutine[g.go.start_byte] >= MANY for g in senders):
            return []  # a sender loops: no fixed buffer is enough
        size = str(total)
    args = channel.call.child_by_field_name("arguments")
    if args is None:
        return []
    if channel.size is not None:
        edit = Edit(channel.size.start_byte, channel.size.end_byte, size)
    else:
        closing = args.end_byte - 1
        edit = Edit(closing, closing, f", {size}")
    # The receiving side is unchanged either way; a sender that does more after its
    # send now does it before the value is received, which a test can observe.
    applicability = Applicability.SAFE if all(_sends_last(g) for g in senders) else Applicability.UNSAFE
    return [Fix(f"Give {channel.name} a buffer of {size}, so that every send completes", (edit,), applicability)]


def _sends_last(goroutine: Goroutine) -> bool:
    """True when the goroutine's only blocking send is the last statement of its body."""
    if len(goroutine.sends) != 1:
        return False
    body = goroutine.literal.child_by_field_name("body")
    stmts = statements(body) if body is not None else []
    return bool(stmts) and stmts[-1] == goroutine.sends[0]


def _loop_count(go: Node, channel: LocalChannel) -> str | None:
    """How many times the loop around ``go`` runs, as an expression valid where the channel is made."""
    loops = []
    current = go.parent
    while current is not None and current != channel.func:
        if current.type == "for_statement":
            loops.append(current)
        current = current.parent
    if len(loops) != 1:
        return None
    loop = loops[0]
    clause = next((c for c in loop.named_children if c.type in ("range_clause", "for_clause")), None)
    if clause is None:
        return None
    if clause.type == "range_clause":
        right = clause.child_by_field_name("right")
        left = clause.child_by_field_name("left")
        if right is None or not _plain(right):
            return None
        if right.type == "int_literal":
            return text(right)
        if right.type == "call_expression":
            return text(right) if text(right.child_by_field_name("function")) == "len" else None
        two_values = left is not None and left.named_child_count == 2
        kind = _declared_kind(right, channel)
        if kind == "int":
            return text(right)
        if two_values or kind == "collection":
            return f"len({text(right)})" if _visible(right, channel) else None
        return None
    initializer = clause.child_by_field_name("initializer")
    condition = clause.child_by_field_name("condition")
    update = clause.child_by_field_name("update")
    if initializer is None or condition is None or update is None:
        return None
    init_text = text(initializer).replace(" ", "")
    if condition.type != "binary_expression" or text(condition.child_by_field_name("operator")) != "<":
        return None
    counter = condition.child_by_field_name("left")
    bound = condition.child_by_field_name("right")
    if counter is None or bound is None or init_text != f"{text(counter)}:=0":
        return None
    if text(update).replace(" ", "") != f"{text(counter)}++" or not _plain(bound):
        return None
    return text(bound) if _visible(bound, channel) else None


def _plain(node: Node) -> bool:
    """An identifier, a selector chain of identifiers, an int literal, or len() of one of those."""
    if node.type in ("identifier", "int_literal"):
        return True
    if node.type == "selector_expression":
        operand = node.child_by_field_name("operand")
        return operand is not None and _plain(operand) and operand.type != "int_literal"
    if node.type == "call_expression" and text(node.child_by_field_name("function")) == "len":
        args = node.child_by_field_name("arguments")
        return args is not None and args.named_child_count == 1 and _plain(args.named_children[0])
    return False


def _root(node: Node) -> Node:
    while node.type in ("selector_expression", "call_expression"):
        if node.type == "call_expression":
            args = node.child_by_field_name("arguments")
            if args is None or not args.named_child_count:
                return node
            node = args.named_children[0]
        else:
            operand = node.child_by_field_name("operand")
            if operand is None:
                return node
            node = operand
    return node


def _declarations(func: Node, name: str) -> list[tuple[Node, Node | None, Node | None]]:
    found = []
    for _, captures in cursor(_DECLARATIONS).matches(func):
        ident = captures["name"][0]
        if text(ident) == name:
            found.append((ident, captures.get("type", [None])[0], captures.get("value", [None])[0]))
    return found


def _visible(expr: Node, channel: LocalChannel) -> bool:
    """Every name the expression starts from is declared before the channel is made, in scope there."""
    root = _root(expr)
    if root.type == "int_literal":
        return True
    if root.type != "identifier":
        return False
    make = channel.statement
    for ident, _, _ in _declarations(channel.func, text(root)):
        if ident.start_byte >= make.start_byte:
            return False  # declared (again) later: not the same thing, or not yet
        block = ident.parent
        while block is not None and block.type not in ("block", "parameter_list"):
            block = block.parent
        if block is not None and block.type == "block" and not (block.start_byte <= make.start_byte < block.end_byte):
            return False
    return True


def _declared_kind(expr: Node, channel: LocalChannel) -> str | None:
    """"collection" or "int" for a plain identifier whose declaration says so."""
    if expr.type != "identifier":
        return None
    for _, type_node, value in _declarations(channel.func, text(expr)):
        if type_node is not None:
            if type_node.type in ("slice_type", "map_type", "array_type"):
                return "collection"
            if text(type_node) == "int":
                return "int"
        if value is not None:
            first = value.named_children[0] if value.named_child_count else None
            if first is not None and first.type == "composite_literal":
                return "collection"
    return None


def _return_fix(ctx: FileContext, goroutine: Goroutine) -> list[Fix]:
    """Add the missing ``return`` after a send that is the last statement of an ``if`` block."""
    if goroutine.literal.child_by_field_name("result") is not None:
        return []
    first = sorted(goroutine.sends, key=lambda n: n.start_byte)[0]
    block = first.parent
    if block is None or block.type != "statement_list":
        return []
    stmts = statements(block)
    if not stmts or stmts[-1] != first:
        return []
    holder = block.parent
    if holder is None or holder.type != "block" or holder.parent is None or holder.parent.type != "if_statement":
        return []
    insert = insert_statement_after(ctx.source, first, "return")
    if insert is None:
        return []
    return [Fix("Return after the first send", (insert,), Applicability.UNSAFE)]


def _select_fix(ctx: FileContext, channel: LocalChannel, senders: list[Goroutine]) -> list[Fix]:
    """Wrap each send in a select on the Done() channel the creator gives up on."""
    contexts = {
        text(c["ctx"][0]) for _, c in cursor(_DONE_CASES).matches(channel.func) if text(c["done"][0]) == "Done"
    }
    if len(contexts) != 1:
        return []
    context_name = next(iter(contexts))
    edits: list[Edit] = []
    for g in senders:
        if any(text(n) == context_name for n in _literal_declarations(g.literal)):
            return []
        for send in g.sends:
            if send.parent is None or send.parent.type != "statement_list":
                return []
            indent = line_indent(ctx.source, send.start_byte).decode()
            nl = "\r\n" if b"\r\n" in ctx.source[:4096] else "\n"
            replacement = nl.join(
                (
                    "select {",
                    f"{indent}case {text(send)}:",
                    f"{indent}case <-{context_name}.Done():",
                    f"{indent}}}",
                )
            )
            edits.append(Edit(send.start_byte, send.end_byte, replacement))
    if not edits:
        return []
    return [Fix(f"Give up the send when {context_name} is done", tuple(edits), Applicability.UNSAFE)]


def _literal_declarations(literal: Node) -> Iterator[Node]:
    for _, captures in cursor(_DECLARATIONS).matches(literal):
        yield captures["name"][0]
