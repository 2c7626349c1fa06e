"""The HTTP routes a Go program registers, read from its source.

Recognised registrations (``r`` stands for any router, group or mux value):

- method helpers: ``r.Get("/x", h)`` (chi, Fiber), ``r.GET("/x", h)`` (Gin, Echo,
  Buffalo), and the same for POST, PUT, PATCH, DELETE, HEAD and OPTIONS;
  ``Any``/``All`` count as GET;
- method-first forms: ``r.Method("GET", "/x", h)`` (chi), ``r.Handle("GET", "/x", h)``
  (Gin), ``r.Add("GET", "/x", h)`` (Fiber, Echo);
- net/http: ``http.HandleFunc("/x", h)``, ``mux.Handle("/x", h)``, and Go 1.22
  patterns with a method, ``mux.HandleFunc("GET /x/{id}", h)``;
- prefixes: ``g := r.Group("/api")`` (Gin, Fiber, Echo, Buffalo), chained
  ``r.Group("/api").Get(...)``, and chi's ``r.Route("/notes", func(r chi.Router) {...})``.

Path parameters stay as the framework writes them (``:id``, ``{id}``,
``{id:[0-9]+}``, ``*``); :func:`path_parameters` names them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tree_sitter import Node

from golsp_leaks.goanalysis.libraries.frameworks import function_key
from golsp_leaks.goanalysis.syntax.nodes import text
from golsp_leaks.goanalysis.syntax.parse import parse

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
_HELPERS = {m: m for m in METHODS} | {m.capitalize(): m for m in METHODS}
_HELPERS |= {"Any": "GET", "All": "GET"}
_METHOD_FIRST = frozenset({"Method", "MethodFunc", "Handle", "Add"})
_PATTERN = frozenset({"HandleFunc", "Handle"})
_GROUPS = frozenset({"Group", "Route"})
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?:\.\.\.)?(?::[^}]*)?\}|:([A-Za-z_][A-Za-z0-9_]*)|\*([A-Za-z_][A-Za-z0-9_]*)?")


@dataclass(frozen=True, slots=True)
class Route:
    """One registration: ``method path`` handled by ``handler``, registered at ``path:line``."""

    method: str
    path: str
    handler: str
    file: str
    line: int

    @property
    def spec(self) -> str:
        return f"{self.method} {self.path}"


def _string(node: Node | None) -> str | None:
    if node is None or node.type not in ("interpreted_string_literal", "raw_string_literal"):
        return None
    value = text(node)
    return value[1:-1]


def _arguments(call: Node) -> list[Node]:
    args = call.child_by_field_name("arguments")
    if args is None:
        return []
    return [c for c in args.named_children if c.type != "comment"]


def _handler_name(node: Node | None) -> str:
    if node is None:
        return ""
    if node.type == "selector_expression":
        return text(node.child_by_field_name("field"))
    if node.type == "identifier":
        return text(node)
    if node.type == "call_expression":  # http.HandlerFunc(h), h.wrap(x)
        args = _arguments(node)
        return _handler_name(args[-1]) if args else _handler_name(node.child_by_field_name("function"))
    return ""


def _join(prefix: str, path: str) -> str:
    if not prefix:
        return path
    if path.strip("/"):
        return prefix.rstrip("/") + "/" + path.lstrip("/")
    return prefix.rstrip("/") + path


class _Walker:
    def __init__(self, file: str) -> None:
        self.file = file
        self.routes: list[Route] = []

    def prefix_of(self, operand: Node | None, prefixes: dict[str, str]) -> str:
        """The path prefix of a router expression: a grouped variable, or a chained Group call."""
        if operand is None:
            return ""
        if operand.type == "identifier":
            return prefixes.get(text(operand), "")
        if operand.type == "call_expression":
            func = operand.child_by_field_name("function")
            if func is not None and func.type == "selector_expression":
                name = text(func.child_by_field_name("field"))
                args = _arguments(operand)
                path = _string(args[0]) if args else None
                if name == "Group" and path is not None:
                    return _join(self.prefix_of(func.child_by_field_name("operand"), prefixes), path)
        return ""

    def walk(self, node: Node, prefixes: dict[str, str]) -> None:
        if node.type == "call_expression" and self.call(node, prefixes):
            return
        scoped = prefixes
        for child in node.named_children:
            self.walk(child, scoped)
            if child.type in ("short_var_declaration", "assignment_statement"):
                scoped = self._after_assignment(child, scoped)

    def _after_assignment(self, node: Node, prefixes: dict[str, str]) -> dict[str, str]:
        left = node.child_by_field_name("left")
        right = node.child_by_field_name("right")
        if left is None or right is None or len(left.named_children) != 1 or not right.named_children:
            return prefixes
        value = right.named_children[0]
        if value.type != "call_expression":
            return prefixes
        prefix = self.prefix_of(value, prefixes)
        if not prefix:
            return prefixes
        return {**prefixes, text(left.named_children[0]): prefix}

    def call(self, call: Node, prefixes: dict[str, str]) -> bool:
        """Record a registration; True when the call's arguments were walked here."""
        func = call.child_by_field_name("function")
        if func is None or func.type != "selector_expression":
            return False
        name = text(func.child_by_field_name("field"))
        operand = func.child_by_field_name("operand")
        args = _arguments(call)
        line = call.start_point[0] + 1
        if name == "Route" and len(args) == 2 and args[1].type == "func_literal":
            path = _string(args[0])
            literal = args[1]
            params = literal.child_by_field_name("parameters")
            body = literal.child_by_field_name("body")
            if path is None or params is None or body is None:
                return False
            inner = dict(prefixes)
            for param in params.named_children:
                param_name = param.child_by_field_name("name")
                if param_name is not None:
                    inner[text(param_name)] = _join(self.prefix_of(operand, prefixes), path)
            self.walk(body, inner)
            return True
        prefix = self.prefix_of(operand, prefixes)
        first = _string(args[0]) if args else None
        if name in _HELPERS and first is not None and len(args) >= 2:
            self.add(_HELPERS[name], _join(prefix, first), args[-1], line)
        elif name in _METHOD_FIRST and first is not None and first.upper() in METHODS and len(args) >= 3:
            path = _string(args[1])
            if path is not None:
                self.add(first.upper(), _join(prefix, path), args[-1], line)
        elif name in _PATTERN and first is not None and len(args) == 2:
            method, _, path = first.strip().partition(" ")
            if not path:
                method, path = "GET", method
            method = method.upper() if method.upper() in METHODS else "GET"
            host_free = path[path.index("/") :] if "/" in path else path
            self.add(method, _join(prefix, host_free.strip()), args[-1], line)
        return False

    def add(self, method: str, path: str, handler: Node, line: int) -> None:
        if not path.startswith("/"):
            return
        self.routes.append(Route(method, path, _handler_name(handler), self.file, line))


def routes_in_source(source: bytes, file: str = "") -> list[Route]:
    """The routes one file registers, in source order."""
    walker = _Walker(file)
    walker.walk(parse(source).root_node, {})
    return walker.routes


def _go_files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*.go")):
        rel = path.relative_to(root).parts
        if any(p in ("vendor", "testdata", "node_modules") or p.startswith(".") for p in rel[:-1]):
            continue
        if path.name.endswith("_test.go") or not path.is_file():
            continue
        yield path


def find_routes(root: Path) -> list[Route]:
    """Every route registered by the ``*.go`` files under ``root`` (paths relative to it), deduplicated."""
    found: dict[tuple[str, str], Route] = {}
    for path in _go_files(root):
        try:
            source = path.read_bytes()
        except OSError:
            continue
        if b"\"/" not in source and b"`/" not in source and b" /" not in source:
            continue
        for route in routes_in_source(source, path.relative_to(root).as_posix()):
            found.setdefault((route.method, route.path), route)
    return list(found.values())


def path_parameters(path: str) -> list[str]:
    """The names of a route's path parameters (``*`` alone is named ``*``)."""
    names: list[str] = []
    for match in _PARAM.finditer(path):
        names.append(match.group(1) or match.group(2) or match.group(3) or "*")
    return names


def fill_path(path: str, values: dict[str, str]) -> tuple[str, list[str]]:
    """The path with its parameters replaced by ``values``, and the names that had none."""
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(3) or "*"
        if name in values:
            return values[name]
        missing.append(name)
        return match.group(0)

    filled = _PARAM.sub(replace, path)
    return filled, missing


@dataclass(frozen=True, slots=True)
class FunctionSpan:
    """A top-level function or method: its name (``f`` or ``T.m``) and its 1-based line range."""

    name: str
    start_line: int
    end_line: int


def functions_in_source(source: bytes) -> list[FunctionSpan]:
    """The top-level functions and methods of a file, with their line ranges."""
    spans: list[FunctionSpan] = []
    for node in parse(source).root_node.named_children:
        if node.type in ("function_declaration", "method_declaration"):
            key = function_key(node) or ""
            spans.append(FunctionSpan(key, node.start_point[0] + 1, node.end_point[0] + 1))
    return spans
