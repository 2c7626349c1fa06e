"""The context one file is checked in: its source, tree, imports, module and package facts."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

from tree_sitter import Node

from golsp_leaks.goanalysis.libraries.frameworks import RequestScope, made_values
from golsp_leaks.goanalysis.summaries.facts import PackageFacts, made_in_file, mentioned_in_file
from golsp_leaks.goanalysis.syntax.imports import Imports

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
        # The scope reads the package's facts when it needs them (see summaries.facts).
        package = self.package
        object.__setattr__(
            self,
            "scope",
            RequestScope(self.root, self.imports, lambda: package.handlers, lambda: package.startup, self.source),
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

    def bodies_mentioning(self, word: str) -> Node:
        """The file's root, for a rule that looks for ``word`` (a field's ``.name``) in the bodies
        of the file's other declarations.  The outline (types, variables, signatures) is part of
        every declaration's context; bodies are not.  Asking through here reads the fact
        :func:`~.facts.mentioned_in_file` of the word, so that the engine finds the declaration's
        findings again when a declaration mentioning it changes (the rule declares
        :data:`~.facts.MENTIONED_IN_FILE`)."""
        self.package.get(mentioned_in_file(word))  # the read is what counts
        return self.root

    def made_values(self, type_name: str) -> list[Node]:
        """Where the file makes values of ``type_name`` (``T{}``, ``&T{}``, ``new(T)``), in the
        bodies of any of its declarations. Asking through here reads the fact
        :func:`~.facts.made_in_file` of that type, so that the engine finds the declaration's
        findings again when a declaration that makes one changes (the rule declares
        :data:`~.facts.MADE_IN_FILE`)."""
        self.package.get(made_in_file(type_name))  # the read is what counts
        return made_values(self.root, type_name, self.source)

    def go_at_least(self, major: int, minor: int) -> bool:
        """True when the module's ``go`` directive is at least ``major.minor`` (unknown: assume the newest)."""
        return self.go_version is None or self.go_version >= (major, minor)
