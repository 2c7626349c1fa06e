"""unclosed-channel: goroutines range over a channel that nobody ever closes."""

from __future__ import annotations

from collections.abc import Iterable

from tree_sitter import Node

from golsp_leaks.goanalysis.cfg.loops import enclosing_loop
from golsp_leaks.goanalysis.dataflow.channels import (
    Goroutine,
    LocalChannel,
    count_paths,
    local_channels,
)
from golsp_leaks.goanalysis.summaries.facts import SCOPE_FACTS
from golsp_leaks.goanalysis.syntax.edits import insert_statement_after, insert_statement_before
from golsp_leaks.goanalysis.syntax.nodes import statements, text
from golsp_leaks.goanalysis.syntax.parse import cursor
from golsp_leaks.model import Applicability, Finding, Fix, Related, Severity
from golsp_leaks.rules.base import FileContext, FixKind, Rule

_FUNCTIONS = "[(function_declaration) (method_declaration) (func_literal)] @f"
_WAITS = "(call_expression function: (selector_expression field: (field_identifier) @method)) @call"


class UnclosedChannel(Rule):
    """
    ## What it does
    Reports a channel made in a function when something ranges over it
    (`for v := range ch`) and nothing ever closes it:

    * goroutines that range over it while the function (or other goroutines)
      send the values — the *NoCloseRange* pattern of a worker pool;
    * the function ranging over it while its only sender, a goroutine, returns
      without closing it.

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
    The fix inserts `defer close(ch)` in the one place that sends: right after
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
    requires = SCOPE_FACTS
    default_severity = Severity.WARNING
    fix_kinds = (
        FixKind("Close {channel} when the function returns: `defer close({channel})`", Applicability.SAFE),
        FixKind("Close {channel} when the sending goroutine returns: `defer close({channel})`", Applicability.SAFE),
    )
    triggers = (b"make(chan",)

    def check(self, decl: Node, ctx: FileContext) -> Iterable[Finding]:
        if decl.type not in ("function_declaration", "method_declaration"):
            return
        for func in cursor(_FUNCTIONS).captures(decl).get("f", []):
            body = func.child_by_field_name("body")
            if body is None or b"make(chan" not in (body.text or b"") or b"range" not in (body.text or b""):
                continue
            for channel in local_channels(func):
                finding = self._check(channel, ctx)
                if finding is not None:
                    yield finding

    def _check(self, channel: LocalChannel, ctx: FileContext) -> Finding | None:
        if channel.closes or any(g.closes for g in channel.goroutines):
            return None
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
            loop = g.ranges[0]
            related.append(Related(loop.start_byte, loop.start_byte + 3, f"this loop ends only when {name} is closed"))
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
