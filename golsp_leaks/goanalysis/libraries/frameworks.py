"""Which code runs once per request, and what its request context is.

Known from a file's imports (aliases included) and the shapes of its functions:

==========  ================================================  ===========================
framework   handler                                           request ``context.Context``
==========  ================================================  ===========================
net/http    ``func(w http.ResponseWriter, r *http.Request)``  ``r.Context()``
Fiber v2    ``func(c *fiber.Ctx) error``                      ``c.UserContext()``
Fiber v3    ``func(c fiber.Ctx) error``                       ``c.Context()``
Buffalo     ``func(c buffalo.Context) error``                 ``c``
Gin         ``func(c *gin.Context)``                          ``c.Request.Context()``
Echo        ``func(c echo.Context) error``                    ``c.Request().Context()``
==========  ================================================  ===========================

chi uses net/http's shapes.  Fiber v2's ``c.Context()`` is fasthttp's request
context, which is *not* cancelled when the request ends, so it is never offered
as the request context.  Function literals passed to a router have the same
shapes and are found the same way; so are the handlers returned by middleware
(``func(next http.Handler) http.Handler``, ``func(next echo.HandlerFunc)
echo.HandlerFunc``, ``func(next buffalo.Handler) buffalo.Handler``), whose own
bodies run once, when the chain is built.  Code nested in a handler — a
goroutine it starts, a closure — runs per request too, and so do the functions
that :class:`~golsp_leaks.rules.base.PackageFacts` says are called from
handlers elsewhere in the package (``handlers``, by :func:`function_key`).

Code that runs *once* — in ``main`` or ``init``, in a function passed to a
``sync.Once`` (``once.Do(f)``, ``sync.OnceFunc(f)``), or in a function the
package facts list as ``startup`` (only ever called from such code) — is where
background workers are started; :meth:`RequestScope.runs_once` says whether a
node is there.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tree_sitter import Node

from golsp_leaks.goanalysis.names.scopes import (
    PARAM,
    RECEIVER,
    RESULT,
    VAR,
    Declaration,
    declaration_of,
    single_value,
)
from golsp_leaks.goanalysis.syntax.imports import Imports
from golsp_leaks.goanalysis.syntax.nodes import (
    FUNCTION_TYPES,
    outermost_by_keyword,
    text,
    var_specs,
)
from golsp_leaks.goanalysis.syntax.parse import cursor

HTTP = "net/http"
FIBER_V2 = "github.com/gofiber/fiber/v2"
FIBER_V3 = "github.com/gofiber/fiber/v3"
FIBER_PATHS = (FIBER_V2, FIBER_V3)
FIBER_UTILS = "github.com/gofiber/fiber/v2/utils"
BUFFALO = "github.com/gobuffalo/buffalo"
GIN = "github.com/gin-gonic/gin"
ECHO_PATHS = ("github.com/labstack/echo/v4", "github.com/labstack/echo/v5", "github.com/labstack/echo")
CHI = "github.com/go-chi/chi/v5"

#: Import paths whose presence makes a file worth looking at for handlers.
WEB_IMPORTS = (HTTP, FIBER_V2, FIBER_V3, BUFFALO, GIN, *ECHO_PATHS)

#: Substrings of a file's bytes that show it imports a web framework (cheap pre-check).
WEB_IMPORT_MARKERS = (b'"net/http"', b'"github.com/gofiber/fiber', b'"github.com/gobuffalo/buffalo"',
                      b'"github.com/gin-gonic/gin"', b'"github.com/labstack/echo')


#: Substrings that per-request code mentions (the handlers' parameter types): rules that only
#: look at per-request code use them as triggers.
REQUEST_MARKERS = (b"http.Request", b"fiber.Ctx", b"gin.Context", b"echo.Context", b"buffalo.Context")


@dataclass(frozen=True)
class Handler:
    """A function that runs once per request."""

    func: Node
    framework: str  # "net/http", "fiber", "buffalo", "gin", "echo", or "unknown" (from package facts)
    param: str  # the name of the request (or context) parameter, "" when unnamed
    #: Go expression for the request's context.Context, or "" when the parameter is unnamed.
    request_context: str
    #: Type of the framework's context parameter as written (e.g. "*fiber.Ctx").
    context_type: str
    #: net/http only: the name of the http.ResponseWriter parameter ("" when unnamed).
    writer: str = ""
    #: "v2" or "v3" for Fiber, "" otherwise.
    version: str = ""


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


def _result_types(func: Node) -> list[Node]:
    result = func.child_by_field_name("result")
    if result is None:
        return []
    if result.type != "parameter_list":
        return [result]
    types: list[Node] = []
    for decl in result.named_children:
        type_node = decl.child_by_field_name("type")
        if type_node is not None:
            names = decl.children_by_field_name("name")
            types.extend([type_node] * max(1, len(names)))
    return types


def receiver(func: Node) -> tuple[str, str] | None:
    """``(name, type)`` of a method's receiver: ``func (s *Server[T]) f()`` -> ("s", "Server")."""
    if func.type != "method_declaration":
        return None
    params = func.child_by_field_name("receiver")
    if params is None:
        return None
    for decl in params.named_children:
        if decl.type != "parameter_declaration":
            continue
        type_node = decl.child_by_field_name("type")
        name_node = decl.child_by_field_name("name")
        return (text(name_node) if name_node is not None else ""), base_type_name(type_node)
    return None


def base_type_name(type_node: Node | None) -> str:
    """``Server`` for ``Server``, ``*Server``, ``Server[T]`` or ``*Server[T]``; "" otherwise."""
    node = type_node
    while node is not None and node.type in ("pointer_type", "generic_type", "parenthesized_type"):
        if node.type == "generic_type":
            node = node.child_by_field_name("type")
        else:
            node = node.named_children[0] if node.named_child_count else None
    if node is not None and node.type == "type_identifier":
        return text(node)
    return ""


_LOCAL_TYPES = """
[(parameter_declaration name: (identifier) @name type: (_) @type)
 (var_spec name: (identifier) @name type: (_) @type)
 (short_var_declaration left: (expression_list . (identifier) @name .) right: (expression_list . (_) @value .))]
"""


def local_types(decl: Node) -> dict[str, str]:
    """Names of variables whose type is plain from their declaration: ``s := &Server{}``, ``s *Server``."""
    return typed_names(captures for _, captures in cursor(_LOCAL_TYPES).matches(decl))


_COLLECTIONS = """
[(var_spec name: (identifier) @name type: [(slice_type) (array_type)] @type)
 (short_var_declaration left: (expression_list . (identifier) @name .)
                        right: (expression_list . [(composite_literal) (call_expression)] @value .))]
"""
_RANGES = "(range_clause left: (expression_list (_) (identifier) @name .) right: (identifier) @over)"


def element_types(decl: Node) -> dict[str, str]:
    """Names of range values whose type is plain from the slice they range over:
    ``for _, a := range accounts`` with ``accounts := []*Account{}``, ``make([]*Account, 0, n)``
    or ``var accounts []*Account``.  A name seen with two different types is left out."""
    if b"range" not in (decl.text or b""):
        return {}
    slices: dict[str, str] = {}
    for _, captures in cursor(_COLLECTIONS).matches(decl):
        node = captures["type"][0] if "type" in captures else captures["value"][0]
        if node.type == "call_expression":
            args = node.child_by_field_name("arguments")
            if text(node.child_by_field_name("function")) != "make" or args is None or not args.named_child_count:
                continue
            node = args.named_children[0]
        elif node.type == "composite_literal":
            node = node.child_by_field_name("type") or node
        element = node.child_by_field_name("element") if node.type in ("slice_type", "array_type") else None
        if element is not None and element.type in ("type_identifier", "pointer_type"):
            slices.setdefault(text(captures["name"][0]), base_type_name(element))
    found: dict[str, str] = {}
    clashes: set[str] = set()
    for _, captures in cursor(_RANGES).matches(decl) if slices else ():
        type_name = slices.get(text(captures["over"][0]))
        name = text(captures["name"][0])
        if type_name is None or found.get(name, type_name) != type_name:
            clashes.add(name)
        elif type_name:
            found[name] = type_name
    return {name: type_name for name, type_name in found.items() if name not in clashes}


def typed_names(matches: Iterable[dict[str, list[Node]]]) -> dict[str, str]:
    """Base type names of the ``@name`` captures of query matches that also capture the
    declared ``@type`` or the ``@value`` (``&T{}``, ``T{}``, ``new(T)``); a name seen with
    two different types is left out."""
    found: dict[str, str] = {}
    clashes: set[str] = set()
    for captures in matches:
        type_name = _declared_type(captures)
        if not type_name:
            continue
        name = text(captures["name"][0])
        if found.get(name, type_name) != type_name:
            clashes.add(name)
        found[name] = type_name
    for name in clashes:
        found.pop(name, None)
    return found


def _declared_type(captures: dict[str, list[Node]]) -> str:
    if "type" in captures:
        node = captures["type"][0]
        if node.type in ("type_identifier", "pointer_type", "generic_type"):
            return base_type_name(node)
        return ""
    value = captures["value"][0]
    if value.type == "unary_expression" and value.named_child_count and text(value).startswith("&"):
        value = value.named_children[-1]
    if value.type == "composite_literal":
        return base_type_name(value.child_by_field_name("type"))
    if value.type == "call_expression" and text(value.child_by_field_name("function")) == "new":
        args = value.child_by_field_name("arguments")
        if args is not None and args.named_child_count == 1:
            return base_type_name(args.named_children[0])
    return ""


def variable_type(declaration: Declaration | None) -> str:
    """The base type name of a local variable, parameter or receiver when its declaration makes it
    plain (``s *Server``, ``var s Server``, ``s := &Server{}``, ``new(Server)``); "" otherwise."""
    if declaration is None or declaration.package_level:
        return ""
    parent = declaration.node.parent
    if parent is not None and parent.type in ("parameter_declaration", "var_spec"):
        kind = parent.child_by_field_name("type")
        if kind is not None:
            return _declared_type({"type": [kind]})
        value = single_value(declaration) if parent.type != "var_spec" else None
    else:
        value = single_value(declaration)
    return _declared_type({"value": [value]}) if value is not None else ""


def function_key(func: Node) -> str | None:
    """How package facts name a declared function: ``"f"``, or ``"T.m"`` for a method of ``T``."""
    if func.type not in ("function_declaration", "method_declaration"):
        return None
    name = text(func.child_by_field_name("name"))
    if not name:
        return None
    if func.type == "method_declaration":
        recv = receiver(func)
        return f"{recv[1]}.{name}" if recv is not None and recv[1] else None
    return name


def top_level_function(node: Node) -> Node | None:
    """The function or method declaration (not a literal) that contains ``node``."""
    current: Node | None = node
    while current is not None:
        if current.type in ("function_declaration", "method_declaration"):
            return current
        current = current.parent
    return None


_ONCE_FUNCTIONS = ("OnceFunc", "OnceValue", "OnceValues")


def is_once_call(call: Node, imports: Imports, source: bytes | None = None) -> bool:
    """``once.Do(...)``, ``x.once.Do(...)``, ``sync.OnceFunc(...)``, ``sync.OnceValue(s)(...)`` (``sync``
    through the file's imports: a renamed import, a dot import).

    The receiver of ``Do`` is a ``sync.Once`` by its declaration in ``source`` (resolved with
    scopes): a variable or parameter declared ``sync.Once`` or ``*sync.Once`` (or made by
    ``sync.Once{}``, ``&sync.Once{}``, ``new(sync.Once)``), a field of that type of a struct the
    file declares, or a value of a struct type of the file that embeds one.  Only when no
    declaration of it is in sight (a name declared in another file, a value of unknown type)
    does its name decide: a receiver whose name contains "once"."""
    if call.type != "call_expression":
        return False
    function = call.child_by_field_name("function")
    if function is not None and function.type == "identifier":
        return text(function) in _ONCE_FUNCTIONS and imports.is_dot_imported("sync")
    if function is None or function.type != "selector_expression":
        return False
    field = text(function.child_by_field_name("field"))
    operand = function.child_by_field_name("operand")
    if field == "Do" and operand is not None:
        known = _once_by_declaration(operand, imports, source) if source is not None else None
        return known if known is not None else "once" in text(operand).lower()
    return field in _ONCE_FUNCTIONS and text(operand) in imports.names_for("sync")


_STRUCT_TYPES = "(type_spec name: (type_identifier) @name type: (struct_type) @struct)"


def _once_by_declaration(operand: Node, imports: Imports, source: bytes) -> bool | None:
    """Is ``operand`` (the receiver of ``.Do``) a ``sync.Once`` by what declares it; None when nothing does."""
    root = operand
    while root.parent is not None:
        root = root.parent
    if operand.type == "identifier":
        declaration = declaration_of(operand, source)
        if declaration is None:
            return None
        if declaration.kind not in (VAR, PARAM, RECEIVER, RESULT):
            return False
        parent = declaration.node.parent
        kind = parent.child_by_field_name("type") if parent is not None and parent.type in ("parameter_declaration", "var_spec") else None
        if kind is None:
            kind = _made_type(single_value(declaration) if parent is None or parent.type != "var_spec" else _spec_value(declaration))
        return _once_type(kind, imports, root) if kind is not None else None
    if operand.type == "selector_expression":
        wanted = text(operand.child_by_field_name("field"))
        types = _field_types(root, wanted)
        if not types:
            return None
        return any(_once_type(t, imports, root) for t in types)
    return None


def _field_types(root: Node, name: str) -> list[Node]:
    """The types of the fields called ``name`` of the struct types the file declares."""
    return _structs(root)[1].get(name, [])


#: The struct types of the file last asked about: its root, and what :func:`_structs` gives.
_struct_cache: list[tuple[Node, tuple[dict[str, list[Node]], dict[str, list[Node]]]]] = []


def _structs(root: Node) -> tuple[dict[str, list[Node]], dict[str, list[Node]]]:
    """The struct types ``root`` declares (name -> their field declarations), and the types of
    their fields (field name -> types), read once per tree."""
    if _struct_cache and _struct_cache[0][0] == root:
        return _struct_cache[0][1]
    structs: dict[str, list[Node]] = {}
    fields: dict[str, list[Node]] = {}
    qc = cursor(_STRUCT_TYPES)
    # Struct types are declared in type declarations only: those are queried, not the whole file.
    declarations = outermost_by_keyword(root, "type", "type_declaration")
    matches = [m for node in declarations for m in qc.matches(node)] if declarations is not None else qc.matches(root)
    for _, captures in matches:
        struct = captures["struct"][0]
        body = next((c for c in struct.named_children if c.type == "field_declaration_list"), None)
        declared = [f for f in body.named_children if f.type == "field_declaration"] if body is not None else []
        structs.setdefault(text(captures["name"][0]), []).extend(declared)
        for field_declaration in declared:
            kind = field_declaration.child_by_field_name("type")
            if kind is None:
                continue
            for name in field_declaration.children_by_field_name("name"):
                fields.setdefault(text(name), []).append(kind)
    _struct_cache[:] = [(root, (structs, fields))]
    return structs, fields


def _spec_value(declaration: Declaration) -> Node | None:
    spec = declaration.node.parent
    values = spec.child_by_field_name("value") if spec is not None else None
    names = spec.children_by_field_name("name") if spec is not None else []
    if values is None or values.named_child_count != len(names):
        return None
    return values.named_children[[n.start_byte for n in names].index(declaration.node.start_byte)]


def _made_type(value: Node | None) -> Node | None:
    """The type ``T`` of ``T{}``, ``&T{}`` or ``new(T)``."""
    if value is not None and value.type == "unary_expression" and text(value).startswith("&") and value.named_child_count:
        value = value.named_children[-1]
    if value is not None and value.type == "composite_literal":
        return value.child_by_field_name("type")
    if value is not None and value.type == "call_expression" and text(value.child_by_field_name("function")) == "new":
        args = value.child_by_field_name("arguments")
        return args.named_children[0] if args is not None and args.named_child_count == 1 else None
    return None


def _once_type(kind: Node, imports: Imports, root: Node, depth: int = 0) -> bool:
    """Is ``kind`` ``sync.Once`` or ``*sync.Once``, or a struct type of the file that embeds one?"""
    if kind.type == "pointer_type" and kind.named_child_count == 1:
        kind = kind.named_children[0]
    if kind.type == "qualified_type":
        return text(kind.child_by_field_name("name")) == "Once" and text(kind.child_by_field_name("package")) in imports.names_for("sync")
    if kind.type != "type_identifier":
        return False
    if text(kind) == "Once" and imports.is_dot_imported("sync"):
        return True
    if depth > 2:
        return False
    for declared in _structs(root)[0].get(text(kind), []):
        embedded = declared.child_by_field_name("type")
        if not declared.children_by_field_name("name") and embedded is not None and _once_type(embedded, imports, root, depth + 1):
            return True
    return False


class RequestScope:
    """Answers "does this code run per request, and what is its request context?" for one file.

    ``extra_handlers`` are :func:`function_key` names of functions that run per
    request without having a handler's shape (called from handlers elsewhere in
    the package); ``startup`` those that only ever run once, from ``main``,
    ``init`` or a ``sync.Once``.  Either may be given as a function that gives
    it, called each time it is needed (package facts are computed when first
    read, and the reads are recorded).
    """

    def __init__(
        self,
        root: Node,
        imports: Imports,
        extra_handlers: frozenset[str] | Callable[[], frozenset[str]] = frozenset(),
        startup: frozenset[str] | Callable[[], frozenset[str]] = frozenset(),
        source: bytes | None = None,
    ) -> None:
        self.root = root
        self.imports = imports
        #: The file's text, whose scopes tell what a name is (``once.Do``: a ``sync.Once``?).
        self.source = source
        self._extra_handlers = extra_handlers
        self._startup = startup
        self._cache: dict[tuple[int, int], Handler | None] = {}

    @property
    def extra_handlers(self) -> frozenset[str]:
        found = self._extra_handlers
        return found() if callable(found) else found

    @property
    def startup(self) -> frozenset[str]:
        found = self._startup
        return found() if callable(found) else found

    def fingerprint(self) -> tuple[frozenset[str], frozenset[str]]:
        return self.extra_handlers, self.startup

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

    def is_type(self, node: Node | None, paths: str | tuple[str, ...], name: str, pointer: bool | None = None) -> bool:
        """Public form of the type test: ``is_type(t, HTTP, "Request", pointer=True)``."""
        if node is None:
            return False
        return self._qualified(node, (paths,) if isinstance(paths, str) else paths, name, pointer)

    def request_type(self, node: Node | None) -> str | None:
        """The framework whose per-request object a parameter of this type is, or None.

        ``*http.Request`` and ``http.ResponseWriter`` give "net/http"; ``*fiber.Ctx``
        (v2), ``fiber.Ctx`` (v3), ``buffalo.Context``, ``*gin.Context`` and
        ``echo.Context`` give their framework.
        """
        if node is None:
            return None
        q = self._qualified
        if q(node, (HTTP,), "Request", True) or q(node, (HTTP,), "ResponseWriter", False):
            return "net/http"
        if q(node, (FIBER_V2,), "Ctx", True) or q(node, (FIBER_V3,), "Ctx", None):
            return "fiber"
        if q(node, (BUFFALO,), "Context", False):
            return "buffalo"
        if q(node, (GIN,), "Context", True):
            return "gin"
        if q(node, ECHO_PATHS, "Context", None):
            return "echo"
        return None

    def handler(self, func: Node) -> Handler | None:
        """``func`` itself, if it has the shape of a request handler."""
        key = (func.start_byte, func.end_byte)
        if key in self._cache:
            cached = self._cache[key]
            if func.type != "func_literal" and (cached is None or cached.framework == "unknown"):
                _ = self.extra_handlers  # what the answer depends on is read again, for whoever asks
            return cached
        found = self._classify(func)
        self._cache[key] = found
        return found

    def shaped_handler(self, func: Node) -> Handler | None:
        """``func`` itself, if its parameters are a framework's request objects: :meth:`handler`
        without the functions that run per request only because handlers call them (those of
        framework ``"unknown"``), so that it reads no package facts."""
        key = (func.start_byte, func.end_byte)
        found = self._cache[key] if key in self._cache else self._by_shape(func)
        return found if found is None or found.framework != "unknown" else None

    def _classify(self, func: Node) -> Handler | None:
        found = self._by_shape(func)
        if found is None and func.type != "func_literal" and self.extra_handlers:
            fkey = function_key(func)
            if fkey is not None and fkey in self.extra_handlers:
                return Handler(func, "unknown", "", "", "")
        return found

    def _by_shape(self, func: Node) -> Handler | None:
        params = _param_types(func)
        q = self._qualified
        writer = next((name or "_" for name, t in params if q(t, (HTTP,), "ResponseWriter", False)), None)
        for name, type_node in params:
            ctx_type = text(type_node)
            named = name not in ("", "_")
            if writer is not None and q(type_node, (HTTP,), "Request", True):
                ctx = f"{name}.Context()" if named else ""
                return Handler(func, "net/http", name, ctx, ctx_type, writer if writer != "_" else "")
            if q(type_node, (FIBER_V2,), "Ctx", True):
                return Handler(func, "fiber", name, f"{name}.UserContext()" if named else "", ctx_type, version="v2")
            if q(type_node, (FIBER_V3,), "Ctx", None):
                return Handler(func, "fiber", name, f"{name}.Context()" if named else "", ctx_type, version="v3")
            if q(type_node, (BUFFALO,), "Context", False):
                return Handler(func, "buffalo", name, name if named else "", ctx_type)
            if q(type_node, (GIN,), "Context", True):
                return Handler(func, "gin", name, f"{name}.Request.Context()" if named else "", ctx_type)
            if q(type_node, ECHO_PATHS, "Context", None):
                return Handler(func, "echo", name, f"{name}.Request().Context()" if named else "", ctx_type)
        return None

    def middleware(self, func: Node) -> str | None:
        """The framework of a middleware constructor ``func(next H) H``, or None.

        ``H`` is ``http.Handler`` or ``http.HandlerFunc``, ``echo.HandlerFunc`` or
        ``buffalo.Handler``.  Its body runs when the chain is built; the handler
        it returns runs per request.
        """
        params = _param_types(func)
        results = _result_types(func)
        if len(params) != 1 or len(results) != 1:
            return None
        param, result = params[0][1], results[0]
        shapes = (
            ("net/http", (HTTP,), "Handler"),
            ("net/http", (HTTP,), "HandlerFunc"),
            ("echo", ECHO_PATHS, "HandlerFunc"),
            ("buffalo", (BUFFALO,), "Handler"),
        )
        for framework, paths, name in shapes:
            if self._qualified(param, paths, name, False) and any(
                self._qualified(result, paths, n, False) for n in ("Handler", "HandlerFunc")
            ):
                return framework
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

    def runs_once(self, node: Node) -> bool:
        """Does ``node`` run once per process: in ``main`` or ``init``, a ``sync.Once``, or a startup function?

        Code inside a loop, or inside a handler or any other function literal
        that is not run in place (a goroutine body counts as run in place), does not.
        """
        current: Node | None = node
        while current is not None:
            kind = current.type
            if kind == "for_statement":
                return False
            if kind == "func_literal":
                if self.handler(current) is not None:
                    return False
                parent = current.parent
                if parent is not None and parent.type == "argument_list":
                    call = parent.parent
                    if call is not None and is_once_call(call, self.imports, self.source):
                        return True
                if not _runs_in_place(current):
                    return False
            elif kind in ("function_declaration", "method_declaration"):
                key = function_key(current)
                if kind == "function_declaration" and key in ("main", "init"):
                    return True
                if key is not None and key in self.startup and self.handler(current) is None:
                    return True
                return once_guarded(node, current)
            current = current.parent
        return False


_BUILTIN_VALUES = frozenset({"nil", "true", "false", "iota"})
_GUARD_IDENTIFIERS = "(identifier) @id"
_ASSIGNED = """
[(assignment_statement left: (expression_list (identifier) @name))
 (inc_statement (identifier) @name)]
"""
_DECLARED = """
[(parameter_declaration name: (identifier) @name)
 (variadic_parameter_declaration name: (identifier) @name)
 (short_var_declaration left: (expression_list (identifier) @name))
 (var_spec name: (identifier) @name)
 (const_spec name: (identifier) @name)
 (range_clause left: (expression_list (identifier) @name))]
"""


def once_guarded(node: Node, func: Node) -> bool:
    """Is ``node`` behind a run-once guard of a lazily started singleton?

    The guard is an ``if`` that returns early (or encloses ``node``) whose
    condition tests a ``CompareAndSwap``, or a package-level variable that the
    function then sets::

        if sigChan != nil {
            return
        }
        sigChan = make(chan os.Signal)
        go watchSignals()
    """
    body = func.child_by_field_name("body")
    if body is None:
        return False
    guards: list[Node] = []
    current: Node | None = node
    while current is not None and current != body:
        parent = current.parent
        if parent is None:
            break
        if parent.type == "if_statement" and parent.child_by_field_name("consequence") == current:
            guards.append(parent)
        if parent.type == "statement_list":
            for sibling in parent.named_children:
                if sibling.start_byte >= current.start_byte:
                    break
                if sibling.type == "if_statement" and _returns_early(sibling):
                    guards.append(sibling)
        if parent.type in FUNCTION_TYPES:
            return False
        current = parent
    if not guards:
        return False
    declared: set[str] | None = None
    assigned: set[str] | None = None
    for guard in guards:
        condition = guard.child_by_field_name("condition")
        if condition is None:
            continue
        if b"CompareAndSwap" in (condition.text or b""):
            return True
        if declared is None or assigned is None:
            declared = {text(n) for n in cursor(_DECLARED).captures(func).get("name", [])}
            assigned = {text(n) for n in cursor(_ASSIGNED).captures(body).get("name", [])}
        for ident in cursor(_GUARD_IDENTIFIERS).captures(condition).get("id", []):
            name = text(ident)
            if name in _BUILTIN_VALUES or name in declared or name not in assigned:
                continue
            parent = ident.parent
            if parent is not None and parent.type == "selector_expression" and parent.child_by_field_name("operand") == ident:
                continue
            if parent is not None and parent.type == "call_expression" and parent.child_by_field_name("function") == ident:
                continue
            return True
    return False


def _returns_early(stmt: Node) -> bool:
    if stmt.child_by_field_name("alternative") is not None:
        return False
    consequence = stmt.child_by_field_name("consequence")
    stmts = [c for c in (consequence.named_children if consequence is not None else []) if c.type == "statement_list"]
    last = stmts[0].named_children[-1] if stmts and stmts[0].named_child_count else None
    return last is not None and last.type == "return_statement"


def _runs_in_place(literal: Node) -> bool:
    """A literal that is called where it stands: ``func() {...}()``, ``go func() {...}()``, ``defer ...``."""
    parent = literal.parent
    return (
        parent is not None
        and parent.type == "call_expression"
        and parent.child_by_field_name("function") == literal
    )


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


#: The last file's package-level holders: the type names its package-level variables mention
#: (rules ask once per method; only the file's top level is read, so a keystroke costs little).
_file_holders: list[tuple[Node, frozenset[str]]] = []


def _held_types(root: Node) -> frozenset[str]:
    entry = _file_holders[0] if _file_holders else None  # one read: another thread may replace it
    if entry is not None and entry[0] == root:
        return entry[1]
    held: set[str] = set()
    for declaration in root.named_children:
        if declaration.type != "var_declaration":
            continue
        for spec in var_specs(declaration):
            held.update(
                _IDENTIFIER.findall(text(spec.child_by_field_name("type")) + " " + text(spec.child_by_field_name("value")))
            )
    found = frozenset(held)
    _file_holders[:] = [(root, found)]
    return found


def made_values(root: Node, type_name: str, source: bytes | None = None) -> list[Node]:
    """Where the file makes values of the type: ``T{...}``, ``&T{...}`` (the literal), ``new(T)``.

    The file's text (``source``, the root's own when None) is searched for ``T {`` and
    ``new(T)`` first, so that only those places are looked at in the tree."""
    if not _IDENTIFIER.fullmatch(type_name):
        return []
    if source is None:
        source = root.text or b""
    name = type_name.encode()
    found: list[Node] = []
    for here in _places_making(source, name):
        before = source[here - 1 : here] if here else b""
        if before.isalnum() or before in (b"_", b"."):
            continue
        node = root.descendant_for_byte_range(here, here + len(name))
        if node is None or node.type != "type_identifier" or text(node) != type_name:
            continue
        parent = node.parent
        if parent is not None and parent.type == "composite_literal" and parent.child_by_field_name("type") == node:
            found.append(parent)
            continue
        call = parent.parent if parent is not None and parent.type == "argument_list" else None
        if (
            call is not None
            and call.type == "call_expression"
            and parent is not None
            and parent.named_child_count == 1
            and text(call.child_by_field_name("function")) == "new"
        ):
            found.append(call)
    return found


#: The places found in the last text searched, by type name: the rules ask again for each
#: method of the type they look at, and a keystroke's analysis looks at several.
_made_in: list[tuple[bytes, dict[bytes, list[int]]]] = []


def _places_making(source: bytes, name: bytes) -> list[int]:
    entry = _made_in[0] if _made_in else None  # one read: another thread may replace it
    if entry is None or entry[0] is not source:
        entry = (source, {})
        _made_in[:] = [entry]
    places = entry[1].get(name)
    if places is None:
        literal, allocated = _making(name)
        places = entry[1][name] = sorted(
            [m.start() for m in literal.finditer(source)] + [m.start(1) for m in allocated.finditer(source)]
        )
    return places


def forget_texts() -> None:
    """Let go of what is kept of the last text and tree read (a closed document's, perhaps)."""
    _made_in.clear()
    _file_holders.clear()


@functools.lru_cache(maxsize=256)
def _making(name: bytes) -> tuple[re.Pattern[bytes], re.Pattern[bytes]]:
    """Patterns of the places that may make a value of the named type: ``T {``, ``new( T )``."""
    quoted = re.escape(name)
    return re.compile(quoted + rb"(?=\s{0,63}\{)"), re.compile(rb"new\(\s{0,60}(" + quoted + rb")(?=\s{0,63}\))")


def package_variable_holds(root: Node, type_name: str) -> bool:
    """Does a package-level variable of the file have the type, or a value that mentions it
    (``var h = &hub{}``, ``var s Server``)?"""
    return type_name in _held_types(root)
