"""What the resource rules share: binding an acquisition, knowing a variable's type, judging a leak.

A resource rule finds the calls that acquire something (``os.Open``,
``http.Get``, ``time.NewTicker``, ``pool.Get()``) and hands each to
:func:`examine`, which follows the value from its binding to every exit of the
function with :func:`golsp_leaks.goanalysis.dataflow.ownership.missed_release` and
returns an :class:`Outcome`: the value is dropped on the floor, never
released, or released on some paths only — with the returns that miss it and
a quick fix when one is safe.  The rule words the message.

:class:`TypeFacts` answers "is this receiver a ``*http.Client``, a
``sync.Pool``?" from declarations alone: parameters, variables (and what
initialises them) and struct fields, in the declaration and at package level.
When it cannot tell, the answer is no — a miss is better than a false alarm.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tree_sitter import Node

from golsp_leaks.goanalysis.dataflow.engine import exits_missing_release, related_locations
from golsp_leaks.goanalysis.dataflow.escapes import kept_by_wrappers, later_defer
from golsp_leaks.goanalysis.dataflow.ownership import (
    BORROWING_CALLS,
    NilSubjects,
    OwnershipReport,
    Releases,
    Use,
    missed_release,
    nil_tests,
)
from golsp_leaks.goanalysis.names.holders import holder, top_level
from golsp_leaks.goanalysis.names.scopes import RESULT, Declaration, declaration_of
from golsp_leaks.goanalysis.summaries.params import callee_summary
from golsp_leaks.goanalysis.syntax.edits import (
    delete_statement,
    error_check_after,
    insert_statement_after,
    unique_name,
)
from golsp_leaks.goanalysis.syntax.nodes import (
    FUNCTION_TYPES,
    Binding,
    binding,
    enclosing_function,
    outermost_by_keyword,
    text,
)
from golsp_leaks.goanalysis.syntax.parse import cursor
from golsp_leaks.model import Applicability, Edit, Fix, Related

if TYPE_CHECKING:
    from golsp_leaks.goanalysis.summaries.context import FileContext

#: Functions that read, write or wrap a stream (a file, a response body) without taking over closing it.
STREAM_BORROWS = BORROWING_CALLS | frozenset(
    {
        ("fmt", "Fprint"),
        ("fmt", "Fscan"),
        ("fmt", "Fscanf"),
        ("fmt", "Fscanln"),
        ("io", "WriteString"),
        ("io", "NewSectionReader"),
        ("bufio", "NewWriter"),
        ("bufio", "NewWriterSize"),
        ("binary", "Read"),
        ("binary", "Write"),
        ("json", "NewEncoder"),
        ("xml", "NewEncoder"),
        ("gob", "NewDecoder"),
        ("gob", "NewEncoder"),
        ("csv", "NewWriter"),
        ("tar", "NewReader"),
        ("tar", "NewWriter"),
        ("zip", "NewWriter"),
        ("image", "Decode"),
        ("image", "DecodeConfig"),
        ("png", "Decode"),
        ("png", "Encode"),
        ("jpeg", "Decode"),
        ("jpeg", "Encode"),
        ("gif", "Decode"),
    }
)


# --- binding -------------------------------------------------------------------


def dropped(expr: Node) -> bool:
    """Is ``expr`` a statement of its own, its results thrown away?"""
    parent = expr.parent
    return parent is not None and parent.type == "expression_statement"


def in_loop(node: Node, func: Node) -> bool:
    """Is ``node`` inside a ``for`` statement of ``func`` (not counting loops around ``func``)?"""
    current = node.parent
    while current is not None and current != func and current.type not in FUNCTION_TYPES:
        if current.type == "for_statement":
            return True
        current = current.parent
    return False


def package_name(root: Node) -> str:
    for child in root.named_children:
        if child.type == "package_clause":
            return text(child.named_children[0]) if child.named_child_count else ""
    return ""


def ends_process(func: Node, root: Node) -> bool:
    """Is ``func`` the ``main`` of package main, whose return ends the process?"""
    return func.type == "function_declaration" and text(func.child_by_field_name("name")) == "main" and package_name(root) == "main"


def runs_once(node: Node, func: Node, ctx: FileContext) -> bool:
    """Is ``node`` in ``func main`` of package main, or an ``init``, outside any loop?

    Such code runs once per process: what it does not release, the exit does.
    """
    if func.type != "function_declaration" or in_loop(node, func):
        return False
    name = text(func.child_by_field_name("name"))
    return name == "init" or (name == "main" and package_name(ctx.root) == "main")


def is_test_file(ctx: FileContext) -> bool:
    return ctx.path is not None and ctx.path.endswith("_test.go")


# --- declarations and types ----------------------------------------------------

_FIELDS = "(field_declaration name: (field_identifier) @name type: (_) @type)"
_DECLARED = "[(parameter_declaration) (variadic_parameter_declaration) (var_spec) (short_var_declaration) (range_clause) (type_switch_statement) (const_spec)] @decl"


def _declarations_in(node: Node, name: str) -> list[tuple[Node | None, Node | None]]:
    """Every declaration of ``name`` inside ``node`` as (type, value); (None, None) when unknown."""
    found: list[tuple[Node | None, Node | None]] = []
    qc = cursor(_DECLARED)
    qc.set_byte_range(node.start_byte, node.end_byte)
    for decl in qc.captures(node).get("decl", []):
        found.extend(_declares(decl, name))
    return found


def _declares(decl: Node, name: str) -> list[tuple[Node | None, Node | None]]:
    kind = decl.type
    if kind in ("parameter_declaration", "variadic_parameter_declaration"):
        if any(text(n) == name for n in decl.children_by_field_name("name")):
            return [(decl.child_by_field_name("type") if kind == "parameter_declaration" else None, None)]
        return []
    if kind in ("var_spec", "const_spec"):
        names = decl.children_by_field_name("name")
        for i, n in enumerate(names):
            if text(n) == name:
                if kind == "const_spec":
                    return [(None, None)]
                values = decl.child_by_field_name("value")
                value = None
                if values is not None and values.named_child_count == len(names):
                    value = values.named_children[i]
                return [(decl.child_by_field_name("type"), value)]
        return []
    if kind == "short_var_declaration":
        left = decl.child_by_field_name("left")
        right = decl.child_by_field_name("right")
        if left is None:
            return []
        targets = left.named_children
        for i, n in enumerate(targets):
            if text(n) == name:
                value = None
                if right is not None and right.named_child_count == len(targets):
                    value = right.named_children[i]
                return [(None, value)]
        return []
    if kind == "range_clause":
        left = decl.child_by_field_name("left")
        operator = next((c for c in decl.children if c.type == ":="), None)
        if left is not None and operator is not None and any(text(n) == name for n in left.named_children):
            return [(None, None)]
        return []
    if kind == "type_switch_statement":
        alias = decl.child_by_field_name("alias")
        if alias is not None and any(text(n) == name for n in alias.named_children):
            return [(None, None)]
    return []


class TypeFacts:
    """Struct fields and package-level variables of one file, by name."""

    def __init__(self, root: Node) -> None:
        self.fields: dict[str, list[Node]] = {}
        qc = cursor(_FIELDS)
        # Fields are declared in struct types only: those are queried, not the whole file.
        structs = outermost_by_keyword(root, "struct", "struct_type")
        for node in structs if structs is not None else (root,):
            for _, captures in qc.matches(node):
                for name in captures.get("name", []):
                    self.fields.setdefault(text(name), []).append(captures["type"][0])
        self.package_vars: dict[str, list[tuple[Node | None, Node | None]]] = {}
        for child in root.named_children:
            if child.type == "var_declaration":
                qc2 = cursor("(var_spec) @spec")
                qc2.set_byte_range(child.start_byte, child.end_byte)
                for spec in qc2.captures(child).get("spec", []):
                    for n in spec.children_by_field_name("name"):
                        self.package_vars.setdefault(text(n), []).extend(_declares(spec, text(n)))


_facts_cache: list[tuple[bytes, TypeFacts]] = []


def forget_texts() -> None:
    """Let go of the type facts of the last text (a closed document's, perhaps)."""
    _facts_cache.clear()


def type_facts(ctx: FileContext) -> TypeFacts:
    """The :class:`TypeFacts` of the file, computed once per source text."""
    if _facts_cache and (_facts_cache[0][0] is ctx.source or _facts_cache[0][0] == ctx.source):
        return _facts_cache[0][1]
    facts = TypeFacts(ctx.root)
    _facts_cache[:] = [(ctx.source, facts)]
    return facts


@dataclass(frozen=True)
class NamedType:
    """A type from an imported package, like ``*http.Client``, and the values known to have it."""

    path: str
    name: str
    #: Package-level variables of the package that have the type (``DefaultClient``).
    variables: frozenset[str] = frozenset()
    #: Extra test on a value expression (e.g. ``srv.Client()`` of httptest).
    value_test: Callable[[Node, FileContext], bool] | None = None

    def is_type(self, node: Node | None, ctx: FileContext) -> bool:
        """Is ``node`` the type ``pkg.Name`` or ``*pkg.Name``?"""
        if node is None:
            return False
        if node.type in ("pointer_type", "parenthesized_type") and node.named_child_count == 1:
            node = node.named_children[0]
        if node.type == "qualified_type":
            package = text(node.child_by_field_name("package"))
            return text(node.child_by_field_name("name")) == self.name and ctx.imports.path_of(package) == self.path
        if node.type == "type_identifier":
            return text(node) == self.name and ctx.imports.is_dot_imported(self.path)
        return False

    def is_value(self, node: Node | None, ctx: FileContext, func: Node | None = None, depth: int = 0) -> bool:
        """Is the expression ``node`` (a receiver) plausibly of this type?"""
        if node is None or depth > 4:
            return False
        kind = node.type
        if kind == "parenthesized_expression" and node.named_child_count == 1:
            return self.is_value(node.named_children[0], ctx, func, depth + 1)
        if kind == "unary_expression":
            operator = node.child_by_field_name("operator")
            operand = node.child_by_field_name("operand")
            if operator is not None and text(operator) == "&" and operand is not None:
                return operand.type == "composite_literal" and self.is_type(operand.child_by_field_name("type"), ctx)
            return False
        if kind == "composite_literal":
            return self.is_type(node.child_by_field_name("type"), ctx)
        if kind == "call_expression":
            function = node.child_by_field_name("function")
            arguments = node.child_by_field_name("arguments")
            if function is not None and text(function) == "new" and arguments is not None:
                args = arguments.named_children
                if len(args) == 1 and self.is_type(args[0], ctx):
                    return True
            return self.value_test is not None and self.value_test(node, ctx)
        if kind == "selector_expression":
            operand = node.child_by_field_name("operand")
            field_node = node.child_by_field_name("field")
            if operand is None or field_node is None:
                return False
            if operand.type == "identifier" and ctx.imports.path_of(text(operand)) == self.path:
                return text(field_node) in self.variables
            types = type_facts(ctx).fields.get(text(field_node), [])
            return bool(types) and all(self.is_type(t, ctx) for t in types)
        if kind == "identifier":
            name = text(node)
            if name in self.variables and ctx.imports.is_dot_imported(self.path):
                return True
            scope = top_level(func if func is not None else node)
            declared = _declarations_in(scope, name) if scope.type != "source_file" else []
            if not declared:
                declared = type_facts(ctx).package_vars.get(name, [])
            return bool(declared) and all(
                self.is_type(t, ctx) if t is not None else self.is_value(v, ctx, func, depth + 1) for t, v in declared
            )
        return False


# --- the analysis --------------------------------------------------------------


@dataclass(frozen=True)
class Resource:
    """One kind of resource, as the shared analysis needs it."""

    releases: Releases
    #: Go code that releases the resource held in a variable: ``f"{name}.Close()"``.
    release: Callable[[str], str]
    #: The acquisition returns an error as its last result.
    has_error: bool = False
    #: Releasing before the error check is wrong (``resp`` is nil on error).
    release_needs_check: bool = False
    #: A fix may be offered when the resource is released on some paths already.
    fix_despite_releases: bool = True
    #: Name for the variable when the fix must name a discarded resource.
    default_name: str = "x"
    #: Fields that are nil exactly when the resource is (see :func:`nil_tests`).
    nil_fields: frozenset[str] = frozenset()


@dataclass
class Outcome:
    """What :func:`examine` found for one acquisition."""

    kind: str  # "dropped" (a bare statement), "discarded" (bound to _), "never" or "paths"
    target: Node
    name: str = ""
    related: list[Related] = field(default_factory=list)
    fixes: list[Fix] = field(default_factory=list)
    report: OwnershipReport | None = None


def _using(nodes: Iterable[Node], uses: Iterable[Node]) -> list[Node]:
    """The nodes that contain one of ``uses``."""
    spans = [(u.start_byte, u.end_byte) for u in uses]
    return [n for n in nodes if any(n.start_byte <= start and end <= n.end_byte for start, end in spans)]


def examine(
    expr: Node,
    resource: Resource,
    ctx: FileContext,
    *,
    missing: Callable[[str], str],
    extra_releases: Callable[[Node, Declaration], Iterable[Node]] | None = None,
    extra_transfers: Callable[[Node, Declaration], Iterable[Node]] | None = None,
    endless_loops: Callable[[Node, Declaration], Collection[int]] | None = None,
) -> Outcome | None:
    """Follow the resource acquired by ``expr`` through its function.

    ``missing(name)`` words what a missed exit lacks ("without closing f"). The
    optional callables, given the function and the variable's declaration (see
    :func:`golsp_leaks.goanalysis.names.scopes.occurrences` for its uses), add nodes
    that release it, nodes that hand it on, and loops that never end.
    """
    func = enclosing_function(expr)
    if func is None:
        return None
    bound = binding(expr)
    if bound is None:
        return Outcome("dropped", expr) if dropped(expr) and not runs_once(expr, func, ctx) else None
    stmt, targets = bound.stmt, bound.targets
    if not targets:
        return None
    target = targets[0]
    error_target = targets[-1] if resource.has_error and len(targets) == 2 else None
    error_name = text(error_target) if error_target is not None and error_target.type == "identifier" else None
    if error_name == "_":
        error_name = None
    if runs_once(stmt, func, ctx):
        return None
    if target.type == "identifier" and text(target) == "_":
        return _discarded(ctx, resource, bound, target, func, error_name)
    if target.type != "identifier":
        return None  # stored in a field, a map, a slice: owned elsewhere
    name = text(target)
    owner = holder(target, stmt, ctx.source)
    if owner is None or owner.declaration.kind == RESULT:
        return None  # a named result, a package variable, a stored closure's: owned elsewhere
    func = owner.func
    check = error_check_after(stmt, {error_name}) if error_name and not owner.lifted else None
    # The callables give the nodes around the variable's uses: only those after the binding count.
    variable = owner.declaration
    extra = _using(extra_releases(func, variable), owner.uses) if extra_releases else []
    transfers = _using(extra_transfers(func, variable), owner.uses) if extra_transfers else []
    transfers += kept_by_wrappers(func, variable, ctx.source)  # bufio.NewReader(resp.Body) returned or stored
    error = declaration_of(error_target, ctx.source) if error_target is not None and error_name else None
    report = missed_release(
        func,
        owner.acquire,
        owner.uses,
        callee_summary(ctx.root, ctx.source, resource.releases, ctx.package.siblings),
        exists_after=check,
        extra_releases=[*extra, *transfers],
        nil_tests=nil_tests(func, owner.acquire, NilSubjects(variable, error, ctx.source), resource.nil_fields),
        endless_loops=endless_loops(func, variable) if endless_loops else (),
        source=ctx.source,
    )
    report.uses[Use.TRANSFER].extend(transfers)
    report.uses[Use.RELEASE].extend(extra)
    if any(_deferred_before(u, stmt, func) for u in (*report.uses[Use.RELEASE], *report.uses[Use.TRANSFER])):
        return None  # a closure deferred earlier releases whatever the variable holds at the end
    related = related_locations(report.exits, func, stmt, missing(name))
    if not related:
        return None
    used = bool(report.uses[Use.RELEASE] or report.uses[Use.TRANSFER])
    outcome = Outcome("paths" if used else "never", target, name, related, report=report)
    if not owner.lifted:
        outcome.fixes = _fix_named(ctx, resource, bound, name, func, check, error_name, report)
    return outcome


def _discarded(
    ctx: FileContext,
    resource: Resource,
    bound: Binding,
    blank: Node,
    func: Node,
    error_name: str | None,
) -> Outcome | None:
    """A resource bound to ``_``: it leaks on every path on which the call succeeded."""
    if error_name is not None:
        error = declaration_of(bound.targets[-1], ctx.source)
        tests = nil_tests(func, bound.stmt, NilSubjects(None, error, ctx.source))
        exits = exits_missing_release(func, bound.stmt, (), nil_tests=tests)
        if not related_locations(exits, func, bound.stmt, ""):
            return None  # every path on which it exists ends the program (or the test)
    return Outcome("discarded", blank, fixes=_fix_discarded(ctx, resource, bound, blank, func, error_name))


def _deferred_before(mention: Node, stmt: Node, func: Node) -> bool:
    """Is ``mention`` in a ``defer func() {...}()`` registered before ``stmt`` on every path to it?"""
    if mention.start_byte >= stmt.start_byte:
        return False
    current = mention.parent
    literal = None
    while current is not None and current != func:
        if current.type == "func_literal":
            literal = current
        if current.type == "defer_statement":
            break
        current = current.parent
    if current is None or current == func or literal is None:
        return False
    # The defer must sit in a statement list that encloses the acquisition.
    block = current.parent
    return block is not None and block.start_byte <= stmt.start_byte and stmt.end_byte <= block.end_byte


def _anchor(resource: Resource, stmt: Node, check: Node | None, error_name: str | None) -> Node | None:
    """The statement after which the release is deferred: the error check, or the acquisition."""
    if check is not None:
        return check
    if error_name is not None or resource.release_needs_check:
        return None  # an error that is not checked at once: the resource may be nil there
    return stmt


def _fix_named(
    ctx: FileContext,
    resource: Resource,
    bound: Binding,
    name: str,
    func: Node,
    check: Node | None,
    error_name: str | None,
    report: OwnershipReport,
) -> list[Fix]:
    if report.uses[Use.TRANSFER] or in_loop(bound.stmt, func):
        return []
    anchor = _anchor(resource, bound.stmt, check, error_name)
    if anchor is None:
        return []
    call = resource.release(name)
    later = later_defer(anchor, call)
    releases = [u for u in report.uses[Use.RELEASE] if later is None or not _within(u, later)]
    if releases and not resource.fix_despite_releases:
        return []
    if aligned_comments(ctx.source, anchor.end_byte):
        return []  # a new line would split a block of aligned comments: gofmt would realign it
    insert = insert_statement_after(ctx.source, anchor, f"defer {call}")
    if insert is None:
        return []
    edits: list[Edit] = [insert]
    if later is not None:
        removal = delete_statement(ctx.source, later)
        if removal is not None:
            edits.append(removal)
    where = "after the error check" if anchor is check else "after the call"
    return [Fix(f"Insert `defer {call}` {where}", tuple(edits), Applicability.SAFE)]


def _fix_discarded(
    ctx: FileContext, resource: Resource, bound: Binding, blank: Node, func: Node, error_name: str | None
) -> list[Fix]:
    if bound.stmt.type != "short_var_declaration" or in_loop(bound.stmt, func):
        return []  # naming it would need a declaration, or the defer would pile up
    check = error_check_after(bound.stmt, {error_name}) if error_name else None
    anchor = _anchor(resource, bound.stmt, check, error_name)
    if anchor is None:
        return []
    if aligned_comments(ctx.source, anchor.end_byte) or aligned_comments(ctx.source, blank.start_byte):
        return []  # renaming or a new line would change how gofmt aligns the comments
    name = unique_name(func, resource.default_name)
    call = resource.release(name)
    insert = insert_statement_after(ctx.source, anchor, f"defer {call}")
    if insert is None:
        return []
    rename = Edit(blank.start_byte, blank.end_byte, name)
    return [Fix(f"Name it `{name}` and `defer {call}`", (rename, insert), Applicability.SAFE)]


def _trailing_comment(line: bytes) -> bool:
    code = line.strip()
    return bool(code) and not code.startswith(b"//") and (b" //" in code or b"\t//" in code)


def aligned_comments(source: bytes, offset: int) -> bool:
    """Do the line of ``offset`` and a neighbouring line both end in a comment (that gofmt aligns)?"""
    start = source.rfind(b"\n", 0, offset) + 1
    end = source.find(b"\n", offset)
    end = len(source) if end < 0 else end
    if not _trailing_comment(source[start:end]):
        return False
    above_start = source.rfind(b"\n", 0, max(start - 1, 0)) + 1
    above = source[above_start : start - 1] if start > 0 else b""
    below_end = source.find(b"\n", end + 1)
    below = source[end + 1 : len(source) if below_end < 0 else below_end]
    return _trailing_comment(above) or _trailing_comment(below)


def _within(node: Node, outer: Node) -> bool:
    return outer.start_byte <= node.start_byte and node.end_byte <= outer.end_byte
