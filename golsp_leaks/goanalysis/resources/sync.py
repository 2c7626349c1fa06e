"""Mutexes and wait groups: which expressions are ``sync`` values, and where one of them is mentioned.

A mutex is named by an expression — a variable (``mu``), a field (``s.mu``,
``s.state.mu``), or a value whose struct type embeds the mutex (``s`` of
``s.Lock()``).  :func:`sync_kind` decides whether an expression is a
``sync.Mutex``, ``sync.RWMutex`` or ``sync.WaitGroup``: a variable by its
declaration (resolved with scopes, in the function or at package level), a
field by the struct declarations of the file and of the package's other files
(:mod:`golsp_leaks.goanalysis.summaries.locks`), an embedded mutex by the
receiver's or variable's type.  When it cannot tell, the answer is None.

:func:`occurrences` finds the other mentions of the same value in a function:
the same chain of names from the same declared root (``s.mu`` of the same
receiver ``s``, not of a shadowing ``s``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tree_sitter import Node

from golsp_leaks.goanalysis.libraries.frameworks import local_types, receiver
from golsp_leaks.goanalysis.names.holders import top_level
from golsp_leaks.goanalysis.names.scopes import Declaration, bindings
from golsp_leaks.goanalysis.resources.tracking import NamedType, type_facts
from golsp_leaks.goanalysis.summaries.locks import LockFacts, lock_facts
from golsp_leaks.goanalysis.syntax.nodes import identifiers_named, text

if TYPE_CHECKING:
    from golsp_leaks.goanalysis.summaries.context import FileContext

MUTEX = "Mutex"
RWMUTEX = "RWMutex"
WAITGROUP = "WaitGroup"
_TYPES = {name: NamedType("sync", name) for name in (MUTEX, RWMUTEX, WAITGROUP)}

_own: list[tuple[bytes, LockFacts, LockFacts, LockFacts]] = []


def forget_texts() -> None:
    """Let go of the lock facts of the last text (a closed document's, perhaps)."""
    _own.clear()


def package_locks(ctx: FileContext) -> LockFacts:
    """The lock facts of the file and of the package's other files."""
    if not _own or _own[0][0] is not ctx.source or _own[0][2] is not ctx.package.locks:
        own = lock_facts(ctx.source)
        _own[:] = [(ctx.source, own, ctx.package.locks, own | ctx.package.locks)]
    return _own[0][3]


def chain(expr: Node) -> list[Node] | None:
    """``[s, state, mu]`` for ``s.state.mu``: a root identifier and field names; None for anything else."""
    if expr.type == "identifier":
        return [expr]
    if expr.type == "selector_expression":
        operand = expr.child_by_field_name("operand")
        field = expr.child_by_field_name("field")
        inner = chain(operand) if operand is not None else None
        if inner is None or field is None:
            return None
        return [*inner, field]
    return None


def _field_kind(name: str, ctx: FileContext, wanted: tuple[str, ...]) -> str | None:
    declared = type_facts(ctx).fields.get(name)
    if declared:
        kinds = {next((k for k in wanted if _TYPES[k].is_type(t, ctx)), None) for t in declared}
        if None in kinds:
            return None  # some struct has a field of that name of another type
        return RWMUTEX if RWMUTEX in kinds else MUTEX  # an RWMutex somewhere: RLock is possible
    facts = package_locks(ctx)
    if WAITGROUP in wanted and name in facts.waitgroup_fields and name not in facts.mutex_fields:
        return WAITGROUP
    if MUTEX in wanted and name in facts.mutex_fields and name not in facts.waitgroup_fields:
        return MUTEX  # declared in another file: a Mutex or an RWMutex, both lock the same way
    return None


def value_type(ident: Node, func: Node) -> str:
    """The type name of a variable whose declaration says it (``s *Server``, ``s := &Server{}``), or ""."""
    decl = top_level(func)
    recv = receiver(decl)
    name = text(ident)
    if recv is not None and recv[0] == name:
        return recv[1]
    return local_types(decl).get(name, "")


def sync_kind(expr: Node, ctx: FileContext, func: Node, wanted: tuple[str, ...] = (MUTEX, RWMUTEX)) -> str | None:
    """Is ``expr`` a value of one of the ``wanted`` sync types?  Which (an embedded mutex is ``Mutex``)."""
    names = chain(expr)
    if names is None:
        return None
    if len(names) == 1:
        for kind in wanted:
            if _TYPES[kind].is_value(expr, ctx, func):
                return kind
    else:
        found = _field_kind(text(names[-1]), ctx, wanted)
        if found is not None:
            return found
    if MUTEX in wanted and len(names) == 1:
        type_name = value_type(names[0], func)
        if type_name and type_name in package_locks(ctx).lock_types:
            return MUTEX  # a struct that embeds a mutex: s.Lock()
    return None


@dataclass(frozen=True)
class Occurrence:
    """One mention of the value: the expression, and the method called on it (``"Unlock"``), or ""."""

    node: Node
    method: str

    @property
    def call(self) -> Node | None:
        """The call ``x.Method()`` when the mention is the receiver of a method call."""
        selector = self.node.parent
        call = selector.parent if selector is not None else None
        if call is not None and call.type == "call_expression" and call.child_by_field_name("function") == selector:
            return call
        return None


def root_declaration(expr: Node, source: bytes) -> Declaration | None:
    names = chain(expr)
    if names is None:
        return None
    return bindings(top_level(expr), source).of(names[0])


def occurrences(expr: Node, within: Node, source: bytes) -> Iterator[Occurrence]:
    """The mentions, under ``within``, of the value ``expr`` names (``expr`` itself included)."""
    declaration = root_declaration(expr, source)
    names = chain(expr)
    if declaration is None or names is None:
        return
    spelled = [text(n) for n in names]
    binds = bindings(top_level(expr), source)
    for ident in identifiers_named(within, spelled[0]):
        found = binds.of(ident)
        if found is None or found.key != declaration.key or found.node == ident:
            continue  # another variable, or the declaration itself
        node = ident
        matched = True
        for field_name in spelled[1:]:
            parent = node.parent
            if parent is None or parent.type != "selector_expression" or parent.child_by_field_name("operand") != node:
                matched = False
                break
            if text(parent.child_by_field_name("field")) != field_name:
                matched = False
                break
            node = parent
        if not matched:
            continue
        parent = node.parent
        method = ""
        if parent is not None and parent.type == "selector_expression" and parent.child_by_field_name("operand") == node:
            method = text(parent.child_by_field_name("field"))
        yield Occurrence(node, method)
