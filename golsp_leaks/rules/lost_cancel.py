"""lost-cancel: the cancel function of a derived context is discarded or not called on every path."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from tree_sitter import Node

from golsp_leaks.goanalysis.dataflow.engine import exits_missing_release, related_locations
from golsp_leaks.goanalysis.dataflow.escapes import later_defer
from golsp_leaks.goanalysis.libraries.context import cancelling_calls
from golsp_leaks.goanalysis.names.holders import holder
from golsp_leaks.goanalysis.names.mentions import is_called
from golsp_leaks.goanalysis.names.scopes import RESULT
from golsp_leaks.goanalysis.resources.tracking import ends_process
from golsp_leaks.goanalysis.summaries.facts import FIELD_USES, MENTIONED_IN_FILE, SCOPE_FACTS
from golsp_leaks.goanalysis.syntax.edits import (
    delete_statement,
    insert_statement_after,
    unique_name,
)
from golsp_leaks.goanalysis.syntax.nodes import (
    FUNCTION_TYPES,
    binding,
    enclosing_function,
    text,
)
from golsp_leaks.goanalysis.syntax.parse import cursor
from golsp_leaks.model import Applicability, Edit, Finding, Fix, Related, Severity
from golsp_leaks.rules.base import FileContext, FixKind, Rule


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
    requires = (*SCOPE_FACTS, FIELD_USES, MENTIONED_IN_FILE)
    default_severity = Severity.WARNING
    fix_kinds = (
        FixKind("Insert `defer {call}` after the call", Applicability.SAFE),
        FixKind("Name the cancel function `{name}` and `defer {call}`", Applicability.SAFE),
    )
    triggers = (b"WithCancel", b"WithTimeout", b"WithDeadline")

    def check(self, decl: Node, ctx: FileContext) -> Iterable[Finding]:
        for call, constructor in cancelling_calls(decl, ctx.imports):
            finding = self._check_call(call, constructor, ctx)
            if finding is not None:
                yield finding

    def _check_call(self, call: Node, constructor: str, ctx: FileContext) -> Finding | None:
        bound = binding(call)
        if bound is None or len(bound.targets) != 2:
            return None  # returned, passed on, or not assigned: not this function's to cancel
        stmt, cancel = bound.stmt, bound.targets[1]
        func = enclosing_function(call)
        if func is None:
            return None
        where = f"context.{constructor}"
        held = "the context (and its timer)" if "Cancel" not in constructor else "the context"
        if text(cancel) == "_":
            return self._finding(
                ctx,
                call,
                cancel,
                f"the cancel function returned by {where} is discarded: {held} leaks until its parent is cancelled",
                fixes=_fix_discarded(ctx.source, stmt, cancel, func, constructor),
            )
        if cancel.type == "selector_expression":
            return self._stored(call, cancel, cancel, where, held, ctx)
        if cancel.type != "identifier":
            return None  # stored in an index expression: owned elsewhere
        owner = holder(cancel, stmt, ctx.source)
        if owner is None:
            return None  # a package-level variable, or a closure's that is stored or started
        stores = [_field_store(u) for u in owner.uses]
        if owner.uses and all(stores):
            return self._stored(call, cancel, stores[0], where, held, ctx)  # s.cancel = cancel
        name = text(cancel)
        counted = [n.start_byte for n in (*owner.uses, *owner.bare_returns)]
        report = exits_missing_release(owner.func, owner.acquire, counted, source=ctx.source)
        if ends_process(owner.func, ctx.root):
            report.missed, report.falls_off_end_unused = [], False  # returning from main ends the process
        related = related_locations(report, owner.func, owner.acquire, f"without calling {name}()")
        if not owner.uses and not owner.bare_returns and related:
            message = f"the cancel function {name} returned by {where} is never called: {held} leaks until its parent is cancelled"
        elif related:
            message = (
                f"the cancel function {name} returned by {where} is not called on every path: "
                f"{held} leaks on the paths that return without it"
            )
        else:
            return None
        fixable = not owner.lifted and owner.declaration.kind != RESULT
        fixes = _fix_named(ctx.source, stmt, name, list(owner.uses), func, constructor) if fixable else []
        return self._finding(ctx, call, cancel, message, related=related, fixes=fixes)

    def _stored(
        self, call: Node, cancel: Node, target: Node | None, where: str, held: str, ctx: FileContext
    ) -> Finding | None:
        """Stored in a field: released if anything in the package uses that field other than by assigning it."""
        name = text(target.child_by_field_name("field")) if target is not None else ""
        if not name or name[:1].isupper() or name in ctx.package.field_uses or _field_used(ctx.bodies_mentioning("." + name), name):
            return None  # exported (other packages may call it), or used: a Close or Stop method calls it
        return self._finding(
            ctx,
            call,
            cancel,
            f"the cancel function returned by {where} is stored in the field {name}, which nothing in "
            f"the package calls: {held} leaks until its parent is cancelled",
        )

    def _finding(
        self,
        ctx: FileContext,
        call: Node,
        cancel: Node,
        message: str,
        *,
        related: Sequence[Related] = (),
        fixes: Sequence[Fix] = (),
    ) -> Finding:
        return Finding(
            rule=self.id,
            start=cancel.start_byte,
            end=cancel.end_byte,
            message=message,
            related=tuple(related),
            fixes=tuple(fixes),
            per_request=ctx.scope.is_per_request(call),
        )


_SELECTED_FIELDS = "(selector_expression field: (field_identifier) @field)"


def _field_store(use: Node) -> Node | None:
    """For ``x.f = cancel``: the selector ``x.f`` the variable is stored in."""
    values = use.parent
    if values is None or values.type != "expression_list":
        return None
    holder_ = values.parent
    if holder_ is None or holder_.type != "assignment_statement" or holder_.child_by_field_name("right") != values:
        return None
    left = holder_.child_by_field_name("left")
    targets = left.named_children if left is not None else []
    index = next((i for i, v in enumerate(values.named_children) if v == use), -1)
    if index < 0 or len(targets) != values.named_child_count or targets[index].type != "selector_expression":
        return None
    return targets[index]


def _field_used(root: Node, name: str) -> bool:
    """Is the field ``name`` mentioned in the file other than as the target of an assignment?"""
    for node in cursor(_SELECTED_FIELDS).captures(root).get("field", []):
        selector = node.parent
        if text(node) != name or selector is None:
            continue
        values = selector.parent
        holder_ = values.parent if values is not None and values.type == "expression_list" else None
        if holder_ is not None and holder_.type == "assignment_statement" and holder_.child_by_field_name("left") == values:
            continue
        return True
    return False


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
