"""unbounded-global-growth: per-request code grows a package-level map or slice that nothing shrinks."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator

from tree_sitter import Node

from golsp_leaks.goanalysis.libraries.frameworks import (
    GIN,
    HTTP,
    REQUEST_MARKERS,
    package_variable_holds,
    receiver,
)
from golsp_leaks.goanalysis.names.holders import top_level
from golsp_leaks.goanalysis.names.scopes import (
    RECEIVER,
    VAR,
    Bindings,
    Declaration,
    bindings,
    single_value,
)
from golsp_leaks.goanalysis.summaries.facts import (
    COLLECTIONS,
    MADE_IN_FILE,
    SCOPE_FACTS,
    SHRUNK_FIELDS,
    SHRUNK_GLOBALS,
)
from golsp_leaks.goanalysis.syntax.nodes import FUNCTION_TYPES, text
from golsp_leaks.goanalysis.syntax.parse import cursor
from golsp_leaks.model import Finding, Severity
from golsp_leaks.rules.base import FileContext, Rule

_INSERTS = """
[(assignment_statement left: (expression_list (index_expression operand: (identifier) @global index: (_) @key) @target)) @stmt
 (inc_statement (index_expression operand: (identifier) @global index: (_) @key) @target) @stmt
 (dec_statement (index_expression operand: (identifier) @global index: (_) @key) @target) @stmt]
"""
_APPENDS = """
(assignment_statement
  left: (expression_list . (identifier) @global .)
  right: (expression_list . (call_expression function: (identifier) @append
                                             arguments: (argument_list . (identifier) @first)) .)) @stmt
"""
_STORES = """
(call_expression
  function: (selector_expression operand: (identifier) @global field: (field_identifier) @method)
  arguments: (argument_list . (_) @key)) @stmt
"""
_FLOWS = """
[(short_var_declaration left: (expression_list) @left right: (expression_list) @right)
 (assignment_statement left: (expression_list) @left right: (expression_list) @right)
 (var_spec name: (identifier) @left value: (expression_list) @right)
 (range_clause left: (expression_list) @left right: (_) @right)]
"""
_IDENTIFIERS = "(identifier) @id"
_FIELD = "(selector_expression operand: (identifier) @holder field: (field_identifier) @field)"
_FIELD_INSERTS = f"""
[(assignment_statement left: (expression_list (index_expression operand: {_FIELD} @collection index: (_) @key) @target)) @stmt
 (inc_statement (index_expression operand: {_FIELD} @collection index: (_) @key) @target) @stmt]
"""
_FIELD_STORES = f"""
(call_expression function: (selector_expression operand: {_FIELD} @collection field: (field_identifier) @method)
                 arguments: (argument_list . (_) @key)) @stmt
"""
_FIELD_APPENDS = f"""
(assignment_statement
  left: (expression_list . {_FIELD} @collection .)
  right: (expression_list . (call_expression function: (identifier) @append
                                             arguments: (argument_list . (selector_expression) @first)) .)) @stmt
"""


class UnboundedGlobalGrowth(Rule):
    """
    ## What it does
    Reports per-request code — a handler, a middleware's handler, or a
    function that takes the request and that the package calls from one —
    that adds to a package-level map
    (`m[key] = v`, `m[key]++`, `m.Store(key, v)` on a `sync.Map`) with a key
    taken from the request, or appends to a package-level slice, when no code
    in the package ever deletes from it, trims it, resets it or checks its
    length against a bound.

    The same for maps and slices in fields of long-lived values: a
    package-level variable (`cache.entries[k] = v`), or the receiver of a
    method whose type the file makes only in code that runs once (`main`,
    `init`, a `sync.Once`) or keeps in a package-level variable — a server
    or cache built at start-up (`s.hits[r.URL.Path]++`, `s.log =
    append(s.log, e)`), when nothing in the package deletes from, trims or
    resets a field of that name (`delete(x.hits, k)`, `x.log = x.log[n:]`,
    a method that assigns it anew).  A value made per request, or made
    nowhere in the file (its callers decide how long it lives), is not
    reported.

    The package is read from disk (all its files but the tests), so a sweeper
    in another file counts.  A key that does not come from the request (a
    constant, a counter name) is a bounded set and is not reported; so is
    Gin's authenticated user (`c.MustGet(gin.AuthUserKey)`), one of the fixed
    accounts `gin.BasicAuth` was given; nor a local declared with a
    `net/http` status constant (`status := http.StatusOK`): status codes
    are a few dozen values.

    ## Why is this bad?
    The map gains an entry for every new client address, user, URL or header
    value, and keeps it for the life of the process: memory grows with traffic
    until the process is restarted or killed, and anyone can make it grow
    faster by sending requests with new values.

    ## Example
    ```go
    var limiters = map[string]*rate.Limiter{}

    func rateLimit(next http.Handler) http.Handler {
        return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
            ip, _, _ := net.SplitHostPort(r.RemoteAddr)
            mu.Lock()
            lim, ok := limiters[ip]
            if !ok {
                lim = rate.NewLimiter(10, 20)
                limiters[ip] = lim
            }
            mu.Unlock()
            ...
        })
    }
    ```

    ## Use instead
    Bound it: evict old entries in a background sweep (and `delete` them), use
    an LRU cache with a maximum size, or keep the state outside the process.

    ## Fix safety
    No fix: how entries should expire is the application's decision.
    """

    id = "unbounded-global-growth"
    summary = "per-request code grows a package-level map or slice that nothing ever shrinks"
    requires = (*SCOPE_FACTS, COLLECTIONS, SHRUNK_GLOBALS, SHRUNK_FIELDS, MADE_IN_FILE)
    default_severity = Severity.WARNING
    fixable = False
    #: The key must come from a request, so the declaration mentions a handler's (or a request's) type.
    triggers = REQUEST_MARKERS
    operations = (b"] =", b"]++", b"] +=", b"]--", b"append(", b".Store(", b".LoadOrStore(", b".Swap(")

    def wants(self, decl_text: bytes, ctx: FileContext | None = None) -> bool:
        return super().wants(decl_text, ctx) and any(op in decl_text for op in self.operations)

    def check(self, decl: Node, ctx: FileContext) -> Iterable[Finding]:
        if decl.type not in ("function_declaration", "method_declaration"):
            return
        facts = ctx.package

        @functools.cache
        def growable() -> frozenset[str]:
            """The package's collections nothing trims: read once the declaration adds to some variable."""
            return facts.collections - facts.shrunk_globals

        seen: set[int] = set()
        findings = self._inserts(decl, ctx, growable)
        for finding in (*findings, *self._field_growth(decl, ctx)):
            if finding.start not in seen:
                seen.add(finding.start)
                yield finding

    # --- fields of long-lived values ------------------------------------------------

    def _field_growth(self, decl: Node, ctx: FileContext) -> Iterator[Finding]:
        """``s.m[k] = v``, ``s.m.Store(k, v)``, ``s.list = append(s.list, x)`` in per-request code, where
        ``s`` is a package-level variable or the receiver of a value built once, and nothing in the
        package deletes from, trims or resets a field of that name."""
        resolved: Bindings | None = None
        for query, kind in ((_FIELD_INSERTS, "insert"), (_FIELD_STORES, "store"), (_FIELD_APPENDS, "append")):
            for _, captures in cursor(query).matches(decl):
                field = text(captures["field"][0])
                stmt, collection = captures["stmt"][0], captures["collection"][0]
                if kind == "store" and text(captures["method"][0]) not in ("Store", "LoadOrStore", "Swap"):
                    continue
                if kind == "append" and (text(captures["append"][0]) != "append" or text(captures["first"][0]) != text(collection)):
                    continue
                if kind == "insert" and stmt.type == "assignment_statement":
                    left = stmt.child_by_field_name("left")
                    if left is None or captures["target"][0].parent != left:
                        continue
                if kind != "append" and _bounded(captures["key"][0], ctx):
                    continue  # before the package's facts: a key from a fixed set never grows the map
                if resolved is None:
                    resolved = bindings(top_level(decl), ctx.source)
                if not _may_live_long(resolved.of(captures["holder"][0])):
                    continue  # a local or a parameter: before the package's facts
                if field in ctx.package.shrunk_fields or not ctx.scope.is_per_request(stmt):
                    continue
                if kind != "append" and not _from_request(captures["key"][0], stmt, ctx):
                    continue
                holder = _long_lived_holder(captures["holder"][0], decl, resolved, ctx)
                if holder is None:
                    continue
                what = text(collection)
                if kind == "append":
                    message = (
                        f"every request appends to {what}, a slice in {holder}, and nothing in the package "
                        f"ever trims or resets {field}: it grows for the life of the process"
                    )
                else:
                    message = (
                        f"per-request code adds a key taken from the request ({text(captures['key'][0])}) to "
                        f"{what}, a map in {holder}, and nothing in the package ever deletes from {field}: it gains "
                        "an entry for every new value and keeps it for the life of the process"
                    )
                yield Finding(self.id, collection.start_byte, collection.end_byte, message, per_request=True)

    def _inserts(self, decl: Node, ctx: FileContext, growable: Callable[[], frozenset[str]]) -> Iterator[Finding]:
        for _, captures in cursor(_INSERTS).matches(decl):
            name = text(captures["global"][0])
            if _shadowed(captures["global"][0], ctx) or name not in growable():
                continue  # a local of that name, or a package-level map something trims
            stmt = captures["stmt"][0]
            if stmt.type == "assignment_statement":
                left = stmt.child_by_field_name("left")
                if left is None or captures["target"][0].parent != left:
                    continue
            finding = self._map_insert(stmt, captures["target"][0], captures["global"][0], captures["key"][0], ctx)
            if finding is not None:
                yield finding
        for _, captures in cursor(_STORES).matches(decl):
            name = text(captures["global"][0])
            if text(captures["method"][0]) not in ("Store", "LoadOrStore", "Swap") or _shadowed(captures["global"][0], ctx):
                continue
            if name not in growable():
                continue
            stmt = captures["stmt"][0]
            finding = self._map_insert(stmt, stmt, captures["global"][0], captures["key"][0], ctx)
            if finding is not None:
                yield finding
        for _, captures in cursor(_APPENDS).matches(decl):
            name = text(captures["global"][0])
            if text(captures["append"][0]) != "append" or text(captures["first"][0]) != name:
                continue
            if _shadowed(captures["first"][0], ctx) or _shadowed(captures["global"][0], ctx):
                continue  # s = append(local, x) with a local of the global's name
            if name not in growable():
                continue
            stmt = captures["stmt"][0]
            operator = stmt.child_by_field_name("operator")
            if operator is not None and text(operator) != "=":
                continue
            func = _function(stmt)
            if func is None or not ctx.scope.is_per_request(stmt) or _shadowed(captures["global"][0], ctx):
                continue
            target = captures["global"][0]
            yield Finding(
                rule=self.id,
                start=target.start_byte,
                end=target.end_byte,
                message=(
                    f"every request appends to the package-level slice {name}, and nothing in the package "
                    "ever trims or resets it: it grows for the life of the process"
                ),
                per_request=True,
            )

    def _map_insert(self, stmt: Node, target: Node, global_: Node, key: Node, ctx: FileContext) -> Finding | None:
        name = text(global_)
        if not ctx.scope.is_per_request(stmt) or _shadowed(global_, ctx):
            return None
        if _bounded(key, ctx) or not _from_request(key, stmt, ctx):
            return None
        return Finding(
            rule=self.id,
            start=target.start_byte,
            end=target.end_byte if target.end_point.row == target.start_point.row else target.start_byte + len(name),
            message=(
                f"per-request code adds a key taken from the request ({text(key)}) to the package-level map "
                f"{name}, and nothing in the package ever deletes from it: it gains an entry for every new "
                "value and keeps it for the life of the process"
            ),
            per_request=True,
        )


def _may_live_long(declaration: Declaration | None) -> bool:
    """Can :func:`_long_lived_holder` name a value so declared: a package-level variable or a receiver?"""
    if declaration is None:
        return False
    return declaration.kind == VAR if declaration.package_level else declaration.kind == RECEIVER


def _long_lived_holder(ident: Node, decl: Node, resolved: Bindings, ctx: FileContext) -> str | None:
    """How to name the value that holds the field, when it lives for the life of the process: a
    package-level variable, or the receiver of a method whose type the file only makes in code
    that runs once (or keeps in a package-level variable) -- a server or cache built at start-up.
    None otherwise (made per request, or made nowhere in this file: its callers decide)."""
    declaration = resolved.of(ident)
    if declaration is None:
        return None
    if declaration.package_level:
        return f"the package-level {declaration.name}" if declaration.kind == VAR else None
    if declaration.kind != RECEIVER:
        return None
    recv = receiver(decl)
    type_name = recv[1] if recv is not None else ""
    if not type_name:
        return None
    if package_variable_holds(ctx.root, type_name):
        return f"a {type_name} kept in a package-level variable"
    made = ctx.made_values(type_name)
    if made and all(ctx.scope.runs_once(m) for m in made):
        return f"the {type_name} built once at start-up"
    return None


def _function(node: Node) -> Node | None:
    current = node.parent
    while current is not None:
        if current.type in FUNCTION_TYPES:
            return current
        current = current.parent
    return None


def _enclosing_functions(node: Node) -> list[Node]:
    found = []
    current = node.parent
    while current is not None:
        if current.type in FUNCTION_TYPES:
            found.append(current)
        current = current.parent
    return found


def _shadowed(ident: Node, ctx: FileContext) -> bool:
    """Does ``ident`` name a local of its function (a parameter, ``:=``, ``var``, ``range``) rather
    than the package-level variable of that spelling?  Decided by the declaration's bindings."""
    declaration = bindings(top_level(ident), ctx.source).of(ident)
    return declaration is not None and not declaration.package_level


def _from_request(key: Node, stmt: Node, ctx: FileContext) -> bool:
    """Does the key come from the request: its parameters, or locals computed from them?  Values are
    followed by their declarations (``names.scopes``), so a local that shadows a request parameter,
    or a request parameter spelled like a local elsewhere, is told apart."""
    funcs = _enclosing_functions(stmt)
    resolved = bindings(top_level(stmt), ctx.source)
    tainted: set[Declaration] = set()
    for func in reversed(funcs):  # outermost first: closures see the handler's locals
        handler = ctx.scope.handler(func)
        params = func.child_by_field_name("parameters")
        if params is not None:
            for decl in params.named_children:
                type_node = decl.child_by_field_name("type")
                is_request = ctx.scope.request_type(type_node) is not None
                for name_node in decl.children_by_field_name("name"):
                    declaration = resolved.of(name_node)
                    if declaration is None:
                        continue
                    if (handler is not None and text(name_node) in (handler.param, handler.writer)) or is_request:
                        tainted.add(declaration)
        if not tainted:
            continue
        # Locals computed from tainted values, in source order (twice, for loops).
        for _ in range(2):
            for _, captures in cursor(_FLOWS).matches(func):
                right = captures["right"][0]
                if right.start_byte > stmt.start_byte:
                    continue
                if right.named_child_count == 1 and _bounded(right.named_children[0], ctx):
                    continue  # the BasicAuth user: bounded by the accounts
                if _mentions_any(right, tainted, resolved):
                    left = captures["left"][0]
                    names = [left] if left.type == "identifier" else left.named_children
                    for n in names:
                        declaration = resolved.of(n) if n.type == "identifier" else None
                        if declaration is not None and not declaration.package_level:
                            tainted.add(declaration)
    return _mentions_any(key, tainted, resolved)


_USER_GETTERS = frozenset({"MustGet", "Get", "GetString"})


def _bounded(value: Node, ctx: FileContext) -> bool:
    """``c.MustGet(gin.AuthUserKey)`` (or ``Get`` / ``GetString``, possibly asserted to a string):
    the user gin.BasicAuth admitted, one of the fixed accounts it was given; or a local that holds
    an HTTP status code (declared with a ``net/http`` ``Status...`` constant): a few dozen values."""
    if value.type == "identifier" and _status_code(value, ctx):
        return True
    node = value
    while node.type in ("type_assertion_expression", "parenthesized_expression"):
        inner = node.child_by_field_name("operand") if node.type == "type_assertion_expression" else node.named_children[0]
        if inner is None:
            return False
        node = inner
    function = node.child_by_field_name("function") if node.type == "call_expression" else None
    args = node.child_by_field_name("arguments") if node.type == "call_expression" else None
    if function is None or args is None or function.type != "selector_expression" or args.named_child_count != 1:
        return False
    if text(function.child_by_field_name("field")) not in _USER_GETTERS:
        return False
    key = args.named_children[0]
    if key.type != "selector_expression":
        return False
    package = key.child_by_field_name("operand")
    return (
        package is not None
        and package.type == "identifier"
        and text(package) in ctx.imports.names_for(GIN)
        and text(key.child_by_field_name("field")) == "AuthUserKey"
    )


def _status_code(ident: Node, ctx: FileContext) -> bool:
    """Is the local declared with a ``net/http`` status constant (``status := http.StatusOK``)?"""
    http_names = ctx.imports.names_for(HTTP)
    if not http_names:
        return False
    declaration = bindings(top_level(ident), ctx.source).of(ident)
    if declaration is None or declaration.package_level:
        return False
    value = single_value(declaration)
    if value is None:
        spec = declaration.node.parent
        values = spec.child_by_field_name("value") if spec is not None and spec.type == "var_spec" else None
        value = values.named_children[0] if values is not None and values.named_child_count == 1 else None
    return (
        value is not None
        and value.type == "selector_expression"
        and text(value.child_by_field_name("operand")) in http_names
        and text(value.child_by_field_name("field")).startswith("Status")
    )


def _mentions_any(node: Node, declarations: set[Declaration], resolved: Bindings) -> bool:
    """Does ``node`` use one of ``declarations``?"""
    idents = [node] if node.type == "identifier" else cursor(_IDENTIFIERS).captures(node).get("id", [])
    return any(resolved.of(n) in declarations for n in idents)
