"""goroutine-no-exit: a goroutine loops for ever, and nothing can make it stop."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from tree_sitter import Node

from golsp_leaks.goanalysis.cfg.loops import (
    enclosing_loop,
    endless_loops,
    go_literals,
    has_results,
    inside_nested_function,
    loop_has_exit,
    top_statements,
)
from golsp_leaks.goanalysis.libraries.frameworks import Handler, variable_type
from golsp_leaks.goanalysis.names.holders import top_level
from golsp_leaks.goanalysis.names.scopes import Declaration, bindings, single_value
from golsp_leaks.goanalysis.summaries.facts import ENDLESS, SCOPE_FACTS
from golsp_leaks.goanalysis.summaries.lifetime import RUNS_MORE_THAN_ONCE, runs_more_than_once
from golsp_leaks.goanalysis.syntax.edits import (
    import_edit,
    insert_statement_before,
    unique_name,
)
from golsp_leaks.goanalysis.syntax.nodes import enclosing_function, line_indent, text
from golsp_leaks.goanalysis.syntax.parse import cursor
from golsp_leaks.model import Applicability, Edit, Finding, Fix, Related, Severity
from golsp_leaks.rules.base import FileContext, FixKind, Rule

#: Substrings of a declaration that can hold a finding: a ``go`` statement (as gofmt indents it).
TRIGGERS = (b"\tgo ",)

_CHANNEL_OPS = "[(send_statement) (select_statement) (unary_expression operator: \"<-\") (range_clause)] @op"
#: Names a function declares: a ``go f()`` of one of them runs a closure.
_LOCAL_NAMES = """
[(parameter_declaration name: (identifier) @name)
 (variadic_parameter_declaration name: (identifier) @name)
 (short_var_declaration left: (expression_list (identifier) @name))
 (var_spec name: (identifier) @name)]
"""
_GO_CALLS = "(go_statement (call_expression function: [(identifier) (selector_expression)] @function)) @go"


class GoroutineNoExit(Rule):
    """
    ## What it does
    Reports a goroutine that runs an unconditional `for { ... }` loop with no
    way out: no `return`, no `break` that leaves the loop, no receive from
    `ctx.Done()` or a stop channel that leads to one of those.  It looks at
    goroutines started with `go func() { ... }()`, at `go f()` / `go s.loop()`
    where the package's `f` or `loop` runs such a loop (reported at the `go`
    statement).  A `for range t.C` over a ticker (a local made by
    `time.NewTicker`, or a field the file declares `*time.Ticker`) with no
    way out is endless too: `Stop` does not close the ticker's channel.
    A worker whose `Start` starts a goroutine that only its
    `Stop` ends, started and never stopped, is unclosed-channel's.

    Reported only when the code that starts the goroutine is known to run
    more than once: a request handler or middleware (one severity higher:
    every request leaves one more behind), a function the package calls in a
    loop or from a stored function literal (and what those call), a test,
    and a method or a constructor of a type with a `Close`, `Stop` or
    `Shutdown` method — such a value is made and closed again, and each one
    leaves its goroutine running.  A worker started once lives as long as the
    program, as it is meant to, and is not reported: from `main`, `init`, a
    `sync.Once`, a function only ever called from those, behind a run-once
    guard (`if x != nil { return }` on a package-level variable the function
    then sets, a `CompareAndSwap`), and an exported function or constructor
    the package does not call repeatedly (the benefit of the doubt: its
    callers are elsewhere).  Goroutines started in a loop outside request
    code are a pool whose size the code manages, and are not reported either.

    ## Why is this bad?
    A goroutine that never returns keeps its stack and everything it references
    (a `*sql.DB`, a buffer, the request's values) for the life of the process,
    and keeps doing its work — polling, logging — for a client that is long
    gone.  Started per request, the number of goroutines grows with traffic
    until the process runs out of memory.

    ## Example
    ```go
    func events(w http.ResponseWriter, r *http.Request) {
        go func() {
            for {
                poll()
                time.Sleep(10 * time.Second)
            }
        }()
        stream(w, r)
    }
    ```

    ## Use instead
    ```go
    func events(w http.ResponseWriter, r *http.Request) {
        ctx, cancel := context.WithCancel(r.Context())
        defer cancel()
        go func() {
            for {
                poll()
                select {
                case <-ctx.Done():
                    return
                case <-time.After(10 * time.Second):
                }
            }
        }()
        stream(w, r)
    }
    ```

    ## Fix safety
    Offered for a goroutine literal started directly in a handler that has a
    request context (`r.Context()`, `c.UserContext()` in Fiber v2 — never its
    `c.Context()`, which is fasthttp's and is not cancelled —,
    `c.Request().Context()`, `c.Request.Context()`, the Buffalo context).  It
    derives `ctx, cancel := context.WithCancel(<request context>)` with
    `defer cancel()` before the `go` statement, so that the goroutine stops when
    the handler returns, and leaves the loop on `<-ctx.Done()`: a
    `time.Sleep(d)` in the loop becomes a `select` on `ctx.Done()` and
    `time.After(d)`, a `select` in the loop gets a `case <-ctx.Done(): return`,
    and a loop with no channel operation checks `ctx.Done()` at the top of each
    pass.  A loop that blocks elsewhere (a bare receive or send) gets no fix:
    the check would never be reached.
    """

    id = "goroutine-no-exit"
    summary = "a goroutine loops for ever with no way to stop it"
    requires = (*SCOPE_FACTS, ENDLESS, *RUNS_MORE_THAN_ONCE)
    default_severity = Severity.WARNING
    fix_kinds = (
        FixKind("Stop the goroutine when the request ends: derive `{ctx}` from `{context}` and leave the loop on `<-{ctx}.Done()`", Applicability.UNSAFE),
    )
    triggers = TRIGGERS

    def check(self, decl: Node, ctx: FileContext) -> Iterable[Finding]:
        if decl.type not in ("function_declaration", "method_declaration"):
            return
        yield from self._goroutine_literals(decl, ctx)
        yield from self._goroutine_functions(decl, ctx)

    # --- go func() { for { ... } }() ------------------------------------------

    def _goroutine_literals(self, decl: Node, ctx: FileContext) -> Iterator[Finding]:
        for go_stmt, literal in go_literals(decl):
            body = literal.child_by_field_name("body")
            if body is None:
                continue
            loops = endless_loops(body, literal)
            ticking = _ticker_ranges(body, literal, ctx)
            if not (loops or ticking) or ctx.scope.runs_once(go_stmt):
                continue
            handler = ctx.scope.enclosing_handler(go_stmt)
            per_request = handler is not None
            if not per_request and (_in_loop(go_stmt) or not runs_more_than_once(decl, ctx.package)):
                continue  # a pool sized by the code that starts it, or a worker for the life of the process
            params = literal.child_by_field_name("parameters")
            end = params.end_byte if params is not None else literal.start_byte + 4
            owner = enclosing_function(go_stmt)
            owner_name = _describe(owner)
            if per_request:
                message = (
                    "this goroutine loops for ever and nothing stops it: every request leaves one more "
                    "running after the response is sent"
                )
            else:
                message = (
                    f"this goroutine loops for ever and nothing stops it: it outlives {owner_name}, "
                    "and every call starts another"
                )
            related = tuple(
                Related(loop.start_byte, loop.start_byte + 3, "this loop has no return, no break and no exit on a done channel")
                for loop in loops
            ) + tuple(
                Related(loop.start_byte, loop.start_byte + 3, "this range over a ticker's channel never ends: Stop does not close it")
                for loop in ticking
            )
            fixes = _context_fix(ctx, go_stmt, literal, loops, handler) if handler is not None and not ticking else []
            yield Finding(
                rule=self.id,
                start=go_stmt.start_byte,
                end=end,
                message=message,
                related=related,
                fixes=tuple(fixes),
                per_request=per_request,
            )

    # --- go s.loop(), where loop never ends ------------------------------------------

    def _goroutine_functions(self, decl: Node, ctx: FileContext) -> Iterator[Finding]:
        started = _started_functions(decl, ctx.source)
        if not started:
            return  # nothing to look up: the package's summaries are not read
        endless = ctx.package.endless
        locals_: set[str] | None = None
        for go_stmt, function, key in started:
            if key not in endless:
                continue
            if function.type == "identifier":
                if locals_ is None:
                    locals_ = {text(n) for n in cursor(_LOCAL_NAMES).captures(decl).get("name", [])}
                if key in locals_:
                    continue  # a closure of the function, not the package's function of that name
            if ctx.scope.runs_once(go_stmt):
                continue
            per_request = ctx.scope.is_per_request(go_stmt)
            if not per_request and (_in_loop(go_stmt) or not runs_more_than_once(decl, ctx.package)):
                continue  # a pool sized by the code that starts it, or a worker for the life of the process
            owner = _describe(enclosing_function(go_stmt))
            where = "every request leaves one more running" if per_request else f"it outlives {owner}"
            yield Finding(
                rule=self.id,
                start=go_stmt.start_byte,
                end=function.end_byte,
                message=(
                    f"{text(function)} runs a loop that never ends (no return, no break, no exit on a done "
                    f"channel), and nothing can stop this goroutine: {where}"
                ),
                per_request=per_request,
            )


def _started_functions(decl: Node, source: bytes) -> list[tuple[Node, Node, str]]:
    """``(go statement, function, key)`` for each ``go f()`` or ``go x.m()`` of the declaration
    whose function can be named: ``f`` (a function of the package, not a local function value of
    the same name), or ``T.m`` for a local or receiver ``x`` of type ``T`` (by its declaration)."""
    found: list[tuple[Node, Node, str]] = []
    resolved = None
    for _, captures in cursor(_GO_CALLS).matches(decl):
        go_stmt = captures["go"][0]
        function = captures["function"][0]
        if resolved is None:
            resolved = bindings(top_level(decl), source)
        if function.type == "identifier":
            declaration = resolved.of(function)
            if declaration is not None and not declaration.package_level:
                continue  # a local function value: not the package's function of that name
            key = text(function)
        elif function.type == "selector_expression":
            operand = function.child_by_field_name("operand")
            if operand is None or operand.type != "identifier":
                continue
            type_name = variable_type(resolved.of(operand))
            if not type_name:
                continue
            key = f"{type_name}.{text(function.child_by_field_name('field'))}"
        else:
            continue
        found.append((go_stmt, function, key))
    return found


_RANGES = "(for_statement (range_clause right: (selector_expression operand: (_) @ticker field: (field_identifier) @c))) @loop"
_TICKER_FIELDS = '''
(field_declaration name: (field_identifier) @name
                   type: (pointer_type (qualified_type package: (package_identifier) @pkg name: (type_identifier) @type)))
'''


def _ticker_ranges(body: Node, literal: Node, ctx: FileContext) -> list[Node]:
    """``for range t.C`` loops of the goroutine (its own code) with no way out, where ``t`` is a
    ticker: a local bound to ``time.NewTicker(d)``, or a field the file declares ``*time.Ticker``.
    ``Stop`` does not close a ticker's channel, so such a loop never ends."""
    time_names = ctx.imports.names_for("time")
    if not time_names or b".C" not in (body.text or b""):
        return []
    found: list[Node] = []
    resolved = None
    for _, captures in cursor(_RANGES).matches(body):
        loop = captures["loop"][0]
        if text(captures["c"][0]) != "C" or inside_nested_function(loop, literal) or loop_has_exit(loop):
            continue
        ticker = captures["ticker"][0]
        if ticker.type == "selector_expression":
            field = text(ticker.child_by_field_name("field"))
            is_ticker = any(
                text(c["name"][0]) == field and text(c["pkg"][0]) in time_names and text(c["type"][0]) == "Ticker"
                for _, c in cursor(_TICKER_FIELDS).matches(ctx.root)
            )
        elif ticker.type == "identifier":
            if resolved is None:
                resolved = bindings(top_level(literal), ctx.source)
            is_ticker = _bound_to_new_ticker(resolved.of(ticker), time_names)
        else:
            is_ticker = False
        if is_ticker:
            found.append(loop)
    return found


def _bound_to_new_ticker(declaration: Declaration | None, time_names: set[str]) -> bool:
    value = single_value(declaration)
    function = value.child_by_field_name("function") if value is not None and value.type == "call_expression" else None
    return (
        function is not None
        and function.type == "selector_expression"
        and text(function.child_by_field_name("operand")) in time_names
        and text(function.child_by_field_name("field")) == "NewTicker"
    )


def _in_loop(node: Node) -> bool:
    func = enclosing_function(node)
    return func is not None and enclosing_loop(node, func) is not None


def _describe(func: Node | None) -> str:
    if func is None:
        return "the function"
    if func.type == "func_literal":
        return "the function literal"
    return text(func.child_by_field_name("name")) or "the function"


# --- the fix -------------------------------------------------------------------


def _nl(source: bytes) -> str:
    return "\r\n" if b"\r\n" in source[:4096] else "\n"


def _context_fix(ctx: FileContext, go_stmt: Node, literal: Node, loops: list[Node], handler: Handler) -> list[Fix]:
    func = handler.func
    if not handler.request_context or enclosing_function(go_stmt) != func:
        return []
    if enclosing_loop(go_stmt, func) is not None or has_results(literal):
        return []
    if go_stmt.parent is None or go_stmt.parent.type != "statement_list":
        return []
    imported = import_edit(ctx.source, ctx.root, "context")
    if imported is None:
        return []
    context_pkg, import_change = imported
    ctx_name = unique_name(func, "ctx")
    cancel_name = unique_name(func, "cancel")
    if cancel_name == ctx_name:
        return []
    time_names = ctx.imports.names_for("time")
    edits: list[Edit] = []
    derive = insert_statement_before(
        ctx.source,
        go_stmt,
        f"{ctx_name}, {cancel_name} := {context_pkg}.WithCancel({handler.request_context})\ndefer {cancel_name}()",
        above_comments=True,
    )
    if derive is None:
        return []
    edits.append(derive)
    if import_change is not None:
        edits.append(import_change)
    for loop in loops:
        loop_edits = _leave_on_done(ctx.source, loop, ctx_name, time_names)
        if loop_edits is None:
            return []
        edits.extend(loop_edits)
    title = (
        f"Stop the goroutine when the request ends: derive `{ctx_name}` from `{handler.request_context}` "
        f"and leave the loop on `<-{ctx_name}.Done()`"
    )
    return [Fix(title, tuple(edits), Applicability.UNSAFE)]


def _leave_on_done(source: bytes, loop: Node, ctx_name: str, time_names: set[str]) -> list[Edit] | None:
    nl = _nl(source)
    edits: list[Edit] = []
    stmts = top_statements(loop)
    for stmt in stmts:
        sleep = _sleep_argument(stmt, time_names)
        if sleep is not None:
            time_pkg, duration = sleep
            indent = line_indent(source, stmt.start_byte).decode()
            replacement = nl.join(
                (
                    "select {",
                    f"{indent}case <-{ctx_name}.Done():",
                    f"{indent}\treturn",
                    f"{indent}case <-{time_pkg}.After({duration}):",
                    f"{indent}}}",
                )
            )
            edits.append(Edit(stmt.start_byte, stmt.end_byte, replacement))
        elif stmt.type == "select_statement" and not any(c.type == "default_case" for c in stmt.named_children):
            first_case = next((c for c in stmt.named_children if c.type == "communication_case"), None)
            if first_case is None:
                return None
            start = source.rfind(b"\n", 0, first_case.start_byte) + 1
            indent = line_indent(source, first_case.start_byte).decode()
            if start + len(indent) != first_case.start_byte:
                return None
            edits.append(Edit(start, start, f"{indent}case <-{ctx_name}.Done():{nl}{indent}\treturn{nl}"))
    if edits:
        return edits
    body = loop.child_by_field_name("body")
    if body is None or not stmts or _has_channel_ops(body, loop):
        return None
    check = f"select {{\ncase <-{ctx_name}.Done():\n\treturn\ndefault:\n}}"
    insert = insert_statement_before(source, stmts[0], check)
    return [insert] if insert is not None else None


def _sleep_argument(stmt: Node, time_names: set[str]) -> tuple[str, str] | None:
    """``("time", "d")`` for a statement ``time.Sleep(d)``."""
    if stmt.type != "expression_statement" or not stmt.named_child_count:
        return None
    call = stmt.named_children[0]
    if call.type != "call_expression":
        return None
    function = call.child_by_field_name("function")
    args = call.child_by_field_name("arguments")
    if function is None or function.type != "selector_expression" or args is None or args.named_child_count != 1:
        return None
    operand = text(function.child_by_field_name("operand"))
    if operand not in time_names or text(function.child_by_field_name("field")) != "Sleep":
        return None
    return operand, text(args.named_children[0])


def _has_channel_ops(body: Node, loop: Node) -> bool:
    qc = cursor(_CHANNEL_OPS)
    return any(not inside_nested_function(n, loop) for n in qc.captures(body).get("op", []))

