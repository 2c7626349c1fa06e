"""waitgroup-misuse: a sync.WaitGroup counted in the goroutine, or whose Done is missed or doubled."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tree_sitter import Node

from golsp_leaks.goanalysis.cfg.graph import LOOP_DONE
from golsp_leaks.goanalysis.dataflow.engine import Guard, Paths, follow, related_locations
from golsp_leaks.goanalysis.resources.sync import (
    WAITGROUP,
    Occurrence,
    chain,
    occurrences,
    sync_kind,
)
from golsp_leaks.goanalysis.resources.tracking import in_loop
from golsp_leaks.goanalysis.summaries.facts import LOCKS, SCOPE_FACTS
from golsp_leaks.goanalysis.syntax.edits import (
    delete_statement,
    insert_statement_before,
    only_return_after,
)
from golsp_leaks.goanalysis.syntax.nodes import (
    enclosing_function,
    is_statement_in_list,
    statements,
    text,
    walk,
)
from golsp_leaks.goanalysis.syntax.parse import cursor
from golsp_leaks.model import Applicability, Edit, Finding, Fix, Related, Severity
from golsp_leaks.rules.base import FileContext, FixKind, Rule

_GO_LITERALS = "(go_statement (call_expression function: (func_literal) @literal)) @go"
_WG_CALLS = """
(call_expression
  function: (selector_expression field: (field_identifier) @method)
  (#match? @method "^(Add|Done|Wait)$")) @call
"""


@dataclass(frozen=True)
class _Call:
    call: Node
    expr: Node
    method: str

    @property
    def stmt(self) -> Node | None:
        parent = self.call.parent
        if parent is not None and parent.type in ("expression_statement", "defer_statement"):
            return parent
        return None


class WaitGroupMisuse(Rule):
    """
    ## What it does
    Reports four misuses of a `sync.WaitGroup` around the goroutines it counts:

    * `wg.Add` called inside the goroutine it counts, while the function that
      started it calls `wg.Wait()`: `Wait` may run before `Add` and return at
      once;
    * a goroutine that calls `wg.Done()` on some paths but can return without
      it (an early `return` before the `Done`, with no `defer wg.Done()`);
    * a loop that calls `wg.Add(1)` and then skips starting the goroutine (a
      `continue`, or reaching `wg.Wait()`) on some path, so that one `Done`
      never comes;
    * `Done` called twice on one path of a goroutine counted once (a
      `defer wg.Done()` and an explicit one).

    ## Why is this bad?
    A missing `Done` makes `Wait` block for ever: the request, the shutdown, or
    the batch that waits hangs, with every goroutine it holds.  `Add` inside the
    goroutine races with `Wait`, which then returns before the work is done; a
    second `Done` panics with a negative counter.

    ## Example
    ```go
    func fetchAll(urls []string) {
        var wg sync.WaitGroup
        for _, u := range urls {
            go func(u string) {
                wg.Add(1)
                if u == "" {
                    return
                }
                get(u)
                wg.Done()
            }(u)
        }
        wg.Wait()
    }
    ```

    ## Use instead
    ```go
    func fetchAll(urls []string) {
        var wg sync.WaitGroup
        for _, u := range urls {
            wg.Add(1)
            go func(u string) {
                defer wg.Done()
                if u == "" {
                    return
                }
                get(u)
            }(u)
        }
        wg.Wait()
    }
    ```

    ## Fix safety
    Moving `wg.Add(n)` out of the goroutine to just before the `go` statement is
    offered, as safe, only when the `Add` is the goroutine's first statement
    (so it ran on every start anyway), its count is a constant, and the
    goroutine calls `defer wg.Done()` (so the `Done` that balances it is
    certain: otherwise `Wait` could now block where it used to return early).
    `defer wg.Done()` as the goroutine's first statement is offered, as safe,
    only when every explicit `wg.Done()` of the goroutine is directly followed
    by a `return` without calls (or ends it); they are deleted.  A `Done` in
    the middle of the goroutine would otherwise come later than before, and
    whatever waits for it would wait for the rest of the goroutine too.
    """

    id = "waitgroup-misuse"
    summary = "a sync.WaitGroup is counted inside the goroutine, or its Done is missed or doubled"
    default_severity = Severity.WARNING
    requires = (*SCOPE_FACTS, LOCKS)
    fix_kinds = (
        FixKind("Move `{call}` before the go statement", Applicability.SAFE),
        FixKind("Insert `defer {call}` at the start of the goroutine", Applicability.SAFE),
    )
    triggers = (b".Wait()", b".Done()")

    def wants(self, decl_text: bytes, ctx: FileContext | None = None) -> bool:
        # Every finding is about a goroutine literal (``go func``) or an ``Add``: a declaration that
        # only waits (``<-ctx.Done()``, ``cond.Wait()``) has none.
        return super().wants(decl_text, ctx) and (b"go func" in decl_text or b".Add(" in decl_text)

    def check(self, decl: Node, ctx: FileContext) -> Iterable[Finding]:
        if b"WaitGroup" not in ctx.source and not ctx.package.locks.waitgroup_fields:
            return  # no wait group declared in the file or the package's other files (ctx.Done())
        calls = list(_waitgroup_calls(decl, ctx))
        if not calls:
            return
        for _, captures in cursor(_GO_LITERALS).matches(decl):
            go, literal = captures["go"][0], captures["literal"][0]
            inside = [c for c in calls if _within(c.call, literal) and enclosing_function(c.call) == literal]
            yield from self._add_inside(go, literal, inside, calls, ctx)
            yield from self._done_missed(go, literal, inside, ctx)
            yield from self._done_twice(go, literal, inside, calls, ctx)
        for add in calls:
            if add.method == "Add":
                yield from self._add_skipped(add, calls, decl, ctx)

    # --- Add inside the goroutine ---------------------------------------------

    def _add_inside(
        self, go: Node, literal: Node, inside: list[_Call], calls: list[_Call], ctx: FileContext
    ) -> Iterable[Finding]:
        outer = enclosing_function(go)
        for add in inside:
            if add.method != "Add" or add.stmt is None or outer is None:
                continue
            same = _same_value(add.expr, outer, ctx)
            waits = [c for c in calls if c.method == "Wait" and c.expr in same and enclosing_function(c.call) == outer]
            if not waits:
                continue
            name = text(add.expr)
            yield Finding(
                rule=self.id,
                start=add.call.start_byte,
                end=add.call.end_byte,
                message=(
                    f"{name}.Add is called inside the goroutine it counts: {name}.Wait() can run first and "
                    "return before the goroutine is done"
                ),
                related=tuple(Related(w.call.start_byte, w.call.end_byte, f"{name}.Wait() may run before the Add") for w in waits),
                fixes=tuple(_fix_move_add(add, go, literal, inside, ctx)),
                per_request=ctx.scope.is_per_request(go),
            )

    # --- Done missed on a path ------------------------------------------------

    def _done_missed(self, go: Node, literal: Node, inside: list[_Call], ctx: FileContext) -> Iterable[Finding]:
        dones = [c for c in inside if c.method == "Done"]
        if not dones or any(d.stmt is not None and d.stmt.type == "defer_statement" for d in dones):
            return
        if any(in_loop(d.call, literal) for d in dones):
            return  # done once per item of a loop: counted per item, not per goroutine
        expr = dones[0].expr
        mentions = [m for m in occurrences(expr, literal, ctx.source) if m.method not in ("Add", "Wait")]
        uses = sorted({m.node.start_byte for m in mentions})
        report = follow(literal, Paths(literal, uses=uses), source=ctx.source)
        name = text(expr)
        related = related_locations(report, literal, literal, f"without calling {name}.Done()")
        if not related:
            return
        parameters = literal.child_by_field_name("parameters")
        yield Finding(
            rule=self.id,
            start=go.start_byte,
            end=parameters.end_byte if parameters is not None else go.end_byte,
            message=(
                f"the goroutine can return without calling {name}.Done(): {name}.Wait() then blocks for ever"
            ),
            related=tuple(related),
            fixes=tuple(_fix_defer_done(name, literal, mentions, ctx)),
            per_request=ctx.scope.is_per_request(go),
        )

    # --- Done twice -------------------------------------------------------------

    def _done_twice(
        self, go: Node, literal: Node, inside: list[_Call], calls: list[_Call], ctx: FileContext
    ) -> Iterable[Finding]:
        outer = enclosing_function(go)
        if outer is None:
            return
        dones = [c for c in inside if c.method == "Done" and c.stmt is not None]
        if len(dones) < 2 or any(c.method == "Add" for c in inside):
            return
        same = _same_value(dones[0].expr, outer, ctx)
        dones = [d for d in dones if d.expr in same]  # the first Done's wait group, not another one
        if len(dones) < 2:
            return
        adds = [c for c in calls if c.method == "Add" and c.expr in same]
        if not adds or any(_count(a) != "1" for a in adds):
            return  # counted more than once per goroutine, or by an amount we cannot read
        reported: set[int] = set()
        for first in dones:
            assert first.stmt is not None
            others = [d for d in dones if d is not first and d.stmt is not None and d.stmt.type != "defer_statement"]
            report = follow(
                literal,
                Paths(first.stmt, overwritten=sorted(d.stmt.start_byte for d in others if d.stmt is not None)),
                source=ctx.source,
            )
            for node in report.overwritten:
                if node.start_byte in reported:
                    continue
                reported.add(node.start_byte)
                name = text(first.expr)
                yield Finding(
                    rule=self.id,
                    start=node.start_byte,
                    end=node.end_byte,
                    message=f"{name}.Done() is called twice on this path of a goroutine counted once: the counter goes negative and panics",
                    related=(Related(first.stmt.start_byte, first.stmt.end_byte, f"{name}.Done() is already called here"),),
                    per_request=ctx.scope.is_per_request(go),
                )

    # --- Add, then no goroutine ----------------------------------------------

    def _add_skipped(self, add: _Call, calls: list[_Call], decl: Node, ctx: FileContext) -> Iterable[Finding]:
        func = enclosing_function(add.call)
        stmt = add.stmt
        if func is None or stmt is None or stmt.type != "expression_statement":
            return
        loop = _loop_counted(add, stmt)
        if loop is not None:
            acquire, absent = loop
        elif _count(add) == "1" and in_loop(stmt, func):
            acquire, absent = stmt, None
        else:
            return
        same = _same_value(add.expr, func, ctx)
        waits = [c for c in calls if c.method == "Wait" and c.expr in same and enclosing_function(c.call) == func]
        if not waits:
            return
        mentions = [m for m in occurrences(add.expr, func, ctx.source) if m.method not in ("Add", "Wait")]
        uses = [_enclosing_go_or_statement(m.node, func) for m in mentions]
        # A goroutine started by name (``go upload(part)``) may call Done, and so may a helper that
        # is handed a closure: only paths that start no goroutine at all count.
        uses.extend(n.start_byte for n in walk(func) if n.type == "go_statement" and enclosing_function(n) == func)
        uses.extend(_calls_passing_closures(func, stmt))
        report = follow(
            func,
            Paths(acquire, uses=sorted(uses), overwritten=sorted(w.call.start_byte for w in waits), absent=absent),
            source=ctx.source,
        )
        if not (report.reacquired or report.overwritten):
            return
        name = text(add.expr)
        counted = f"{name}.Add({_count(add)})" if loop is None else f"{name}.Add({_count(add)}) counts a goroutine per item, but one"
        yield Finding(
            rule=self.id,
            start=stmt.start_byte,
            end=stmt.end_byte,
            message=(
                f"{counted} is not always followed by a goroutine that calls {name}.Done(): on the path that skips it, "
                f"{name}.Wait() blocks for ever"
            ),
            related=tuple(
                Related(w.call.start_byte, w.call.end_byte, f"{name}.Wait() waits for the goroutine that was not started")
                for w in waits
            ),
            per_request=ctx.scope.is_per_request(stmt),
        )


def _waitgroup_calls(decl: Node, ctx: FileContext) -> Iterable[_Call]:
    for _, captures in cursor(_WG_CALLS).matches(decl):
        call = captures["call"][0]
        selector = call.child_by_field_name("function")
        expr = selector.child_by_field_name("operand") if selector is not None else None
        func = enclosing_function(call)
        if expr is None or func is None or chain(expr) is None:
            continue
        if sync_kind(expr, ctx, func, (WAITGROUP,)) is None:
            continue
        yield _Call(call, expr, text(captures["method"][0]))


def _same_value(expr: Node, within: Node, ctx: FileContext) -> list[Node]:
    return [m.node for m in occurrences(expr, within, ctx.source)]


def _within(node: Node, outer: Node) -> bool:
    return outer.start_byte <= node.start_byte and node.end_byte <= outer.end_byte


def _count(add: _Call) -> str:
    arguments = add.call.child_by_field_name("arguments")
    args = arguments.named_children if arguments is not None else []
    return text(args[0]) if len(args) == 1 else ""


def _loop_counted(add: _Call, stmt: Node) -> tuple[Node, Callable[[Guard], bool]] | None:
    """For ``wg.Add(len(xs))`` followed by ``for ... range xs``: the range clause (one goroutine is
    owed at each pass) and the test of the loop's way out (where nothing is owed any more)."""
    count = add.call.child_by_field_name("arguments")
    args = count.named_children if count is not None else []
    if len(args) != 1 or args[0].type != "call_expression" or text(args[0].child_by_field_name("function")) != "len":
        return None
    inner = args[0].child_by_field_name("arguments")
    counted = inner.named_children[0] if inner is not None and inner.named_child_count == 1 else None
    loop = stmt.next_named_sibling
    while loop is not None and loop.type == "comment":
        loop = loop.next_named_sibling
    if counted is None or loop is None or loop.type != "for_statement":
        return None
    clause = next((c for c in loop.named_children if c.type == "range_clause"), None)
    if clause is None or text(clause.child_by_field_name("right")) != text(counted):
        return None
    return clause, lambda guard: guard == (loop, LOOP_DONE)


def _enclosing_go_or_statement(node: Node, func: Node) -> int:
    """Where a mention inside a goroutine (or closure) counts: at the statement of ``func`` holding it."""
    current = node
    while current.parent is not None and current.parent != func:
        if current.type == "func_literal":
            return current.start_byte
        current = current.parent
    return node.start_byte


def _calls_passing_closures(func: Node, after: Node) -> list[int]:
    """Calls after ``after`` that take a function literal: a helper may start it as the goroutine."""
    found: list[int] = []
    for node in walk(func):
        parent = node.parent
        if node.type == "func_literal" and node.start_byte > after.end_byte and parent is not None and parent.type == "argument_list":
            found.append(node.start_byte)
    return found


def _fix_move_add(add: _Call, go: Node, literal: Node, inside: list[_Call], ctx: FileContext) -> list[Fix]:
    body = literal.child_by_field_name("body")
    first = statements(body)
    if not first or add.stmt is None or first[0] != add.stmt or not _count(add).isdigit():
        return []
    if not any(c.method == "Done" and c.stmt is not None and c.stmt.type == "defer_statement" for c in inside):
        return []  # the Done is not certain: counting before the go could make Wait block
    if not is_statement_in_list(go):
        return []
    call = text(add.call)
    moved = _with_trailing_comment(ctx.source, add.stmt)
    insert = insert_statement_before(ctx.source, go, moved)
    removal = _delete_line(ctx.source, add.stmt)
    if insert is None or removal is None:
        return []
    return [Fix(f"Move `{call}` before the go statement", (insert, removal), Applicability.SAFE)]


def _with_trailing_comment(source: bytes, stmt: Node) -> str:
    """The statement's text with the comment that ends its line, which moves with it."""
    line_end = source.find(b"\n", stmt.end_byte)
    rest = source[stmt.end_byte : line_end if line_end >= 0 else len(source)].rstrip()
    return text(stmt) + (rest.decode() if rest.strip().startswith(b"//") else "")


def _delete_line(source: bytes, stmt: Node) -> Edit | None:
    """Delete a statement alone on its line, with a comment that ends the line."""
    line_end = source.find(b"\n", stmt.end_byte)
    rest = source[stmt.end_byte : line_end if line_end >= 0 else len(source)].strip()
    if not rest or not rest.startswith(b"//") or b"\n" in source[stmt.start_byte : stmt.end_byte]:
        return delete_statement(source, stmt)
    line_start = source.rfind(b"\n", 0, stmt.start_byte) + 1
    if source[line_start : stmt.start_byte].strip() or line_end < 0:
        return None
    return Edit(line_start, line_end + 1, "")


def _fix_defer_done(name: str, literal: Node, mentions: list[Occurrence], ctx: FileContext) -> list[Fix]:
    body = literal.child_by_field_name("body")
    stmts = statements(body)
    if not stmts:
        return []
    edits: list[Edit] = []
    for mention in mentions:
        call = mention.call
        stmt = call.parent if call is not None else None
        if mention.method != "Done" or stmt is None or stmt.type != "expression_statement":
            return []
        if enclosing_function(stmt) != literal or not only_return_after(stmt, body):
            return []
        removal = delete_statement(ctx.source, stmt)
        if removal is None:
            return []
        edits.append(removal)
    if stmts[0].type == "expression_statement" and any(m.call is not None and m.call.parent == stmts[0] for m in mentions):
        return []  # Done first: nothing to move it before
    insert = insert_statement_before(ctx.source, stmts[0], f"defer {name}.Done()")
    if insert is None:
        return []
    return [Fix(f"Insert `defer {name}.Done()` at the start of the goroutine", (insert, *edits), Applicability.SAFE)]

