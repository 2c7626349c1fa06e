"""time-after-in-loop: ``time.After`` in a ``select`` inside a loop makes a timer on every pass."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from tree_sitter import Node

from golsp_leaks.goanalysis.cfg.loops import enclosing_loop, inside_nested_function
from golsp_leaks.goanalysis.dataflow.channels import literal_bound
from golsp_leaks.goanalysis.names.holders import top_level
from golsp_leaks.goanalysis.names.scopes import (
    Bindings,
    bindings,
    declaration_of,
    occurrences,
    single_value,
)
from golsp_leaks.goanalysis.summaries.facts import SCOPE_FACTS
from golsp_leaks.goanalysis.syntax.edits import insert_statement_before, unique_name
from golsp_leaks.goanalysis.syntax.nodes import (
    enclosing_function,
    is_no_return_call,
    label_of,
    line_indent,
    statements,
    text,
)
from golsp_leaks.goanalysis.syntax.parse import cursor
from golsp_leaks.model import Applicability, Edit, Finding, Fix, Related, Severity
from golsp_leaks.rules.base import FileContext, FixKind, Rule

_AFTER_CALLS = """
(call_expression
  function: (selector_expression operand: (identifier) @pkg field: (field_identifier) @fn)
  arguments: (argument_list . (_) @duration .)) @call
"""
_DECLARED = """
[(short_var_declaration left: (expression_list (identifier) @name))
 (var_spec name: (identifier) @name)
 (range_clause left: (expression_list (identifier) @name))
 (parameter_declaration name: (identifier) @name)]
"""
_IDENTIFIERS = "(identifier) @id"
_CALLS = "(call_expression function: (_) @function) @call"
#: Loops with a literal bound up to this many passes are not reported.
_FEW = 64


class TimeAfterInLoop(Rule):
    """
    ## What it does
    Reports `time.After(d)` used as a case of a `select` inside a loop (or
    assigned inside the loop and then waited on in a `select` there), when
    another case can win and the loop goes round again.  A wait written with
    `goto` — a case of the `select` that jumps back to a label before the
    timer is made — is such a loop too, and a timer kept in a field
    (`b.timer = time.After(d)` in the loop, `case <-b.timer:`) is followed
    as a local is.

    Reported only for modules whose `go` directive is before 1.23 (or with no
    known `go` directive, which Go treats the same way): from Go 1.23 on a
    timer nobody references is collected even if it has not fired, and
    nothing piles up.

    The timeout must be long compared with the loop's pace: another case
    keeps the loop going before the timer fires — a `default` case, a send,
    a receive from a channel that brings values, or a ticker with a shorter
    period.  A timeout under a second is not reported (each timer is gone
    within it; only a `default` case, which spins, still piles them up), nor
    is a select whose only other cases wait on tickers at least as slow as
    the timeout.

    Not reported: a `select` whose other cases all leave the loop (`return`,
    a `break` out of it); a `select` followed in the loop body by a `return`
    or a `break` out of the loop, which waits once; then at most one timer is
    ever pending, and the `select` is just a sleep that can be interrupted; a
    `select` with the `time.After` case alone; and a loop of a handful of
    passes (a literal bound of at most 64).

    ## Why is this bad?
    Every pass makes a new timer and a channel.  Before Go 1.23 a timer that
    has not fired is not garbage collected: when the other cases keep winning
    (a busy queue, a ticker), timers pile up by the thousand, each living for
    the full duration.

    ## Example
    ```go
    for {
        select {
        case <-ctx.Done():
            return
        case hook := <-hooks:
            deliver(hook)
        case <-time.After(time.Minute):
            log.Print("idle for a minute")
        }
    }
    ```

    ## Use instead
    ```go
    idle := time.NewTimer(time.Minute)
    defer idle.Stop()
    for {
        idle.Reset(time.Minute)
        select {
        case <-ctx.Done():
            return
        case hook := <-hooks:
            deliver(hook)
        case <-idle.C:
            log.Print("idle for a minute")
        }
    }
    ```

    ## Fix safety
    The fix makes one `time.NewTimer` before the loop with `defer t.Stop()`,
    resets it right before the `select` (so each wait is as long as before,
    counted from the same moment) and waits on `t.C`.  The reset first stops
    the timer and drains a value that fired but was not received, as `Reset`
    requires before Go 1.23.  Offered only
    when the duration is plain (no function calls besides conversions) and
    uses nothing declared inside the loop, and when the loop is not itself
    inside another loop (where the `defer` would pile up).
    """

    id = "time-after-in-loop"
    summary = "time.After in a select inside a loop creates a timer on every pass"
    requires = SCOPE_FACTS
    default_severity = Severity.WARNING
    fix_kinds = (
        FixKind("Make one timer before the loop (`{timer} := {time}.NewTimer({d})`) and reset it each pass", Applicability.UNSAFE),
    )
    triggers = (b".After(",)

    def check(self, decl: Node, ctx: FileContext) -> Iterable[Finding]:
        time_names = ctx.imports.names_for("time")
        if not time_names:
            return
        for call, duration in _after_calls(decl, time_names):
            finding = self._check_call(call, duration, ctx)
            if finding is not None:
                yield finding

    def _check_call(self, call: Node, duration: Node, ctx: FileContext) -> Finding | None:
        func = enclosing_function(call)
        if func is None:
            return None
        case, select, variable = _waited_in_select(call, func, ctx.source)
        if case is None or select is None:
            return None
        loop = enclosing_loop(select, func)
        back: Node | None = None
        if loop is None:
            back = _goto_back(select, func)
            if back is None or not _after_label(call, back, func):
                return None
            loop = func.child_by_field_name("body")
            if loop is None:
                return None
        elif variable is None and enclosing_loop(call, func) != loop:
            return None
        if variable is not None and not (loop.start_byte <= call.start_byte < loop.end_byte):
            return None
        others = [
            c for c in select.named_children if c.type in ("communication_case", "default_case") and c != case
        ]
        if not others or all(_leaves(c, loop) for c in others) or _left_after(select, loop):
            return None
        bound = literal_bound(loop)
        if bound is not None and bound <= _FEW:
            return None  # a handful of passes: a handful of timers
        pace = _pace(duration, [c for c in others if not _leaves(c, loop)], ctx)
        if pace is None:
            return None  # nothing makes the loop go round faster than the timer fires
        if ctx.go_version is not None and ctx.go_version >= (1, 23):
            return None  # unfired timers are collected: nothing piles up
        message = (
            "time.After in a select inside a loop makes a new timer on every pass; before Go 1.23 "
            f"a timer that has not fired is never collected, so while {pace} keeps the loop "
            f"going each one stays until it fires (after {text(duration)})"
        )
        fixes = [] if variable is not None or back is not None else _hoist_fix(ctx, call, duration, select, loop, func)
        related = (
            Related(back.start_byte, back.start_byte + 4, "this goto goes round again, and makes another timer")
            if back is not None
            else Related(loop.start_byte, loop.start_byte + 3, "the loop that makes a timer on every pass")
        )
        return Finding(
            rule=self.id,
            start=call.start_byte,
            end=call.end_byte,
            message=message,
            related=(related,),
            fixes=tuple(fixes),
            per_request=ctx.scope.is_per_request(call),
        )


#: A timeout shorter than this (in seconds) ends its timer before many can pile up.
_SHORT = 1.0
_UNITS = {"Nanosecond": 1e-9, "Microsecond": 1e-6, "Millisecond": 1e-3, "Second": 1.0, "Minute": 60.0, "Hour": 3600.0}
_TICKERS = frozenset({"NewTicker", "Tick"})


def _pace(duration: Node, others: list[Node], ctx: FileContext) -> str | None:
    """What makes the loop go round before the timer fires, in words, or None when nothing does.

    A ``default`` case spins; a case that sends, or receives from a channel other than a ticker
    slower than the timeout, comes back as often as values come.  With a timeout shorter than
    :data:`_SHORT` each timer is gone within it, and only a ``default`` case piles them up."""
    time_names = ctx.imports.names_for("time")
    timeout = _seconds(duration, time_names)
    if any(c.type == "default_case" for c in others):
        return "the default case"
    if timeout is not None and timeout < _SHORT:
        return None
    resolved = bindings(top_level(duration), ctx.source)
    for case in others:
        period = _ticker_period(case, time_names, resolved)
        if period is None:
            return "another case"
        seconds = _seconds(period, time_names)
        if seconds is None or timeout is None or seconds < timeout:
            return "a ticker that fires more often"
    return None


def _ticker_period(case: Node, time_names: set[str], resolved: Bindings) -> Node | None:
    """The period of the ticker this case receives from (``<-t.C`` of ``t := time.NewTicker(p)``,
    ``<-time.Tick(p)``), or None when it receives from something else."""
    communication = case.child_by_field_name("communication")
    if communication is None:
        return None
    receive = communication
    if receive.type == "receive_statement":
        receive = receive.child_by_field_name("right") or receive
    if receive.type == "expression_statement" and receive.named_child_count:
        receive = receive.named_children[0]
    if receive.type != "unary_expression" or text(receive.child_by_field_name("operator")) != "<-":
        return None
    operand = receive.child_by_field_name("operand")
    if operand is not None and operand.type == "selector_expression" and text(operand.child_by_field_name("field")) == "C":
        holder = operand.child_by_field_name("operand")
        operand = single_value(resolved.of(holder)) if holder is not None and holder.type == "identifier" else None
    return _ticker_call_period(operand, time_names)


def _ticker_call_period(node: Node | None, time_names: set[str]) -> Node | None:
    if node is None or node.type != "call_expression":
        return None
    function = node.child_by_field_name("function")
    args = node.child_by_field_name("arguments")
    if function is None or function.type != "selector_expression" or args is None or args.named_child_count != 1:
        return None
    if text(function.child_by_field_name("operand")) not in time_names or text(function.child_by_field_name("field")) not in _TICKERS:
        return None
    return args.named_children[0]


def _seconds(node: Node, time_names: set[str]) -> float | None:
    """The value in seconds of a constant duration (``10 * time.Second``, ``time.Minute``)."""
    value = _nanoseconds(node, time_names)
    return value / 1e9 if value is not None else None


def _nanoseconds(node: Node, time_names: set[str]) -> float | None:
    """A constant duration's value, in nanoseconds as Go counts it (an untyped number counts so)."""
    kind = node.type
    if kind == "parenthesized_expression" and node.named_child_count == 1:
        return _nanoseconds(node.named_children[0], time_names)
    if kind in ("int_literal", "float_literal"):
        try:
            return float(text(node).replace("_", ""))
        except ValueError:
            return None
    if kind == "selector_expression":
        if text(node.child_by_field_name("operand")) in time_names:
            unit = _UNITS.get(text(node.child_by_field_name("field")))
            return unit * 1e9 if unit is not None else None
        return None
    if kind == "call_expression":  # time.Duration(5)
        function = node.child_by_field_name("function")
        args = node.child_by_field_name("arguments")
        if text(function) in {f"{t}.Duration" for t in time_names} and args is not None and args.named_child_count == 1:
            return _nanoseconds(args.named_children[0], time_names)
        return None
    if kind == "binary_expression" and text(node.child_by_field_name("operator")) in ("*", "/"):
        left = node.child_by_field_name("left")
        right = node.child_by_field_name("right")
        a = _nanoseconds(left, time_names) if left is not None else None
        b = _nanoseconds(right, time_names) if right is not None else None
        if a is None or b is None:
            return None
        if text(node.child_by_field_name("operator")) == "*":
            return a * b
        return a / b if b else None
    return None


def _after_calls(decl: Node, time_names: set[str]) -> Iterator[tuple[Node, Node]]:
    for _, captures in cursor(_AFTER_CALLS).matches(decl):
        if text(captures["fn"][0]) == "After" and text(captures["pkg"][0]) in time_names:
            yield captures["call"][0], captures["duration"][0]


def _waited_in_select(call: Node, func: Node, source: bytes) -> tuple[Node | None, Node | None, str | None]:
    """The select case that waits on the timer's channel: directly (``case <-time.After(d):``) or
    through a variable assigned in the loop (``timeout := time.After(d)``; its uses resolved with
    scopes, not another variable of the same name)."""
    case = _case_of(call)
    if case is not None:
        return case, case.parent, None
    holder = call.parent
    if holder is None or holder.type != "expression_list":
        return None, None, None
    stmt = holder.parent
    if (
        stmt is None
        or stmt.type not in ("short_var_declaration", "assignment_statement")
        or stmt.child_by_field_name("right") != holder
    ):
        return None, None, None
    left = stmt.child_by_field_name("left")
    if left is None or left.named_child_count != 1 or holder.named_child_count != 1:
        return None, None, None
    name = text(left.named_children[0])
    target = left.named_children[0]
    if stmt.type == "assignment_statement" and (
        target.type not in ("identifier", "selector_expression") or text(stmt.child_by_field_name("operator")) != "="
    ):
        return None, None, None
    if target.type == "selector_expression":
        return _field_waited(call, stmt, target, func)
    loop = enclosing_loop(stmt, func)
    if loop is None:
        # A loop made with goto: the statements after the label the select jumps back to.
        loop = func.child_by_field_name("body")
        if loop is None:
            return None, None, None
    variable = declaration_of(target, source)
    for mention in occurrences(variable, loop, source) if variable is not None else ():
        if mention.start_byte <= call.start_byte or inside_nested_function(mention, func):
            continue
        parent = mention.parent
        if parent is not None and parent.type == "unary_expression":
            found = _case_of(parent.parent if parent.parent is not None else parent)
            if found is None:
                found = _case_of(mention)
            if found is not None and found.parent is not None:
                return found, found.parent, name
    return None, None, None


def _field_waited(call: Node, stmt: Node, target: Node, func: Node) -> tuple[Node | None, Node | None, str | None]:
    """``x.f = time.After(d)`` in a loop, waited on as ``case <-x.f:`` of a select in that loop."""
    loop = enclosing_loop(stmt, func)
    if loop is None:
        return None, None, None
    wanted = text(target)
    for node in cursor('(unary_expression operator: "<-" operand: (selector_expression) @operand) @receive').matches(loop):
        operand = node[1]["operand"][0]
        if text(operand) != wanted or inside_nested_function(operand, func):
            continue
        found = _case_of(node[1]["receive"][0])
        if found is not None and found.parent is not None:
            return found, found.parent, wanted
    return None, None, None


def _case_of(node: Node) -> Node | None:
    """The communication case whose communication receives from ``node``."""
    current: Node | None = node
    for _ in range(4):
        if current is None:
            return None
        parent = current.parent
        if parent is None:
            return None
        if parent.type == "communication_case":
            return parent if parent.child_by_field_name("communication") == current else None
        if parent.type not in ("unary_expression", "receive_statement", "expression_statement", "expression_list"):
            return None
        current = parent
    return None


def _left_after(select: Node, loop: Node) -> bool:
    """Is the ``select`` followed, in the same block, by a statement that leaves the loop?  Then
    it runs at most once per loop: a single wait, not a timer per pass."""
    block = select.parent
    if block is None or block.type != "statement_list":
        return False
    after = statements(block)
    index = next((i for i, stmt in enumerate(after) if stmt == select), None)
    if index is None:
        return False
    in_loop_body = block.parent is not None and block.parent.parent == loop
    for stmt in after[index + 1 :]:
        if _exits(stmt, loop) or (in_loop_body and stmt.type == "break_statement" and not stmt.named_child_count):
            return True
    return False


def _leaves(case: Node, loop: Node) -> bool:
    """Does this case of the select always leave the loop?"""
    body = next((c for c in case.named_children if c.type == "statement_list"), None)
    stmts = statements(body)
    return bool(stmts) and _exits(stmts[-1], loop)


def _exits(last: Node, loop: Node) -> bool:
    """Does this statement, run, always leave ``loop``?  A ``goto`` back to a label in it does not:
    it goes round again."""
    if last.type == "goto_statement":
        target = _label_target(last)
        return target is None or not (loop.start_byte <= target.start_byte < last.start_byte)
    if last.type == "return_statement" or is_no_return_call(last):
        return True
    if last.type in ("break_statement", "continue_statement"):
        label_node = last.named_children[0] if last.named_child_count else None
        if label_node is None:
            return False  # breaks the select, or continues the loop
        label = text(label_node)
        if last.type == "continue_statement":
            return label != label_of(loop) and _labels_outer(loop, label)
        return label == label_of(loop) or _labels_outer(loop, label)
    return False


def _label_target(goto: Node) -> Node | None:
    """The labeled statement a ``goto`` jumps to, in its function."""
    label = text(goto.named_children[0]) if goto.named_child_count else ""
    func = enclosing_function(goto)
    if func is None or not label:
        return None
    for node in cursor("(labeled_statement label: (label_name) @label) @stmt").matches(func):
        captures = node[1]
        if text(captures["label"][0]) == label and not inside_nested_function(captures["stmt"][0], func):
            return captures["stmt"][0]
    return None


def _goto_back(select: Node, func: Node) -> Node | None:
    """A ``goto`` that ends a case of the select (not in a loop) and jumps back to a label before
    it: the select runs again, as in a loop."""
    for case in select.named_children:
        if case.type != "communication_case":
            continue
        body = next((c for c in case.named_children if c.type == "statement_list"), None)
        stmts = statements(body)
        if stmts and stmts[-1].type == "goto_statement":
            target = _label_target(stmts[-1])
            if target is not None and target.start_byte < select.start_byte:
                return stmts[-1]
    return None


def _after_label(call: Node, goto: Node, func: Node) -> bool:
    """Is ``call`` between the label ``goto`` jumps to and the ``goto``: made again on each round?"""
    target = _label_target(goto)
    return target is not None and target.start_byte <= call.start_byte < goto.start_byte


def _labels_outer(loop: Node, label: str) -> bool:
    current = loop.parent
    while current is not None and current.type not in ("function_declaration", "method_declaration", "func_literal"):
        if current.type == "labeled_statement" and text(current.child_by_field_name("label")) == label:
            return True
        current = current.parent
    return False


def _hoist_fix(
    ctx: FileContext, call: Node, duration: Node, select: Node, loop: Node, func: Node
) -> list[Fix]:
    if enclosing_loop(loop, func) is not None or not _plain_duration(duration, loop, func):
        return []
    anchor = loop.parent if loop.parent is not None and loop.parent.type == "labeled_statement" else loop
    if anchor.parent is None or anchor.parent.type != "statement_list":
        return []
    if select.parent is None or select.parent.type != "statement_list":
        return []
    function = call.child_by_field_name("function")
    operand = function.child_by_field_name("operand") if function is not None else None
    if operand is None:
        return []
    time_pkg = text(operand)
    name = unique_name(func, "timer")
    d = text(duration)
    line_start = ctx.source.rfind(b"\n", 0, anchor.start_byte) + 1
    indent = line_indent(ctx.source, anchor.start_byte)
    if line_start + len(indent) != anchor.start_byte or not indent:
        return []
    nl = "\r\n" if b"\r\n" in ctx.source[:4096] else "\n"
    pad = indent.decode()
    hoist = Edit(
        line_start,
        anchor.start_byte,
        f"{pad}{name} := {time_pkg}.NewTimer({d}){nl}{pad}defer {name}.Stop(){nl}{pad}",
    )
    # Before Go 1.23, Reset needs the timer stopped and a value that fired but was not received drained.
    reset_code = f"if !{name}.Stop() {{\n\tselect {{\n\tcase <-{name}.C:\n\tdefault:\n\t}}\n}}\n{name}.Reset({d})"
    reset = insert_statement_before(ctx.source, select, reset_code)
    if reset is None:
        return []
    replace = Edit(call.start_byte, call.end_byte, f"{name}.C")
    return [
        Fix(
            f"Make one timer before the loop (`{name} := {time_pkg}.NewTimer({d})`) and reset it each pass",
            (hoist, reset, replace),
            Applicability.UNSAFE,
        )
    ]


def _plain_duration(duration: Node, loop: Node, func: Node) -> bool:
    """No calls but conversions, and nothing declared inside the loop."""
    for _, captures in cursor(_CALLS).matches(duration):
        function = captures["function"][0]
        name = text(function)
        if name not in ("time.Duration", "int64", "float64", "int"):
            return False
    declared_in_loop = {
        text(captures["name"][0])
        for _, captures in cursor(_DECLARED).matches(loop)
        if not inside_nested_function(captures["name"][0], func)
    }
    used = {text(n) for n in cursor(_IDENTIFIERS).captures(duration).get("id", [])}
    return not (used & declared_in_loop)
