"""defer-in-loop: a deferred release inside a loop body, holding every resource until the function returns."""

from __future__ import annotations

from collections.abc import Iterable

from tree_sitter import Node

from golsp_leaks.goanalysis.dataflow.engine import Paths, exits_missing_release, follow
from golsp_leaks.goanalysis.dataflow.escapes import root_identifier, used_after_loop
from golsp_leaks.goanalysis.libraries.calls import package_calls
from golsp_leaks.goanalysis.libraries.context import PATHS as CONTEXT_PATHS
from golsp_leaks.goanalysis.libraries.context import cancelling_calls
from golsp_leaks.goanalysis.libraries.sql import DbFile, rows_call
from golsp_leaks.goanalysis.libraries.sqlflow import in_defer, next_loops, rows_read_to_end
from golsp_leaks.goanalysis.libraries.streams import holds_no_os_resource, reads_to_end
from golsp_leaks.goanalysis.names.holders import top_level
from golsp_leaks.goanalysis.names.interfaces import declared_type_name, interface_method_results
from golsp_leaks.goanalysis.names.scopes import (
    IMPORT,
    PARAM,
    Bindings,
    Declaration,
    bindings,
    declaration_of,
    same,
)
from golsp_leaks.goanalysis.summaries.facts import DB_FIELDS, SCOPE_FACTS
from golsp_leaks.goanalysis.syntax.nodes import (
    FUNCTION_TYPES,
    bound_value,
    is_assignment_target,
    line_indent,
    text,
    walk,
)
from golsp_leaks.goanalysis.syntax.parse import cursor
from golsp_leaks.model import Applicability, Edit, Finding, Fix, Severity
from golsp_leaks.rules.base import FileContext, FixKind, Rule

#: Methods whose deferred call releases something.
RELEASE_METHODS = frozenset({"Close", "Unlock", "RUnlock", "Rollback", "Stop"})
_LOCKS = frozenset({"Unlock", "RUnlock"})
_DEFERS = "(defer_statement (call_expression) @call) @defer"
_STOPS = frozenset({"for_statement", *FUNCTION_TYPES})


class DeferInLoop(Rule):
    """
    ## What it does
    Reports a `defer` of a release — `x.Close()`, `mu.Unlock()`, `mu.RUnlock()`,
    `cancel()`, `tx.Rollback()`, `t.Stop()`, or a deferred closure that makes one
    of these calls — written in the body of a `for` loop, when the loop can come
    back to it: a `defer` that is followed on every path by a `return` or a
    `break` out of the loop runs at most once and is not reported, and neither
    is one in a `select` case that receives from a timer made before the loop
    and never reset, or from a `time.After` channel made before it (the case
    runs once).  A deferred `Unlock` of a lock that changes with the iteration
    (`s.mu` of each shard `s`) is not reported either: holding them all until
    the function returns is the point.  A `defer` inside a function literal in
    the loop (`func() { ...; defer f.Close() }()`) is not in the loop: it runs
    when the literal returns.

    ## Why is this bad?
    Deferred calls run when the surrounding *function* returns, not at the end
    of the iteration.  Every file, response body, transaction or context of
    every iteration stays open until then — a loop over many items runs out of
    file descriptors or connections — and a deferred `Unlock` after a `Lock` in
    the loop blocks the next iteration for ever.

    ## Example
    ```go
    func sizes(paths []string) (map[string]int64, error) {
        out := map[string]int64{}
        for _, p := range paths {
            f, err := os.Open(p)
            if err != nil {
                return nil, err
            }
            defer f.Close() // every file stays open until sizes returns
            n, err := io.Copy(io.Discard, f)
            if err != nil {
                return nil, err
            }
            out[p] = n
        }
        return out, nil
    }
    ```

    ## Use instead
    ```go
    func sizes(paths []string) (map[string]int64, error) {
        out := map[string]int64{}
        for _, p := range paths {
            n, err := size(p) // a function of its own, with its own defer
            if err != nil {
                return nil, err
            }
            out[p] = n
        }
        return out, nil
    }
    ```

    ## Fix safety
    The fix wraps the loop body in a function literal that is called at once,
    `func() { ... }()`, re-indented by one tab, so that the deferred calls run
    at the end of each iteration.  Variables declared in the body stay local to
    it, and the loop variables are used by the literal while it runs.  The fix
    is offered only when the body has no `return`, no `goto`, and no `break` or
    `continue` that leaves it (inside the literal they would mean something
    else, or not compile), and no `recover`; otherwise move the body to a
    function of its own by hand, as above.  Nor is it offered when code after
    the loop uses what the defers release (a variable declared before the loop,
    or one the body copies the value to, `last = f`): the closure would close
    it first.
    """

    id = "defer-in-loop"
    summary = "a deferred release in a loop body runs only when the function returns"
    requires = (*SCOPE_FACTS, DB_FIELDS)
    default_severity = Severity.WARNING
    fix_kinds = (
        FixKind("Run the loop body in a function literal, so that its defers run at the end of each iteration", Applicability.UNSAFE),
    )
    #: A defer in a loop body is indented at least twice (gofmt: tabs).
    triggers = (b"\t\tdefer", b"        defer")

    def check(self, decl: Node, ctx: FileContext) -> Iterable[Finding]:
        if b"for" not in ctx.source[decl.start_byte : decl.end_byte]:
            return
        for _, captures in cursor(_DEFERS).matches(decl):
            stmt = captures["defer"][0]
            call = captures["call"][0]
            loop = _enclosing_loop(stmt)
            if loop is None:
                continue
            found = _released(call, ctx)
            if found is None:
                continue
            func = _enclosing_function(loop)
            if func is None or not _can_run_twice(func, stmt):
                continue
            if found[0] in _LOCKS and _varies_per_iteration(found[1], loop, ctx.source):
                continue  # a different lock on each pass: locking them all is deliberate
            if _fires_once(stmt, loop, ctx):
                continue
            if found[0] not in _LOCKS and not _acquired_per_iteration(stmt, found[1], loop, func, ctx):
                continue
            yield self._finding(stmt, call, found, loop, ctx)

    def _finding(self, stmt: Node, call: Node, found: tuple[str, Node], loop: Node, ctx: FileContext) -> Finding:
        released, release = found
        shown = _short(release)
        if release is call:
            deferred = f"`defer {shown}`" if shown else "this defer"
        else:
            deferred = f"a deferred closure that calls `{shown}`" if shown else "a deferred closure"
        if released in _LOCKS:
            message = (
                f"{deferred} in a loop: the lock is released only when the function returns, "
                "so the next iteration's Lock waits for ever (or, for read locks, they pile up and "
                "block every writer)"
            )
        else:
            message = (
                f"{deferred} in a loop: it runs only when the function returns, so what every "
                "iteration acquires stays held until then"
            )
        fix = _wrap_body(ctx, loop)
        return Finding(
            rule=self.id,
            start=stmt.start_byte,
            end=stmt.end_byte,
            message=message,
            fixes=(fix,) if fix is not None else (),
            per_request=ctx.scope.is_per_request(stmt),
        )


def _acquired_per_iteration(stmt: Node, release: Node, loop: Node, func: Node, ctx: FileContext) -> bool:
    """Is what the deferred call releases a new value of each iteration, left to the defer alone?

    Not when the variable is declared before the loop and given no new value in it (the same
    value is released again), or is an element of the slice or map the loop ranges over; when
    the loop keeps it for after the loop (``files = append(files, f)``); when the body also
    releases it explicitly on every way back to the next iteration (a second ``defer``, or a
    release on one branch only, is not that); when it is ``*sql.Rows`` that every way back
    reads to the end (``rows.Next()`` returning false closes them), or a response whose body
    every way back reads to EOF (``io.ReadAll(resp.Body)``); or when it holds no
    operating-system resource (a zip entry's reader, a multipart part: see
    :mod:`golsp_leaks.goanalysis.libraries.streams`).  A receiver the scopes cannot resolve
    counts as new.
    """
    head = _release_head(release)
    if head is None:
        return True
    resolved = bindings(top_level(stmt), ctx.source)
    declaration = resolved.of(head)
    if declaration is None or declaration.kind == IMPORT:
        return True  # unknown, or a package's function (syscall.Close(fd)): judged as before
    passed = _passed_to_deferred_literal(declaration, stmt)
    if passed is not None:
        # ``defer func(c *Conn) { c.Close() }(conn)``: what is released is the argument.
        passed_declaration = resolved.of(passed) if passed.type == "identifier" else None
        if passed_declaration is None or passed_declaration.kind == IMPORT:
            return True
        declaration = passed_declaration
    uses = resolved.uses_of(declaration, loop)
    if not (loop.start_byte <= declaration.node.start_byte < loop.end_byte) and not any(
        is_assignment_target(use) for use in uses
    ):
        return False  # built before the loop, and the loop gives it no new value
    if _element_of_collection(declaration) and not any(is_assignment_target(use) for use in uses):
        return False  # an element of the slice or map ranged over: it was there before the loop
    value = bound_value(declaration.node)
    if holds_no_os_resource(value, resolved, ctx.imports):
        return False  # its Close frees no descriptor or connection
    chain = _chain(release, head)
    released: list[int] = []
    for use in uses:
        if stmt.start_byte <= use.start_byte < stmt.end_byte:
            continue
        if _kept(use):
            return False  # kept for after the loop
        if _calls_chain(use, chain) and not in_defer(use, loop):
            released.append(use.start_byte)
    if chain == ".Body.Close":
        # A response body read to its end has given its connection back (see libraries.streams).
        released.extend(read.start_byte for read in reads_to_end(func, declaration, ctx.source, ctx.imports))
    rows_loops = next_loops(func, declaration, ctx.source) if chain == ".Close" and _returns_rows(value, resolved, ctx) else frozenset()
    if not released and not rows_loops:
        return True
    return _back_without_release(func, stmt, released, rows_loops, ctx.source)


#: Import paths whose ``*Rows`` close themselves when ``Next`` returns false (sqlx's embed database/sql's).
_SELF_CLOSING_ROWS = ("database/sql", "github.com/jmoiron/sqlx")


def _returns_rows(value: Node | None, resolved: Bindings, ctx: FileContext) -> bool:
    """Is ``value`` a query returning ``*sql.Rows``: one the database library models know, or a
    method of a receiver whose type is an interface of this file declaring it to return them?"""
    if value is None or value.type != "call_expression":
        return False
    if rows_call(value, DbFile(ctx.imports, ctx.source, ctx.package.db_fields)) is not None:
        return True
    function = value.child_by_field_name("function")
    receiver = function.child_by_field_name("operand") if function is not None else None
    if function is None or function.type != "selector_expression" or receiver is None or receiver.type != "identifier":
        return False
    declaration = resolved.of(receiver)
    type_name = declared_type_name(declaration.node) if declaration is not None else None
    if type_name is None:
        return False
    results = interface_method_results(ctx.root, type_name, text(function.child_by_field_name("field")))
    if not results:
        return False
    first = results[0]
    inner = first.named_children[0] if first.type == "pointer_type" and first.named_child_count == 1 else None
    if inner is None or inner.type != "qualified_type" or text(inner.child_by_field_name("name")) != "Rows":
        return False
    package = text(inner.child_by_field_name("package"))
    return any(package in ctx.imports.names_for(path) for path in _SELF_CLOSING_ROWS)


def _back_without_release(
    func: Node, stmt: Node, released: list[int], rows_loops: frozenset[int], source: bytes
) -> bool:
    """Can the loop come back to the ``defer`` without passing one of ``released`` (start offsets)
    or the normal end of one of ``rows_loops`` (``for rows.Next()`` stopping at its condition)?"""
    paths = Paths(
        stmt,
        released,
        released=rows_read_to_end(rows_loops) if rows_loops else None,
    )
    return follow(func, paths, source=source).reacquired


def _passed_to_deferred_literal(declaration: Declaration, stmt: Node) -> Node | None:
    """When ``declaration`` is a parameter of the function literal that ``stmt`` defers and calls,
    ``defer func(c *Conn) {...}(conn)``, the argument passed for it."""
    if declaration.kind != PARAM:
        return None
    call = stmt.named_children[0] if stmt.named_child_count else None
    literal = call.child_by_field_name("function") if call is not None else None
    if call is None or literal is None or literal.type != "func_literal":
        return None
    params = literal.child_by_field_name("parameters")
    if params is None or not (params.start_byte <= declaration.node.start_byte < params.end_byte):
        return None
    index = 0
    for param in params.named_children:
        if param.type != "parameter_declaration":
            return None  # variadic: no one-to-one arguments
        for name in param.children_by_field_name("name"):
            if name.start_byte == declaration.node.start_byte:
                args = call.child_by_field_name("arguments")
                values = args.named_children if args is not None else []
                return values[index] if index < len(values) else None
            index += 1
    return None


def _element_of_collection(declaration: Declaration) -> bool:
    """Is it the value of ``for _, v := range x``, with ``x`` not a call: an element of a slice, an
    array or a map (a range with two variables is never over a channel), not a new value?"""
    targets = declaration.node.parent
    clause = targets.parent if targets is not None else None
    if clause is None or clause.type != "range_clause" or clause.child_by_field_name("left") != targets:
        return False
    if targets is None or targets.named_child_count != 2:
        return False
    if targets.named_children[1].start_byte != declaration.node.start_byte:
        return False
    ranged = clause.child_by_field_name("right")
    return ranged is not None and ranged.type in ("identifier", "selector_expression", "index_expression")


def _release_head(release: Node) -> Node | None:
    """``f`` of ``f.Close()``, ``resp`` of ``resp.Body.Close()``, ``cancel`` of ``cancel()``."""
    node = release.child_by_field_name("function")
    while node is not None and node.type == "selector_expression":
        node = node.child_by_field_name("operand")
    return node if node is not None and node.type == "identifier" else None


def _chain(release: Node, head: Node) -> str:
    function = release.child_by_field_name("function")
    return text(function)[len(text(head)) :] if function is not None else ""


def _calls_chain(use: Node, chain: str) -> bool:
    """Is ``use`` the head of a call of the same release (``f.Close()``, ``cancel()``)?"""
    node = use
    while node.parent is not None and node.parent.type == "selector_expression":
        node = node.parent
    call = node.parent
    return (
        call is not None
        and call.type == "call_expression"
        and call.child_by_field_name("function") == node
        and text(node)[len(text(use)) :] == chain
    )


def _kept(use: Node) -> bool:
    """Does the loop store the value somewhere that outlives the iteration (a slice, a map, a field)?"""
    parent = use.parent
    if parent is None:
        return False
    if parent.type == "argument_list":
        call = parent.parent
        function = call.child_by_field_name("function") if call is not None else None
        return function is not None and text(function) == "append"
    if parent.type in ("keyed_element", "literal_element", "send_statement"):
        return True
    if parent.type == "expression_list" and parent.parent is not None:
        holder = parent.parent
        right = holder.child_by_field_name("right")
        left = holder.child_by_field_name("left")
        if holder.type == "assignment_statement" and right == parent and left is not None:
            return any(t.type in ("selector_expression", "index_expression") for t in left.named_children)
    return False


def _enclosing_loop(stmt: Node) -> Node | None:
    """The ``for`` statement whose body holds ``stmt``, with no function literal in between."""
    current = stmt.parent
    while current is not None and current.type not in _STOPS:
        current = current.parent
    if current is None or current.type != "for_statement":
        return None
    body = current.child_by_field_name("body")
    if body is None or not (body.start_byte <= stmt.start_byte and stmt.end_byte <= body.end_byte):
        return None
    return current


def _enclosing_function(node: Node) -> Node | None:
    current = node.parent
    while current is not None and current.type not in FUNCTION_TYPES:
        current = current.parent
    return current


def _short(node: Node) -> str:
    shown = text(node)
    return shown if len(shown) <= 40 and "\n" not in shown else ""


def _released(call: Node, ctx: FileContext) -> tuple[str, Node] | None:
    """What a deferred call releases — a method name or ``cancel`` — and the releasing call."""
    function = call.child_by_field_name("function")
    if function is None:
        return None
    if function.type == "selector_expression":
        method = text(function.child_by_field_name("field"))
        return (method, call) if method in RELEASE_METHODS else None
    if function.type == "identifier":
        if _is_cancel_func(function, ctx):
            return "cancel", call
        return None
    if function.type == "func_literal":
        body = function.child_by_field_name("body")
        if body is None:
            return None
        for node in walk(body, into_functions=False):
            if node.type == "call_expression":
                inner = node.child_by_field_name("function")
                if inner is not None and inner.type != "func_literal":
                    found = _released(node, ctx)
                    if found is not None:
                        return found
    return None


def _is_cancel_func(ident: Node, ctx: FileContext) -> bool:
    """Is ``ident`` a context's cancel function: the variable is declared with the type
    ``context.CancelFunc`` (or ``CancelCauseFunc``), or bound to the second result of a
    ``context.With...`` call (``context`` or ``golang.org/x/net/context``, under any import name).
    Decided by the variable's declaration, not its spelling."""
    decl = top_level(ident)
    resolved = bindings(decl, ctx.source)
    declaration = resolved.of(ident)
    if declaration is None:
        return False
    declared = declaration.node.parent
    type_node = declared.child_by_field_name("type") if declared is not None else None
    if _is_cancel_type(type_node, ctx):
        return True
    for call, _ in cancelling_calls(decl, ctx.imports):
        values = call.parent
        statement = values.parent if values is not None else None
        if statement is None or statement.type not in ("short_var_declaration", "assignment_statement", "var_spec"):
            continue
        if values is None or values.named_child_count != 1:
            continue
        left = statement.child_by_field_name("left")
        bound = left.named_children if left is not None else statement.children_by_field_name("name")
        if len(bound) == 2 and bound[1].type == "identifier" and resolved.of(bound[1]) is declaration:
            return True
    return False


def _is_cancel_type(node: Node | None, ctx: FileContext) -> bool:
    """Is ``node`` the type ``context.CancelFunc`` or ``context.CancelCauseFunc``?"""
    if node is None:
        return False
    if node.type == "qualified_type":
        package = text(node.child_by_field_name("package"))
        name = text(node.child_by_field_name("name"))
        return name in _CANCEL_TYPES and ctx.imports.path_of(package) in CONTEXT_PATHS
    if node.type == "type_identifier":
        return text(node) in _CANCEL_TYPES and any(ctx.imports.is_dot_imported(p) for p in CONTEXT_PATHS)
    return False


_CANCEL_TYPES = frozenset({"CancelFunc", "CancelCauseFunc"})


def _varies_per_iteration(release: Node, loop: Node, source: bytes) -> bool:
    """Does the receiver of ``release`` mention a variable declared by the loop or in its body?"""
    function = release.child_by_field_name("function")
    receiver = function.child_by_field_name("operand") if function is not None else None
    if receiver is None:
        return False
    for ident in walk(receiver):
        declaration = declaration_of(ident, source) if ident.type == "identifier" else None
        if declaration is not None and not declaration.package_level and _declared_by_loop(declaration.node, loop):
            return True
    return False


def _declared_by_loop(node: Node, loop: Node) -> bool:
    """Is the declaring identifier ``node`` in ``loop``'s clause or body (not in a function literal of it)?"""
    current = node.parent
    while current is not None and current != loop:
        if current.type == "func_literal":
            return False
        current = current.parent
    return current == loop


def _fires_once(stmt: Node, loop: Node, ctx: FileContext) -> bool:
    """Is ``stmt`` in a ``select`` case that receives from a one-shot timer made before the loop?

    ``case <-t.C:`` of a ``time.NewTimer`` that is never reset, or ``case <-timeout:``
    of a ``time.After`` channel: the case runs at most once.  The timer or channel is
    followed to its declaration, and ``time`` through the file's imports.
    """
    current = stmt.parent
    while current is not None and current != loop:
        if current.type == "communication_case":
            channel = _received(current.child_by_field_name("communication"))
            if channel is not None and _one_shot(channel, loop, ctx):
                return True
        current = current.parent
    return False


def _received(communication: Node | None) -> Node | None:
    """The channel expression a case receives from."""
    if communication is None:
        return None
    receive = communication
    if communication.type == "receive_statement":
        right = communication.child_by_field_name("right")
        if right is None:
            return None
        receive = right
    if receive.type != "unary_expression" or text(receive.child_by_field_name("operator")) != "<-":
        return None
    return receive.child_by_field_name("operand")


def _one_shot(channel: Node, loop: Node, ctx: FileContext) -> bool:
    """Is ``channel`` ``t.C`` of a timer made by ``time.NewTimer`` before the loop and never reset,
    or a channel made by ``time.After`` before the loop?"""
    timer = channel.type == "selector_expression" and text(channel.child_by_field_name("field")) == "C"
    ident = channel.child_by_field_name("operand") if timer else channel
    if ident is None or ident.type != "identifier":
        return False
    resolved = bindings(top_level(ident), ctx.source)
    declaration = resolved.of(ident)
    if declaration is None or declaration.package_level:
        return False
    names = declaration.node.parent
    statement = names.parent if names is not None else None
    if statement is None or statement.type != "short_var_declaration" or statement.end_byte > loop.start_byte:
        return False
    left, right = statement.child_by_field_name("left"), statement.child_by_field_name("right")
    if left is None or right is None or left.named_child_count != 1 or right.named_child_count != 1:
        return False
    value = right.named_children[0]
    made = next((name for call, name in package_calls(value, ctx.imports, ("time",), _ONE_SHOTS) if call == value), None)
    if made != ("NewTimer" if timer else "After"):
        return False
    body = loop.parent if loop.parent is not None else loop
    return not any(_is_method_of(use, "Reset") for use in resolved.uses_of(declaration, body))


_ONE_SHOTS = frozenset({"NewTimer", "After"})


def _is_method_of(ident: Node, method: str) -> bool:
    """Is ``ident`` the receiver of ``ident.method``?"""
    parent = ident.parent
    return (
        parent is not None
        and parent.type == "selector_expression"
        and parent.child_by_field_name("operand") == ident
        and text(parent.child_by_field_name("field")) == method
    )


def _can_run_twice(func: Node, stmt: Node) -> bool:
    """Can the loop come back to ``stmt`` after running it (so that two defers pile up)?"""
    report = exits_missing_release(func, stmt, ())
    return report is not None and report.reacquired


# --- the fix ---------------------------------------------------------------------


def _wrap_body(ctx: FileContext, loop: Node) -> Fix | None:
    source = ctx.source
    body = loop.child_by_field_name("body")
    if body is None or not _body_stays_put(body):
        return None
    func = _enclosing_function(loop)
    if func is None or used_after_loop(loop, func, _released_variables(body, ctx), ctx.source):
        return None  # the defers would now close what the code after the loop still uses
    open_brace = body.start_byte
    close_brace = body.end_byte - 1
    first_break = source.find(b"\n", open_brace)
    if first_break < 0 or source[open_brace + 1 : first_break].strip():
        return None  # something follows the opening brace on its line
    close_line = source.rfind(b"\n", 0, close_brace) + 1
    if source[close_line:close_brace].strip() or close_line <= first_break:
        return None  # the closing brace does not sit alone on its line
    indent = line_indent(source, close_brace)
    if line_indent(source, loop.start_byte) != indent:
        return None
    raw = _raw_string_lines(body)
    crlf = b"\r\n" in source[:4096]
    out: list[bytes] = []
    offset = first_break + 1
    for line in source[first_break + 1 : close_line].split(b"\n")[:-1]:
        blank = not line.strip()
        out.append(line if blank or offset in raw else b"\t" + line)
        offset += len(line) + 1
    pad = indent.decode()
    newline = "\r\n" if crlf else "\n"
    inner = "".join(line.decode("utf-8", errors="replace") + "\n" for line in out)
    replacement = f"{pad}\tfunc() {{{newline}{inner}{pad}\t}}(){newline}"
    return Fix(
        "Run the loop body in a function literal, so that its defers run at the end of each iteration",
        (Edit(first_break + 1, close_line, replacement),),
        Applicability.UNSAFE,
    )


def _released_variables(body: Node, ctx: FileContext) -> list[Declaration]:
    """The variables the body's defers release: ``f`` of ``f.Close()``; ``cancel`` and the ``ctx`` bound with it."""
    found: list[Declaration] = []
    cancels: list[Declaration] = []
    for node in walk(body, into_functions=False):
        call = node.named_child(0) if node.type == "defer_statement" else None
        released = _released(call, ctx) if call is not None and call.type == "call_expression" else None
        function = released[1].child_by_field_name("function") if released is not None else None
        if function is None:
            continue
        operand = function.child_by_field_name("operand") if function.type == "selector_expression" else function
        root = root_identifier(operand) if operand is not None else None
        variable = declaration_of(root, ctx.source) if root is not None else None
        if variable is not None:
            found.append(variable)
            if function.type == "identifier":
                cancels.append(variable)
    for node in walk(body, into_functions=False):
        if node.type not in ("short_var_declaration", "assignment_statement"):
            continue
        left = node.child_by_field_name("left")
        bound = [declaration_of(n, ctx.source) for n in left.named_children if n.type == "identifier"] if left is not None else []
        if any(same(b, c) for b in bound for c in cancels):
            found.extend(b for b in bound if b is not None)
    return found


def _raw_string_lines(body: Node) -> set[int]:
    """Offsets of the lines that begin inside a multi-line raw string literal (their text must not change)."""
    starts: set[int] = set()
    for node in walk(body):
        if node.type == "raw_string_literal" and node.start_point.row != node.end_point.row:
            source = node.text or b""
            position = node.start_byte
            for line in source.split(b"\n")[:-1]:
                position += len(line) + 1
                starts.add(position)
    return starts


def _body_stays_put(body: Node) -> bool:
    """Does the body keep its meaning inside ``func() { ... }()``?

    No ``return``, ``goto``, ``recover`` or multi-line comment, and every ``break``
    and ``continue`` stays inside the body.
    """
    labels = {text(n.child_by_field_name("label")) for n in walk(body) if n.type == "labeled_statement"}
    if any(n.type == "comment" and n.start_point.row != n.end_point.row for n in walk(body)):
        return False
    for node in walk(body, into_functions=False):
        kind = node.type
        if kind in ("return_statement", "goto_statement"):
            return False
        if kind == "call_expression" and text(node.child_by_field_name("function")) == "recover":
            return False
        if kind in ("break_statement", "continue_statement"):
            label = node.named_children[0] if node.named_child_count else None
            if label is not None:
                if text(label) not in labels:
                    return False
            elif not _has_target_inside(node, body, kind == "continue_statement"):
                return False
    return True


def _has_target_inside(jump: Node, body: Node, is_continue: bool) -> bool:
    """Does an unlabeled ``break``/``continue`` belong to a statement inside ``body``?"""
    targets = ("for_statement",) if is_continue else (
        "for_statement",
        "expression_switch_statement",
        "type_switch_statement",
        "select_statement",
    )
    current = jump.parent
    while current is not None and current != body:
        if current.type in targets:
            return True
        current = current.parent
    return False
