"""pool-get-without-put: an object taken from a sync.Pool is never put back."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from tree_sitter import Node

from golsp_leaks.goanalysis.dataflow.ownership import Releases, Use
from golsp_leaks.goanalysis.names.holders import top_level
from golsp_leaks.goanalysis.names.scopes import VAR, Declaration, bindings, occurrences
from golsp_leaks.goanalysis.resources.tracking import (
    STREAM_BORROWS,
    NamedType,
    Resource,
    examine,
    runs_once,
)
from golsp_leaks.goanalysis.summaries.facts import SCOPE_FACTS, SIBLINGS
from golsp_leaks.goanalysis.syntax.nodes import FUNCTION_TYPES, binding, enclosing_function, text
from golsp_leaks.goanalysis.syntax.parse import cursor
from golsp_leaks.model import Finding, Severity
from golsp_leaks.rules.base import DEFER_RELEASE, FileContext, Rule

SYNC = "sync"
POOL = NamedType(SYNC, "Pool")

#: Methods whose result shares memory with the pooled object (``buf.Bytes()``).
ALIASING_METHODS = frozenset({"Bytes", "AvailableBuffer"})

_CALLS = """(call_expression
  function: (selector_expression operand: (_) @pool field: (field_identifier) @fn (#eq? @fn "Get"))
  arguments: (argument_list) @args) @call"""


class PoolGetWithoutPut(Rule):
    """
    ## What it does
    Reports an object taken from a `sync.Pool` with `Get()` that the function
    never puts back — no `pool.Put(x)` on any path — and never hands on.
    Handing it on is returning it, passing it to a function (`putBuffer(buf)`,
    a helper that puts it back), storing it, sending it on a channel, or
    capturing it in a goroutine; so is letting memory that aliases it escape,
    such as returning `buf.Bytes()` or storing `*bp`, since putting the object
    back would then hand that memory to the next user.  Writing to it, reading
    it, copying out of it (`buf.String()`, `w.Write(buf.Bytes())`) is not
    handing it on.  An object put back on some paths only is not reported: an
    object that is not put back is simply garbage collected.  An object handed
    straight to a method of a value another package made in this function
    (`sc.Buffer(pool.Get().([]byte), n)` on a `bufio.Scanner`), in a function
    that puts nothing back into that pool, is reported: that code cannot put
    it back.

    A pool is recognised by its declaration: a variable, parameter or struct
    field of type `sync.Pool` or `*sync.Pool`, or one initialised with
    `sync.Pool{...}` or `&sync.Pool{...}`.

    ## Why is this bad?
    Nothing leaks — the garbage collector frees the object — but the pool is
    useless: every `Get` finds the pool empty and calls `New`, so the code pays
    for the pool and still allocates on every call, which is what the pool was
    added to avoid.  It usually means a `Put` was forgotten or lost in a
    refactoring.

    ## Example
    ```go
    var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

    func render(w io.Writer, v any) error {
        buf := bufPool.Get().(*bytes.Buffer)
        buf.Reset()
        if err := json.NewEncoder(buf).Encode(v); err != nil {
            return err
        }
        _, err := w.Write(buf.Bytes())
        return err
    }
    ```

    ## Use instead
    ```go
    func render(w io.Writer, v any) error {
        buf := bufPool.Get().(*bytes.Buffer)
        defer bufPool.Put(buf)
        buf.Reset()
        if err := json.NewEncoder(buf).Encode(v); err != nil {
            return err
        }
        _, err := w.Write(buf.Bytes())
        return err
    }
    ```

    ## Fix safety
    The fix inserts `defer pool.Put(x)` right after the `Get`.  It is offered
    only when the object is bound by a plain type assertion (with `x, ok :=` a
    failed assertion would put a typed nil into the pool), when nothing hands
    it on or lets its memory escape, and not inside a loop, where a `defer`
    would pile up.  The object is then put back when the function returns,
    after its last use; resetting it is left to the next `Get`, as is usual.
    """

    id = "pool-get-without-put"
    summary = "an object taken from a sync.Pool is never put back"
    requires = (*SCOPE_FACTS, SIBLINGS)
    default_severity = Severity.INFORMATION
    fix_kinds = (DEFER_RELEASE,)
    triggers = (b".Get()",)

    def check(self, decl: Node, ctx: FileContext) -> Iterable[Finding]:
        if not ctx.imports.has(SYNC):
            return
        for call, pool in _pool_gets(decl, ctx):
            finding = self._check_get(call, pool, ctx)
            if finding is not None:
                yield finding

    def _passed_to_foreign(self, call: Node, expr: Node, pool: Node, ctx: FileContext) -> Finding | None:
        """``scanner.Buffer(pool.Get().([]byte), n)``: an object handed straight to another package's
        value is never put back, unless this function puts something back in the pool itself."""
        arguments = expr.parent
        consumer = arguments.parent if arguments is not None and arguments.type == "argument_list" else None
        func = enclosing_function(call)
        if consumer is None or consumer.type != "call_expression" or func is None:
            return None
        where = _foreign_receiver(consumer, func, ctx)
        if where is None:
            return None
        pool_text = text(pool)
        body = func.child_by_field_name("body")
        if body is None or f"{pool_text}.Put(".encode() in (body.text or b""):
            return None
        if runs_once(call, func, ctx):
            return None
        return Finding(
            rule=self.id,
            start=call.start_byte,
            end=expr.end_byte,
            message=(
                f"the object taken from {pool_text} is handed straight to {where} and never put back: "
                "every Get then allocates a new object, and the pool saves nothing"
            ),
            per_request=ctx.scope.is_per_request(call),
        )

    def _check_get(self, call: Node, pool: Node, ctx: FileContext) -> Finding | None:
        expr = call
        parent = call.parent
        asserted = parent is not None and parent.type == "type_assertion_expression"
        if asserted and parent is not None:
            expr = parent
        bound = binding(expr)
        if bound is None:
            return self._passed_to_foreign(call, expr, pool, ctx)
        if len(bound.targets) > 2 or (len(bound.targets) == 2 and not asserted):
            return None
        pool_text = text(pool)
        resource = Resource(
            releases=Releases(
                methods=frozenset(), functions=frozenset({(pool_text, "Put")}), borrowing_calls=STREAM_BORROWS
            ),
            release=lambda name: f"{pool_text}.Put({name})",
            fix_despite_releases=False,
        )
        outcome = examine(
            expr,
            resource,
            ctx,
            missing=lambda name: f"without putting {name} back",
            extra_transfers=lambda func, variable: _escapes(func, variable, ctx.source),
        )
        if outcome is None or outcome.kind != "never" or outcome.report is None:
            return None  # dropped, discarded, or put back (or handed on) somewhere: not reported
        if outcome.report.uses[Use.RELEASE] or outcome.report.uses[Use.TRANSFER]:
            return None
        fixes = outcome.fixes if len(bound.targets) == 1 and asserted else []
        return Finding(
            rule=self.id,
            start=outcome.target.start_byte,
            end=outcome.target.end_byte,
            message=(
                f"{outcome.name} is taken from {pool_text} but never put back: every Get then "
                "allocates a new object, and the pool saves nothing"
            ),
            fixes=tuple(fixes),
            per_request=ctx.scope.is_per_request(call),
        )


def _foreign_receiver(call: Node, decl: Node, ctx: FileContext) -> str | None:
    """``x.m`` when ``call`` calls a method of a local ``x`` made by another package in this function
    (``x := bufio.NewScanner(r)``, ``var x pkg.T``): code that cannot know this package's pool."""
    function = call.child_by_field_name("function")
    operand = function.child_by_field_name("operand") if function is not None else None
    if function is None or function.type != "selector_expression" or operand is None or operand.type != "identifier":
        return None
    func = enclosing_function(call)
    if func is None:
        return None
    declaration = bindings(top_level(func), ctx.source).of(operand)
    if declaration is None or declaration.kind != VAR or declaration.package_level:
        return None
    made = declaration.node.parent
    if made is not None and made.type == "expression_list":
        made = made.parent
    value: Node | None = None
    if made is not None and made.type == "short_var_declaration":
        right = made.child_by_field_name("right")
        value = right.named_children[0] if right is not None and right.named_child_count == 1 else None
    elif made is not None and made.type == "var_spec":
        value = made.child_by_field_name("type") or made.child_by_field_name("value")
    if value is None:
        return None
    if value.type == "call_expression":
        value = value.child_by_field_name("function")
    elif value.type == "pointer_type" and value.named_child_count == 1:
        value = value.named_children[0]
    package = value.child_by_field_name("operand" if value.type == "selector_expression" else "package") if value is not None else None
    if value is None or value.type not in ("selector_expression", "qualified_type") or package is None:
        return None
    if ctx.imports.path_of(text(package)) is None:
        return None
    return text(function)


def _pool_gets(decl: Node, ctx: FileContext) -> Iterator[tuple[Node, Node]]:
    for _, captures in cursor(_CALLS).matches(decl):
        if captures["args"][0].named_child_count:
            continue
        pool = captures["pool"][0]
        if POOL.is_value(pool, ctx, decl):
            yield captures["call"][0], pool


def _escapes(func: Node, variable: Declaration, source: bytes) -> list[Node]:
    """Uses of ``variable`` through which memory of the pooled object escapes: ``return buf.Bytes()``, ``b := *bp``."""
    found = []
    for mention in occurrences(variable, func, source):
        node = mention
        while True:
            parent = node.parent
            if parent is None:
                break
            kind = parent.type
            if kind == "parenthesized_expression" or (
                kind in ("slice_expression", "index_expression") and parent.child_by_field_name("operand") == node
            ):
                node = parent
                continue
            if kind == "unary_expression" and text(parent.child_by_field_name("operator")) in ("*", "&"):
                node = parent
                continue
            if kind == "selector_expression" and parent.child_by_field_name("operand") == node:
                call = parent.parent
                is_call = call is not None and call.type == "call_expression" and call.child_by_field_name(
                    "function"
                ) == parent
                if not is_call:
                    node = parent  # a field: its value may alias the object
                    continue
                if call is not None and text(parent.child_by_field_name("field")) in ALIASING_METHODS:
                    node = call
                    continue
            break
        if node is not mention and _flows_out(node, func):
            found.append(mention)
    return found


def _flows_out(node: Node, func: Node) -> bool:
    """Is the value of ``node`` returned, stored, sent or put in a composite literal?"""
    parent = node.parent
    if parent is None:
        return False
    kind = parent.type
    if kind in ("keyed_element", "literal_element", "literal_value", "send_statement", "return_statement"):
        return True
    if kind == "expression_list":
        holder = parent.parent
        if holder is None:
            return False
        if holder.type == "return_statement":
            return not _in_nested_function(holder, func)
        if holder.type in ("assignment_statement", "short_var_declaration", "var_spec"):
            right = holder.child_by_field_name("right") or holder.child_by_field_name("value")
            return right == parent
    return False


def _in_nested_function(node: Node, func: Node) -> bool:
    current = node.parent
    while current is not None and current != func:
        if current.type in FUNCTION_TYPES:
            return True
        current = current.parent
    return False
