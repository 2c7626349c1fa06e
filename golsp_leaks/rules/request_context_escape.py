"""request-context-escape: a request's context object (or Fiber's strings) kept past the handler."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from tree_sitter import Node

from golsp_leaks.goanalysis.dataflow.engine import exits_missing_release
from golsp_leaks.goanalysis.libraries.frameworks import (
    FIBER_UTILS,
    REQUEST_MARKERS,
    Handler,
    base_type_name,
    package_variable_holds,
    receiver,
)
from golsp_leaks.goanalysis.names.scopes import (
    Declaration,
    declaration_of,
    occurrences,
    same,
)
from golsp_leaks.goanalysis.summaries.facts import FLAGS, GLOBALS, MADE_IN_FILE, SCOPE_FACTS
from golsp_leaks.goanalysis.summaries.params import ignores_argument
from golsp_leaks.goanalysis.syntax.edits import import_edit, insert_statement_before, unique_name
from golsp_leaks.goanalysis.syntax.nodes import FUNCTION_TYPES, enclosing_statement, text
from golsp_leaks.goanalysis.syntax.parse import cursor
from golsp_leaks.model import Applicability, Edit, Finding, Fix, Related, Severity
from golsp_leaks.rules.base import FileContext, FixKind, Rule

_FUNCTIONS = "[(function_declaration) (method_declaration) (func_literal)] @f"
_GO = "(go_statement (call_expression function: (_) @function arguments: (argument_list) @args) @call) @go"
_ASSIGNMENTS = "(assignment_statement left: (expression_list) @left right: (expression_list) @right) @assign"
_INC = "(inc_statement (index_expression) @target) @inc"
_SENDS = "(send_statement channel: (_) @channel value: (_) @value) @send"
_STORE_CALLS = """
(call_expression function: (selector_expression operand: (identifier) @global field: (field_identifier) @method)
                 arguments: (argument_list) @args) @call
"""
_WAITS = """
[(unary_expression operator: "<-") @wait
 (call_expression function: (selector_expression field: (field_identifier) @method)) @call
 (range_clause) @wait]
"""
_LOCAL_GETTERS = """
(short_var_declaration left: (expression_list . (identifier) @name .)
                       right: (expression_list . (call_expression) @call .)) @decl
"""

#: Fiber Ctx methods whose result points into fasthttp's reused buffers.
FIBER_STRING_GETTERS = frozenset(
    {"Params", "Query", "Get", "Cookies", "FormValue", "IP", "Path", "Method", "OriginalURL", "Hostname",
     "BaseURL", "Protocol", "GetRespHeader", "Body", "BodyRaw"}
)
_FIBER_BYTES = frozenset({"Body", "BodyRaw"})
#: Calls that copy a string or byte slice.
_COPIES = frozenset({"CopyString", "CopyBytes", "Clone", "string", "Sprintf", "Sprint", "ToLower", "ToUpper"})
_GO_KEYWORDS = frozenset(
    {"break", "case", "chan", "const", "continue", "default", "defer", "else", "fallthrough", "for", "func",
     "go", "goto", "if", "import", "interface", "map", "package", "range", "return", "select", "struct",
     "switch", "type", "var"}
)
_WORDS = re.compile(r"[A-Za-z0-9]+")
_INITIALISMS = frozenset({"id", "url", "ip", "api", "http", "json", "uri", "uuid"})

_REUSE = {
    "gin": "gin reuses {c} for another request once the handler returns",
    "fiber": "Fiber reuses {c} (and the strings it returns) for another request once the handler returns",
    "echo": "Echo reuses {c} for another request once the handler returns",
    "buffalo": "{c} is the request's context: once the handler returns it is cancelled and its request, "
    "response and session are gone",
}


@dataclass(frozen=True)
class _Names:
    """The per-request variables of one handler, by their declarations (resolved with scopes: a
    variable of the same name declared elsewhere, a closure's parameter say, is another one)."""

    handler: Handler
    #: The names of the handler's parameters that are per-request objects (the framework
    #: context, or the request and the writer).
    names: frozenset[str]
    #: Locals bound straight to a Fiber getter's result, and that call.
    fiber_strings: tuple[tuple[Declaration, Node], ...]
    source: bytes

    @functools.cached_property
    def objects(self) -> tuple[Declaration, ...]:
        """The declarations of those parameters (resolved when first asked about)."""
        return _parameters(self.handler.func, set(self.names), self.source)

    def is_object(self, node: Node) -> bool:
        return (
            node.type == "identifier"
            and text(node) in self.names
            and any(same(declaration_of(node, self.source), d) for d in self.objects)
        )

    def object_uses(self, root: Node) -> list[Node]:
        """The identifiers under ``root`` that are one of the per-request objects."""
        return sorted((n for d in self.objects for n in occurrences(d, root, self.source)), key=lambda n: n.start_byte)

    def fiber_string_uses(self, root: Node) -> list[tuple[Node, Node]]:
        """The identifiers under ``root`` that are one of the Fiber strings, with the getter call of each."""
        found = [(n, call) for d, call in self.fiber_strings for n in occurrences(d, root, self.source)]
        return sorted(found, key=lambda pair: pair[0].start_byte)


class RequestContextEscape(Rule):
    """
    ## What it does
    Reports a request's per-request objects kept past the handler: a
    `*fiber.Ctx` / `fiber.Ctx`, `buffalo.Context`, `*gin.Context`,
    `echo.Context`, or an `*http.Request` / `http.ResponseWriter`, when it is

    * used in a goroutine that can outlive the handler (one it does not wait for
      with `wg.Wait()` or a receive before returning), or passed to one;
    * stored in a package-level variable, map or slice, or in a field of the
      handler's receiver; or sent on such a long-lived channel with no reply
      awaited before the handler returns.

    Also reported: the request's `context.Context` (`r.Context()`,
    `c.Request().Context()`, `c.Request.Context()`) handed to a goroutine that
    outlives the handler — it is cancelled when the handler returns — and, for
    Fiber, strings taken from the context (`c.Params`, `c.Query`, `c.Get`,
    `c.Body`...) kept past the handler without a copy (unless the package
    configures `fiber.Config{Immutable: true}`).  A goroutine that only
    watches `r.Context().Done()` is fine.

    Not reported: a store in a field of a value receiver (`func (p Page) Show(c
    *gin.Context) { p.Ctx = c }`: the receiver is the call's own copy), unless
    the field is shared (`p.m[k] = c`, a field promoted from an embedded
    pointer); a store in a field of a pointer receiver whose lifetime the
    callers decide — a method without a handler's results (a builder
    `func (a *API) With(c *gin.Context) *API`, a helper returning a new
    request), or a type every value of which the file makes in per-request
    code — unless a package-level variable of the file holds one; a Gin or
    Echo goroutine whose first statement waits for the request's end
    (`<-c.Writer.CloseNotify()`, `<-c.Request.Context().Done()`) and which
    uses the context nowhere else; a net/http goroutine that only reads what net/http leaves alone
    once the handler has returned (it never reuses a Request): `r.Method`,
    `r.URL`, `r.Header.Get(k)`, `r.UserAgent()`, `r.Context().Value(k)`; a
    net/http timeout middleware built like `http.TimeoutHandler`, whose
    goroutine gets `r.WithContext(ctx)` (and not the real writer) and which
    waits for it in a `select`; and a request handed to a function of the file
    that never uses that parameter (`_ *http.Request`).

    ## Why is this bad?
    Fiber, Echo and Gin put their context objects back in a pool when the
    handler returns and hand them to the next request: a goroutine that still
    reads `c` sees another request's headers and parameters, or races with it
    (Gin asks for `c.Copy()` in goroutines).  Fiber's strings point into
    fasthttp's reused buffers, so a map key or a log line taken from
    `c.Params("id")` changes under you.  net/http closes the request body and
    cancels the request's context when the handler returns, and a
    `ResponseWriter` must not be used after that.  Kept in a package-level
    variable, any of them also keeps the whole request alive.

    ## Example
    ```go
    func callback(c *gin.Context) {
        go func() {
            log.Printf("callback from %s", c.ClientIP())
        }()
        c.Status(http.StatusAccepted)
    }
    ```

    ## Use instead
    ```go
    func callback(c *gin.Context) {
        cCopy := c.Copy()
        go func() {
            log.Printf("callback from %s", cCopy.ClientIP())
        }()
        c.Status(http.StatusAccepted)
    }
    ```

    ## Fix safety
    Gin: the goroutine gets `cCopy := c.Copy()`, made before it starts, which is
    what Gin documents for goroutines.  Fiber: when the goroutine only reads
    values from `c` (`c.Params("id")`, `c.Body()`...), each is copied before it
    starts (`utils.CopyString` when the file already imports Fiber's utils,
    else `strings.Clone` / `bytes.Clone`), and a local that holds such a string
    is copied where it is bound.  A request context passed to a goroutine can be
    wrapped in `context.WithoutCancel` (Go 1.21+): the values stay, the
    cancellation goes.  No fix for objects stored in package-level state: the
    design has to change.
    """

    id = "request-context-escape"
    summary = "a request's context (or request, writer, Fiber strings) is kept past the handler"
    requires = (*SCOPE_FACTS, FLAGS, GLOBALS, MADE_IN_FILE)
    default_severity = Severity.WARNING
    fix_kinds = (
        FixKind("Pass the goroutine `{c}.Copy()`", Applicability.UNSAFE, "a copied Gin context has no writer: a goroutine that answers the request panics"),
        FixKind("Use a copy in the goroutine: `{copy} := {c}.Copy()`", Applicability.UNSAFE, "a copied Gin context has no writer: a goroutine that answers the request panics"),
        FixKind("Keep the request's values but not its cancellation: `context.WithoutCancel`", Applicability.UNSAFE),
        FixKind("Copy the values the goroutine needs before it starts", Applicability.UNSAFE, "the reads move before the `go` statement"),
        FixKind("Copy the values before the goroutine starts", Applicability.UNSAFE, "the reads move before the `go` statement"),
        FixKind("Copy the value where it is bound: `{copy}`", Applicability.SAFE),
    )
    triggers = REQUEST_MARKERS

    def check(self, decl: Node, ctx: FileContext) -> Iterable[Finding]:
        if decl.type not in ("function_declaration", "method_declaration"):
            return
        recv = receiver(decl)
        recv_name = recv[0] if recv is not None and recv[0] not in ("", "_") else ""
        copied = recv is not None and bool(recv_name) and _receiver_is_a_copy(decl, recv[1], ctx)

        @functools.cache
        def holder() -> str:
            """The receiver's name, or "" when it lives as long as the call that made it (its fields too)."""
            if recv is not None and recv_name and not copied and _holder_per_call(decl, recv[1], ctx):
                return ""
            return recv_name

        for func in cursor(_FUNCTIONS).captures(decl).get("f", []):
            # A function the package calls from handlers (framework "unknown") has no request
            # object to leak: only a handler's shape counts, which asks for no package facts.
            handler = ctx.scope.shaped_handler(func)
            if handler is None:
                continue
            objects = frozenset(n for n in (handler.param, handler.writer) if n and n != "_")
            if not objects:
                continue
            fiber_strings = (
                _fiber_string_locals(func, handler, ctx.source)
                if handler.framework == "fiber" and "fiber-immutable" not in ctx.package.flags
                else ()
            )
            names = _Names(handler, objects, fiber_strings, ctx.source)
            yield from self._goroutines(func, names, ctx)
            yield from self._stores(func, names, holder() if func == decl else "", ctx, copied)

    # --- goroutines ---------------------------------------------------------------

    def _goroutines(self, func: Node, names: _Names, ctx: FileContext) -> Iterator[Finding]:
        handler = names.handler
        for _, captures in cursor(_GO).matches(func):
            go = captures["go"][0]
            if _owner(go, ctx) != func:
                continue
            function = captures["function"][0]
            args = captures["args"][0]
            if function.type == "func_literal":
                uses = _uses_in(function, names, ctx)
                if handler.framework == "net/http":
                    uses = [u for u in uses if not _stays_valid(u, handler)]
                    if any(_request_copy(u, handler) for u in uses) and _awaited(func, go, function):
                        uses = [u for u in uses if not _request_copy(u, handler)]
                if not (
                    uses
                    or names.fiber_string_uses(function)
                    or _context_args(args, handler)
                    or _fiber_args(args, handler, ctx)
                ):
                    continue
                if _joined(func, go, function):
                    continue
                yield from self._literal_finding(go, function, args, uses, names, ctx)
            else:
                if _joined(func, go, None):
                    continue
                yield from self._call_finding(go, function, args, names, ctx)

    def _literal_finding(
        self,
        go: Node,
        literal: Node,
        args: Node,
        uses: list[Node],
        names: _Names,
        ctx: FileContext,
    ) -> Iterator[Finding]:
        handler = names.handler
        params = literal.child_by_field_name("parameters")
        end = params.end_byte if params is not None else go.start_byte + 2
        per_request = True
        if uses:
            used = sorted({text(u) for u in uses})
            message = _reuse_message(handler, used) + ": this goroutine can still be using it after that"
            related = tuple(Related(u.start_byte, u.end_byte, f"{text(u)} used in the goroutine") for u in uses[:3])
            fixes = _gin_copy_fix(ctx, go, literal, uses, handler) if handler.framework == "gin" else []
            if handler.framework == "fiber":
                fixes = _fiber_hoist_fix(ctx, go, literal, uses, handler)
            yield Finding(self.id, go.start_byte, end, message, related, tuple(fixes), per_request)
            return
        captured = names.fiber_string_uses(literal)
        if captured:
            name, decl_call = text(captured[0][0]), captured[0][1]
            message = (
                f"{name} comes from {text(decl_call)}, which points into a buffer Fiber reuses once the "
                "handler returns: this goroutine can read another request's bytes"
            )
            fixes = _copy_local_fix(ctx, decl_call, handler)
            yield Finding(self.id, go.start_byte, end, message, (), tuple(fixes), per_request)
            return
        getters = _fiber_args(args, handler, ctx)
        if getters:
            yield self._fiber_arg_finding(go, end, getters, ctx, handler)
            return
        yield from self._context_arg_findings(go, end, args, handler, ctx)

    def _fiber_arg_finding(self, go: Node, end: int, getters: list[Node], ctx: FileContext, handler: Handler) -> Finding:
        message = (
            f"{text(getters[0])} points into a buffer Fiber reuses once the handler returns: the goroutine "
            "started here can read another request's bytes"
        )
        return Finding(self.id, go.start_byte, end, message, (), tuple(_wrap_copies(ctx, getters, handler)), True)

    def _call_finding(self, go: Node, function: Node, args: Node, names: _Names, ctx: FileContext) -> Iterator[Finding]:
        handler = names.handler
        direct = [
            a
            for a in args.named_children
            if names.is_object(a) and not _ignored_by_callee(a, ctx)
        ]
        end = args.end_byte if args.end_point.row == go.start_point.row else function.end_byte
        if direct:
            used = sorted({text(a) for a in direct})
            message = _reuse_message(handler, used) + ": the goroutine started here can still be using it after that"
            fixes: list[Fix] = []
            if handler.framework == "gin":
                edits = tuple(Edit(a.start_byte, a.end_byte, f"{text(a)}.Copy()") for a in direct)
                fixes.append(Fix(f"Pass the goroutine `{handler.param}.Copy()`", edits, Applicability.UNSAFE))
            yield Finding(self.id, go.start_byte, end, message, (), tuple(fixes), True)
            return
        getters = _fiber_args(args, handler, ctx)
        if getters:
            yield self._fiber_arg_finding(go, end, getters, ctx, handler)
            return
        yield from self._context_arg_findings(go, end, args, handler, ctx)

    def _context_arg_findings(
        self, go: Node, end: int, args: Node, handler: Handler, ctx: FileContext
    ) -> Iterator[Finding]:
        contexts = _context_args(args, handler)
        if not contexts:
            return
        message = (
            f"this goroutine gets the request's context ({text(contexts[0])}), which is cancelled as soon as "
            "the handler returns: its work is cut short"
        )
        fixes: list[Fix] = []
        imported = import_edit(ctx.source, ctx.root, "context") if ctx.go_at_least(1, 21) else None
        if imported is not None:
            pkg, import_change = imported
            edits = [Edit(a.start_byte, a.end_byte, f"{pkg}.WithoutCancel({text(a)})") for a in contexts]
            if import_change is not None:
                edits.append(import_change)
            fixes.append(
                Fix("Keep the request's values but not its cancellation: `context.WithoutCancel`", tuple(edits), Applicability.UNSAFE)
            )
        yield Finding(self.id, go.start_byte, end, message, (), tuple(fixes), True)

    # --- stores and sends ----------------------------------------------------------

    def _stores(
        self, func: Node, names: _Names, recv_name: str, ctx: FileContext, copied: bool = False
    ) -> Iterator[Finding]:
        """``copied``: the receiver is a value, a copy made for this call."""
        handler = names.handler

        def globals_() -> frozenset[str]:
            return ctx.package.globals  # read only for a target that may be package-level

        seen: set[int] = set()
        for _, captures in cursor(_ASSIGNMENTS).matches(func):
            assign = captures["assign"][0]
            if _owner(assign, ctx) != func:
                continue
            left = captures["left"][0].named_children
            right = captures["right"][0].named_children
            for i, target in enumerate(left):
                value = right[i] if len(right) == len(left) else (right[0] if right else None)
                where = _long_lived_target(target, globals_, recv_name, func, copied=copied)
                if where is None or value is None:
                    continue
                finding = self._stored(target, value, where, names, ctx, seen)
                if finding is not None:
                    yield finding
        for _, captures in cursor(_INC).matches(func):
            target = captures["target"][0]
            where = _long_lived_target(target, globals_, recv_name, func, copied=copied)
            if where is not None and _owner(target, ctx) == func:
                key = target.child_by_field_name("index")
                finding = self._stored(target, None, where, names, ctx, seen, key=key)
                if finding is not None:
                    yield finding
        for _, captures in cursor(_STORE_CALLS).matches(func):
            global_name = text(captures["global"][0])
            if text(captures["method"][0]) not in ("Store", "LoadOrStore", "Swap") or global_name not in ctx.package.globals:
                continue
            call = captures["call"][0]
            if _owner(call, ctx) != func or _declared_locally(func, global_name):
                continue
            finding = self._stored(call, captures["args"][0], f"package-level {global_name}", names, ctx, seen)
            if finding is not None:
                yield finding
        for _, captures in cursor(_SENDS).matches(func):
            send = captures["send"][0]
            if _owner(send, ctx) != func:
                continue
            value = captures["value"][0]
            if _long_lived_target(captures["channel"][0], globals_, recv_name, func, field_only=False) is None:
                continue  # a local channel: it goes no further than what the handler can see
            kept = _object_values(value, names)
            strings = _fiber_values(value, names, handler, ctx)
            if not kept and not strings:
                continue
            if _answered(func, send):
                continue
            node = (kept or strings)[0]
            what = text(node)
            message = (
                f"{what} is sent on a channel: whoever receives it keeps it past the handler, "
                f"when {_reuse_phrase(handler, what)}"
            )
            if node.start_byte not in seen:
                seen.add(node.start_byte)
                yield Finding(self.id, node.start_byte, node.end_byte, message, (), (), True)

    def _stored(
        self,
        target: Node,
        value: Node | None,
        where: str,
        names: _Names,
        ctx: FileContext,
        seen: set[int],
        key: Node | None = None,
    ) -> Finding | None:
        handler = names.handler
        kept = _object_values(value, names) if value is not None else []
        strings = _fiber_values(value, names, handler, ctx) if value is not None else []
        index = key if key is not None else (target.child_by_field_name("index") if target.type == "index_expression" else None)
        if index is not None:
            strings += _fiber_values(index, names, handler, ctx)
        if kept:
            node = kept[0]
            message = (
                f"{text(node)} is stored in {where}, which outlives the handler, when {_reuse_phrase(handler, text(node))}"
            )
        elif strings:
            node = strings[0]
            message = (
                f"{text(node)} points into a buffer Fiber reuses once the handler returns, and it is kept in "
                f"{where}: copy it first (utils.CopyString, strings.Clone)"
            )
        else:
            return None
        if node.start_byte in seen:
            return None
        seen.add(node.start_byte)
        return Finding(self.id, node.start_byte, node.end_byte, message, (), (), True)


# --- helpers -------------------------------------------------------------------------


def _owner(node: Node, ctx: FileContext) -> Node | None:
    """The innermost handler around a node (code in a nested handler belongs to that one)."""
    current = node.parent
    while current is not None:
        if current.type in FUNCTION_TYPES and ctx.scope.handler(current) is not None:
            return current
        current = current.parent
    return None


def _reuse_message(handler: Handler, used: list[str]) -> str:
    if handler.framework == "net/http":
        if handler.writer and handler.writer in used:
            return f"the ResponseWriter {handler.writer} must not be used once the handler returns"
        return f"the request's body is closed and its context cancelled once the handler returns ({', '.join(used)})"
    return _REUSE[handler.framework].format(c=", ".join(used))


def _reuse_phrase(handler: Handler, what: str) -> str:
    if handler.framework == "net/http":
        return "the request's body is closed and its context cancelled once the handler returns"
    return _REUSE[handler.framework].format(c=what)


def _uses_in(literal: Node, names: _Names, ctx: FileContext) -> list[Node]:
    """Uses of the per-request objects inside a goroutine literal (watching r.Context().Done() is fine)."""
    return [
        mention
        for mention in names.object_uses(literal)
        if not (_watches_done(mention) or _ignored_by_callee(mention, ctx) or _inner_handler(mention, literal, ctx))
    ]


def _ignored_by_callee(mention: Node, ctx: FileContext) -> bool:
    """``helper(x, r)`` where the file's ``helper`` never uses that parameter (``_ *http.Request``)."""
    args = mention.parent
    call = args.parent if args is not None and args.type == "argument_list" else None
    if args is None or call is None or call.type != "call_expression":
        return False
    index = next(i for i, a in enumerate(args.named_children) if a == mention)
    return ignores_argument(call, index, ctx.source)


def _parameters(func: Node, names: set[str], source: bytes) -> tuple[Declaration, ...]:
    """The declarations of the parameters of ``func`` called one of ``names``."""
    params = func.child_by_field_name("parameters")
    found = []
    for param in params.named_children if params is not None else []:
        for ident in param.children_by_field_name("name"):
            declaration = declaration_of(ident, source) if text(ident) in names else None
            if declaration is not None:
                found.append(declaration)
    return tuple(found)


#: Fields of an *http.Request that net/http leaves alone after the handler returns (it never
#: reuses a Request): reading them later sees what the request had.
_REQUEST_FIELDS = frozenset(
    {"Method", "URL", "Host", "RemoteAddr", "RequestURI", "Proto", "ProtoMajor", "ProtoMinor", "ContentLength",
     "Pattern"}
)
#: Methods of an *http.Request that read only its headers or URL.
_REQUEST_READERS = frozenset({"UserAgent", "Referer", "Cookie", "Cookies", "BasicAuth", "PathValue"})
_HEADER_READERS = frozenset({"Get", "Values"})


def _stays_valid(mention: Node, handler: Handler) -> bool:
    """net/http: ``r.Method``, ``r.URL.Path``, ``r.Header.Get(k)``, ``r.UserAgent()``,
    ``r.Context().Value(k)`` -- reads of what stays valid once the handler has returned (the
    request's method, URL and headers, and its context's values, which outlive its
    cancellation).  Not the body, the form (read from the body), the writer, or the request
    handed on whole."""
    if text(mention) != handler.param:
        return False
    selector = mention.parent
    if selector is None or selector.type != "selector_expression" or selector.child_by_field_name("operand") != mention:
        return False
    field = text(selector.child_by_field_name("field"))
    outer = selector.parent
    if _assigned(selector):
        return False
    if field in _REQUEST_FIELDS:
        return True
    called = outer is not None and outer.type == "call_expression" and outer.child_by_field_name("function") == selector
    if field in _REQUEST_READERS:
        return called
    if field == "Header" and outer is not None:
        if outer.type == "index_expression" and outer.child_by_field_name("operand") == selector:
            return not _assigned(outer)
        call = outer.parent
        return (
            outer.type == "selector_expression"
            and text(outer.child_by_field_name("field")) in _HEADER_READERS
            and call is not None
            and call.type == "call_expression"
        )
    if field == "Context" and called and outer is not None:
        value = outer.parent
        call = value.parent if value is not None else None
        return (
            value is not None
            and value.type == "selector_expression"
            and text(value.child_by_field_name("field")) == "Value"
            and call is not None
            and call.type == "call_expression"
        )
    return False


def _request_copy(mention: Node, handler: Handler) -> bool:
    """``r.WithContext(ctx)`` or ``r.Clone(ctx)``: a new Request with its own context."""
    selector = mention.parent
    call = selector.parent if selector is not None else None
    return (
        text(mention) == handler.param
        and selector is not None
        and selector.type == "selector_expression"
        and text(selector.child_by_field_name("field")) in ("WithContext", "Clone")
        and call is not None
        and call.type == "call_expression"
        and call.child_by_field_name("function") == selector
    )


_SELECT_RECEIVES = """
(select_statement (communication_case communication: [
    (receive_statement right: (unary_expression operand: (identifier) @channel))
    (unary_expression operand: (identifier) @channel)]))  @select
"""


def _awaited(func: Node, go: Node, literal: Node) -> bool:
    """Is the goroutine followed by a ``select`` that waits on a channel it uses (the way
    http.TimeoutHandler waits for its handler or the deadline)?  net/http does not reuse the
    request; what a timeout leaves behind is the goroutine's own copy."""
    used = {text(n) for n in cursor("(identifier) @id").captures(literal).get("id", [])}
    for _, captures in cursor(_SELECT_RECEIVES).matches(func):
        if captures["select"][0].start_byte > go.end_byte and any(text(c) in used for c in captures["channel"]):
            return True
    return False


def _assigned(node: Node) -> bool:
    """Is ``node`` (part of) the left side of an assignment?"""
    current = node
    while current.parent is not None and current.parent.type in ("selector_expression", "index_expression"):
        current = current.parent
    parent = current.parent
    if parent is not None and parent.type == "expression_list":
        statement = parent.parent
        return statement is not None and statement.type == "assignment_statement" and (
            statement.child_by_field_name("left") == parent
        )
    return parent is not None and parent.type in ("inc_statement", "dec_statement")


def _inner_handler(mention: Node, literal: Node, ctx: FileContext) -> bool:
    current = mention.parent
    while current is not None and current != literal:
        if current.type in FUNCTION_TYPES and ctx.scope.handler(current) is not None:
            return True
        current = current.parent
    return False


def _watches_done(mention: Node) -> bool:
    """``r.Context().Done()`` or ``.Err()``: watching for the end of the request."""
    whole = mention
    for _ in range(5):
        if whole.parent is None or whole.parent.type not in ("selector_expression", "call_expression"):
            break
        whole = whole.parent
    expr = text(whole).replace(" ", "")
    name = text(mention)
    if expr in (f"{name}.Context().Done()", f"{name}.Context().Err()"):
        return True
    # Gin and Echo: waiting for the end of the request as the goroutine's first statement reads the
    # context while the handler is still running, and never again.
    watched = (f"{name}.Request.Context().Done()", f"{name}.Request().Context().Done()", f"{name}.Writer.CloseNotify()")
    return expr in watched and _first_statement_receive(whole)


def _first_statement_receive(expr: Node) -> bool:
    """Is ``expr`` the operand of a receive that is the first statement of a goroutine literal?"""
    receive = expr.parent
    stmt = receive.parent if receive is not None else None
    if receive is None or receive.type != "unary_expression" or stmt is None or stmt.type != "expression_statement":
        return False
    block = stmt.parent
    if block is not None and block.type == "statement_list":
        block = block.parent
    literal = block.parent if block is not None else None
    if literal is None or literal.type != "func_literal" or literal.parent is None:
        return False
    go = literal.parent.parent
    first = next((c for c in (stmt.parent.named_children if stmt.parent else []) if c.type != "comment"), None)
    return go is not None and go.type == "go_statement" and first == stmt


def _fiber_string_locals(func: Node, handler: Handler, source: bytes) -> tuple[tuple[Declaration, Node], ...]:
    """Locals bound straight to a Fiber getter: ``id := c.Params("id")`` (the variable, the call)."""
    found: list[tuple[Declaration, Node]] = []
    for _, captures in cursor(_LOCAL_GETTERS).matches(func):
        call = captures["call"][0]
        declaration = declaration_of(captures["name"][0], source) if _fiber_getter(call, handler) else None
        if declaration is not None and declaration.node == captures["name"][0]:
            found.append((declaration, call))
    return tuple(found)


def _fiber_getter(node: Node, handler: Handler) -> bool:
    """``c.Params("id")`` and the like (not wrapped in a copy)."""
    if node.type != "call_expression":
        return False
    function = node.child_by_field_name("function")
    if function is None or function.type != "selector_expression":
        return False
    operand = function.child_by_field_name("operand")
    return (
        operand is not None
        and operand.type == "identifier"
        and text(operand) == handler.param
        and text(function.child_by_field_name("field")) in FIBER_STRING_GETTERS
    )


def _fiber_args(args: Node, handler: Handler, ctx: FileContext) -> list[Node]:
    """Goroutine arguments that are uncopied Fiber strings (``go f(c.Params("id"))``)."""
    if handler.framework != "fiber" or "fiber-immutable" in ctx.package.flags:
        return []
    return [a for a in args.named_children if _fiber_getter(a, handler)]


def _context_args(args: Node, handler: Handler) -> list[Node]:
    """Arguments that are the request's (cancelled-at-return) context."""
    wanted: set[str] = set()
    p = handler.param
    if handler.framework == "net/http":
        wanted.add(f"{p}.Context()")
    elif handler.framework == "echo":
        wanted.add(f"{p}.Request().Context()")
    elif handler.framework == "gin":
        wanted.add(f"{p}.Request.Context()")
    return [a for a in args.named_children if text(a).replace(" ", "") in wanted]


def _joined(func: Node, go: Node, literal: Node | None) -> bool:
    """Does the handler wait for the goroutine on every path after starting it (``wg.Wait()``,
    ``g.Wait()``, a receive from a channel the goroutine uses)?"""
    stmt = enclosing_statement(go)
    if stmt is None:
        return False
    used_names = {text(n) for n in cursor("(identifier) @id").captures(literal).get("id", [])} if literal else set()
    waits: list[int] = []
    for _, captures in cursor(_WAITS).matches(func):
        if "method" in captures:
            if text(captures["method"][0]) == "Wait":
                waits.append(captures["call"][0].start_byte)
            continue
        node = captures["wait"][0]
        if node.start_byte < go.end_byte:
            continue
        operand = node.child_by_field_name("operand") if node.type == "unary_expression" else node.child_by_field_name("right")
        root = operand
        while root is not None and root.type == "selector_expression":
            root = root.child_by_field_name("operand")
        if root is not None and text(root) in used_names:
            waits.append(node.start_byte)
    if not waits:
        return False
    report = exits_missing_release(func, stmt, waits)
    return report is not None and not report.missed and not report.falls_off_end_unused


def _answered(func: Node, send: Node) -> bool:
    """A send followed, on every path, by a receive: a request/reply handoff the handler waits on."""
    stmt = enclosing_statement(send)
    if stmt is None:
        return False
    waits = [
        c["wait"][0].start_byte
        for _, c in cursor(_WAITS).matches(func)
        if "wait" in c and c["wait"][0].start_byte > send.end_byte
    ]
    if not waits:
        return False
    report = exits_missing_release(func, stmt, waits)
    return report is not None and not report.missed and not report.falls_off_end_unused


def _declared_locally(func: Node, name: str) -> bool:
    qc = cursor(
        """
        [(short_var_declaration left: (expression_list (identifier) @n))
         (var_spec name: (identifier) @n)
         (parameter_declaration name: (identifier) @n)
         (range_clause left: (expression_list (identifier) @n))]
        """
    )
    return any(text(n) == name for n in qc.captures(func).get("n", []))


def _long_lived_target(
    target: Node,
    globals_: Callable[[], frozenset[str]],
    recv_name: str,
    func: Node,
    field_only: bool = True,
    copied: bool = False,
) -> str | None:
    """``g``, ``g[k]``, ``g.f``, ``s.f[k]`` for a package-level ``g`` or the handler's receiver ``s``
    (the receiver itself only with ``field_only=False``; ``globals_`` gives the package-level names).  With ``copied`` (a value receiver),
    ``s.f`` is the call's own copy: only what a field shares (``s.f[k]``, ``s.f.g``) outlives it."""
    node = target
    nested = False
    steps = 0
    while node.type in ("index_expression", "selector_expression"):
        nested = True
        steps += 1 if node.type == "selector_expression" else 2
        operand = node.child_by_field_name("operand")
        if operand is None:
            return None
        node = operand
    if node.type != "identifier":
        return None
    name = text(node)
    if recv_name and name == recv_name:
        if copied and steps == 1 and field_only:
            return None
        return f"a field of {name}" if nested or not field_only else None
    if _declared_locally(func, name) or name not in globals_():
        return None
    return f"package-level {name}"


_STRUCTS = "(type_spec name: (type_identifier) @name type: (struct_type) @struct)"


def _receiver_is_a_copy(decl: Node, type_name: str, ctx: FileContext) -> bool:
    """Is the method's receiver a value (``func (p Page) ...``) whose fields are its own?  Not
    when its struct, declared in this file, embeds a pointer (directly or in an embedded
    struct of this file): a field promoted from there is shared."""
    recv = decl.child_by_field_name("receiver")
    param = recv.named_children[0] if recv is not None and recv.named_child_count else None
    type_node = param.child_by_field_name("type") if param is not None else None
    if type_node is None or type_node.type == "pointer_type" or not type_name:
        return False
    structs = {
        text(c["name"][0]): c["struct"][0] for _, c in cursor(_STRUCTS).matches(ctx.root) if "struct" in c
    }
    pending, visited = [type_name], set()
    while pending:
        name = pending.pop()
        if name in visited or name not in structs:
            continue
        visited.add(name)
        for field in cursor("(field_declaration) @f").captures(structs[name]).get("f", []):
            if field.child_by_field_name("name") is not None:
                continue
            embedded = field.child_by_field_name("type")
            if embedded is None or any(child.type == "*" for child in field.children):
                return False  # an embedded pointer
            pending.append(base_type_name(embedded))
    return True


#: What a handler returns, per framework: a method with the request object and other results is a helper.
_HANDLER_RESULTS = {"net/http": "", "gin": "", "fiber": "error", "echo": "error", "buffalo": "error"}


def _holder_per_call(decl: Node, type_name: str, ctx: FileContext) -> bool:
    """Is the pointer receiver of ``decl`` a value whose lifetime its callers decide, one call long?

    * ``decl`` does not have a handler's results (``func (e *Api) Bind(c *gin.Context) *Api``,
      ``func (c *Capture) renew(w, r) (http.ResponseWriter, *http.Request)``): it cannot be
      registered as a handler, so it is a helper its callers hand the request to, on a holder of
      theirs; or
    * every value of the type this file makes (``T{}``, ``&T{}``, ``new(T)``) is made in code that
      runs per request, and no package-level variable of the file holds one.

    A package-level variable of the type (``var h = &hub{}``) always makes the holder long-lived."""
    if not type_name or package_variable_holds(ctx.root, type_name):
        return False
    handler = ctx.scope.handler(decl)
    if handler is not None and handler.framework in _HANDLER_RESULTS:
        result = decl.child_by_field_name("result")
        if text(result).replace(" ", "") != _HANDLER_RESULTS[handler.framework]:
            return True
    made = ctx.made_values(type_name)
    return bool(made) and all(ctx.scope.is_per_request(m) for m in made)


def _object_values(value: Node, names: _Names) -> list[Node]:
    """Mentions of the per-request objects used as values (not ``c.X`` or ``c.M()``)."""
    found = []
    for mention in names.object_uses(value):
        parent = mention.parent
        if parent is not None and parent.type == "selector_expression" and parent.child_by_field_name("operand") == mention:
            continue
        if parent is not None and parent.type == "call_expression" and parent.child_by_field_name("function") == mention:
            continue
        if _inside_function(mention, value) or _passed_to_call(mention, value):
            continue
        found.append(mention)
    return sorted(found, key=lambda n: n.start_byte)


def _passed_to_call(node: Node, within: Node) -> bool:
    """Is the mention an argument of a call (other than ``append``) inside ``within``?  Then the
    call's result is what is kept, not the mention."""
    current = node
    while current != within and current.parent is not None:
        parent = current.parent
        if parent.type == "argument_list":
            call = parent.parent
            function = call.child_by_field_name("function") if call is not None else None
            if function is None or text(function) != "append":
                return True
        if parent.type == "type_assertion_expression":
            return True
        if current == within:
            break
        current = parent
    return False


def _inside_function(node: Node, within: Node) -> bool:
    current = node.parent
    while current is not None and current != within.parent:
        if current.type in FUNCTION_TYPES:
            return True
        current = current.parent
    return False


def _fiber_values(value: Node, names: _Names, handler: Handler, ctx: FileContext) -> list[Node]:
    """Fiber getter calls (or locals bound to one) used uncopied in ``value``."""
    if handler.framework != "fiber" or "fiber-immutable" in ctx.package.flags:
        return []
    found = []
    for call in cursor("(call_expression) @c").captures(value).get("c", []):
        if _fiber_getter(call, handler) and not _copied(call):
            found.append(call)
    for mention, _ in names.fiber_string_uses(value):
        if not _copied(mention):
            found.append(mention)
    return sorted(found, key=lambda n: n.start_byte)


def _copied(node: Node) -> bool:
    """Is the value an argument of a copying call (``utils.CopyString(x)``, ``string(b)``...)?"""
    parent = node.parent
    if parent is None or parent.type != "argument_list":
        return bool(parent is not None and parent.type == "binary_expression" and text(parent.child_by_field_name("operator")) == "+")
    call = parent.parent
    function = call.child_by_field_name("function") if call is not None else None
    if function is None:
        return False
    name = text(function.child_by_field_name("field")) if function.type == "selector_expression" else text(function)
    return name in _COPIES


# --- fixes -------------------------------------------------------------------------


#: gin.Context members that write the response (through the writer a Copy() does not have).
_GIN_ANSWERS = frozenset(
    {
        "Writer", "JSON", "IndentedJSON", "SecureJSON", "JSONP", "AsciiJSON", "PureJSON", "XML", "YAML", "TOML",
        "ProtoBuf", "String", "HTML", "Data", "DataFromReader", "File", "FileAttachment", "FileFromFS", "Render",
        "Redirect", "Status", "Header", "SetCookie", "SSEvent", "Stream", "Negotiate", "AbortWithStatus",
        "AbortWithStatusJSON", "AbortWithError",
    }
)


def _answers(use: Node) -> bool:
    """Is ``use`` (the Gin context) the operand of a member that writes the response (``c.JSON``)?"""
    parent = use.parent
    if parent is None or parent.type != "selector_expression" or parent.child_by_field_name("operand") != use:
        return False
    return text(parent.child_by_field_name("field")) in _GIN_ANSWERS


def _gin_copy_fix(ctx: FileContext, go: Node, literal: Node, uses: list[Node], handler: Handler) -> list[Fix]:
    if go.parent is None or go.parent.type != "statement_list":
        return []
    param = handler.param
    if any(text(u) != param for u in uses):
        return []
    if any(_answers(u) for u in uses):
        return []  # a copy has no response writer: answering through it panics in the goroutine
    copy_name = unique_name(handler.func, f"{param}Copy")
    insert = insert_statement_before(ctx.source, go, f"{copy_name} := {param}.Copy()", above_comments=True)
    if insert is None:
        return []
    edits = [insert, *(Edit(u.start_byte, u.end_byte, copy_name) for u in uses)]
    return [Fix(f"Use a copy in the goroutine: `{copy_name} := {param}.Copy()`", tuple(edits), Applicability.UNSAFE)]


def _copier(ctx: FileContext, is_bytes: bool) -> tuple[str, Edit | None] | None:
    """The function that copies a Fiber string (or byte slice), and the import it needs."""
    utils_names = ctx.imports.names_for(FIBER_UTILS)
    if utils_names:
        return f"{sorted(utils_names)[0]}.{'CopyBytes' if is_bytes else 'CopyString'}", None
    if ctx.go_at_least(1, 20):
        imported = import_edit(ctx.source, ctx.root, "bytes" if is_bytes else "strings")
        if imported is None:
            return None
        return f"{imported[0]}.Clone", imported[1]
    imported = import_edit(ctx.source, ctx.root, FIBER_UTILS)
    if imported is None:
        return None
    return f"{imported[0]}.{'CopyBytes' if is_bytes else 'CopyString'}", imported[1]


def _variable_name(call: Node) -> str:
    function = call.child_by_field_name("function")
    method = text(function.child_by_field_name("field")) if function is not None else "value"
    args = call.child_by_field_name("arguments")
    first = args.named_children[0] if args is not None and args.named_child_count else None
    if first is not None and first.type in ("interpreted_string_literal", "raw_string_literal"):
        words: list[str] = _WORDS.findall(text(first))
        if words:
            rest = "".join(w.upper() if w.lower() in _INITIALISMS else w[:1].upper() + w[1:].lower() for w in words[1:])
            name = words[0].lower() + rest
            if name.isidentifier() and name not in _GO_KEYWORDS and not name[0].isdigit():
                return name
    special = {"IP": "ip", "OriginalURL": "originalURL", "BaseURL": "baseURL"}
    return special.get(method, method[:1].lower() + method[1:])


def _fiber_hoist_fix(ctx: FileContext, go: Node, literal: Node, uses: list[Node], handler: Handler) -> list[Fix]:
    """Copy each value the goroutine reads from c before it starts."""
    if go.parent is None or go.parent.type != "statement_list":
        return []
    calls: list[Node] = []
    for use in uses:
        if text(use) != handler.param:
            return []
        selector = use.parent
        call = selector.parent if selector is not None else None
        if (
            selector is None
            or selector.type != "selector_expression"
            or call is None
            or not _fiber_getter(call, handler)
        ):
            return []
        args = call.child_by_field_name("arguments")
        if args is not None and any(
            a.type not in ("interpreted_string_literal", "raw_string_literal", "int_literal") for a in args.named_children
        ):
            return []
        calls.append(call)
    edits: list[Edit] = []
    lines: list[str] = []
    bound: dict[str, str] = {}
    taken: set[str] = set()
    imports: dict[bool, Edit | None] = {}
    for call in calls:
        key = text(call).replace(" ", "")
        if key not in bound:
            function = call.child_by_field_name("function")
            method = text(function.child_by_field_name("field")) if function is not None else ""
            is_bytes = method in _FIBER_BYTES
            copier = _copier(ctx, is_bytes)
            if copier is None:
                return []
            imports[is_bytes] = copier[1]
            name = unique_name(handler.func, _variable_name(call))
            while name in taken:
                name = unique_name(handler.func, name + "2")
            taken.add(name)
            bound[key] = name
            lines.append(f"{name} := {copier[0]}({text(call)})")
        edits.append(Edit(call.start_byte, call.end_byte, bound[key]))
    insert = insert_statement_before(ctx.source, go, "\n".join(lines), above_comments=True)
    if insert is None:
        return []
    edits.append(insert)
    edits.extend(e for e in imports.values() if e is not None)
    return [Fix("Copy the values the goroutine needs before it starts", tuple(edits), Applicability.UNSAFE)]


def _copy_local_fix(ctx: FileContext, call: Node, handler: Handler) -> list[Fix]:
    function = call.child_by_field_name("function")
    method = text(function.child_by_field_name("field")) if function is not None else ""
    copier = _copier(ctx, method in _FIBER_BYTES)
    if copier is None:
        return []
    edits = [Edit(call.start_byte, call.end_byte, f"{copier[0]}({text(call)})")]
    if copier[1] is not None:
        edits.append(copier[1])
    return [Fix(f"Copy the value where it is bound: `{copier[0]}({text(call)})`", tuple(edits), Applicability.SAFE)]


def _wrap_copies(ctx: FileContext, calls: list[Node], handler: Handler) -> list[Fix]:
    edits: list[Edit] = []
    extra: dict[bool, Edit | None] = {}
    for call in calls:
        function = call.child_by_field_name("function")
        method = text(function.child_by_field_name("field")) if function is not None else ""
        is_bytes = method in _FIBER_BYTES
        copier = _copier(ctx, is_bytes)
        if copier is None:
            return []
        extra[is_bytes] = copier[1]
        edits.append(Edit(call.start_byte, call.end_byte, f"{copier[0]}({text(call)})"))
    edits.extend(e for e in extra.values() if e is not None)
    return [Fix("Copy the values before the goroutine starts", tuple(edits), Applicability.UNSAFE)]
