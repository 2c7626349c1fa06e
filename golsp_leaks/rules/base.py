"""What a rule is, and what it is given to look at."""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import ClassVar

from tree_sitter import Node

from golsp_leaks.goanalysis.summaries.context import FileContext
from golsp_leaks.goanalysis.summaries.facts import PackageFacts
from golsp_leaks.model import Finding, Severity

__all__ = ["FileContext", "PackageFacts", "Rule"]


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
    fixable: ClassVar[bool] = False
    #: The rule only runs on declarations whose text contains one of these.
    triggers: ClassVar[tuple[bytes, ...]] = ()

    @abstractmethod
    def check(self, decl: Node, ctx: FileContext) -> Iterable[Finding]:
        """Findings in one top-level declaration, with byte offsets into ``ctx.source``."""

    @classmethod
    def documentation(cls) -> str:
        return inspect.cleandoc(cls.__doc__ or "")

    def wants(self, decl_text: bytes, ctx: FileContext | None = None) -> bool:
        """Should the rule look at this declaration?  A rule whose acquisitions include functions of
        the file (a helper returning a response) widens its triggers by their names, given ``ctx``."""
        return not self.triggers or any(t in decl_text for t in self.triggers)
