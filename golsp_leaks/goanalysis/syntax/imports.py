"""The imports of a Go file: which local name stands for which import path."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tree_sitter import Node

from golsp_leaks.goanalysis.syntax.nodes import text

_MAJOR_VERSION = re.compile(r"^v[0-9]+$")


def default_name(path: str) -> str:
    """The package name Go assumes for an import path without an explicit name.

    ``github.com/jackc/pgx/v5`` is ``pgx``, ``gopkg.in/yaml.v3`` is ``yaml``.
    """
    parts = [p for p in path.split("/") if p]
    if not parts:
        return path
    last = parts[-1]
    if _MAJOR_VERSION.match(last) and len(parts) > 1:
        last = parts[-2]
    if "." in last and path.startswith("gopkg.in/"):
        last = last.split(".", 1)[0]
    return last.replace("-", "_")


@dataclass(frozen=True)
class Imports:
    """Local names of imported packages.  Dot imports map to the name ``"."``."""

    by_name: dict[str, str] = field(default_factory=dict)
    dot_paths: frozenset[str] = frozenset()

    @classmethod
    def from_root(cls, root: Node) -> Imports:
        by_name: dict[str, str] = {}
        dots: set[str] = set()
        # One top-level node at a time: the imports come first, and a large file has thousands.
        for index in range(root.named_child_count):
            decl = root.named_child(index)
            if decl is None:
                break
            if decl.type != "import_declaration":
                if decl.type in ("function_declaration", "method_declaration", "type_declaration"):
                    break
                continue
            for spec in _specs(decl):
                path_node = spec.child_by_field_name("path")
                if path_node is None:
                    continue
                path = text(path_node).strip('"`')
                name_node = spec.child_by_field_name("name")
                if name_node is None:
                    by_name[default_name(path)] = path
                elif name_node.type == "dot":
                    dots.add(path)
                elif name_node.type != "blank_identifier":
                    by_name[text(name_node)] = path
        return cls(by_name, frozenset(dots))

    def names_for(self, path: str) -> set[str]:
        """Local names under which ``path`` is imported."""
        return {name for name, p in self.by_name.items() if p == path}

    def path_of(self, name: str) -> str | None:
        return self.by_name.get(name)

    def is_dot_imported(self, path: str) -> bool:
        return path in self.dot_paths

    def has(self, path: str) -> bool:
        return path in self.by_name.values() or path in self.dot_paths

    def fingerprint(self) -> tuple[tuple[str, str], ...]:
        return tuple(sorted(self.by_name.items())) + tuple(("." , p) for p in sorted(self.dot_paths))


def _specs(decl: Node) -> list[Node]:
    specs: list[Node] = []
    for child in decl.named_children:
        if child.type == "import_spec":
            specs.append(child)
        elif child.type == "import_spec_list":
            specs.extend(c for c in child.named_children if c.type == "import_spec")
    return specs
