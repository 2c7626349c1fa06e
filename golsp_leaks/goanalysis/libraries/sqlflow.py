"""Following a database resource (rows, a statement, a transaction, a pool) through a function.

:func:`bind` finds how an acquiring call's results are bound; :func:`track`
asks the path engine of :mod:`golsp_leaks.goanalysis.dataflow.engine` which exits are reached with the
resource neither released nor handed on (see :mod:`.ownership` for what counts
as which).  Two facts of ``database/sql`` and pgx make the analysis sharper
than for a file:

* *error paths hold nothing*: ``rows, err := db.Query(...)`` gives either rows
  or an error, so a branch taken only when ``err != nil`` (or ``rows == nil``,
  or gorm's ``tx.Error != nil``, or ``errors.Is(err, ...)``) — up to the next
  assignment of either variable — has nothing to release;
* *exhausted rows close themselves*: when ``rows.Next()`` returns false the
  rows are closed, so a ``for rows.Next() { ... }`` loop that runs to its end
  (not one left by ``break`` or ``return``), or the ``!rows.Next()`` branch of an
  ``if``, releases them.

:func:`defer_fix` builds the ``defer x.Close()`` quick fix after the error
check of the acquisition.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tree_sitter import Node

from golsp_leaks.goanalysis.cfg.graph import LOOP_DONE, THEN
from golsp_leaks.goanalysis.dataflow.counters import counter_guards
from golsp_leaks.goanalysis.dataflow.engine import (
    Guard,
    Paths,
    follow,
    related_locations,
)
from golsp_leaks.goanalysis.dataflow.escapes import reassigned
from golsp_leaks.goanalysis.dataflow.ownership import (
    OwnershipReport,
    Releases,
    Use,
    classify,
    is_overwrite,
)
from golsp_leaks.goanalysis.names.holders import holder
from golsp_leaks.goanalysis.names.scopes import (
    Declaration,
    declaration_of,
    occurrences,
    same,
    same_variable,
)
from golsp_leaks.goanalysis.syntax.edits import delete_statement, insert_statement_after, terminates
from golsp_leaks.goanalysis.syntax.nodes import (
    FUNCTION_TYPES,
    Binding,
    hands_back,
    is_no_return_call,
    text,
)
from golsp_leaks.goanalysis.syntax.nodes import binding as bind_value
from golsp_leaks.goanalysis.syntax.parse import cursor
from golsp_leaks.model import Applicability, Edit, Fix, Related

# --- binding ---------------------------------------------------------------------


@dataclass(frozen=True)
class Bound:
    """An acquisition bound to a local variable.

    ``stmt`` is the statement (or ``if``/``for``/``switch`` initializer) that
    binds it, ``target`` the identifier of the resource, ``error`` the
    identifier of the error result (None when there is none or it is ``_``).
    """

    call: Node
    stmt: Node
    target: Node
    error: Node | None
    func: Node
    #: The uses of the variable after the binding (resolved with scopes), and the bare returns
    #: that hand it on when it is a named result.
    uses: tuple[Node, ...] = ()
    bare_returns: tuple[Node, ...] = ()
    #: The file's text, which the control-flow graphs are cached by.
    source: bytes | None = None

    @property
    def name(self) -> str:
        return text(self.target)

    @property
    def error_name(self) -> str | None:
        return text(self.error) if self.error is not None else None

    @property
    def variable(self) -> Declaration | None:
        """The declaration of the resource's variable (resolved with scopes)."""
        return declaration_of(self.target, self.source) if self.source is not None else None

    @property
    def error_variable(self) -> Declaration | None:
        """The declaration of the error's variable, if the acquisition assigns one."""
        return declaration_of(self.error, self.source) if self.error is not None and self.source is not None else None


def _is(node: Node | None, declarations: Iterable[Declaration | None], source: bytes | None) -> bool:
    """Is ``node`` an identifier that names one of ``declarations`` (not a variable spelled the same)?"""
    if node is None or node.type != "identifier" or source is None:
        return False
    found = declaration_of(node, source)
    return any(same(found, d) for d in declarations)


def binding(call: Node) -> Binding | None:
    """The statement that binds all the results of ``call``, and its left-hand side.

    Not a spec inside a ``var ( ... )`` block: the fix would need to know its layout.
    """
    found = bind_value(call)
    return None if found is None or found.in_var_block else found


def bind(call: Node, func: Node, results: int, source: bytes) -> Bound | None:
    """The call's resource bound to a variable of ``func``, or None (discarded, stored, returned...).

    ``results`` is how many values the call returns (2 with an error, 1 without).
    The variable must be ``func``'s (see :mod:`golsp_leaks.goanalysis.names.holders`):
    assigning to a package-level variable or a captured one stores the resource elsewhere.
    """
    found = binding(call)
    if found is None or len(found.targets) != results:
        return None
    target = found.targets[0]
    if target.type != "identifier" or text(target) == "_":
        return None
    owner = holder(target, found.stmt, source)
    if owner is None or owner.lifted or owner.func != func:
        return None
    error = found.targets[1] if results == 2 else None
    if error is not None and (error.type != "identifier" or text(error) == "_"):
        error = None
    return Bound(call, found.stmt, target, error, func, owner.uses, owner.bare_returns, source)


def discarded(call: Node, results: int) -> Node | None:
    """The ``_`` (or the whole statement) that throws the call's resource away, if it is thrown away."""
    parent = call.parent
    if parent is not None and parent.type == "expression_statement":
        return call
    found = binding(call)
    if found is None or len(found.targets) != results:
        return None
    target = found.targets[0]
    return target if target.type == "identifier" and text(target) == "_" else None


# --- paths -----------------------------------------------------------------------


def _absent_test(absent: dict[int, tuple[bool, bool]]) -> Callable[[Guard], bool]:
    """``Paths.absent`` for :func:`absent_branches`: ``if`` branches, and the cases of a tagless switch."""

    def test(guard: Guard) -> bool:
        node, index = guard
        if node.type == "if_statement":
            flags = absent.get(node.start_byte)
            return flags is not None and flags[0 if index == THEN else 1]
        if node.type == "expression_switch_statement" and index >= 0:
            cases = [c for c in node.named_children if c.type in ("expression_case", "default_case")]
            return index < len(cases) and cases[index].start_byte in absent
        return False

    return test


def _loop_end_test(next_loops: frozenset[int]) -> Callable[[Guard], bool]:
    """``Paths.released``: ``for rows.Next()`` stopping at its condition has closed the rows (a break has not)."""
    return lambda guard: guard[1] == LOOP_DONE and guard[0].start_byte in next_loops


_IFS = "(if_statement condition: (_) @cond) @if"
_SWITCHES = "(expression_switch_statement) @switch"
_ASSIGNING = frozenset({"short_var_declaration", "assignment_statement", "var_spec", "range_clause"})


def track(
    bound: Bound,
    releases: Releases,
    *,
    next_closes: bool = False,
    gorm_error: bool = False,
    extra_releases: Iterable[Node] = (),
    borrowing_methods: frozenset[str] = frozenset(),
    plain_fields: frozenset[str] = frozenset(),
) -> OwnershipReport | None:
    """Which exits of the function are reached without releasing or handing on the resource.

    ``next_closes``: the resource is rows that close themselves when ``Next()``
    returns false.  ``gorm_error``: the resource reports a failed acquisition
    in its ``Error`` field (gorm).  ``borrowing_methods`` are methods that only
    borrow the resource passed to them (gorm's ``db.ScanRows(rows, &u)``);
    ``plain_fields`` are fields that are plain data (gorm's ``tx.Error``):
    reading them does not hand the resource on.  Returns None when the control
    flow is
    beyond the analysis, or when a ``defer`` registered before the acquisition
    already releases the variable.
    """
    func, stmt = bound.func, bound.stmt
    uses: dict[Use, list[Node]] = {u: [] for u in Use}
    uses[Use.TRANSFER].extend(bound.bare_returns)
    for mention in bound.uses:
        use = classify(mention, releases, func, bound.source or b"")
        if use is Use.TRANSFER and (
            (borrowing_methods and _argument_of_method(mention, borrowing_methods))
            or (plain_fields and _reads_field(mention, plain_fields))
        ):
            use = Use.BORROW
        if use is Use.RELEASE and mention.start_byte < stmt.start_byte and _in_defer(mention, func):
            return None  # deferred before the acquisition: it covers this value too
        uses[use].append(mention)
    counted = [n.start_byte for n in (*uses[Use.RELEASE], *uses[Use.TRANSFER])]
    counted.extend(n.start_byte for n in extra_releases)
    absent = absent_branches(bound, next_closes=next_closes, gorm_error=gorm_error)
    for offset, flags in counter_guards(func, stmt, counted, bound.source).items():
        absent.setdefault(offset, flags)  # a batch begun only when its counter is zero
    loops = next_loops(func, bound.variable, bound.source) if next_closes and bound.source is not None else frozenset()
    overwritten = [m.start_byte for m in bound.uses if is_overwrite(m)]
    paths = Paths(stmt, counted, overwritten=overwritten, absent=_absent_test(absent), released=_loop_end_test(loops))
    report = follow(func, paths, source=bound.source)
    return OwnershipReport(report, uses)


def _reads_field(mention: Node, fields: frozenset[str]) -> bool:
    parent = mention.parent
    return (
        parent is not None
        and parent.type == "selector_expression"
        and parent.child_by_field_name("operand") == mention
        and text(parent.child_by_field_name("field")) in fields
    )


def _argument_of_method(mention: Node, methods: frozenset[str]) -> bool:
    args = mention.parent
    if args is None or args.type != "argument_list" or args.parent is None:
        return False
    function = args.parent.child_by_field_name("function")
    return (
        function is not None
        and function.type == "selector_expression"
        and text(function.child_by_field_name("field")) in methods
    )


def _in_defer(node: Node, func: Node) -> bool:
    current = node.parent
    while current is not None and current != func:
        if current.type == "defer_statement":
            return True
        current = current.parent
    return False


def next_loops(func: Node, variable: Declaration | None, source: bytes) -> frozenset[int]:
    """Start offsets of the ``for rows.Next() { ... }`` loops in ``func``, ``rows`` being ``variable``."""
    found: set[int] = set()
    for mention in occurrences(variable, func, source) if variable is not None else ():
        call = _next_call(mention)
        if call is not None and call.parent is not None and call.parent.type == "for_statement":
            found.add(call.parent.start_byte)
    return frozenset(found)


def _next_call(ident: Node) -> Node | None:
    """The call ``ident.Next()`` that ``ident`` is the receiver of."""
    selector = ident.parent
    if selector is None or selector.type != "selector_expression" or selector.child_by_field_name("operand") != ident:
        return None
    if text(selector.child_by_field_name("field")) != "Next":
        return None
    call = selector.parent
    if call is None or call.type != "call_expression" or call.child_by_field_name("function") != selector:
        return None
    return call


def _assigned_or_addressed(mention: Node) -> bool:
    parent = mention.parent
    if parent is None:
        return False
    if parent.type == "unary_expression":
        return text(parent.child_by_field_name("operator")) == "&"
    if parent.type == "var_spec":
        return mention in parent.children_by_field_name("name")
    if parent.type != "expression_list":
        return False
    holder = parent.parent
    return holder is not None and holder.type in _ASSIGNING and holder.child_by_field_name("left") == parent


def absent_branches(bound: Bound, *, next_closes: bool = False, gorm_error: bool = False) -> dict[int, tuple[bool, bool]]:
    """The ``if`` statements after the acquisition with a branch that holds no resource.

    Keys are start offsets of ``if`` statements; values say whether the
    consequence and the alternative (or skipping the ``if``) hold nothing.
    Conditions count until the resource or its error variable is assigned
    again (or has its address taken).
    """
    func, acquire, source = bound.func, bound.stmt, bound.source
    resource, error = bound.variable, bound.error_variable
    stop = func.end_byte
    for variable in (d for d in (resource, error) if d is not None):
        for mention in occurrences(variable, func, source or b""):
            if (
                acquire.end_byte <= mention.start_byte < stop
                and _assigned_or_addressed(mention)
                and not exclusive(acquire, mention)
            ):
                stop = mention.start_byte
                break
    found: dict[int, tuple[bool, bool]] = {}
    qc = cursor(_IFS)
    qc.set_byte_range(acquire.end_byte, stop)
    for _, captures in qc.matches(func):
        statement = captures["if"][0]
        condition = captures["cond"][0]
        if condition.start_byte < acquire.end_byte or condition.end_byte > stop:
            continue
        errors = [error] if error is not None else []
        init = statement.child_by_field_name("initializer")
        if init is not None:
            # ``if err := other(); err != nil`` tests another error: its err is another declaration.
            alias = _error_field_alias(init, resource, source) if gorm_error else None
            if alias is not None:
                errors = [alias]
        tested = _Tested(resource, tuple(errors), source)
        flags = _flags(condition, tested, next_closes=next_closes, gorm_error=gorm_error)
        if flags != (False, False):
            found[statement.start_byte] = flags
    tested = _Tested(resource, (error,) if error is not None else (), source)
    qc = cursor(_SWITCHES)
    qc.set_byte_range(acquire.end_byte, stop)
    for switch in qc.captures(func).get("switch", []):
        if switch.start_byte < acquire.end_byte or switch.child_by_field_name("value") is not None:
            continue
        for case in switch.named_children:
            values = case.child_by_field_name("value") if case.type == "expression_case" else None
            if values is None or values.end_byte > stop or not values.named_child_count:
                continue
            if all(
                _flags(v, tested, next_closes=next_closes, gorm_error=gorm_error)[0]
                for v in values.named_children
            ):
                found[case.start_byte] = (True, False)
    return found


_BRANCHING = frozenset({"if_statement", "expression_switch_statement", "type_switch_statement", "select_statement"})
_CASES = frozenset({"expression_case", "type_case", "default_case", "communication_case"})


def exclusive(a: Node, b: Node) -> bool:
    """Are ``a`` and ``b`` in different branches of one ``if`` or ``switch`` (never both on a path through it)?"""
    ancestors: dict[tuple[int, int, str], Node] = {}
    child: Node | None = a
    while child is not None and child.parent is not None:
        parent = child.parent
        ancestors[(parent.start_byte, parent.end_byte, parent.type)] = child
        child = parent
    child = b
    while child is not None and child.parent is not None:
        parent = child.parent
        key = (parent.start_byte, parent.end_byte, parent.type)
        if key in ancestors:
            if parent.type not in _BRANCHING:
                return False
            return _branch_of(parent, ancestors[key]) != _branch_of(parent, child) and None not in (
                _branch_of(parent, ancestors[key]),
                _branch_of(parent, child),
            )
        child = parent
    return False


def _branch_of(statement: Node, child: Node) -> str | None:
    """Which branch of ``statement`` its child ``child`` is: "then", "else", a case, or None (the header)."""
    if statement.type == "if_statement":
        if child == statement.child_by_field_name("consequence"):
            return "then"
        if child == statement.child_by_field_name("alternative"):
            return "else"
        return None
    if child.type in _CASES:
        return f"case@{child.start_byte}"
    return None


@dataclass(frozen=True)
class _Tested:
    """The resource's variable and the variables that hold its acquisition's error, by declaration."""

    resource: Declaration | None
    errors: tuple[Declaration, ...]
    source: bytes | None

    def is_resource(self, node: Node | None) -> bool:
        return _is(node, (self.resource,), self.source)

    def is_error(self, node: Node | None) -> bool:
        return bool(self.errors) and _is(node, self.errors, self.source)


def _error_field_alias(init: Node, resource: Declaration | None, source: bytes | None) -> Declaration | None:
    """``e`` for an initializer ``e := tx.Error`` (gorm's way of reporting a failed call)."""
    if init.type not in ("short_var_declaration", "assignment_statement"):
        return None
    left = init.child_by_field_name("left")
    right = init.child_by_field_name("right")
    if left is None or right is None or left.named_child_count != 1 or right.named_child_count != 1:
        return None
    value = right.named_children[0]
    if value.type == "selector_expression" and _is_error_field(value, resource, source) and source is not None:
        return declaration_of(left.named_children[0], source)
    return None


def _is_error_field(node: Node, resource: Declaration | None, source: bytes | None) -> bool:
    return (
        _is(node.child_by_field_name("operand"), (resource,), source)
        and text(node.child_by_field_name("field")) == "Error"
    )


def _flags(condition: Node, tested: _Tested, *, next_closes: bool, gorm_error: bool) -> tuple[bool, bool]:
    """(the consequence, the alternative) runs only without the resource."""
    kind = condition.type
    if kind == "parenthesized_expression" and condition.named_child_count == 1:
        return _flags(condition.named_children[0], tested, next_closes=next_closes, gorm_error=gorm_error)
    if kind == "unary_expression":
        operand = condition.child_by_field_name("operand")
        if text(condition.child_by_field_name("operator")) == "!" and operand is not None:
            then, other = _flags(operand, tested, next_closes=next_closes, gorm_error=gorm_error)
            return other, then
        return False, False
    if kind == "call_expression":
        function = condition.child_by_field_name("function")
        if function is None or function.type != "selector_expression":
            return False, False
        operand = function.child_by_field_name("operand")
        method = text(function.child_by_field_name("field"))
        if next_closes and tested.is_resource(operand):
            return (False, True) if method == "Next" else (False, False)
        args = condition.child_by_field_name("arguments")
        first = args.named_children[0] if args is not None and args.named_child_count else None
        if (
            text(operand) == "errors"
            and method in ("Is", "As")
            and tested.is_error(first)
        ):
            return True, False  # errors.Is(err, x) holds only when err != nil
        return False, False
    if kind != "binary_expression":
        return False, False
    operator = text(condition.child_by_field_name("operator"))
    left = condition.child_by_field_name("left")
    right = condition.child_by_field_name("right")
    if left is None or right is None:
        return False, False
    if operator in ("&&", "||"):
        lt, lo = _flags(left, tested, next_closes=next_closes, gorm_error=gorm_error)
        rt, ro = _flags(right, tested, next_closes=next_closes, gorm_error=gorm_error)
        if operator == "&&":
            return lt or rt, lo and ro
        return lt and rt, lo or ro
    if operator not in ("==", "!="):
        return False, False
    if left.type == "nil":
        left, right = right, left
    if right.type != "nil":
        if tested.is_error(left) and right.type in ("selector_expression", "identifier"):
            # err == sql.ErrNoRows holds only when there is an error
            return (True, False) if operator == "==" else (False, True)
        return False, False
    if (
        tested.is_error(left)
        or _hands_back_error(left, tested)
        or (gorm_error and left.type == "selector_expression" and _is_error_field(left, tested.resource, tested.source))
    ):
        missing_when_true = operator == "!="
    elif tested.is_resource(left):
        missing_when_true = operator == "=="
    else:
        return False, False
    return (True, False) if missing_when_true else (False, True)


def _hands_back_error(node: Node, tested: _Tested) -> bool:
    """``scope.Err(err) != nil`` tests the acquisition's ``err`` as ``err != nil`` does."""
    if not tested.errors or not hands_back(node, {d.name for d in tested.errors}):
        return False
    arguments = node.child_by_field_name("arguments")
    return arguments is not None and tested.is_error(arguments.named_children[0])


# --- reporting -------------------------------------------------------------------


def related(tracked: OwnershipReport, bound: Bound, missing: str) -> list[Related]:
    """Related entries for each exit that misses the release (``missing``: "closing rows")."""
    return related_locations(tracked.exits, bound.func, bound.stmt, f"without {missing}")


# --- fixes -----------------------------------------------------------------------


_SIMPLE = frozenset(
    {"expression_statement", "short_var_declaration", "assignment_statement", "inc_statement", "dec_statement"}
)


def error_check(bound: Bound, *, gorm_error: bool = False) -> Node | None:
    """The ``if err != nil { return ... }`` of this acquisition, where its fix goes after.

    The check may follow a few statements that mention neither the resource nor
    its error (``elapsed := time.Since(start)``).  For gorm, ``if tx.Error !=
    nil`` and ``if err := tx.Error; err != nil`` count too.
    """
    stmt = bound.stmt
    if stmt.parent is None or stmt.parent.type != "statement_list":
        return None
    variables = [d for d in (bound.variable, bound.error_variable) if d is not None]
    following = stmt.next_named_sibling
    for _ in range(4):
        while following is not None and following.type == "comment":
            following = following.next_named_sibling
        if following is None:
            return None
        if following.type == "if_statement":
            if _is_error_check(following, bound, gorm_error=gorm_error):
                return following
            return None
        if following.type not in _SIMPLE or is_no_return_call(following):
            return None
        if any(occurrences(d, following, bound.source or b"") for d in variables):
            return None
        following = following.next_named_sibling
    return None


def _is_error_check(node: Node, bound: Bound, *, gorm_error: bool) -> bool:
    if node.child_by_field_name("alternative") is not None:
        return False
    if not terminates(node.child_by_field_name("consequence")):
        return False
    condition = node.child_by_field_name("condition")
    if condition is None or condition.type != "binary_expression":
        return False
    if text(condition.child_by_field_name("operator")) != "!=":
        return False
    left = condition.child_by_field_name("left")
    right = condition.child_by_field_name("right")
    if left is None or right is None or right.type != "nil":
        return False
    init = node.child_by_field_name("initializer")
    if init is not None:
        alias = _error_field_alias(init, bound.variable, bound.source) if gorm_error else None
        return alias is not None and _is(left, (alias,), bound.source)
    if gorm_error and left.type == "selector_expression" and _is_error_field(left, bound.variable, bound.source):
        return True
    return bound.error is not None and _is(left, (bound.error_variable,), bound.source)


def in_loop(stmt: Node, func: Node) -> bool:
    """Is ``stmt`` inside a ``for`` loop of ``func`` (a defer there would pile up)?"""
    current = stmt.parent
    while current is not None and current != func and current.type not in FUNCTION_TYPES:
        if current.type == "for_statement":
            return True
        current = current.parent
    return False


def fix_anchor(bound: Bound, *, gorm_error: bool = False, never_nil: bool = False) -> Node | None:
    """The statement after which the resource exists for sure: its error check, or the acquisition itself.

    None when the call returns an error that is not checked right away (a
    ``defer`` of a nil resource's method would panic), or the acquisition is in
    a loop (a ``defer`` would pile up).  ``never_nil``: the call returns a
    resource even with an error (pgx's ``Query``), so when the error is thrown
    away (``rows, _ :=``) the acquisition itself is the anchor.
    """
    if in_loop(bound.stmt, bound.func):
        return None
    if bound.stmt.parent is None or bound.stmt.parent.type != "statement_list":
        return None
    check = error_check(bound, gorm_error=gorm_error)
    if check is not None:
        return check
    if bound.error is None and (_no_error_result(bound) or never_nil):
        return bound.stmt
    return None


def _no_error_result(bound: Bound) -> bool:
    found = binding(bound.call)
    return found is not None and len(found.targets) == 1


def defer_fix(
    source: bytes,
    bound: Bound,
    call: str,
    *,
    gorm_error: bool = False,
    never_nil: bool = False,
    title: str | None = None,
) -> Fix | None:
    """``defer <call>`` after the acquisition's error check (removing later identical ``defer`` statements)."""
    anchor = fix_anchor(bound, gorm_error=gorm_error, never_nil=never_nil)
    if anchor is None:
        return None
    insert = insert_statement_after(source, anchor, f"defer {call}")
    if insert is None:
        return None
    edits: list[Edit] = [insert]
    for later in later_defers(bound.func, anchor, call):
        removal = delete_statement(source, later)
        if removal is None:
            return None
        edits.append(removal)
    where = "after the call" if anchor == bound.stmt else "after the error check"
    return Fix(title or f"Insert `defer {call}` {where}", tuple(edits), Applicability.SAFE)


_DEFERS = "(defer_statement) @defer"


def later_defers(func: Node, anchor: Node, call: str) -> list[Node]:
    """The statements ``defer <call>`` of ``func`` after ``anchor`` (not in nested function literals)."""
    wanted = f"defer{call}".replace(" ", "")
    found: list[Node] = []
    qc = cursor(_DEFERS)
    qc.set_byte_range(anchor.end_byte, func.end_byte)
    for node in qc.captures(func).get("defer", []):
        if node.start_byte < anchor.end_byte or text(node).replace(" ", "") != wanted:
            continue
        owner = node.parent
        while owner is not None and owner.type not in FUNCTION_TYPES:
            owner = owner.parent
        if owner == func and not reassigned(func, call, anchor.end_byte, node.start_byte):
            found.append(node)
    return sorted(found, key=lambda n: n.start_byte)


def called_methods(func: Node, variable: Declaration | None, source: bytes) -> set[str]:
    """Methods called on ``variable`` in ``func`` (``rows.Next()`` -> "Next"), and fields read."""
    found: set[str] = set()
    for mention in occurrences(variable, func, source) if variable is not None else ():
        parent = mention.parent
        if parent is not None and parent.type == "selector_expression" and parent.child_by_field_name("operand") == mention:
            found.add(text(parent.child_by_field_name("field")))
    return found


def callee_text(call: Node) -> str:
    """How to name the call in a message: ``s.db.QueryContext``, or ``r.db….Rows`` for a long chain."""
    function = call.child_by_field_name("function")
    spelled = " ".join(text(function).split())
    if len(spelled) <= 40 or function is None or function.type != "selector_expression":
        return spelled
    head = _chain_head(function.child_by_field_name("operand"))
    method = text(function.child_by_field_name("field"))
    return f"{' '.join(text(head).split())}….{method}" if head is not None else method


def _chain_head(node: Node | None) -> Node | None:
    """``r.db`` for ``r.db.WithContext(ctx).Model(&u).Where(q)``."""
    while node is not None:
        if node.type == "call_expression":
            function = node.child_by_field_name("function")
            if function is None or function.type != "selector_expression":
                return node
            node = function.child_by_field_name("operand")
        elif node.type == "selector_expression" and "(" in text(node):
            node = node.child_by_field_name("operand")
        else:
            return node
    return None


_CONTEXT_MAKERS = frozenset({"WithCancel", "WithTimeout", "WithDeadline", "WithCancelCause", "WithTimeoutCause", "WithDeadlineCause"})


def context_ends_on_return(bound: Bound, context: Node | None) -> bool:
    """Is ``context`` a context this function derived and whose cancel it has already deferred?

    ``database/sql`` closes rows and rolls back a transaction when the context
    given to ``QueryContext``/``BeginTx`` ends, so after ``ctx, cancel :=
    context.WithTimeout(...); defer cancel()`` they are released when the
    function returns, as by a ``defer rows.Close()``.
    """
    if context is None or context.type != "identifier":
        return False
    func = bound.func
    variable = declaration_of(context, bound.source) if bound.source is not None else None
    derived: Node | None = None
    for mention in occurrences(variable, func, bound.source or b"") if variable is not None else ():
        if mention.start_byte >= bound.stmt.start_byte:
            break
        if _assigned_or_addressed(mention):
            derived = _context_binding(mention)
    if derived is None:
        return False
    left = derived.child_by_field_name("left")
    target = left.named_children[1] if left is not None and left.named_child_count == 2 else None
    if target is None or target.type != "identifier" or text(target) == "_" or bound.source is None:
        return False
    cancel = declaration_of(target, bound.source)
    qc = cursor(_DEFERS)
    qc.set_byte_range(derived.end_byte, bound.stmt.start_byte)
    for node in qc.captures(func).get("defer", []):
        call = node.named_children[0] if node.named_child_count else None
        callee = call.child_by_field_name("function") if call is not None and call.type == "call_expression" else None
        arguments = call.child_by_field_name("arguments") if call is not None else None
        if (
            derived.end_byte <= node.start_byte < bound.stmt.start_byte
            and callee is not None
            and arguments is not None
            and arguments.named_child_count == 0
            and same_variable(callee, cancel, bound.source)
        ):
            owner = node.parent
            while owner is not None and owner.type not in FUNCTION_TYPES:
                owner = owner.parent
            if owner == func and not in_loop(node, func):
                return True
    return False


def _context_binding(mention: Node) -> Node | None:
    """The ``ctx, cancel := context.WithTimeout(...)`` statement whose first target is ``mention``."""
    values = mention.parent
    holder = values.parent if values is not None else None
    if holder is None or holder.type not in ("short_var_declaration", "assignment_statement"):
        return None
    left = holder.child_by_field_name("left")
    right = holder.child_by_field_name("right")
    if left is None or right is None or left.named_children[:1] != [mention] or right.named_child_count != 1:
        return None
    call = right.named_children[0]
    function = call.child_by_field_name("function") if call.type == "call_expression" else None
    if function is None or function.type != "selector_expression":
        return None
    if text(function.child_by_field_name("field")) not in _CONTEXT_MAKERS:
        return None
    return holder


def deferred_release_before(func: Node, variable: Declaration | None, releases: Releases, before: Node, source: bytes) -> bool:
    """Has ``func`` deferred the release of ``variable`` (``defer tx.Rollback()``) before ``before``?"""
    for mention in occurrences(variable, func, source) if variable is not None else ():
        if mention.start_byte >= before.start_byte:
            break
        if _in_defer(mention, func) and classify(mention, releases, func, source) is Use.RELEASE:
            owner = mention.parent
            while owner is not None and owner.type != "defer_statement":
                owner = owner.parent
            function = owner.parent if owner is not None else None
            while function is not None and function.type not in FUNCTION_TYPES:
                function = function.parent
            if function == func and owner is not None and not in_loop(owner, func):
                return True
    return False


#: For rules that follow a resource through the engine themselves (defer-in-loop's passes):
#: a use inside a ``defer`` of ``func``, and ``Paths.released`` for ``for rows.Next()`` loops.
in_defer = _in_defer
rows_read_to_end = _loop_end_test
