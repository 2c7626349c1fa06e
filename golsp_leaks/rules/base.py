"""What a rule is, and what it is given to look at."""

from __future__ import annotations

import inspect
import re
from abc import ABC, abstractmethod
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import ClassVar

from tree_sitter import Node

from golsp_leaks.goanalysis.frameworks import RequestScope
from golsp_leaks.goanalysis.imports import Imports
from golsp_leaks.model import Applicability, Finding, Fix, Severity


@dataclass(frozen=True)
class PackageFacts:
    """Facts about the other files of the package, read from disk by the caller.

    ``handlers`` are names of functions known to be registered as request
    handlers elsewhere in the package; ``shrunk_globals`` are package-level
    variables that some code in the package deletes from, trims or resets.

    :func:`golsp_leaks.goanalysis.package.package_facts` computes all of them;
    functions are named by :func:`golsp_leaks.goanalysis.frameworks.function_key`
    (``"f"``, or ``"T.m"`` for a method), and ``handlers`` then holds every
    function that runs per request (handlers and what they call).  The others:

    ``globals``
        package-level variables; ``collections`` those of them that are maps,
        slices or ``sync.Map`` values.
    ``startup``
        functions that only ever run once: called only from ``main``, ``init``,
        a ``sync.Once`` or other startup functions, never in a loop.
    ``goroutines``
        functions run as a goroutine (``go f()``, ``go x.m()``) by code that is
        not startup code.
    ``endless``
        functions whose body runs a loop that can never end (no return, no
        break, no exit on a done channel).
    ``lifecycles``
        ``(type, start, stop)``: method ``start`` of ``type`` starts a goroutine
        that runs until method ``stop`` closes (or sends on) the field it waits
        on.  ``constructors`` are ``(function, type)`` pairs of
        functions that return a ``type`` or ``*type``.
    ``flags``
        package-wide switches, e.g. ``"fiber-immutable"`` when some file
        configures ``fiber.Config{Immutable: true}``.
    """

    handlers: frozenset[str] = frozenset()
    shrunk_globals: frozenset[str] = frozenset()
    globals: frozenset[str] = frozenset()
    collections: frozenset[str] = frozenset()
    startup: frozenset[str] = frozenset()
    goroutines: frozenset[str] = frozenset()
    lifecycles: frozenset[tuple[str, str, str]] = frozenset()
    constructors: frozenset[tuple[str, str]] = frozenset()
    flags: frozenset[str] = frozenset()
    endless: frozenset[str] = frozenset()

    def fingerprint(self) -> Hashable:
        return (
            self.handlers,
            self.shrunk_globals,
            self.globals,
            self.collections,
            self.startup,
            self.goroutines,
            self.lifecycles,
            self.constructors,
            self.flags,
            self.endless,
        )


_SHAPE_DECLARATIONS = frozenset({"type_declaration", "var_declaration", "const_declaration"})


def file_shape(root: Node, source: bytes) -> int:
    """A hash of the file outside its function bodies: types, variables, constants, signatures.

    Rules look there while checking one function (the type of a field, the result
    of a constructor, a package-level variable), so a change there must reach the
    findings of every declaration, not only those of the one edited.
    """
    parts: list[bytes] = []
    for decl in root.named_children:
        kind = decl.type
        if kind == "function_declaration" or kind == "method_declaration":
            body = decl.child_by_field_name("body")
            parts.append(source[decl.start_byte : body.start_byte if body is not None else decl.end_byte])
        elif kind in _SHAPE_DECLARATIONS:
            parts.append(source[decl.start_byte : decl.end_byte])
    return hash(b"\0".join(parts))


@dataclass(frozen=True)
class FileContext:
    """Everything a rule may know about the file a declaration is in."""

    source: bytes
    root: Node
    imports: Imports
    path: str | None = None
    go_version: tuple[int, int] | None = None
    package: PackageFacts = field(default_factory=PackageFacts)
    scope: RequestScope = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "scope",
            RequestScope(self.root, self.imports, self.package.handlers, self.package.startup),
        )

    def fingerprint(self) -> Hashable:
        """What, besides a declaration's own text, its findings may depend on."""
        return (
            self.imports.fingerprint(),
            self.go_version,
            self.package.fingerprint(),
            self.scope.fingerprint(),
            file_shape(self.root, self.source),
        )

    def go_at_least(self, major: int, minor: int) -> bool:
        """True when the module's ``go`` directive is at least ``major.minor`` (unknown: assume the newest)."""
        return self.go_version is None or self.go_version >= (major, minor)


@dataclass(frozen=True)
class FixKind:
    """One kind of fix a rule offers: its title and how far it may be trusted.

    ``title`` is the fix's title with ``{...}`` where it varies (``Insert `defer
    {call}` {where}``); ``why`` says what makes it unsafe, or when it is safe for
    a kind offered at two levels.  The rule pages list them (``docs/rules/``), and the
    fixture tests check that every fix a rule makes is one of its kinds.
    """

    title: str
    applicability: Applicability
    why: str = ""

    def matches(self, fix: Fix) -> bool:
        if fix.applicability is not self.applicability:
            return False
        parts = re.split(r"\{[^{}]*\}", self.title)
        return re.fullmatch(".+?".join(re.escape(part) for part in parts), fix.title, re.DOTALL) is not None

    @property
    def shown(self) -> str:
        """The title with ``<...>`` where it varies."""
        return re.sub(r"\{([^{}]*)\}", r"<\1>", self.title)


#: ``defer x.Close()`` (or another release) after the acquisition: the shared resource and database fixes.
DEFER_RELEASE = FixKind("Insert `defer {call}` {where}", Applicability.SAFE)
#: A resource bound to ``_`` is named, and released by a ``defer``.
NAME_AND_DEFER = FixKind("Name it `{name}` and `defer {call}`", Applicability.SAFE)


class Rule(ABC):
    """A check for one kind of leak.

    Subclasses set the class attributes and document themselves in their
    docstring with the sections *What it does*, *Why is this bad?*, *Example*,
    *Use instead* and *Fix safety*; ``golsp-leaks rules`` and ``docs/rules/``
    are made from it.
    """

    id: ClassVar[str]
    summary: ClassVar[str]
    default_severity: ClassVar[Severity] = Severity.WARNING
    #: The kinds of fix the rule offers; a rule with none is not fixable.
    fix_kinds: ClassVar[tuple[FixKind, ...]] = ()
    fixable: ClassVar[bool] = False
    #: The rule only runs on declarations whose text contains one of these.
    triggers: ClassVar[tuple[bytes, ...]] = ()

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls.fixable = bool(cls.fix_kinds)

    @abstractmethod
    def check(self, decl: Node, ctx: FileContext) -> Iterable[Finding]:
        """Findings in one top-level declaration, with byte offsets into ``ctx.source``."""

    @classmethod
    def documentation(cls) -> str:
        return inspect.cleandoc(cls.__doc__ or "")

    def wants(self, decl_text: bytes) -> bool:
        return not self.triggers or any(t in decl_text for t in self.triggers)
