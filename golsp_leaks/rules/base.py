"""What a rule is, and what it is given to look at."""

from __future__ import annotations

import inspect
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from tree_sitter import Node

from golsp_leaks.goanalysis.summaries.context import FileContext
from golsp_leaks.goanalysis.summaries.facts import Fact, PackageFacts
from golsp_leaks.model import Applicability, Finding, Fix, Severity

__all__ = ["Fact", "FileContext", "PackageFacts", "Rule"]


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
    #: Besides a trigger, a file must contain one of these for the rule to have a finding there
    #: (the import paths of the only libraries its calls can come from); none: no such condition.
    file_triggers: ClassVar[tuple[bytes, ...]] = ()
    #: The package facts the rule reads (:mod:`golsp_leaks.goanalysis.summaries.facts`), as a
    #: go/analysis analyzer declares the facts it requires; reading another one is reported.
    #: ``facts.SCOPE_FACTS`` are what ``ctx.scope`` reads (per request, runs once).
    requires: ClassVar[tuple[Fact[Any], ...]] = ()

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls.fixable = bool(cls.fix_kinds)

    @abstractmethod
    def check(self, decl: Node, ctx: FileContext) -> Iterable[Finding]:
        """Findings in one top-level declaration, with byte offsets into ``ctx.source``."""

    @classmethod
    def documentation(cls) -> str:
        return inspect.cleandoc(cls.__doc__ or "")

    def may_fire_in(self, source: bytes) -> bool:
        """False when the rule can have no finding in a file with this text: none of its triggers is
        there, or none of its :attr:`file_triggers`.  A rule whose :meth:`wants` looks further than
        its triggers answers True."""
        return (not self.triggers or any(t in source for t in self.triggers)) and (
            not self.file_triggers or any(t in source for t in self.file_triggers)
        )

    def wants(self, decl_text: bytes, ctx: FileContext | None = None) -> bool:
        """Should the rule look at this declaration?  A rule whose acquisitions include functions of
        the file (a helper returning a response) widens its triggers by their names, given ``ctx``."""
        return not self.triggers or any(t in decl_text for t in self.triggers)
