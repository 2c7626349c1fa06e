"""large-context-value: a large allocation stored in a request's context."""

from __future__ import annotations

from collections.abc import Iterable

from tree_sitter import Node

from golsp_leaks.goanalysis.libraries.frameworks import REQUEST_MARKERS, Handler
from golsp_leaks.goanalysis.summaries.facts import SCOPE_FACTS
from golsp_leaks.goanalysis.syntax.nodes import FUNCTION_TYPES, enclosing_function, text
from golsp_leaks.goanalysis.syntax.parse import cursor
from golsp_leaks.model import Finding, Severity
from golsp_leaks.rules.base import FileContext, Rule

#: Values of at least this many bytes are reported.
THRESHOLD = 1 << 20

_CALLS = """
(call_expression
  function: (selector_expression operand: (identifier) @operand field: (field_identifier) @method)
  arguments: (argument_list) @args) @call
"""
_BINDINGS = """
[(short_var_declaration left: (expression_list . (identifier) @name .) right: (expression_list . (_) @value .))
 (var_spec name: (identifier) @name value: (expression_list . (_) @value .))
 (const_spec name: (identifier) @name value: (expression_list . (_) @value .))]
"""
_SIZES = {
    "byte": 1, "uint8": 1, "int8": 1, "bool": 1,
    "int16": 2, "uint16": 2,
    "int32": 4, "uint32": 4, "float32": 4, "rune": 4,
    "int": 8, "uint": 8, "int64": 8, "uint64": 8, "float64": 8, "uintptr": 8, "complex64": 8,
    "complex128": 16, "string": 16, "any": 16,
}


class LargeContextValue(Rule):
    """
    ## What it does
    Reports a large allocation — `make([]byte, 10<<20)`, `new([1 << 20]byte)`,
    a local bound to one, a slice of it or a pointer to it — stored in a
    request's context by per-request code: `c.Set(key, v)` (Gin, Echo, Buffalo),
    `c.Locals(key, v)` (Fiber), or `context.WithValue(ctx, key, v)`.  Large
    means at least 1 MiB, with the size worked out from constants in the code.

    ## Why is this bad?
    A value in a request's context lives as long as the request, and as long
    as anything that still holds the context: a goroutine it started, a
    pending database call, a log entry.  A buffer allocated for every request
    "just in case" multiplies by the number of requests in flight, and a slice
    `buf[:n]` keeps the whole backing array alive however small `n` is.

    ## Example
    ```go
    func scratch(next http.Handler) http.Handler {
        return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
            ctx := context.WithValue(r.Context(), bufKey{}, make([]byte, 10<<20))
            next.ServeHTTP(w, r.WithContext(ctx))
        })
    }
    ```

    ## Use instead
    Allocate where the data is used, sized to it (or stream it), or take the
    buffer from a `sync.Pool` and pass it explicitly:
    ```go
    func upload(w http.ResponseWriter, r *http.Request) {
        body, err := io.ReadAll(io.LimitReader(r.Body, 10<<20))
        ...
    }
    ```

    ## Fix safety
    No fix: where the data should go instead depends on the code that reads it.
    """

    id = "large-context-value"
    summary = "a large allocation is stored in a request's context"
    requires = SCOPE_FACTS
    default_severity = Severity.WARNING
    fixable = False
    #: Only per-request code is looked at: a declaration must mention a handler's type, and store something.
    triggers = REQUEST_MARKERS
    operations = (b".Set(", b".Locals(", b"WithValue(")

    def wants(self, decl_text: bytes, ctx: FileContext | None = None) -> bool:
        return super().wants(decl_text, ctx) and any(op in decl_text for op in self.operations)

    def check(self, decl: Node, ctx: FileContext) -> Iterable[Finding]:
        context_names = ctx.imports.names_for("context")
        for _, captures in cursor(_CALLS).matches(decl):
            call = captures["call"][0]
            operand = text(captures["operand"][0])
            method = text(captures["method"][0])
            args = captures["args"][0].named_children
            value: Node | None = None
            where = ""
            frameworks: tuple[str, ...] = ()  # those whose request object the operand must be
            if method == "WithValue" and operand in context_names and len(args) == 3:
                value, where = args[2], "context.WithValue"
            elif method == "Set" and len(args) == 2:
                value, where, frameworks = args[1], f"{operand}.Set", ("gin", "echo", "buffalo")
            elif method == "Locals" and len(args) == 2:
                value, where, frameworks = args[1], f"{operand}.Locals", ("fiber",)
            if value is None:
                continue
            func = enclosing_function(call)
            size = _size(value, func, call) if func is not None else None
            if size is None or size < THRESHOLD:
                continue
            # Only a large value costs the package's facts: is this a handler (or code it runs)?
            handler = ctx.scope.enclosing_handler(call)
            if handler is None or (frameworks and not _is_context_param(operand, handler, frameworks)):
                continue
            yield Finding(
                rule=self.id,
                start=call.start_byte,
                end=call.end_byte if call.end_point.row == call.start_point.row else captures["args"][0].start_byte,
                message=(
                    f"{_human(size)} is stored in the request's context with {where}: it stays alive for the whole "
                    "request and for anything that keeps the context, on every request; allocate it where it is "
                    "used, sized to the data (or stream the data), or pass it explicitly"
                ),
                per_request=True,
            )


def _is_context_param(name: str, handler: Handler, frameworks: tuple[str, ...]) -> bool:
    return handler.framework in frameworks and name == handler.param


def _human(size: int) -> str:
    if size >= 1 << 30 and size % (1 << 30) == 0:
        return f"a {size >> 30} GiB buffer"
    if size % (1 << 20) == 0:
        return f"a {size >> 20} MiB buffer"
    return f"a {size / (1 << 20):.1f} MiB buffer"


def _size(value: Node, func: Node, before: Node, depth: int = 0) -> int | None:
    """The bytes a value keeps alive, when the code says so with constants."""
    if depth > 4:
        return None
    kind = value.type
    if kind == "parenthesized_expression" and value.named_child_count:
        return _size(value.named_children[0], func, before, depth + 1)
    if kind == "unary_expression" and text(value.child_by_field_name("operator")) == "&":
        operand = value.child_by_field_name("operand")
        return _size(operand, func, before, depth + 1) if operand is not None else None
    if kind == "slice_expression":
        operand = value.child_by_field_name("operand")
        return _size(operand, func, before, depth + 1) if operand is not None else None
    if kind == "identifier":
        bound = _binding(func, text(value), before)
        return _size(bound, func, before, depth + 1) if bound is not None else None
    if kind == "composite_literal":
        return _type_size(value.child_by_field_name("type"), func, before)
    if kind == "call_expression":
        function = value.child_by_field_name("function")
        args = value.child_by_field_name("arguments")
        if function is None or args is None:
            return None
        name = text(function)
        items = args.named_children
        if name == "make" and len(items) >= 2 and items[0].type == "slice_type":
            element = _type_size(items[0].child_by_field_name("element"), func, before) or 1
            counts = [_constant(n, func, before) for n in items[1:3]]
            known = [c for c in counts if c is not None]
            return element * max(known) if known else None
        if name == "new" and len(items) == 1:
            return _type_size(items[0], func, before)
        if name == "bytes.NewBuffer" and len(items) == 1:
            return _size(items[0], func, before, depth + 1)
    return None


def _type_size(node: Node | None, func: Node, before: Node) -> int | None:
    if node is None:
        return None
    if node.type == "array_type":
        length = _constant(node.child_by_field_name("length"), func, before)
        element = _type_size(node.child_by_field_name("element"), func, before) or 1
        return length * element if length is not None else None
    if node.type == "type_identifier":
        return _SIZES.get(text(node))
    if node.type in ("pointer_type", "map_type", "channel_type", "function_type"):
        return 8
    if node.type in ("slice_type",):
        return 24
    return None


def _binding(func: Node, name: str, before: Node) -> Node | None:
    """The value a local is bound to (the last binding before ``before``), if it is bound once."""
    found: list[Node] = []
    for _, captures in cursor(_BINDINGS).matches(func):
        ident = captures["name"][0]
        if text(ident) != name or ident.start_byte >= before.start_byte:
            continue
        if _in_other_function(ident, func):
            continue
        found.append(captures["value"][0])
    return found[-1] if len(found) == 1 else None


def _in_other_function(node: Node, func: Node) -> bool:
    current = node.parent
    while current is not None and current != func:
        if current.type in FUNCTION_TYPES:
            return True
        current = current.parent
    return False


def _constant(node: Node | None, func: Node, before: Node, depth: int = 0) -> int | None:
    """The value of an integer constant expression (literals, << >> * / + -, local constants)."""
    if node is None or depth > 8:
        return None
    kind = node.type
    if kind == "int_literal":
        try:
            return int(text(node).replace("_", ""), 0)
        except ValueError:
            return None
    if kind == "parenthesized_expression" and node.named_child_count:
        return _constant(node.named_children[0], func, before, depth + 1)
    if kind == "binary_expression":
        left = _constant(node.child_by_field_name("left"), func, before, depth + 1)
        right = _constant(node.child_by_field_name("right"), func, before, depth + 1)
        if left is None or right is None:
            return None
        operator = text(node.child_by_field_name("operator"))
        if operator == "<<" and right < 64:
            return left << right
        if operator == ">>":
            return left >> right
        if operator == "*":
            return left * right
        if operator == "+":
            return left + right
        if operator == "-":
            return left - right
        if operator == "/" and right != 0:
            return left // right
        return None
    if kind == "identifier":
        bound = _binding(func, text(node), before)
        return _constant(bound, func, before, depth + 1) if bound is not None else None
    return None
