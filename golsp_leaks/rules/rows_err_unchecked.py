"""rows-err-unchecked: a ``for rows.Next()`` loop whose ``rows.Err()`` is never checked."""

from __future__ import annotations

from collections.abc import Collection, Iterable

from tree_sitter import Node

from golsp_leaks.goanalysis.dataflow.ownership import Releases, Use, classify
from golsp_leaks.goanalysis.libraries.sql import ROWS, DbFile, handle_of_type, resolve, rows_call
from golsp_leaks.goanalysis.names.scopes import Declaration, declaration_of, occurrences
from golsp_leaks.goanalysis.summaries.facts import DB_FIELDS, SCOPE_FACTS, SIBLINGS
from golsp_leaks.goanalysis.summaries.returns import own_rows_calls
from golsp_leaks.goanalysis.syntax.edits import insert_statement_after
from golsp_leaks.goanalysis.syntax.nodes import FUNCTION_TYPES, enclosing_function, text, walk
from golsp_leaks.goanalysis.syntax.parse import cursor
from golsp_leaks.model import Applicability, Finding, Fix, Severity
from golsp_leaks.rules.base import FileContext, FixKind, Rule

_LOOPS = (
    "(for_statement (call_expression function: (selector_expression operand: (identifier) @rows"
    ' field: (field_identifier) @m (#eq? @m "Next")) arguments: (argument_list) @args) @cond) @loop'
)

_RELEASES = Releases(methods=frozenset({("Close",)}))
_BORROWING = frozenset({"ScanRows"})

_NUMBERS = frozenset(
    {
        "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64",
        "uintptr", "float32", "float64", "complex64", "complex128", "byte", "rune",
    }
)
_NIL_TYPES = frozenset({"pointer_type", "slice_type", "map_type", "channel_type", "function_type", "interface_type"})
#: Struct types of the standard library whose zero value is ``T{}``.
_STRUCTS = frozenset(
    {
        ("time", "Time"),
        ("sql", "NullString"), ("sql", "NullInt64"), ("sql", "NullInt32"), ("sql", "NullInt16"),
        ("sql", "NullFloat64"), ("sql", "NullBool"), ("sql", "NullTime"), ("sql", "NullByte"),
    }
)
_NUMBER_TYPES = frozenset({("time", "Duration"), ("time", "Month"), ("time", "Weekday")})


class RowsErrUnchecked(Rule):
    """
    ## What it does
    Reports a `for rows.Next() { ... }` loop over rows that the function
    queried itself (`database/sql`, sqlx, pgx, gorm's `.Rows()`) when
    `rows.Err()` is checked nowhere in the function.  Rows that are returned or
    handed to another function are left alone: that function may check.

    ## Why is this bad?
    `rows.Next()` returns false both at the end of the results and when reading
    them failed — a dropped connection, a cancelled context, a driver error in
    the middle of the result set.  Only `rows.Err()` tells the two apart.
    Without it a failure looks like a short result: a report that silently
    misses rows, an import that stops half-way and says it is done.

    ## Example
    ```go
    func (s *Store) Tags(ctx context.Context) ([]string, error) {
        rows, err := s.db.QueryContext(ctx, `SELECT tag FROM tags`)
        if err != nil {
            return nil, err
        }
        defer rows.Close()
        var tags []string
        for rows.Next() {
            var tag string
            if err := rows.Scan(&tag); err != nil {
                return nil, err
            }
            tags = append(tags, tag)
        }
        return tags, nil
    }
    ```

    ## Use instead
    ```go
        for rows.Next() {
            ...
        }
        if err := rows.Err(); err != nil {
            return nil, err
        }
        return tags, nil
    ```

    ## Fix safety
    The fix inserts `if err := rows.Err(); err != nil { return ..., err }` right
    after the loop, in a function whose last result is an `error`.  The other
    results are the zero values the function already returns with an error
    elsewhere (`return nil, err`), or else the zero values of their types; when
    a type's zero value cannot be told from the declaration alone (a named type
    of the package), no fix is offered.  In a `net/http` handler the fix
    answers `http.Error(w, err.Error(), http.StatusInternalServerError)` and
    returns.  It changes behaviour only when the iteration failed, which is the
    point.
    """

    id = "rows-err-unchecked"
    summary = "the rows.Err() of a for rows.Next() loop is never checked"
    requires = (*SCOPE_FACTS, DB_FIELDS, SIBLINGS)
    default_severity = Severity.WARNING
    fix_kinds = (
        FixKind("Check `{rows}.Err()` after the loop", Applicability.UNSAFE, "a failed iteration now returns an error instead of partial results"),
    )
    triggers = (b".Next()",)

    def check(self, decl: Node, ctx: FileContext) -> Iterable[Finding]:
        api = DbFile(ctx.imports, ctx.source, ctx.package.db_fields)
        if not api:
            return
        own = {a.call.start_byte for a in own_rows_calls(decl, ctx)}
        # The last `for rows.Next()` loop over each variable (by its declaration): the check belongs after it.
        last: dict[tuple[int, int], tuple[Node, Node, Node, Declaration]] = {}
        for _, captures in cursor(_LOOPS).matches(decl):
            rows = captures["rows"][0]
            if captures["args"][0].named_child_count:
                continue
            owner = _owner(rows, api, own)
            variable = declaration_of(rows, ctx.source)
            if owner is None or variable is None:
                continue
            loop = captures["loop"][0]
            previous = last.get(variable.key)
            if previous is None or previous[0].start_byte < loop.start_byte:
                last[variable.key] = (loop, captures["cond"][0], owner, variable)
        for loop, condition, owner, variable in sorted(last.values(), key=lambda item: item[0].start_byte):
            finding = self._check(loop, condition, variable, owner, ctx)
            if finding is not None:
                yield finding

    def _check(self, loop: Node, condition: Node, variable: Declaration, owner: Node, ctx: FileContext) -> Finding | None:
        declaring = enclosing_function(owner)
        if declaring is None:
            return None
        name = variable.name
        for mention in occurrences(variable, declaring, ctx.source):
            parent = mention.parent
            if (
                parent is not None
                and parent.type == "selector_expression"
                and parent.child_by_field_name("operand") == mention
                and text(parent.child_by_field_name("field")) == "Err"
            ):
                return None  # checked somewhere
            use = classify(mention, _RELEASES, declaring, ctx.source)
            if use is Use.TRANSFER and not _borrowed(mention):
                return None  # returned, stored or handed on: the new owner may check
        func = enclosing_function(loop)
        fix = _fix(ctx, loop, name, func) if func is not None else None
        return Finding(
            rule=self.id,
            start=condition.start_byte,
            end=condition.end_byte,
            message=(
                f"{name}.Err() is never checked after this loop: when reading the rows fails "
                f"(a dropped connection, a cancelled context) {name}.Next() just returns false, "
                "and a partial result passes for a complete one"
            ),
            fixes=(fix,) if fix is not None else (),
            per_request=ctx.scope.is_per_request(loop),
        )


def _owner(rows: Node, api: DbFile, own: Collection[int] = ()) -> Node | None:
    """The declaration of ``rows`` when it is rows this function queried itself (``own``: where the
    calls of the package's own functions returning fresh rows start)."""
    declaration = resolve(rows, api.source)
    if declaration is None or declaration.node.type not in ("short_var_declaration", "var_spec"):
        return None
    if declaration.type is not None:
        handle = handle_of_type(declaration.type, api)
        return declaration.node if handle is not None and handle.kind == ROWS else None
    value = declaration.value
    if value is None or not declaration.multi or declaration.index != 0:
        return None
    return declaration.node if value.start_byte in own or rows_call(value, api) is not None else None


def _borrowed(mention: Node) -> bool:
    args = mention.parent
    if args is None or args.type != "argument_list" or args.parent is None:
        return False
    function = args.parent.child_by_field_name("function")
    return (
        function is not None
        and function.type == "selector_expression"
        and text(function.child_by_field_name("field")) in _BORROWING
    )


# --- the fix ---------------------------------------------------------------------


def _fix(ctx: FileContext, loop: Node, name: str, func: Node) -> Fix | None:
    statement = loop.parent if loop.parent is not None and loop.parent.type == "labeled_statement" else loop
    body = _on_error(ctx, func)
    if body is None:
        return None
    code = f"if err := {name}.Err(); err != nil {{\n" + "".join(f"\t{line}\n" for line in body) + "}"
    edit = insert_statement_after(ctx.source, statement, code)
    if edit is None:
        return None
    return Fix(f"Check `{name}.Err()` after the loop", (edit,), Applicability.UNSAFE)


def _on_error(ctx: FileContext, func: Node) -> list[str] | None:
    """The statements that hand ``err`` back from ``func``."""
    result = func.child_by_field_name("result")
    if result is None:
        return _http_error(ctx, func)
    if result.type != "parameter_list":
        return ["return err"] if text(result) == "error" else None
    types: list[Node] = []
    for declaration in result.named_children:
        if declaration.type != "parameter_declaration":
            continue
        kind = declaration.child_by_field_name("type")
        if kind is None:
            return None
        types.extend([kind] * max(1, len(declaration.children_by_field_name("name"))))
    if not types or text(types[-1]) != "error":
        return None
    zeros = _zeros_in_use(func, len(types))
    if zeros is None:
        computed = [_zero(t) for t in types[:-1]]
        if any(z is None for z in computed):
            return None
        zeros = [z for z in computed if z is not None]
    return ["return " + ", ".join([*zeros, "err"])]


def _http_error(ctx: FileContext, func: Node) -> list[str] | None:
    handler = ctx.scope.handler(func)
    if handler is None or handler.framework != "net/http":
        return None
    http = next(iter(sorted(ctx.imports.names_for("net/http"))), None)
    params = func.child_by_field_name("parameters")
    if http is None or params is None:
        return None
    writer = None
    for declaration in params.named_children:
        kind = declaration.child_by_field_name("type")
        names = declaration.children_by_field_name("name")
        if kind is not None and text(kind) == f"{http}.ResponseWriter" and len(names) == 1:
            writer = text(names[0])
    if writer is None or writer == "_":
        return None
    return [f"{http}.Error({writer}, err.Error(), {http}.StatusInternalServerError)", "return"]


def _zeros_in_use(func: Node, count: int) -> list[str] | None:
    """The leading values of a ``return ..., err`` the function already has, when they are zero values."""
    for node in walk(func, into_functions=False):
        if node.type != "return_statement" or _owning_function(node) != func:
            continue
        values = node.named_children[0] if node.named_child_count else None
        if values is None or values.type != "expression_list" or values.named_child_count != count:
            continue
        items = values.named_children
        if items[-1].type != "identifier" or text(items[-1]) == "nil":
            continue
        if all(_is_zero_literal(item) for item in items[:-1]):
            return [text(item) for item in items[:-1]]
    return None


def _owning_function(node: Node) -> Node | None:
    current = node.parent
    while current is not None and current.type not in FUNCTION_TYPES:
        current = current.parent
    return current


def _is_zero_literal(node: Node) -> bool:
    kind = node.type
    if kind in ("nil", "false"):
        return True
    if kind in ("int_literal", "float_literal"):
        return text(node).replace("0", "").replace(".", "").replace("_", "") == ""
    if kind in ("interpreted_string_literal", "raw_string_literal"):
        return len(text(node)) == 2
    if kind == "composite_literal":
        body = node.child_by_field_name("body")
        return body is not None and body.named_child_count == 0
    return False


def _zero(type_node: Node) -> str | None:
    kind = type_node.type
    if kind in _NIL_TYPES:
        return "nil"
    if kind == "type_identifier":
        name = text(type_node)
        if name in _NUMBERS:
            return "0"
        if name == "string":
            return '""'
        if name == "bool":
            return "false"
        if name in ("error", "any"):
            return "nil"
        return None
    if kind == "qualified_type":
        key = (text(type_node.child_by_field_name("package")), text(type_node.child_by_field_name("name")))
        if key in _STRUCTS:
            return f"{text(type_node)}{{}}"
        if key in _NUMBER_TYPES:
            return "0"
    return None
