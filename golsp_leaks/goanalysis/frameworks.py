"""Which code runs once per request, and what its request context is.

Known from a file's imports (aliases included) and the shapes of its functions:

==========  ==============================================  ===========================
framework   handler                                         request ``context.Context``
==========  ==============================================  ===========================
net/http    ``func(w http.ResponseWriter, r *http.Request)``  ``r.Context()``
Fiber v2    ``func(c *fiber.Ctx) error``                    ``c.UserContext()``
Fiber v3    ``func(c fiber.Ctx) error``                     ``c.Context()``
Buffalo     ``func(c buffalo.Context) error``               ``c``
Gin         ``func(c *gin.Context)``                        ``c.Request.Context()``
Echo        ``func(c echo.Context) error``                  ``c.Request().Context()``
==========  ==============================================  ===========================

chi uses net/http's shapes.  Fiber v2's ``c.Context()`` is fasthttp's request
context, which is *not* cancelled when the request ends, so it is never offered
as the request context.  Function literals passed to a router have the same
shapes and are found the same way; so are the handlers returned by middleware
(``func(next http.Handler) http.Handler``).  Code nested in a handler — a
goroutine it starts, a closure — runs per request too.
"""

from __future__ import annotations

from dataclasses import dataclass

from tree_sitter import Node

from golsp_leaks.goanalysis.imports import Imports
from golsp_leaks.goanalysis.syntax import FUNCTION_TYPES, text

HTTP = "net/http"
FIBER_V2 = "github.com/gofiber/fiber/v2"
FIBER_V3 = "github.com/gofiber/fiber/v3"
BUFFALO = "github.com/gobuffalo/buffalo"
GIN = "github.com/gin-gonic/gin"
ECHO_PATHS = ("github.com/labstack/echo/v4", "github.com/labstack/echo/v5", "github.com/labstack/echo")


@dataclass(frozen=True)
class Handler:
    """A function that runs once per request."""

    func: Node
    framework: str  # "net/http", "fiber", "buffalo", "gin", "echo"
    param: str  # the name of the request (or context) parameter, "" when unnamed
    #: Go expression for the request's context.Context, or "" when the parameter is unnamed.
    request_context: str
    #: Type of the framework's context parameter as written (e.g. "*fiber.Ctx").
    context_type: str


def _param_types(func: Node) -> list[tuple[str, Node]]:
    """(name, type node) for each parameter; unnamed parameters get ""."""
    params = func.child_by_field_name("parameters")
    if params is None:
        return []
    result: list[tuple[str, Node]] = []
    for decl in params.named_children:
        if decl.type not in ("parameter_declaration", "variadic_parameter_declaration"):
            continue
        type_node = decl.child_by_field_name("type")
        if type_node is None:
            continue
        names = [text(n) for n in decl.children_by_field_name("name")]
        for name in names or [""]:
            result.append((name, type_node))
    return result


class RequestScope:
    """Answers "does this code run per request, and what is its request context?" for one file."""

    def __init__(self, root: Node, imports: Imports, extra_handlers: frozenset[str] = frozenset()) -> None:
        self.imports = imports
        self.extra_handlers = extra_handlers
        self._cache: dict[tuple[int, int], Handler | None] = {}

    def fingerprint(self) -> tuple[str, ...]:
        return tuple(sorted(self.extra_handlers))

    def _qualified(self, node: Node, paths: tuple[str, ...], name: str, pointer: bool | None) -> bool:
        """Is ``node`` the type ``[*]pkg.name`` for a package imported from one of ``paths``?"""
        is_pointer = node.type == "pointer_type"
        if pointer is not None and is_pointer != pointer:
            return False
        if is_pointer:
            inner = node.named_children[0] if node.named_child_count else None
            if inner is None:
                return False
            node = inner
        if node.type == "qualified_type":
            package = text(node.child_by_field_name("package"))
            type_name = text(node.child_by_field_name("name"))
            return type_name == name and self.imports.path_of(package) in paths
        if node.type == "type_identifier":
            return text(node) == name and any(self.imports.is_dot_imported(p) for p in paths)
        return False

    def handler(self, func: Node) -> Handler | None:
        """``func`` itself, if it has the shape of a request handler."""
        key = (func.start_byte, func.end_byte)
        if key in self._cache:
            return self._cache[key]
        found = self._classify(func)
        self._cache[key] = found
        return found

    def _classify(self, func: Node) -> Handler | None:
        params = _param_types(func)
        q = self._qualified
        writer = any(q(t, (HTTP,), "ResponseWriter", False) for _, t in params)
        for name, type_node in params:
            ctx_type = text(type_node)
            if writer and q(type_node, (HTTP,), "Request", True):
                return Handler(func, "net/http", name, f"{name}.Context()" if name else "", ctx_type)
            if q(type_node, (FIBER_V2,), "Ctx", True):
                return Handler(func, "fiber", name, f"{name}.UserContext()" if name else "", ctx_type)
            if q(type_node, (FIBER_V3,), "Ctx", None):
                return Handler(func, "fiber", name, f"{name}.Context()" if name else "", ctx_type)
            if q(type_node, (BUFFALO,), "Context", False):
                return Handler(func, "buffalo", name, name, ctx_type)
            if q(type_node, (GIN,), "Context", True):
                return Handler(func, "gin", name, f"{name}.Request.Context()" if name else "", ctx_type)
            if q(type_node, ECHO_PATHS, "Context", False):
                return Handler(func, "echo", name, f"{name}.Request().Context()" if name else "", ctx_type)
        if func.type != "func_literal":
            name_node = func.child_by_field_name("name")
            if name_node is not None and text(name_node) in self.extra_handlers:
                return Handler(func, "unknown", "", "", "")
        return None

    def enclosing_handler(self, node: Node) -> Handler | None:
        """The innermost function around (or at) ``node`` that is a request handler."""
        current: Node | None = node
        while current is not None:
            if current.type in FUNCTION_TYPES:
                found = self.handler(current)
                if found is not None:
                    return found
            current = current.parent
        return None

    def is_per_request(self, node: Node) -> bool:
        return self.enclosing_handler(node) is not None
