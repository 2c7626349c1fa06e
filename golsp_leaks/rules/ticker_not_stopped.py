"""ticker-not-stopped: a time.Ticker or time.Timer that is not stopped, or a time.Tick that cannot be."""

from __future__ import annotations

from collections.abc import Iterable

from tree_sitter import Node

from golsp_leaks.goanalysis.dataflow.engine import may_return
from golsp_leaks.goanalysis.dataflow.ownership import Releases
from golsp_leaks.goanalysis.libraries.calls import package_calls
from golsp_leaks.goanalysis.libraries.frameworks import receiver
from golsp_leaks.goanalysis.names.holders import top_level
from golsp_leaks.goanalysis.names.scopes import (
    Declaration,
    bindings,
    declaration_of,
    occurrences,
    same,
)
from golsp_leaks.goanalysis.resources.tracking import (
    Outcome,
    Resource,
    examine,
    is_test_file,
    runs_once,
)
from golsp_leaks.goanalysis.summaries.facts import (
    FIELD_USES,
    MENTIONED_IN_FILE,
    SCOPE_FACTS,
    SIBLINGS,
)
from golsp_leaks.goanalysis.syntax.nodes import (
    FUNCTION_TYPES,
    enclosing_function,
    function_results,
    text,
)
from golsp_leaks.goanalysis.syntax.parse import cursor
from golsp_leaks.model import Finding, Severity
from golsp_leaks.rules.base import DEFER_RELEASE, FileContext, Rule

TIME = "time"
CONSTRUCTORS = frozenset({"NewTicker", "NewTimer", "Tick"})

TICKER = Resource(
    releases=Releases(methods=frozenset({("Stop",)})),
    release=lambda name: f"{name}.Stop()",
    default_name="t",
)

_RANGES = "(for_statement (range_clause right: (_) @over)) @for"
_TEST_PREFIXES = ("Test", "Benchmark", "Example", "Fuzz")


class TickerNotStopped(Rule):
    """
    ## What it does
    Reports a `time.NewTicker` or `time.NewTimer` that some path from the call
    to a `return` (or to the end of the function) neither stops nor hands on,
    and a `time.Tick` — whose ticker can never be stopped — in a function that
    returns, or in a loop, where it starts a new ticker on every iteration.
    Handing a ticker on is returning it, passing it to a function, storing it,
    or capturing it in a goroutine; receiving from a timer's channel (`<-t.C`)
    counts as stopping it, since a timer that has fired is gone.  A function
    that never returns — a `for range t.C` loop without a `break` or `return`,
    a `for { select { ... } }` server loop — keeps its ticker for good and is
    not reported, and neither is `time.Tick` in `main`, `init` or tests.

    What is reported depends on the Go version of the module (the `go`
    directive of the nearest go.mod).  Before Go 1.23, a ticker that is not
    stopped is never garbage collected, a warning, and a timer stays until it
    fires, a bounded leak reported as information (a warning in per-request
    code, where it adds up).  Since Go 1.23 the runtime collects unreferenced
    timers and tickers, stopped or not, so a ticker, timer or `time.Tick` that
    only the function (or its goroutine) holds leaks nothing once it is done,
    and is not reported.  Without a go.mod (code from before modules, or a
    lone file) the version is unknown, and the rule reports as before Go 1.23.

    At any Go version, a ticker stored straight into an unexported field of a
    type that has a `Close`, `Stop` or `Shutdown` method is reported when no
    code of the package stops that field (nor uses it otherwise than for its
    ticks): it stays reachable, and keeps firing, after its holder is closed.

    ## Why is this bad?
    Before Go 1.23 the runtime keeps every active timer in its timer heap.  A
    ticker that is not stopped fires for ever, waking the runtime every period,
    and neither it nor its channel is ever freed; a function that starts one
    per call, or per request, grows memory and CPU use without bound.  A timer
    that is not stopped holds its memory until it fires, which for long
    timeouts under load adds up to the same.

    ## Example
    ```go
    func poll(ctx context.Context, check func() bool) error {
        t := time.NewTicker(time.Second)
        for {
            select {
            case <-ctx.Done():
                return ctx.Err() // the ticker keeps running
            case <-t.C:
                if check() {
                    return nil
                }
            }
        }
    }
    ```

    ## Use instead
    ```go
    func poll(ctx context.Context, check func() bool) error {
        t := time.NewTicker(time.Second)
        defer t.Stop()
        for {
            select {
            case <-ctx.Done():
                return ctx.Err()
            case <-t.C:
                if check() {
                    return nil
                }
            }
        }
    }
    ```

    ## Fix safety
    The fix inserts `defer t.Stop()` right after the call (moving a later
    `defer t.Stop()` of the same statement list up, when there is one).  It is
    offered only when no path hands the ticker on and not inside a loop, where
    a `defer` would pile up until the function returns.  Stopping a ticker or
    timer twice, or one that has fired, is harmless.  `time.Tick` has no fix:
    replace it with `time.NewTicker` and a deferred `Stop`.
    """

    id = "ticker-not-stopped"
    summary = "a time.Ticker or time.Timer is not stopped on every path, or time.Tick leaks its ticker"
    requires = (*SCOPE_FACTS, FIELD_USES, SIBLINGS, MENTIONED_IN_FILE)
    default_severity = Severity.WARNING
    fix_kinds = (DEFER_RELEASE,)
    triggers = (b"NewTicker", b"NewTimer", b"Tick(")

    def check(self, decl: Node, ctx: FileContext) -> Iterable[Finding]:
        # Without a go.mod (code from before modules, a lone file) the version is unknown: such code
        # was written for the runtime that never collects an unstopped ticker.
        collected = ctx.go_version is not None and ctx.go_version >= (1, 23)
        for call, constructor in package_calls(decl, ctx.imports, (TIME,), CONSTRUCTORS):
            if constructor == "Tick":
                if not collected:
                    finding = self._check_tick(call, ctx)
                    if finding is not None:
                        yield finding
                continue
            if constructor == "NewTicker":
                kept = _kept_in_field(call, ctx)
                if kept is not None:
                    yield self._field_finding(call, kept, ctx, collected)
                    continue
            if collected:
                # An unstopped ticker or timer held by this function is collected with its last
                # reference once the function (or its goroutine) is done with it: nothing leaks.
                continue
            finding = self._check_new(call, constructor, ctx)
            if finding is not None:
                yield finding

    def _check_new(self, call: Node, constructor: str, ctx: FileContext) -> Finding | None:
        timer = constructor == "NewTimer"
        outcome = examine(
            call,
            TICKER,
            ctx,
            missing=lambda name: f"without stopping {name}",
            extra_releases=(lambda func, variable: _receives(func, variable, ctx.source)) if timer else None,
            endless_loops=lambda func, variable: _ranging_over_channel(func, variable, ctx.source),
        )
        if outcome is None:
            return None
        noun = "timer" if timer else "ticker"
        subject = f"the {noun} {outcome.name}" if outcome.name else f"the {noun}"
        if outcome.kind in ("dropped", "discarded"):
            what = f"the {noun} made by time.{constructor} is thrown away and can never be stopped"
        elif outcome.kind == "never":
            what = f"{subject} made by time.{constructor} is never stopped"
        else:
            what = f"{subject} made by time.{constructor} is not stopped on every path"
        if timer:
            message = f"{what}: before Go 1.23 a timer that is not stopped stays in memory until it fires"
        else:
            message = (
                f"{what}: before Go 1.23 a ticker that is not stopped is never garbage collected "
                "and keeps firing for the life of the program"
            )
        severity = Severity.INFORMATION if timer else None  # a timer is held until it fires: a bounded leak
        return _finding(self.id, call, outcome, message, ctx, severity)

    def _field_finding(self, call: Node, kept: tuple[str, str, str], ctx: FileContext, collected: bool) -> Finding:
        owner, field_name, closer = kept
        if collected:
            after = f"it keeps firing for as long as the {owner} is reachable, closed or not"
        else:
            after = "before Go 1.23 it is never garbage collected and keeps firing for the life of the program"
        return Finding(
            rule=self.id,
            start=call.start_byte,
            end=call.end_byte,
            message=(
                f"the ticker made by time.NewTicker is kept in {owner}.{field_name}, and no code of the "
                f"package stops it, not even {owner}.{closer}: {after}"
            ),
            per_request=ctx.scope.is_per_request(call),
        )

    def _check_tick(self, call: Node, ctx: FileContext) -> Finding | None:
        func = enclosing_function(call)
        if func is None:
            return None
        if _in_loop_body(call, func):
            message = (
                "time.Tick in a loop starts a new ticker on every iteration, and before Go 1.23 "
                "none of them is ever stopped or garbage collected: use one time.NewTicker "
                "outside the loop and stop it"
            )
        else:
            if is_test_file(ctx) or _is_test_function(top_level(call)) or runs_once(call, func, ctx):
                return None
            returns = may_return(func, endless_loops=_ranging_over_channel(func, None, ctx.source))
            if returns is None:
                return None
            reaches_return, falls_off = returns
            if not reaches_return and not (falls_off and function_results(func) is None):
                return None  # the function never returns: the ticker lives as long as it does
            message = (
                "the ticker started by time.Tick can never be stopped: before Go 1.23 it keeps "
                "firing, and is never garbage collected, after this function returns; use "
                "time.NewTicker and stop it"
            )
        return Finding(
            rule=self.id,
            start=call.start_byte,
            end=call.end_byte,
            message=message,
            per_request=ctx.scope.is_per_request(call),
        )


def _finding(
    rule: str, call: Node, outcome: Outcome, message: str, ctx: FileContext, severity: Severity | None
) -> Finding:
    return Finding(
        rule=rule,
        start=outcome.target.start_byte,
        end=outcome.target.end_byte,
        message=message,
        related=tuple(outcome.related),
        fixes=tuple(outcome.fixes),
        per_request=ctx.scope.is_per_request(call),
        severity=severity,
    )


def _receives(func: Node, variable: Declaration, source: bytes) -> list[Node]:
    """Receives from the timer's channel, ``<-t.C`` (``t``: ``variable``): the timer has fired and is gone."""
    found = []
    for mention in occurrences(variable, func, source):
        selector = mention.parent
        if selector is None or selector.type != "selector_expression":
            continue
        if text(selector.child_by_field_name("field")) != "C":
            continue
        receive = selector.parent
        if receive is not None and receive.type == "unary_expression" and text(
            receive.child_by_field_name("operator")
        ) == "<-":
            found.append(receive)
    return found


def _ranging_over_channel(func: Node, variable: Declaration | None, source: bytes) -> list[int]:
    """``for range t.C`` (of this ticker, ``t`` being ``variable``) and ``for range time.Tick(d)``: loops
    that only end by break or return."""
    found = []
    for _, captures in cursor(_RANGES).matches(func):
        over = captures["over"][0]
        if over.type == "selector_expression":
            operand = over.child_by_field_name("operand")
            if (
                variable is not None
                and operand is not None
                and operand.type == "identifier"
                and same(declaration_of(operand, source), variable)
                and text(over.child_by_field_name("field")) == "C"
            ):
                found.append(captures["for"][0].start_byte)
        elif over.type == "call_expression":
            function = over.child_by_field_name("function")
            if function is not None and text(function).endswith("Tick"):
                found.append(captures["for"][0].start_byte)
    return found


def _in_loop_body(call: Node, func: Node) -> bool:
    """Is ``call`` inside the body of a ``for`` loop of ``func`` (not the loop's own range clause)?"""
    current = call
    while current.parent is not None and current.parent != func and current.parent.type not in FUNCTION_TYPES:
        parent = current.parent
        if parent.type == "for_statement" and current == parent.child_by_field_name("body"):
            return True
        current = parent
    return False


def _is_test_function(func: Node) -> bool:
    if func.type != "function_declaration":
        return False
    return text(func.child_by_field_name("name")).startswith(_TEST_PREFIXES)


_CLOSERS = ("Close", "Stop", "Shutdown")
_TICKER_READS = frozenset({"C", "Reset"})
_FIELD_SELECTORS = "(selector_expression field: (field_identifier) @field) @selector"


def _kept_in_field(call: Node, ctx: FileContext) -> tuple[str, str, str] | None:
    """``(type, field, closer)`` when the ticker made by ``call`` is stored straight into an unexported
    field of a type of this file that has a ``Close``/``Stop``/``Shutdown`` method, and nothing stops
    it: no ``x.field.Stop()`` in the file, no other use of the field than its ticks, ``Reset`` and
    stores, and no use at all in the package's other files (``field_uses``)."""
    stored = _field_store(call, ctx.source)
    if stored is None:
        return None
    owner, field_name = stored
    if not field_name or not field_name[0].islower() or field_name in ctx.package.field_uses:
        return None
    closer = _closing_method(ctx.bodies_mentioning("." + field_name), owner)
    if closer is None:
        return None  # a value that is never closed lives as long as it is meant to
    for _, captures in cursor(_FIELD_SELECTORS).matches(ctx.root):
        if text(captures["field"][0]) != field_name:
            continue
        selector = captures["selector"][0]
        parent = selector.parent
        if parent is None:
            return None
        if parent.type == "selector_expression" and parent.child_by_field_name("operand") == selector:
            if text(parent.child_by_field_name("field")) in _TICKER_READS:
                continue
            return None  # .Stop(), or anything else done with the ticker: benefit of the doubt
        if parent.type == "expression_list" and _assigned_to(parent):
            continue
        return None  # handed on, compared, returned: owned elsewhere
    return owner, field_name, closer


def _field_store(call: Node, source: bytes) -> tuple[str, str] | None:
    """``recv.f = time.NewTicker(d)`` in a method of ``T``, or ``T{f: time.NewTicker(d)}``: ``(T, f)``."""
    parent = call.parent
    if parent is not None and parent.type == "literal_element":
        keyed = parent.parent
        if keyed is None or keyed.type != "keyed_element" or keyed.named_child_count != 2:
            return None
        if keyed.named_children[1] != parent:
            return None
        key = keyed.named_children[0]
        body = keyed.parent
        literal = body.parent if body is not None else None
        if literal is None or literal.type != "composite_literal":
            return None
        kind = literal.child_by_field_name("type")
        if kind is None or kind.type != "type_identifier":
            return None
        return text(kind), text(key)
    if parent is None or parent.type != "expression_list" or parent.named_child_count != 1:
        return None
    statement = parent.parent
    if statement is None or statement.type != "assignment_statement" or statement.child_by_field_name("right") != parent:
        return None
    left = statement.child_by_field_name("left")
    if left is None or left.named_child_count != 1 or left.named_children[0].type != "selector_expression":
        return None
    selector = left.named_children[0]
    operand = selector.child_by_field_name("operand")
    method = top_level(call)
    recv = receiver(method) if method is not None else None
    if operand is None or operand.type != "identifier" or recv is None or recv[0] != text(operand):
        return None
    declaration = bindings(method, source).of(operand)
    params = method.child_by_field_name("receiver")
    if declaration is None or params is None or not _within(declaration.node, params):
        return None  # the receiver's name, shadowed by a local
    return recv[1], text(selector.child_by_field_name("field"))


def _within(node: Node, outer: Node) -> bool:
    return outer.start_byte <= node.start_byte and node.end_byte <= outer.end_byte


def _closing_method(root: Node, owner: str) -> str | None:
    for decl in root.named_children:
        if decl.type != "method_declaration":
            continue
        recv = receiver(decl)
        name = text(decl.child_by_field_name("name"))
        if recv is not None and recv[1] == owner and name in _CLOSERS:
            return name
    return None


def _assigned_to(expressions: Node) -> bool:
    statement = expressions.parent
    return (
        statement is not None
        and statement.type in ("assignment_statement", "short_var_declaration")
        and statement.child_by_field_name("left") == expressions
    )

