"""unclosed-channel: goroutines range over a channel that nobody ever closes."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from tree_sitter import Node

from golsp_leaks.goanalysis.cfg.loops import enclosing_loop, inside_nested_function
from golsp_leaks.goanalysis.dataflow.channels import (
    Goroutine,
    LocalChannel,
    count_paths,
    local_channels,
)
from golsp_leaks.goanalysis.dataflow.engine import (
    ExitReport,
    exits_missing_release,
    related_locations,
)
from golsp_leaks.goanalysis.dataflow.ownership import Releases, Use, classify
from golsp_leaks.goanalysis.names.holders import top_level
from golsp_leaks.goanalysis.names.scopes import Bindings, bindings
from golsp_leaks.goanalysis.summaries.declared import (
    text_matches,
    worker_methods,
    worker_methods_in,
)
from golsp_leaks.goanalysis.summaries.facts import (
    CONSTRUCTORS,
    LIFECYCLES,
    RUNNERS,
    SCOPE_FACTS,
    SIBLINGS,
)
from golsp_leaks.goanalysis.summaries.lifetime import local_type, typed_locals
from golsp_leaks.goanalysis.summaries.params import channel_argument_uses
from golsp_leaks.goanalysis.syntax.edits import insert_statement_after, insert_statement_before
from golsp_leaks.goanalysis.syntax.nodes import (
    enclosing_function,
    is_assignment_target,
    statements,
    text,
)
from golsp_leaks.goanalysis.syntax.parse import cursor
from golsp_leaks.model import Applicability, Finding, Fix, Related, Severity
from golsp_leaks.rules.base import FileContext, FixKind, Rule

_FUNCTIONS = "[(function_declaration) (method_declaration) (func_literal)] @f"
_WAITS = "(call_expression function: (selector_expression field: (field_identifier) @method)) @call"
_WORKER_STARTS = """
[(expression_statement
   (call_expression function: (selector_expression operand: (identifier) @var field: (field_identifier) @method)) @call)
 (go_statement
   (call_expression function: (selector_expression operand: (identifier) @var field: (field_identifier) @method)) @call)]
@stmt
"""


class UnclosedChannel(Rule):
    """
    ## What it does
    Reports a channel made in a function when something ranges over it
    (`for v := range ch`) and nothing ever closes it:

    * goroutines that range over it while the function (or other goroutines)
      send the values — the *NoCloseRange* pattern of a worker pool;
    * the function ranging over it while its only sender, a goroutine, returns
      without closing it;
    * goroutines ranging over it while the function closes it on some paths
      only: a `return` after they start (an error while producing the
      values) skips the `close`, and the workers wait for ever;
    * the function ranging over it while the goroutine that closes it can
      return before its `close` (an error or a cancellation first);
    * a worker started and never stopped (a method contract): `w.Start()`
      where the package's `Start` starts a goroutine that waits on a field
      channel only `w.Stop()` (or `Close`) closes, or `go w.run()` where
      `run` itself waits on such a field — and a path from the start to a
      return on which the local `w` is neither stopped nor handed on
      (returned, stored, passed): the goroutine waits for ever.  Started
      once, from `main` or `init`, it is a worker for the life of the
      process and is not reported.

    A goroutine may hand the channel to a function of the package
    (`go func() { worker(jobs, results) }()`): what that function does with the
    parameter (ranges over it, sends on it) counts as the goroutine's own.  A
    method that waits on a local copy of its field (`ach := c.ach`), or on a
    two-value receive `v, ok := <-ch`, waits on the field until it is closed.

    The channel must stay in the function (not passed on, stored or returned),
    and a channel of workers started once, from `main` or `init`, is not
    reported: they are meant to wait for ever.

    ## Why is this bad?
    A `range` over a channel ends only when the channel is closed.  Without a
    `close`, every goroutine in the range waits for a value that never comes,
    after the last one has been sent: a worker pool leaks all its workers each
    time the function runs, and a function ranging over its own channel never
    returns at all.

    ## Example
    ```go
    func sendDigest(subscribers []string) {
        emails := make(chan string)
        for i := 0; i < 4; i++ {
            go func() {
                for addr := range emails {
                    mail(addr)
                }
            }()
        }
        for _, s := range subscribers {
            emails <- s
        }
    }
    ```

    ## Use instead
    ```go
    func sendDigest(subscribers []string) {
        emails := make(chan string)
        defer close(emails)
        for i := 0; i < 4; i++ {
            go func() {
                for addr := range emails {
                    mail(addr)
                }
            }()
        }
        for _, s := range subscribers {
            emails <- s
        }
    }
    ```

    ## Fix safety
    For a worker never stopped on any path, the fix inserts `defer w.Stop()`
    after `w.Start()` (unsafe: the worker no longer runs on after the
    function returns); none when only some paths miss the stop.  For a
    channel, the fix inserts `defer close(ch)` in the one place that sends: right after
    the channel is made when only the function itself sends on it, or at the
    top of the goroutine when a single goroutine (not started in a loop) is the
    only sender.  It is not offered when some other goroutine also sends
    (closing under it would panic), when the function waits for its workers
    (a `.Wait()`, or a receive from something the workers signal after their
    range: the deferred close would run only after that wait, which would then
    never end; close the channel right after the last send there instead), or
    when the channel is made in a loop.
    """

    id = "unclosed-channel"
    summary = "goroutines range over a channel that is never closed"
    requires = (*SCOPE_FACTS, LIFECYCLES, RUNNERS, CONSTRUCTORS, SIBLINGS)
    default_severity = Severity.WARNING
    fix_kinds = (
        FixKind("Close {channel} when the function returns: `defer close({channel})`", Applicability.SAFE),
        FixKind("Close {channel} when the sending goroutine returns: `defer close({channel})`", Applicability.SAFE),
        FixKind("Insert `defer {call}` after the call", Applicability.UNSAFE, "the worker no longer runs on after the function returns"),
    )
    triggers = (b"make(chan", b".Start(", b"\tgo ")

    def check(self, decl: Node, ctx: FileContext) -> Iterable[Finding]:
        if decl.type not in ("function_declaration", "method_declaration"):
            return
        # A file that closes no field itself asks its siblings only once a declaration starts a
        # worker: a declaration without one reads no package facts.
        starts = _worker_starts(decl)
        if starts and may_have_lifecycles(ctx, starts) and (ctx.package.lifecycles or ctx.package.runners):
            yield from self._unstopped_workers(starts, ctx)

        def helpers(call: Node, index: int) -> frozenset[str] | None:
            return channel_argument_uses(call, index, ctx.source, ctx.package.siblings)

        for func in cursor(_FUNCTIONS).captures(decl).get("f", []):
            body = func.child_by_field_name("body")
            if body is None or b"make(chan" not in (body.text or b"") or b"range" not in (body.text or b""):
                continue
            for channel in local_channels(func, helpers=helpers, passes=True):
                if any(g.passed for g in channel.goroutines):
                    finding = self._closer_returns_early(channel, ctx)
                else:
                    finding = self._check(channel, ctx)
                    if finding is None:
                        finding = self._closer_returns_early(channel, ctx)
                if finding is not None:
                    yield finding

    def _check(self, channel: LocalChannel, ctx: FileContext) -> Finding | None:
        if any(g.closes for g in channel.goroutines):
            return None
        if channel.closes:
            return self._closed_on_some_paths(channel, ctx)
        consumers = [g for g in channel.goroutines if g.ranges]
        if not consumers and not channel.ranges:
            return None
        senders = [g for g in channel.goroutines if g.sends or g.guarded_sends]
        if any(g.ranges and (g.sends or g.guarded_sends or g.receives) for g in channel.goroutines):
            return None  # a goroutine that both ranges and sends: a protocol we do not follow
        if channel.ranges and (channel.sends or consumers):
            return None
        if ctx.scope.runs_once(channel.call) or not _returns(channel.func):
            return None
        name = channel.name
        where = _describe(channel.func)
        related: list[Related] = []
        for g in consumers[:3]:
            related.append(_waits_until_closed(g.ranges[0], name))
        for loop in channel.ranges[:3]:
            related.append(Related(loop.start_byte, loop.start_byte + 3, f"this loop ends only when {name} is closed"))
        fixes: list[Fix] = []
        if consumers:
            plural = "goroutines ranging" if len(consumers) > 1 or consumers[0].in_loop else "goroutine ranging"
            message = (
                f"{name} is never closed: the {plural} over it wait for more values for ever once "
                f"{where} has sent the last one"
            )
            if not senders and channel.sends:
                fixes = _close_after_make(ctx, channel, consumers)
        else:
            if len(senders) == 1 and not senders[0].in_loop:
                message = (
                    f"{name} is never closed: the goroutine that sends on it returns without closing it, "
                    f"so the range over it in {where} never ends"
                )
                fixes = _close_in_sender(ctx, channel, senders[0].literal)
            else:
                message = f"{name} is never closed, so the range over it in {where} never ends"
            for g in senders[:2]:
                related.append(Related(g.go.start_byte, g.go.start_byte + 2, f"a goroutine that sends on {name}"))
        return Finding(
            rule=self.id,
            start=channel.ident.start_byte,
            end=channel.ident.end_byte,
            message=message,
            related=tuple(related),
            fixes=tuple(fixes),
            per_request=ctx.scope.is_per_request(channel.call),
        )


    def _closed_on_some_paths(self, channel: LocalChannel, ctx: FileContext) -> Finding | None:
        """The function closes the channel its goroutines range over, but a return after they
        start skips the close: they wait for more values for ever."""
        consumers = [g for g in channel.goroutines if g.ranges]
        if not consumers or any(g.sends or g.guarded_sends or g.receives for g in consumers):
            return None
        if ctx.scope.runs_once(channel.call):
            return None
        last = consumers[-1].go
        start = last
        loop = enclosing_loop(last, channel.func)
        while loop is not None:  # workers started in a loop: from the end of the outermost one
            start = loop
            loop = enclosing_loop(loop, channel.func)
        if any(c.start_byte < start.start_byte and _deferred(c) for c in channel.closes):
            return None  # closed by a defer before the workers start: on every path
        report = exits_missing_release(channel.func, start, [c.start_byte for c in channel.closes], source=ctx.source)
        if not report.missed:
            return None
        message = (
            f"{channel.name} is closed only on some paths: a return skips the close, and the goroutines ranging "
            f"over it wait for more values for ever"
        )
        return self._skipped_close(channel, ctx, message, report.missed, [g.ranges[0] for g in consumers[:2]])

    def _closer_returns_early(self, channel: LocalChannel, ctx: FileContext) -> Finding | None:
        """The function ranges over the channel, and the goroutine that closes it can return
        without closing it (an error before it gets to the ``close``): the range never ends."""
        closers = [g for g in channel.goroutines if g.closes]
        if not channel.ranges or channel.sends or channel.closes or not closers:
            return None
        if any(g.ranges or g.receives for g in channel.goroutines) or ctx.scope.runs_once(channel.call):
            return None
        if any(g.passed for g in channel.goroutines if not g.closes):
            return None  # someone we cannot see may close it
        missed: list[Node] = []
        for g in closers:
            if any(_deferred(c) for c in g.closes):
                return None
            report = exits_missing_release(g.literal, g.literal, [c.start_byte for c in g.closes], source=ctx.source)
            missed.extend(report.missed)
        if not missed:
            return None
        message = (
            f"{channel.name} is closed only when the goroutine that closes it gets that far: a return before the "
            f"close leaves the range over it in {_describe(channel.func)} waiting for ever"
        )
        return self._skipped_close(channel, ctx, message, missed[:3], channel.ranges[:2])

    def _skipped_close(
        self, channel: LocalChannel, ctx: FileContext, message: str, missed: list[Node], waiting: list[Node]
    ) -> Finding:
        """The finding for returns that skip the close, with the loops that wait for it."""
        name = channel.name
        related = [Related(r.start_byte, r.start_byte + len("return"), f"this return is reached without closing {name}") for r in missed]
        related.extend(_waits_until_closed(node, name) for node in waiting)
        return Finding(
            rule=self.id,
            start=channel.ident.start_byte,
            end=channel.ident.end_byte,
            message=message,
            related=tuple(related),
            per_request=ctx.scope.is_per_request(channel.call),
        )

    # --- w.Start() without w.Stop() -------------------------------------------------

    def _unstopped_workers(self, starts: list[_WorkerStart], ctx: FileContext) -> Iterator[Finding]:
        """``w.Start()`` (a start method of the package's lifecycles) or ``go w.run()`` (a runner)
        on a local worker, with a path to an exit on which ``w`` is neither stopped nor handed on."""
        facts = ctx.package
        contracts: dict[tuple[str, str, bool], list[str]] = {}
        for type_name, start, stop in sorted(facts.lifecycles):
            contracts.setdefault((start, type_name, False), []).append(stop)
        for type_name, method, stop in sorted(facts.runners):
            contracts.setdefault((method, type_name, True), []).append(stop)
        methods = {method for method, _, _ in contracts}
        resolved: Bindings | None = None
        for decl, func, stmt, var, call, method in starts:
            if method not in methods:
                continue
            go = stmt.type == "go_statement"
            if ctx.scope.runs_once(stmt):
                continue
            worker_type = local_type(func, text(var), stmt, facts.constructors)
            stops = contracts.get((method, worker_type or "", go))
            if not stops:
                continue
            if resolved is None:
                resolved = bindings(top_level(decl), ctx.source)
            exits = _unstopped_exits(var, stmt, func, stops, resolved, ctx)
            if exits is None:
                continue
            name, stop = text(var), stops[0]
            started = f"go {name}.{method}()" if go else f"{name}.{method}() starts a goroutine that"
            missing = f"without {name}.{stop}()"
            fixes: list[Fix] = []
            if not go and enclosing_loop(stmt, func) is None and not exits.missed:
                insert = insert_statement_after(ctx.source, stmt, f"defer {name}.{stop}()")
                if insert is not None:
                    fixes.append(Fix(f"Insert `defer {name}.{stop}()` after the call", (insert,), Applicability.UNSAFE))
            yield Finding(
                rule=self.id,
                start=call.start_byte,
                end=call.end_byte,
                message=(
                    f"{started} runs until {name}.{stop}() closes the channel it waits on, and "
                    f"{_describe(func)} can return {missing}: the goroutine waits for ever"
                ),
                related=tuple(related_locations(exits, func, stmt, missing)),
                fixes=tuple(fixes),
                per_request=ctx.scope.is_per_request(stmt),
            )


#: What every lifecycle and every runner needs in some file of the package: a method that closes a
#: field of its receiver, or sends on one (``close(w.quit)``, ``w.quit <- struct{}{}``; the summaries'
#: ``closes``).  A package without one has neither: its call graph is not needed.
#: The send is looked for from its dot (``.quit <-``, which ``f().quit <-`` has too): a pattern that
#: starts at every word (``\w\s*\.``) takes two and a half times as long over the same files.
_CLOSES_A_FIELD = re.compile(rb"\bclose\(\s*\w+\s*\.\s*\w+\s*\)|\.\s*\w+\s*<-")


def may_have_lifecycles(ctx: FileContext, starts: list[_WorkerStart]) -> bool:
    """False when none of these starts can be a lifecycle's or a runner's: no file of the package
    closes or sends on a field, or no method of the package by the name started may start a
    goroutine (``w.m()``, a lifecycle's start) or wait on a channel (``go w.m()``, a runner)."""
    if not _closes_a_field(ctx):
        return False
    going, waiting = _own_worker_methods(ctx.source)
    for sibling in ctx.package.siblings:
        theirs = worker_methods(sibling)
        going, waiting = going | theirs[0], waiting | theirs[1]
    return any(method in (waiting if stmt.type == "go_statement" else going) for _, _, stmt, _, _, method in starts)


def _closes_a_field(ctx: FileContext) -> bool:
    """Does some file of the package close or send on a field (:data:`_CLOSES_A_FIELD`)?"""
    return _own_closes_a_field(ctx.source) or any(text_matches(s, _CLOSES_A_FIELD) for s in ctx.package.siblings)


_own_closes: list[tuple[bytes, bool]] = []


def _own_closes_a_field(source: bytes) -> bool:
    """:data:`_CLOSES_A_FIELD` searched in the file being checked, once per text (not per declaration)."""
    if not _own_closes or _own_closes[0][0] is not source:
        _own_closes[:] = [(source, _CLOSES_A_FIELD.search(source) is not None)]
    return _own_closes[0][1]


_own_workers: list[tuple[bytes, tuple[frozenset[str], frozenset[str]]]] = []


def forget_texts() -> None:
    """Let go of the last text searched (a closed document's, perhaps)."""
    _own_closes.clear()
    _own_workers.clear()


def _own_worker_methods(source: bytes) -> tuple[frozenset[str], frozenset[str]]:
    """:func:`worker_methods_in` of the file being checked, once per text."""
    if not _own_workers or _own_workers[0][0] is not source:
        _own_workers[:] = [(source, worker_methods_in(source))]
    return _own_workers[0][1]


#: A call that may start a worker: (declaration, enclosing function, statement, variable, call, method).
_WorkerStart = tuple[Node, Node, Node, Node, Node, str]


def _worker_starts(decl: Node) -> list[_WorkerStart]:
    """The ``w.m()`` and ``go w.m()`` statements of the declaration on a local ``w`` whose type
    its declaration may name: the only calls the package's lifecycles can be about."""
    found: list[_WorkerStart] = []
    typed: dict[int, set[str]] = {}
    for _, captures in cursor(_WORKER_STARTS).matches(decl):
        var, stmt = captures["var"][0], captures["stmt"][0]
        func = enclosing_function(stmt)
        if func is None:
            continue
        names = typed.get(func.id)
        if names is None:
            names = typed[func.id] = typed_locals(func)
        if text(var) in names:
            found.append((decl, func, stmt, var, captures["call"][0], text(captures["method"][0])))
    return found


def _waits_until_closed(node: Node, name: str) -> Related:
    """Where a goroutine waits for ``name`` to be closed: its ``range`` loop, or the call of the
    package's function that ranges over it."""
    if node.type == "call_expression":
        callee = text(node.child_by_field_name("function"))
        return Related(node.start_byte, node.start_byte + len(callee), f"{callee} ranges over {name}: it returns only when {name} is closed")
    return Related(node.start_byte, node.start_byte + 3, f"this loop ends only when {name} is closed")


def _deferred(call: Node) -> bool:
    """Is the call the one a ``defer`` statement runs (``defer close(ch)``)?"""
    parent = call.parent
    return parent is not None and parent.type == "defer_statement"


def _unstopped_exits(
    var: Node, start: Node, func: Node, stops: list[str], resolved: Bindings, ctx: FileContext
) -> ExitReport | None:
    """The exits reached from ``start`` with the worker neither stopped nor handed on; None when
    there are none, or when the worker is not this function's own local."""
    declaration = resolved.of(var)
    if declaration is None or declaration.package_level or inside_nested_function(declaration.node, func):
        return None
    if not (func.start_byte <= declaration.node.start_byte < func.end_byte):
        return None
    releases = Releases(methods=frozenset((stop,) for stop in stops))
    handled: list[int] = []
    for mention in resolved.uses_of(declaration, func):
        if mention == var or is_assignment_target(mention):
            continue
        if classify(mention, releases, func, ctx.source) is not Use.BORROW:
            if mention.start_byte < start.start_byte:
                return None  # stopped (a defer) or handed on before it starts: someone owns the stop
            handled.append(mention.start_byte)
    report = exits_missing_release(func, start, handled, source=ctx.source)
    if not report.missed and not report.falls_off_end_unused:
        return None
    return report


def _describe(func: Node) -> str:
    if func.type == "func_literal":
        return "the function"
    return text(func.child_by_field_name("name")) or "the function"


def _returns(func: Node) -> bool:
    """Can the function return at all (or does it end in a loop that never does)?"""
    body = func.child_by_field_name("body")
    if body is None:
        return False
    exits = count_paths(body, {}, lambda loop: (False, False))
    return exits is None or bool(exits)


def _waits_for_workers(channel: LocalChannel, consumers: list[Goroutine]) -> bool:
    """Does the function wait (``wg.Wait()``, or a receive of something the workers signal after
    their range loop) after making the channel?"""
    body = channel.func.child_by_field_name("body")
    if body is None:
        return True
    for _, captures in cursor(_WAITS).matches(body):
        if text(captures["method"][0]) == "Wait" and captures["call"][0].start_byte > channel.decl.start_byte:
            return True
    for g in consumers:
        loop = g.ranges[0]
        for stmt in _after(loop, g.literal):
            if b"<-" in (stmt.text or b"") or b"close(" in (stmt.text or b"") or b"Done()" in (stmt.text or b""):
                return True
        defers = [s for s in statements(g.literal.child_by_field_name("body")) if s.type == "defer_statement"]
        if defers:
            return True  # defer wg.Done(), defer close(done): someone waits for the end of the range
    return False


def _after(loop: Node, literal: Node) -> list[Node]:
    """Statements that run after a loop in a goroutine literal (following it in its blocks)."""
    found: list[Node] = []
    current: Node | None = loop
    while current is not None and current != literal:
        sibling = current.next_named_sibling
        while sibling is not None:
            found.append(sibling)
            sibling = sibling.next_named_sibling
        current = current.parent
    return found


def _close_after_make(ctx: FileContext, channel: LocalChannel, consumers: list[Goroutine]) -> list[Fix]:
    stmt = channel.statement
    if enclosing_loop(stmt, channel.func) is not None or _waits_for_workers(channel, consumers):
        return []
    insert = insert_statement_after(ctx.source, stmt, f"defer close({channel.name})")
    if insert is None:
        return []
    return [Fix(f"Close {channel.name} when the function returns: `defer close({channel.name})`", (insert,), Applicability.SAFE)]


def _close_in_sender(ctx: FileContext, channel: LocalChannel, literal: Node) -> list[Fix]:
    body = literal.child_by_field_name("body")
    stmts = statements(body)
    if not stmts:
        return []
    insert = insert_statement_before(ctx.source, stmts[0], f"defer close({channel.name})")
    if insert is None:
        return []
    return [Fix(f"Close {channel.name} when the sending goroutine returns: `defer close({channel.name})`", (insert,), Applicability.SAFE)]
