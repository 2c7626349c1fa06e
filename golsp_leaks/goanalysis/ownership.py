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

:func:`missed_release` then asks the path analysis in :mod:`.flow` which exits
are reached with neither a release nor a transfer.  When the acquisition is
followed by its error check (``if err != nil { return ... }``), the resource is
taken to exist only after that check: the early return happens before it does.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from tree_sitter import Node

from golsp_leaks.goanalysis.flow import ExitReport, exits_missing_release
from golsp_leaks.goanalysis.names import mentions_outside
from golsp_leaks.goanalysis.syntax import FUNCTION_TYPES, text


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
    """

    methods: frozenset[tuple[str, ...]]
    functions: frozenset[tuple[str, str]] = frozenset()
    borrowing_calls: frozenset[tuple[str, str]] = BORROWING_CALLS


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


def classify(ident: Node, releases: Releases, owner: Node) -> Use:
    """What one mention of the resource variable does with it.

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
    if chain:
        # resp.Body passed to something, rows.Err read, ...: judge the selector as a value.
        use = _value_use(outer, releases)
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
        return Use.TRANSFER
    if kind in ("send_statement",):
        return Use.TRANSFER if parent.child_by_field_name("value") == node else Use.BORROW
    if kind in ("keyed_element", "literal_element", "literal_value"):
        return Use.TRANSFER
    if kind == "return_statement":
        return Use.TRANSFER
    if kind in ("var_spec", "short_var_declaration", "assignment_statement"):
        right = parent.child_by_field_name("right") or parent.child_by_field_name("value")
        return Use.TRANSFER if right is not None and right == node else Use.BORROW
    return Use.BORROW


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
        return bool(e.missed or e.falls_off_end_unused or e.reacquired)


def missed_release(
    func: Node,
    acquire: Node,
    name: str,
    releases: Releases,
    *,
    exists_after: Node | None = None,
    extra_releases: Iterable[Node] = (),
) -> OwnershipReport | None:
    """Exits of ``func`` reached from ``acquire`` without releasing or handing on ``name``.

    ``exists_after`` is the error check that follows the acquisition (see
    :func:`golsp_leaks.fixes.build.error_check_after`): the resource is taken to
    exist from there on.  ``extra_releases`` are further nodes that count as a
    release (e.g. ``pool.Put(x)`` found by the rule itself).  Returns None when
    the control flow is beyond the analysis.
    """
    mentions = mentions_outside(func, name, acquire)
    uses: dict[Use, list[Node]] = {u: [] for u in Use}
    for mention in mentions:
        if _inner_function_redeclares(mention, func, name):
            continue
        uses[classify(mention, releases, func)].append(mention)
    counted = [n.start_byte for n in (*uses[Use.RELEASE], *uses[Use.TRANSFER])]
    counted.extend(n.start_byte for n in extra_releases)
    start = exists_after if exists_after is not None else acquire
    report = exits_missing_release(func, start, counted)
    if report is None:
        return None
    return OwnershipReport(report, uses)


def _inner_function_redeclares(mention: Node, func: Node, name: str) -> bool:
    """Is the mention inside a nested function whose parameters shadow ``name``?"""
    current = mention.parent
    while current is not None and current != func:
        if current.type in FUNCTION_TYPES:
            params = current.child_by_field_name("parameters")
            if params is not None and any(
                text(n) == name for p in params.named_children for n in p.children_by_field_name("name")
            ):
                return True
        current = current.parent
    return False
