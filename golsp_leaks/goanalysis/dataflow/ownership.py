"""Ownership of a resource held in a local variable.

A resource (``rows``, ``resp``, ``tx``, ``f``...) bound by a statement is this
function's to release, unless the function hands it on.  Every later mention of
the variable is classified as one of:

``RELEASE``
    the release itself: ``rows.Close()``, ``resp.Body.Close()``, a ``defer`` of it,
    or the same inside a deferred closure;
``TRANSFER``
    ownership leaves this function: the variable is returned, passed to a
    function, stored in a field, map, slice, package-level or outer variable,
    put in a composite literal, sent on a channel, aliased by another variable,
    or captured by a closure that does more than borrow it;
``BORROW``
    anything else: method calls (``rows.Next()``, ``rows.Scan(...)``), field reads,
    comparisons.

:func:`missed_release` then asks the path engine (:mod:`.engine`) which exits
are reached with neither a release nor a transfer.  When the acquisition is
followed by its error check (``if err != nil { return ... }``), the resource is
taken to exist only after that check: the early return happens before it does.
:func:`nil_tests` goes further: any later branch taken only when the error is
set (``if err == nil {...} else {...}``, ``os.IsNotExist(err)``) or the
resource is nil holds no resource.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field

from tree_sitter import Node

from golsp_leaks.goanalysis.dataflow.engine import ExitReport, NilTests, Paths, follow
from golsp_leaks.goanalysis.names.scopes import Declaration, declaration_of, occurrences, same
from golsp_leaks.goanalysis.syntax.nodes import enclosing_function, hands_back, text
from golsp_leaks.goanalysis.syntax.parse import cursor


class Use(enum.Enum):
    RELEASE = "release"
    TRANSFER = "transfer"
    BORROW = "borrow"


#: Functions that read from or wrap a value without taking over closing it.
BORROWING_CALLS = frozenset(
    {
        ("io", "ReadAll"),
        ("io", "Copy"),
        ("io", "CopyN"),
        ("io", "CopyBuffer"),
        ("io", "ReadFull"),
        ("io", "ReadAtLeast"),
        ("io", "LimitReader"),
        ("io", "TeeReader"),
        ("ioutil", "ReadAll"),
        ("json", "NewDecoder"),
        ("json", "Unmarshal"),
        ("xml", "NewDecoder"),
        ("bufio", "NewReader"),
        ("bufio", "NewScanner"),
        ("bufio", "NewReaderSize"),
        ("csv", "NewReader"),
        ("gzip", "NewReader"),
        ("fmt", "Println"),
        ("fmt", "Printf"),
        ("fmt", "Sprintf"),
        ("fmt", "Errorf"),
        ("fmt", "Fprintf"),
        ("fmt", "Fprintln"),
        ("log", "Printf"),
        ("log", "Println"),
        ("httputil", "DumpResponse"),
        ("", "len"),
        ("", "cap"),
        ("", "print"),
        ("", "println"),
    }
)


@dataclass(frozen=True)
class Releases:
    """How a resource is released.

    ``methods`` are method chains on the variable that release it, e.g.
    ``("Close",)`` for ``rows.Close()`` or ``("Body", "Close")`` for
    ``resp.Body.Close()``.  ``functions`` are calls that release it when it is
    one of their arguments, as ``(operand, name)``: ``("pool", "Put")`` for
    ``pool.Put(buf)``, ``("", "closeQuietly")`` for a local helper.
    ``plain_fields`` are fields of the resource that are plain data
    (``resp.StatusCode``): reading them, even to return or pass them on, does
    not hand the resource on.  ``callee`` says what a callee of the package
    does with an argument (releases it, keeps it, or only borrows it).
    """

    methods: frozenset[tuple[str, ...]]
    functions: frozenset[tuple[str, str]] = frozenset()
    borrowing_calls: frozenset[tuple[str, str]] = BORROWING_CALLS
    plain_fields: frozenset[str] = frozenset()
    #: What a known callee does with its argument ``(call, index)`` — a function of the same package,
    #: through its summary; None: unknown, and an unknown callee is given the benefit of the doubt.
    callee: Callable[[Node, int], Use | None] | None = field(default=None, compare=False)
    #: The resource closes itself when ``x.Next()`` returns false (``*sql.Rows``): a callee that
    #: reads its parameter to the end on every path (``for rows.Next() { ... }`` left only by its
    #: condition) releases it.
    next_closes: bool = False
    #: What a composite literal that holds the resource does with it (``&countingReader{r: f}``): a
    #: wrapper of the package that cannot release it and never leaves the function only borrows
    #: it; None: it keeps it, a transfer.
    holder: Callable[[Node], Use | None] | None = field(default=None, compare=False)


def _selector_chain(ident: Node) -> tuple[list[str], Node]:
    """Fields selected from ``ident`` (``resp.Body.Close`` -> ["Body", "Close"]) and the outermost node."""
    chain: list[str] = []
    node = ident
    while True:
        parent = node.parent
        if parent is None or parent.type != "selector_expression" or parent.child_by_field_name("operand") != node:
            break
        field = parent.child_by_field_name("field")
        chain.append(text(field))
        node = parent
    return chain, node


def _callee(call: Node) -> tuple[str, str] | None:
    function = call.child_by_field_name("function")
    if function is None:
        return None
    if function.type == "identifier":
        return "", text(function)
    if function.type == "selector_expression":
        operand = function.child_by_field_name("operand")
        field = function.child_by_field_name("field")
        return text(operand), text(field)
    return None


def classify(ident: Node, releases: Releases, owner: Node, source: bytes) -> Use:
    """What one mention (a use, resolved with scopes) of the resource variable of ``source`` does with it.

    ``owner`` is the function that acquired the resource; a mention inside a
    nested function literal is judged as if the literal were inline when it is
    deferred or called at once, and as a transfer otherwise (a goroutine or a
    stored callback now shares it).
    """
    chain, outer = _selector_chain(ident)
    parent = outer.parent
    # A method chain that is called: rows.Close(), resp.Body.Close(), rows.Next().
    if chain and parent is not None and parent.type == "call_expression" and parent.child_by_field_name("function") == outer:
        if tuple(chain) in releases.methods:
            return Use.RELEASE
        return _closure_use(ident, owner, Use.BORROW)
    if chain and chain[0] in releases.plain_fields:
        return Use.BORROW
    if chain:
        # resp.Body passed to something, rows.Err read, ...: judge the selector as a value.
        use = _value_use(outer, releases)
        if use is Use.TRANSFER and _read_only_alias(outer, owner, releases, source):
            use = Use.BORROW
        return _closure_use(ident, owner, use)
    return _closure_use(ident, owner, _value_use(ident, releases))


def _closure_use(ident: Node, owner: Node, use: Use) -> Use:
    """A mention inside a closure that is not run in place counts as a transfer (unless it releases)."""
    if use is Use.RELEASE:
        return use
    current = ident.parent
    while current is not None and current != owner:
        if current.type == "func_literal":
            call = current.parent
            invoked = call is not None and call.type == "call_expression" and call.child_by_field_name("function") == current
            stmt = call.parent if invoked and call is not None else None
            if not (invoked and stmt is not None and stmt.type in ("defer_statement", "expression_statement")):
                return Use.TRANSFER
        current = current.parent
    return use


def _value_use(node: Node, releases: Releases) -> Use:
    """The mention used as a value (not as the receiver of a method call)."""
    parent = node.parent
    if parent is None:
        return Use.BORROW
    kind = parent.type
    if kind == "parenthesized_expression":
        return _value_use(parent, releases)
    if kind == "type_assertion_expression" and parent.child_by_field_name("operand") == node:
        return _value_use(parent, releases)  # v.(*T) is the same value
    if kind == "unary_expression":
        operator = parent.child_by_field_name("operator")
        if operator is not None and text(operator) == "&":
            return _value_use(parent, releases)
        return Use.BORROW
    if kind == "expression_list":
        holder = parent.parent
        if holder is None:
            return Use.BORROW
        if holder.type == "return_statement":
            return Use.TRANSFER
        if holder.type in ("assignment_statement", "short_var_declaration", "var_spec"):
            right = holder.child_by_field_name("right") or holder.child_by_field_name("value")
            if right == parent and _assigned_to_blank(holder):
                return Use.BORROW  # _ = rows, _ = f.Close: thrown away, not handed on
            if right == parent:
                return Use.TRANSFER  # aliased or stored: x.f = rows, m[k] = rows, other := rows
            return Use.BORROW  # on the left: a reassignment
        return Use.BORROW
    if kind == "argument_list":
        call = parent.parent
        if call is not None and call.type == "call_expression":
            callee = _callee(call)
            if callee is not None and callee in releases.borrowing_calls:
                return Use.BORROW
            if callee is not None and callee in releases.functions:
                return Use.RELEASE
            if releases.callee is not None:
                known = releases.callee(call, _argument_index(parent, node))
                if known is not None:
                    return known
        return Use.TRANSFER
    if kind in ("send_statement",):
        return Use.TRANSFER if parent.child_by_field_name("value") == node else Use.BORROW
    if kind in ("keyed_element", "literal_element", "literal_value"):
        literal = parent
        while literal.type in ("keyed_element", "literal_element", "literal_value") and literal.parent is not None:
            literal = literal.parent
        if releases.holder is not None and literal.type == "composite_literal" and releases.holder(literal) is Use.BORROW:
            return Use.BORROW
        return Use.TRANSFER
    if kind == "return_statement":
        return Use.TRANSFER
    if kind in ("var_spec", "short_var_declaration", "assignment_statement"):
        right = parent.child_by_field_name("right") or parent.child_by_field_name("value")
        return Use.TRANSFER if right is not None and right == node else Use.BORROW
    return Use.BORROW


def _read_only_alias(value: Node, owner: Node, releases: Releases, source: bytes) -> bool:
    """``var r io.Reader = resp.Body`` (or ``r := resp.Body``) where the new local is only read
    through: passed to borrowing calls (``io.LimitReader(r, n)``, ``io.ReadAll(r)``), given a
    method call other than a release, or assigned again — never closed, returned, stored,
    aliased again, passed elsewhere or captured by a closure.  Such a local borrows the value."""
    values = value.parent
    stmt = values.parent if values is not None and values.type == "expression_list" else None
    if stmt is None or stmt.type not in ("short_var_declaration", "var_spec") or values is None:
        return False
    if values.named_child_count != 1:
        return False
    targets = stmt.children_by_field_name("name") if stmt.type == "var_spec" else []
    if stmt.type == "short_var_declaration":
        left = stmt.child_by_field_name("left")
        targets = list(left.named_children) if left is not None else []
    if len(targets) != 1 or targets[0].type != "identifier":
        return False
    alias = declaration_of(targets[0], source)
    if alias is None or alias.node != targets[0]:
        return False  # not a new local (r, err := ... again assigns the r of the same scope)
    releasing = {chain[-1] for chain in releases.methods}
    for mention in occurrences(alias, owner, source):
        if mention.start_byte <= targets[0].start_byte:
            continue
        if enclosing_function(mention) != owner:
            return False  # captured by a closure
        parent = mention.parent
        if parent is None:
            return False
        if parent.type == "selector_expression" and parent.child_by_field_name("operand") == mention:
            if text(parent.child_by_field_name("field")) in releasing:
                return False
            continue
        if parent.type == "argument_list":
            call = parent.parent
            callee = _callee(call) if call is not None and call.type == "call_expression" else None
            if callee is None or callee not in releases.borrowing_calls:
                return False
            continue
        if parent.type == "expression_list" and is_overwrite(mention):
            continue
        if parent.type in ("expression_list", "return_statement", "send_statement", "keyed_element", "literal_element"):
            return False
        if parent.type in ("unary_expression", "parenthesized_expression", "type_assertion_expression"):
            return False
    return True


def _assigned_to_blank(holder: Node) -> bool:
    left = holder.child_by_field_name("left")
    return left is not None and all(t.type == "identifier" and text(t) == "_" for t in left.named_children)


def _argument_index(arguments: Node, node: Node) -> int:
    return next((i for i, a in enumerate(arguments.named_children) if a == node), -1)


def is_overwrite(mention: Node) -> bool:
    """Is this mention of a variable the target of an assignment (``x = ...``, or ``x, err := ...`` again)?"""
    parent = mention.parent
    if parent is None or parent.type != "expression_list":
        return False
    holder = parent.parent
    if holder is None or holder.type not in ("assignment_statement", "short_var_declaration"):
        return False
    if holder.type == "assignment_statement":
        operator = holder.child_by_field_name("operator")
        if operator is None or text(operator) != "=":
            return False  # x += 1 reads it
    return holder.child_by_field_name("left") == parent


@dataclass
class OwnershipReport:
    """The outcome for one resource variable."""

    exits: ExitReport
    uses: dict[Use, list[Node]]

    @property
    def transferred(self) -> bool:
        return bool(self.uses[Use.TRANSFER])

    @property
    def released_somewhere(self) -> bool:
        return bool(self.uses[Use.RELEASE])

    @property
    def leaks(self) -> bool:
        e = self.exits
        return bool(e.missed or e.falls_off_end_unused or e.reacquired or e.overwritten)


def missed_release(
    func: Node,
    acquire: Node,
    mentions: Sequence[Node],
    releases: Releases,
    *,
    exists_after: Node | None = None,
    extra_releases: Iterable[Node] = (),
    nil_tests: NilTests | None = None,
    endless_loops: Collection[int] = (),
    source: bytes,
) -> OwnershipReport:
    """Exits of ``func`` reached from ``acquire`` without releasing or handing on the variable
    whose uses (after the acquisition, resolved with scopes) are ``mentions``.  Assigning the
    variable again while it holds the resource drops it: the report says where.

    ``exists_after`` is the error check that follows the acquisition (see
    :func:`golsp_leaks.goanalysis.syntax.edits.error_check_after`): the resource is taken to
    exist from there on.  ``extra_releases`` are further nodes that count as a
    release (e.g. ``pool.Put(x)`` found by the rule itself).  ``nil_tests``
    (see :func:`nil_tests`: branches taken only when the acquisition's error is
    set or the resource is nil) and ``endless_loops`` are passed on to
    :mod:`golsp_leaks.goanalysis.dataflow.engine`.
    """
    uses: dict[Use, list[Node]] = {u: [] for u in Use}
    for mention in mentions:
        uses[classify(mention, releases, func, source)].append(mention)
    counted = [n.start_byte for n in (*uses[Use.RELEASE], *uses[Use.TRANSFER])]
    counted.extend(n.start_byte for n in extra_releases)
    overwritten = [m.start_byte for m in mentions if is_overwrite(m)]
    paths = Paths(
        exists_after if exists_after is not None else acquire,
        counted,
        reassigned=nil_tests.reassigned if nil_tests is not None else (),
        overwritten=overwritten,
        absent=nil_tests,
        endless=endless_loops,
    )
    return OwnershipReport(follow(func, paths, source=source), uses)


_IFS = "[(if_statement condition: (_) @cond) (expression_switch_statement) @switch] @if"
_ASSIGNING = frozenset({"short_var_declaration", "assignment_statement", "var_spec", "range_clause"})


@dataclass(frozen=True)
class NilSubjects:
    """The variables a nil test is about: the resource and the error its acquisition assigned
    (either may be None), known by their declarations in ``source``: a variable of the same name
    declared in an inner block (``if err := f(); err != nil``) is another variable."""

    resource: Declaration | None
    error: Declaration | None
    source: bytes

    def is_resource(self, node: Node | None) -> bool:
        return node is not None and node.type == "identifier" and self.resource is not None and self._is(node, self.resource)

    def is_error(self, node: Node | None) -> bool:
        return node is not None and node.type == "identifier" and self.error is not None and self._is(node, self.error)

    def _is(self, node: Node, declaration: Declaration) -> bool:
        return node.text == declaration.name.encode() and same(declaration_of(node, self.source), declaration)

    def hands_back_error(self, node: Node) -> bool:
        """``scope.Err(err)``: a call given only the error, that hands it back (see :func:`hands_back`)."""
        if self.error is None or not hands_back(node, {self.error.name}):
            return False
        arguments = node.child_by_field_name("arguments")
        return arguments is not None and self.is_error(arguments.named_children[0])


def nil_tests(
    func: Node, acquire: Node, tested: NilSubjects, nil_fields: frozenset[str] = frozenset()
) -> NilTests:
    """The ``if`` statements with a branch on which the resource acquired by ``acquire`` does not exist.

    A branch taken only when ``tested.error`` (the error the acquisition
    assigned, if any) is not nil, or ``tested.resource`` is nil — ``if err != nil {...}``,
    the ``else`` of ``if err == nil {...}``, ``if resp != nil {...}`` skipped —
    holds no resource.  The places that assign either variable again (or take
    its address) end what the tests say on a path.  Tests before the
    acquisition count too: a loop may come back to them.  ``nil_fields`` are
    fields that are nil exactly when there is no resource (``resp.Body``: the
    client guarantees a non-nil body with every response), so that
    ``if resp != nil && resp.Body != nil {...}`` skipped holds none either.
    """
    variables = [d for d in (tested.resource, tested.error) if d is not None]
    reassigned = sorted(
        mention.start_byte
        for variable in variables
        for mention in occurrences(variable, func, tested.source)
        if not (acquire.start_byte <= mention.start_byte < acquire.end_byte) and _assigned_or_addressed(mention)
    )
    branches: dict[int, tuple[bool, bool]] = {}
    cases: dict[int, tuple[bool, ...]] = {}
    for _, captures in cursor(_IFS).matches(func):
        if "switch" in captures:
            switch = captures["switch"][0]
            if switch.child_by_field_name("value") is None:
                flags_per_case = _absent_cases(switch, tested, nil_fields)
                if any(flags_per_case):
                    cases[switch.start_byte] = flags_per_case
            continue
        condition = captures["cond"][0]
        flags = _absent_flags(condition, tested, nil_fields)
        if flags != (False, False):
            branches[captures["if"][0].start_byte] = flags
    return NilTests(branches, reassigned, cases)


def _absent_cases(switch: Node, tested: NilSubjects, nil_fields: frozenset[str] = frozenset()) -> tuple[bool, ...]:
    """For a ``switch { case ... }``: whether each case clause, then "no case", runs only without the resource.

    A clause runs when one of its expressions holds and no earlier clause's did.
    """
    flags: list[bool] = []
    earlier_false_absent = False  # an earlier case not taken implies there is no resource
    for case in switch.named_children:
        if case.type == "default_case":
            flags.append(earlier_false_absent)
            continue
        if case.type != "expression_case":
            continue
        values = case.child_by_field_name("value")
        per_value = [_absent_flags(v, tested, nil_fields) for v in (values.named_children if values else [])]
        taken_absent = bool(per_value) and all(t for t, _ in per_value)
        flags.append(taken_absent or earlier_false_absent)
        earlier_false_absent = earlier_false_absent or any(o for _, o in per_value)
    flags.append(earlier_false_absent)
    return tuple(flags)


def _assigned_or_addressed(mention: Node) -> bool:
    parent = mention.parent
    if parent is None:
        return False
    if parent.type == "unary_expression":
        operator = parent.child_by_field_name("operator")
        return operator is not None and text(operator) == "&"
    if parent.type == "var_spec":
        return mention in parent.children_by_field_name("name")
    if parent.type != "expression_list":
        return False
    holder = parent.parent
    return holder is not None and holder.type in _ASSIGNING and holder.child_by_field_name("left") == parent


def _absent_flags(condition: Node, tested: NilSubjects, nil_fields: frozenset[str] = frozenset()) -> tuple[bool, bool]:
    """(the consequence, the alternative) runs only without the resource."""
    kind = condition.type
    if kind == "parenthesized_expression" and condition.named_child_count == 1:
        return _absent_flags(condition.named_children[0], tested, nil_fields)
    if kind == "unary_expression":
        operand = condition.child_by_field_name("operand")
        if text(condition.child_by_field_name("operator")) == "!" and operand is not None:
            then, other = _absent_flags(operand, tested, nil_fields)
            return other, then
        return False, False
    if kind == "call_expression":
        return _error_predicate(condition, tested), False
    if kind != "binary_expression":
        return False, False
    operator = text(condition.child_by_field_name("operator"))
    left = condition.child_by_field_name("left")
    right = condition.child_by_field_name("right")
    if left is None or right is None:
        return False, False
    if operator in ("&&", "||"):
        lt, lo = _absent_flags(left, tested, nil_fields)
        rt, ro = _absent_flags(right, tested, nil_fields)
        if operator == "&&":
            return lt or rt, lo and ro
        return lt and rt, lo or ro
    if operator not in ("==", "!="):
        return False, False
    if left.type == "nil":
        left, right = right, left
    if right.type == "selector_expression" and tested.is_error(left):
        # err == io.EOF: a sentinel error is never nil.
        return operator == "==", False
    if right.type == "nil" and tested.hands_back_error(left):
        return (True, False) if operator == "!=" else (False, True)
    if right.type == "nil" and left.type == "selector_expression" and nil_fields:
        operand = left.child_by_field_name("operand")
        if operand is not None and tested.is_resource(operand) and text(left.child_by_field_name("field")) in nil_fields:
            left = operand  # resp.Body == nil holds exactly when resp == nil
    if right.type != "nil" or left.type != "identifier":
        return False, False
    # err != nil and resp == nil hold exactly when there is no resource.
    if tested.is_error(left):
        missing_when_true = operator == "!="
    elif tested.is_resource(left):
        missing_when_true = operator == "=="
    else:
        return False, False
    return (True, False) if missing_when_true else (False, True)


#: Predicates on an error that hold only for a non-nil error: ``os.IsNotExist(err)``, ``errors.Is(err, target)``.
_ERROR_PREDICATES = frozenset({"IsNotExist", "IsExist", "IsPermission", "IsTimeout", "Is", "As"})


def _error_predicate(call: Node, tested: NilSubjects) -> bool:
    """Is ``call`` a test like ``os.IsNotExist(err)`` of the acquisition's error (so err is not nil)?"""
    if tested.error is None:
        return False
    function = call.child_by_field_name("function")
    arguments = call.child_by_field_name("arguments")
    if function is None or arguments is None or function.type != "selector_expression":
        return False
    if text(function.child_by_field_name("field")) not in _ERROR_PREDICATES:
        return False
    args = arguments.named_children
    if not args or not tested.is_error(args[0]):
        return False
    return not any(a.type == "nil" for a in args[1:])
