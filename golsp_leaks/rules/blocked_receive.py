"""blocked-receive: a receive that nothing will ever satisfy."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from tree_sitter import Node

from golsp_leaks.goanalysis.cfg.graph import Block, graph
from golsp_leaks.goanalysis.cfg.loops import go_literals, inside_nested_function, is_unconditional
from golsp_leaks.goanalysis.dataflow.channels import LocalChannel, local_channels
from golsp_leaks.goanalysis.names.holders import top_level
from golsp_leaks.goanalysis.names.scopes import Bindings, Declaration, bindings
from golsp_leaks.goanalysis.summaries.facts import SCOPE_FACTS
from golsp_leaks.goanalysis.summaries.lifetime import RUNS_MORE_THAN_ONCE, runs_more_than_once
from golsp_leaks.goanalysis.syntax.nodes import (
    FUNCTION_TYPES,
    enclosing_function,
    is_assignment_target,
    statements,
    text,
)
from golsp_leaks.goanalysis.syntax.parse import cursor
from golsp_leaks.model import Finding, Related, Severity
from golsp_leaks.rules.base import FileContext, Rule

_FUNCTIONS = "[(function_declaration) (method_declaration) (func_literal)] @f"
_RECEIVES = '(unary_expression operator: "<-" operand: (_) @operand) @receive'
_TIMERS = """
(short_var_declaration
  left: (expression_list . (identifier) @name .)
  right: (expression_list . (call_expression
                               function: (selector_expression operand: (identifier) @pkg field: (field_identifier) @new))
                            @call .)) @decl
"""
_EXITS = "[(return_statement) (break_statement) (goto_statement)] @exit"
_METHOD_CALLS = "(call_expression function: (selector_expression field: (field_identifier) @method)) @call"
#: Derived contexts that are cancelled only when their parent is (or never).
_DERIVED = frozenset({"WithValue", "WithoutCancel", "WithCancel", "WithCancelCause"})
_ROOTS = frozenset({"Background", "TODO"})


@dataclass(frozen=True)
class _Never:
    """A receive that nothing will ever satisfy, and why."""

    receive: Node
    why: str
    related: tuple[Related, ...] = ()


class BlockedReceive(Rule):
    """
    ## What it does
    Reports a receive that nothing will ever satisfy, where it leaves code
    blocked for good:

    * a goroutine, started by code that runs more than once (a request
      handler, a function called in a loop or per connection, a test, a
      method of a value that is made and closed again), that waits on a
      channel the function made and that nobody sends on or closes, or on
      the `Done()` channel of a context nobody can cancel
      (`context.Background()`, `context.TODO()`, or `WithCancel` of one of
      those whose `cancel` is never used) — as a plain receive, a `select`
      without another way on, or as the only way out of the goroutine's
      endless loop;
    * a goroutine of a handler that asks for `CloseNotify()` (net/http's
      `http.CloseNotifier`, Gin's `c.Writer`) only after other work, when
      the handler does not wait for it: asked for after the handler has
      returned, the channel is not guaranteed to receive a value (asked for
      as the goroutine's first statement, while the handler runs, it is
      fine);
    * a timer drained twice: `if !t.Stop() { <-t.C }` reached after `t.C`
      was already received (in a `select` case, say) with no `t.Reset` in
      between.  `Stop` then returns false because the timer fired, and the
      value it sent is gone: the receive waits for ever.

    A channel that leaves the function (passed on, stored, returned) is not
    judged: someone we cannot see may send on it.  A goroutine started once
    (from `main`, `init`, a `sync.Once`) is left alone, as goroutine-no-exit
    does.

    ## Why is this bad?
    A receive from a channel that never gets a value or a close blocks for
    ever: the goroutine keeps its stack and everything it references for the
    life of the process, and one more is left behind each time the code that
    starts it runs.  A timer drained twice hangs the goroutine that owns it
    the first time the timer fires before it is stopped.

    ## Example
    ```go
    func (s *Store) Watch(key string) {
        ctx, _ := context.WithCancel(context.Background())
        go func() {
            <-ctx.Done()
            s.unwatch(key)
        }()
    }
    ```

    ## Use instead
    ```go
    func (s *Store) Watch(ctx context.Context, key string) {
        go func() {
            <-ctx.Done()
            s.unwatch(key)
        }()
    }
    ```

    ## Fix safety
    No fix: what should end the wait — a context the caller passes, a
    `close` when the work is done, a `t.Reset` or a flag that remembers the
    timer was drained — depends on the design.
    """

    id = "blocked-receive"
    summary = "a goroutine waits on a receive that nothing will ever satisfy"
    default_severity = Severity.WARNING
    fix_kinds = ()
    requires = (*SCOPE_FACTS, *RUNS_MORE_THAN_ONCE)
    #: A ``go`` statement (as gofmt indents it) or a timer: a file with neither has nothing to report.
    triggers = (b"\tgo ", b"NewTimer(")

    def check(self, decl: Node, ctx: FileContext) -> Iterable[Finding]:
        if decl.type not in ("function_declaration", "method_declaration"):
            return
        source = decl.text or b""
        if b"<-" not in source:
            return
        if b"\tgo " in source:
            yield from self._goroutines(decl, ctx)
        if b".Stop()" in source and b"NewTimer" in source:
            yield from self._timers_drained_twice(decl, ctx)

    # --- goroutines that wait for nothing -------------------------------------------

    def _goroutines(self, decl: Node, ctx: FileContext) -> Iterator[Finding]:
        resolved: list[Bindings] = []
        channels: dict[int, list[LocalChannel]] = {}

        def resolve() -> Bindings:
            if not resolved:
                resolved.append(bindings(top_level(decl), ctx.source))
            return resolved[0]

        for go_stmt, literal in go_literals(decl):
            if b"<-" not in (literal.text or b""):
                continue
            owner = enclosing_function(go_stmt)
            if owner is None:
                continue
            # The goroutine's own code first: how often it is started is asked of the package's
            # facts, and only for a goroutine that would wait for ever.
            if owner.start_byte not in channels:
                channels[owner.start_byte] = local_channels(owner)
            never = _never_satisfied(literal, channels[owner.start_byte], resolve, ctx)
            if not never:
                continue
            blocked = _blocked_for_good(literal, never)
            if blocked is None or ctx.scope.runs_once(go_stmt):
                continue
            per_request = ctx.scope.is_per_request(go_stmt)
            if not per_request and not runs_more_than_once(decl, ctx.package):
                continue
            where = "every request leaves one more" if per_request else "every call leaves one more"
            related = (*blocked.related, Related(go_stmt.start_byte, go_stmt.start_byte + 2, "the goroutine is started here"))
            yield Finding(
                rule=self.id,
                start=blocked.receive.start_byte,
                end=blocked.receive.end_byte,
                message=f"this goroutine waits for ever: {blocked.why}; {where} blocked here",
                related=related,
                per_request=per_request,
            )

    # --- a timer drained twice --------------------------------------------------

    def _timers_drained_twice(self, decl: Node, ctx: FileContext) -> Iterator[Finding]:
        time_names = ctx.imports.names_for("time")
        if not time_names:
            return
        resolved = bindings(top_level(decl), ctx.source)
        for _, captures in cursor(_TIMERS).matches(decl):
            if text(captures["pkg"][0]) not in time_names or text(captures["new"][0]) != "NewTimer":
                continue
            declaration = resolved.of(captures["name"][0])
            func = enclosing_function(captures["decl"][0])
            if declaration is None or func is None:
                continue
            finding = self._drained_twice(declaration, captures["decl"][0], func, resolved, ctx)
            if finding is not None:
                yield finding

    def _drained_twice(
        self, timer: Declaration, made: Node, func: Node, resolved: Bindings, ctx: FileContext
    ) -> Finding | None:
        receives: list[Node] = []
        resets: list[Node] = [made]  # made again (in a loop): a new timer, nothing drained yet
        drains: dict[int, Node] = {}  # start of the `!t.Stop()` condition -> the receive it guards
        for use in resolved.uses_of(timer, func):
            if inside_nested_function(use, func):
                return None  # a closure shares the timer: its state is beyond this function
            selector = use.parent
            if selector is None or selector.type != "selector_expression":
                return None
            field = text(selector.child_by_field_name("field"))
            outer = selector.parent
            if field == "C" and outer is not None and outer.type == "unary_expression" and text(outer.child_by_field_name("operator")) == "<-":
                receives.append(outer)
                condition = _drain_condition(outer, timer, resolved)
                if condition is not None:
                    drains[condition.start_byte] = outer
            elif field in ("Reset", "Stop") and outer is not None and outer.type == "call_expression":
                if field == "Reset":
                    resets.append(outer)
            else:
                return None  # t.C handed on, the timer passed somewhere: not ours to follow
        if not drains or len(receives) < 2:
            return None
        g = graph(func, ctx.source)
        located = {id(r): _locate(g.blocks, r) for r in receives}
        for receive in receives:
            place = located[id(receive)]
            if place is None:
                continue
            target = _reaches(place, drains, resets)
            if target is None:
                continue
            name = timer.name
            return Finding(
                rule=self.id,
                start=target.start_byte,
                end=target.end_byte,
                message=(
                    f"{name} can be drained twice: after {name}.C was received here before, with no "
                    f"{name}.Reset since, {name}.Stop() returns false and this receive waits for ever"
                ),
                related=(Related(receive.start_byte, receive.end_byte, f"{name}.C is received here, and the loop comes back to the drain"),),
                per_request=ctx.scope.is_per_request(target),
            )
        return None


# --- what never fires --------------------------------------------------------------


def _never_satisfied(
    literal: Node, channels: list[LocalChannel], resolve: Callable[[], Bindings], ctx: FileContext
) -> list[_Never]:
    """The receives of the goroutine ``literal`` (its own code) from a channel nothing will ever
    send on or close."""
    silent = {id(ch): ch for ch in channels if _silent(ch)}
    found: list[_Never] = []
    context_names = ctx.imports.names_for("context")
    for _, captures in cursor(_RECEIVES).matches(literal):
        receive = captures["receive"][0]
        if inside_nested_function(receive, literal):
            continue
        operand = captures["operand"][0]
        if operand.type == "identifier":
            channel = next(
                (ch for ch in silent.values() if any(r == receive for g in ch.goroutines for r in g.receives)),
                None,
            )
            if channel is not None:
                found.append(
                    _Never(
                        receive,
                        f"nobody sends on {channel.name} or closes it",
                        (Related(channel.ident.start_byte, channel.ident.end_byte, f"{channel.name} is made here"),),
                    )
                )
            continue
        why = _uncancelled_done(operand, resolve, context_names)
        if why is None:
            why = _late_close_notify(receive, operand, literal, ctx)
        if why is not None:
            found.append(_Never(receive, why[0], why[1]))
    return found


def _late_close_notify(receive: Node, operand: Node, literal: Node, ctx: FileContext) -> tuple[str, tuple[Related, ...]] | None:
    """``<-w.(http.CloseNotifier).CloseNotify()`` (or Gin's ``c.Writer.CloseNotify()``) asked for by a
    goroutine of a handler after it has done something else, when the handler does not wait for it:
    asked for after the handler has returned, the channel may never receive a value."""
    function = operand.child_by_field_name("function") if operand.type == "call_expression" else None
    args = operand.child_by_field_name("arguments")
    if function is None or function.type != "selector_expression" or text(function.child_by_field_name("field")) != "CloseNotify":
        return None
    if args is None or args.named_child_count:
        return None
    handler = ctx.scope.enclosing_handler(literal)
    go = literal.parent.parent if literal.parent is not None else None
    if handler is None or go is None or go.type != "go_statement":
        return None
    body = literal.child_by_field_name("body")
    first = next((c for c in statements(body) if c.type != "comment"), None) if body is not None else None
    if first is not None and first.start_byte <= receive.start_byte < first.end_byte:
        return None  # asked for as the goroutine starts, while the handler still runs
    if _waits_after(handler.func, go):
        return None
    return (
        "it asks for CloseNotify() only after other work, when the handler may have returned, and then "
        "the channel is not guaranteed to receive a value",
        (),
    )


def _waits_after(func: Node, go: Node) -> bool:
    """Does the handler receive from anything, or call a ``Wait``, after starting the goroutine?"""
    for _, captures in cursor(_RECEIVES).matches(func):
        receive = captures["receive"][0]
        if receive.start_byte > go.end_byte and not inside_nested_function(receive, func):
            return True
    return any(
        text(c["method"][0]) == "Wait" and c["call"][0].start_byte > go.end_byte
        for _, c in cursor(_METHOD_CALLS).matches(func)
    )


def _silent(channel: LocalChannel) -> bool:
    """Nobody sends on the channel or closes it."""
    if channel.sends or channel.closes:
        return False
    return not any(g.sends or g.guarded_sends or g.closes for g in channel.goroutines)


def _uncancelled_done(
    operand: Node, resolve: Callable[[], Bindings], context_names: set[str]
) -> tuple[str, tuple[Related, ...]] | None:
    """``x.Done()`` of a context nothing can cancel: why, and where it is made."""
    if operand.type != "call_expression" or not context_names:
        return None
    function = operand.child_by_field_name("function")
    if function is None or function.type != "selector_expression" or text(function.child_by_field_name("field")) != "Done":
        return None
    target = function.child_by_field_name("operand")
    if target is None:
        return None
    made = _never_cancelled(target, resolve(), context_names, 0)
    if made is None:
        return None
    return (
        f"{text(target)} is never cancelled, so {text(target)}.Done() is never closed",
        (Related(made.start_byte, made.end_byte, f"{text(target)} comes from here, and nothing cancels it"),),
    )


def _never_cancelled(expr: Node, resolved: Bindings, context_names: set[str], depth: int) -> Node | None:
    """The expression a context nothing can cancel comes from, or None when something may cancel it."""
    if depth > 4:
        return None
    if expr.type == "identifier":
        declaration = resolved.of(expr)
        if declaration is None or declaration.package_level:
            return None
        bound = _bound_value(declaration, resolved)
        if bound is None:
            return None
        value, cancel = bound
        if cancel is not None and (text(cancel) != "_" and _used(cancel, resolved)):
            return None
        return _never_cancelled(value, resolved, context_names, depth + 1)
    if expr.type != "call_expression":
        return None
    function = expr.child_by_field_name("function")
    if function is None or function.type != "selector_expression":
        return None
    if text(function.child_by_field_name("operand")) not in context_names:
        return None
    name = text(function.child_by_field_name("field"))
    if name in _ROOTS:
        return expr
    args = expr.child_by_field_name("arguments")
    if name in _DERIVED and args is not None and args.named_child_count:
        if name == "WithoutCancel":
            return expr
        return expr if _never_cancelled(args.named_children[0], resolved, context_names, depth + 1) is not None else None
    return None


def _bound_value(declaration: Declaration, resolved: Bindings) -> tuple[Node, Node | None] | None:
    """The value a ``:=`` binds to the variable (and the identifier bound next to it, the cancel of a
    ``WithCancel``), when it is never assigned again."""
    ident = declaration.node
    left = ident.parent
    stmt = left.parent if left is not None else None
    if left is None or stmt is None or stmt.type != "short_var_declaration" or left.type != "expression_list":
        return None
    right = stmt.child_by_field_name("right")
    if right is None:
        return None
    names = left.named_children
    values = right.named_children
    position = next((i for i, n in enumerate(names) if n == ident), None)
    if position is None:
        return None
    if len(values) == len(names):
        value, cancel = values[position], None
    elif len(values) == 1 and len(names) == 2 and position == 0:
        value, cancel = values[0], names[1]
    else:
        return None
    root = top_level(stmt)
    for use in resolved.uses_of(declaration, root):
        if is_assignment_target(use):
            return None
    return value, cancel


def _used(ident: Node, resolved: Bindings) -> bool:
    declaration = resolved.of(ident)
    return declaration is None or bool(resolved.uses_of(declaration, top_level(ident)))


def _blocked_for_good(literal: Node, never: list[_Never]) -> _Never | None:
    """The first receive of ``never`` the goroutine can wait on for good: a plain receive, a select
    whose every case is one of them, or the only way out of an endless loop."""
    by_receive = {n.receive.start_byte: n for n in never}
    for item in sorted(never, key=lambda n: n.receive.start_byte):
        case = _case_of(item.receive)
        if case is None:
            return item
        select = case.parent
        cases = [c for c in select.named_children if c.type in ("communication_case", "default_case")] if select else []
        if all(c.type == "communication_case" and _case_receive(c) in by_receive for c in cases):
            return item
        loop = _enclosing_endless_loop(select, literal) if select is not None else None
        if loop is not None and _only_exits_through(loop, [by_receive[k].receive for k in by_receive]):
            return _Never(item.receive, item.why + ", and it is the only way out of the goroutine's loop", item.related)
    return None


def _case_of(receive: Node) -> Node | None:
    """The select case whose communication is this receive, if any."""
    current = receive.parent
    while current is not None and current.type in ("expression_list", "receive_statement", "expression_statement"):
        current = current.parent
    return current if current is not None and current.type == "communication_case" else None


def _case_receive(case: Node) -> int | None:
    communication = case.child_by_field_name("communication")
    if communication is None:
        return None
    for _, captures in cursor(_RECEIVES).matches(communication):
        return captures["receive"][0].start_byte
    return None


def _enclosing_endless_loop(node: Node, literal: Node) -> Node | None:
    current = node.parent
    while current is not None and current != literal:
        if current.type in FUNCTION_TYPES:
            return None
        if current.type == "for_statement":
            return current if is_unconditional(current) else None
        current = current.parent
    return None


def _only_exits_through(loop: Node, receives: list[Node]) -> bool:
    """Is every way out of the loop (a return, a break out of it, a goto) in a case of one of these receives?"""
    cases = [c for c in (_case_of(r) for r in receives) if c is not None]
    exits = [e for e in cursor(_EXITS).captures(loop).get("exit", []) if not inside_nested_function(e, loop)]
    leaving = [e for e in exits if e.type != "break_statement" or e.named_child_count or _breaks_loop(e, loop)]
    if not leaving:
        return False  # no way out at all: goroutine-no-exit's case
    return all(any(c.start_byte <= e.start_byte < c.end_byte for c in cases) for e in leaving)


def _breaks_loop(node: Node, loop: Node) -> bool:
    current = node.parent
    while current is not None and current != loop:
        if current.type in ("for_statement", "expression_switch_statement", "type_switch_statement", "select_statement"):
            return False
        current = current.parent
    return True


# --- timers ---------------------------------------------------------------------


def _drain_condition(receive: Node, timer: Declaration, resolved: Bindings) -> Node | None:
    """For ``if !t.Stop() { <-t.C }`` (the receive alone in the ``if``), the condition."""
    stmt = receive.parent
    if stmt is None or stmt.type != "expression_statement":
        return None
    block = stmt.parent
    if block is not None and block.type == "statement_list":
        block = block.parent
    if_stmt = block.parent if block is not None else None
    if block is None or if_stmt is None or if_stmt.type != "if_statement" or if_stmt.child_by_field_name("consequence") != block:
        return None
    if if_stmt.child_by_field_name("alternative") is not None or if_stmt.child_by_field_name("initializer") is not None:
        return None
    condition = if_stmt.child_by_field_name("condition")
    if condition is None or condition.type != "unary_expression" or text(condition.child_by_field_name("operator")) != "!":
        return None
    call = condition.child_by_field_name("operand")
    function = call.child_by_field_name("function") if call is not None and call.type == "call_expression" else None
    if function is None or function.type != "selector_expression" or text(function.child_by_field_name("field")) != "Stop":
        return None
    operand = function.child_by_field_name("operand")
    if operand is None or operand.type != "identifier" or resolved.of(operand) is not timer:
        return None
    return condition


def _locate(blocks: list[Block], node: Node) -> tuple[Block, int] | None:
    for block in blocks:
        for i, n in enumerate(block.nodes):
            if n.start_byte <= node.start_byte and node.end_byte <= n.end_byte:
                return block, i
    return None


def _reaches(place: tuple[Block, int], drains: dict[int, Node], resets: list[Node]) -> Node | None:
    """From just after the receive at ``place``, a drain reached with no reset on the way."""
    reset_spans = [(r.start_byte, r.end_byte) for r in resets]

    def visit(nodes: list[Node]) -> tuple[bool, Node | None]:
        for n in nodes:
            if n.start_byte in drains:
                return True, drains[n.start_byte]
            if any(n.start_byte <= s and e <= n.end_byte for s, e in reset_spans):
                return True, None
        return False, None

    block, index = place
    stopped, found = visit(block.nodes[index + 1 :])
    if stopped:
        return found
    seen: set[int] = set()
    pending = list(block.succs)
    while pending:
        current = pending.pop()
        if current.index in seen:
            continue
        seen.add(current.index)
        stopped, found = visit(current.nodes)
        if found is not None:
            return found
        if not stopped:
            pending.extend(current.succs)
    return None
