"""lost-cancel: the cancel function of a derived context is discarded or not called on every path."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from tree_sitter import Node

from golsp_leaks.fixes.build import delete_statement, insert_statement_after, unique_name
from golsp_leaks.goanalysis.escapes import later_defer
from golsp_leaks.goanalysis.flow import exits_missing_release
from golsp_leaks.goanalysis.names import is_called, mentions_outside
from golsp_leaks.goanalysis.parse import cursor
from golsp_leaks.goanalysis.syntax import (
    FUNCTION_TYPES,
    binding,
    enclosing_function,
    function_results,
    has_named_results,
    text,
)
from golsp_leaks.model import Applicability, Edit, Finding, Fix, Related, Severity
from golsp_leaks.rules.base import FileContext, FixKind, Rule

#: The context constructors that return a cancel function as their second result.
CONSTRUCTORS = frozenset(
    {
        "WithCancel",
        "WithTimeout",
        "WithDeadline",
        "WithCancelCause",
        "WithTimeoutCause",
        "WithDeadlineCause",
    }
)

_CALLS = "(call_expression function: [(selector_expression) (identifier)] @fn) @call"


class LostCancel(Rule):
    """
    ## What it does
    Reports the cancel function returned by `context.WithCancel`, `WithTimeout`,
    `WithDeadline` and their `...Cause` variants when it is discarded (`_`), or when
    some path from the call to a `return` (or to the end of the function) does not
    use it.  A use is a call, a `defer`, passing it to a function, returning it,
    storing it, or capturing it in a closure.

    ## Why is this bad?
    A derived context holds resources until it is cancelled: its entry in the
    parent's list of children, and for `WithTimeout`/`WithDeadline` a runtime
    timer.  If `cancel` is never called they live until the parent is cancelled —
    for a `context.Background()` parent, for ever.  In a request handler this grows
    with every request.

    ## Example
    ```go
    func fetch(ctx context.Context, url string) error {
        ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
        req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
        if err != nil {
            return err // cancel is not called on this path
        }
        defer cancel()
        return send(req)
    }
    ```

    ## Use instead
    ```go
    func fetch(ctx context.Context, url string) error {
        ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
        defer cancel()
        req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
        if err != nil {
            return err
        }
        return send(req)
    }
    ```

    ## Fix safety
    The fix inserts `defer cancel()` right after the call (moving a later
    `defer cancel()` of the same statement list up, when there is one), and for a
    discarded cancel function first names it.  It is offered only when every use
    of `cancel` in the function is a plain call, so the context is not handed to
    someone else who expects it to stay alive, and not inside a loop, where a
    `defer` would pile up until the function returns.  Calling `cancel` more than
    once is harmless.
    """

    id = "lost-cancel"
    summary = "the cancel function of a context.WithCancel/WithTimeout/WithDeadline is lost"
    default_severity = Severity.WARNING
    fix_kinds = (
        FixKind("Insert `defer {call}` after the call", Applicability.SAFE),
        FixKind("Name the cancel function `{name}` and `defer {call}`", Applicability.SAFE),
    )
    triggers = (b"WithCancel", b"WithTimeout", b"WithDeadline")

    def check(self, decl: Node, ctx: FileContext) -> Iterable[Finding]:
        context_names = ctx.imports.names_for("context")
        dot = ctx.imports.is_dot_imported("context")
        if not context_names and not dot:
            return
        for call, constructor in _constructor_calls(decl, context_names, dot):
            finding = self._check_call(call, constructor, ctx)
            if finding is not None:
                yield finding

    def _check_call(self, call: Node, constructor: str, ctx: FileContext) -> Finding | None:
        bound = binding(call)
        if bound is None:
            return None  # returned, passed on, or not assigned: not this function's to cancel
        stmt, targets = bound.stmt, bound.targets
        if len(targets) != 2:
            return None
        cancel = targets[1]
        func = enclosing_function(call)
        if func is None:
            return None
        per_request = ctx.scope.is_per_request(call)
        where = f"context.{constructor}"
        held = "the context (and its timer)" if "Cancel" not in constructor else "the context"
        if text(cancel) == "_":
            return Finding(
                rule=self.id,
                start=cancel.start_byte,
                end=cancel.end_byte,
                message=(
                    f"the cancel function returned by {where} is discarded: {held} "
                    "leaks until its parent is cancelled"
                ),
                fixes=tuple(_fix_discarded(ctx.source, stmt, cancel, func, constructor)),
                per_request=per_request,
            )
        if cancel.type != "identifier":
            return None  # stored in a field or an index expression: owned elsewhere
        name = text(cancel)
        uses = mentions_outside(func, name, stmt)
        report = exits_missing_release(func, stmt, [u.start_byte for u in uses])
        if report is None:
            return None
        related = [
            Related(r.start_byte, r.end_byte, f"this return is reached without calling {name}()")
            for r in report.missed
        ]
        body = func.child_by_field_name("body")
        ends_silently = report.falls_off_end_unused and body is not None and (
            function_results(func) is None or has_named_results(func)
        )
        if ends_silently and body is not None:
            related.append(
                Related(body.end_byte - 1, body.end_byte, f"the function ends here without calling {name}()")
            )
        if report.reacquired:
            related.append(
                Related(stmt.start_byte, stmt.end_byte, f"the loop comes back here before {name}() is called")
            )
        if not uses:
            message = (
                f"the cancel function {name} returned by {where} is never called: "
                f"{held} leaks until its parent is cancelled"
            )
        elif related:
            message = (
                f"the cancel function {name} returned by {where} is not called on every path: "
                f"{held} leaks on the paths that return without it"
            )
        else:
            return None
        fixes = _fix_named(ctx.source, stmt, name, uses, func, constructor)
        return Finding(
            rule=self.id,
            start=cancel.start_byte,
            end=cancel.end_byte,
            message=message,
            related=tuple(related),
            fixes=tuple(fixes),
            per_request=per_request,
        )


def _constructor_calls(decl: Node, context_names: set[str], dot: bool) -> Iterator[tuple[Node, str]]:
    qc = cursor(_CALLS)
    for _, captures in qc.matches(decl):
        call = captures["call"][0]
        fn = captures["fn"][0]
        if fn.type == "selector_expression":
            operand = fn.child_by_field_name("operand")
            field = fn.child_by_field_name("field")
            if operand is None or field is None or operand.type != "identifier":
                continue
            if text(operand) in context_names and text(field) in CONSTRUCTORS:
                yield call, text(field)
        elif dot and text(fn) in CONSTRUCTORS:
            yield call, text(fn)


def _in_loop(stmt: Node, func: Node) -> bool:
    current = stmt.parent
    while current is not None and current != func and current.type not in FUNCTION_TYPES:
        if current.type == "for_statement":
            return True
        current = current.parent
    return False


def _cancel_call(name: str, constructor: str) -> str:
    """``cancel()``, or ``cancel(nil)`` for the CancelCauseFunc of WithCancelCause."""
    return f"{name}(nil)" if constructor == "WithCancelCause" else f"{name}()"


def _fix_named(
    source: bytes, stmt: Node, name: str, uses: list[Node], func: Node, constructor: str
) -> list[Fix]:
    if _in_loop(stmt, func) or not all(is_called(u) for u in uses):
        return []
    call = _cancel_call(name, constructor)
    insert = insert_statement_after(source, stmt, f"defer {call}")
    if insert is None:
        return []
    edits: list[Edit] = [insert]
    later = later_defer(stmt, call)
    if later is not None:
        removal = delete_statement(source, later)
        if removal is not None:
            edits.append(removal)
    return [Fix(f"Insert `defer {call}` after the call", tuple(edits), Applicability.SAFE)]


def _fix_discarded(source: bytes, stmt: Node, blank: Node, func: Node, constructor: str) -> list[Fix]:
    if stmt.type == "assignment_statement" or _in_loop(stmt, func):
        return []  # naming it would need a declaration, or the defer would pile up
    name = unique_name(func, "cancel")
    call = _cancel_call(name, constructor)
    insert = insert_statement_after(source, stmt, f"defer {call}")
    if insert is None:
        return []
    rename = Edit(blank.start_byte, blank.end_byte, name)
    return [Fix(f"Name the cancel function `{name}` and `defer {call}`", (rename, insert), Applicability.SAFE)]
