"""unfinished-tx: a transaction that can reach a return with neither Commit nor Rollback."""

from __future__ import annotations

from collections.abc import Iterable

from tree_sitter import Node

from golsp_leaks.goanalysis.dataflow.ownership import Releases, Use
from golsp_leaks.goanalysis.libraries.sql import (
    GORM,
    PGX,
    POP,
    TX_METHODS,
    Acquisition,
    DbFile,
    acquisitions,
    arguments,
    lifetime_context,
    method_call_query,
    tx_call,
)
from golsp_leaks.goanalysis.libraries.sqlflow import (
    Bound,
    bind,
    binding,
    called_methods,
    callee_text,
    context_ends_on_return,
    defer_fix,
    discarded,
    fix_anchor,
    related,
    track,
)
from golsp_leaks.goanalysis.summaries.facts import DB_FIELDS, SCOPE_FACTS, SIBLINGS
from golsp_leaks.goanalysis.summaries.params import callee_summary
from golsp_leaks.goanalysis.syntax.edits import insert_statement_after
from golsp_leaks.goanalysis.syntax.nodes import enclosing_function, statements, text
from golsp_leaks.model import Applicability, Edit, Finding, Fix, Severity
from golsp_leaks.rules.base import DEFER_RELEASE, FileContext, FixKind, Rule

_CALLS = method_call_query(TX_METHODS)


def _tx_call(call: Node, api: DbFile) -> Acquisition | None:
    found = binding(call)
    return tx_call(call, api, len(found.targets) if found is not None else 2)

#: What code does with a transaction; a guessed receiver's result must be used like this.
TX_LIKE = frozenset(
    {
        "Commit", "Rollback", "Exec", "ExecContext", "Query", "QueryContext", "QueryRow",
        "QueryRowContext", "Prepare", "PrepareContext", "Stmt", "StmtContext", "NamedExec",
        "NamedExecContext", "MustExec", "Get", "Select", "GetContext", "SelectContext", "Queryx",
        "QueryRowx", "Preparex", "Create", "Save", "Delete", "Model", "Where", "Table", "First",
        "Find", "Raw", "Update", "Updates", "CopyFrom", "SendBatch", "TX", "RawQuery", "Destroy",
    }
)

_FINISH = Releases(methods=frozenset({("Commit",), ("Rollback",)}))
#: Fields of a gorm transaction that are plain data: reading them does not hand it on.
_GORM_FIELDS = frozenset({"Error", "RowsAffected", "Statement", "Config"})
_POP_FINISH = Releases(methods=frozenset({("TX", "Commit"), ("TX", "Rollback")}))


class UnfinishedTx(Rule):
    """
    ## What it does
    Reports a transaction — begun with `Begin`/`BeginTx` (`database/sql`),
    `Beginx`/`BeginTxx`/`MustBegin` (sqlx), `Begin`/`BeginTx` (pgx, on a
    connection or a pool), gorm's `Begin()` or pop's `NewTransaction` — when
    some path from the call to a `return` (or the end of the function) neither
    commits nor rolls it back, nor hands it on.  A transaction that is
    returned, stored, or passed to another function is that code's to finish.
    A path on which `Begin` failed holds no transaction, and neither does a
    branch taken when the counter of a batch is zero, for a transaction begun
    only under `if n == 0`, counted with `n++` and reset with `n = 0` only
    after `Commit` or `Rollback` (one transaction per batch of a loop).
    Transactions this
    code does not begin are not concerned: gorm's `db.Transaction(func(tx
    *gorm.DB) error {...})`, pgx's `BeginFunc`, or the one Buffalo's
    `popmw.Transaction` middleware opens for each request
    (`c.Value("tx").(*pop.Connection)`).

    ## Why is this bad?
    An open transaction pins one connection of the pool and keeps every lock
    it took — rows it updated, tables it altered — until it ends.  Other
    requests wait on those locks, the pool runs out of connections, and
    PostgreSQL's `VACUUM` cannot clean up behind the oldest open transaction.
    `database/sql` rolls a transaction back when the context given to
    `BeginTx` ends, which for a background context is never.

    ## Example
    ```go
    func (s *Store) Share(ctx context.Context, id int64, with string) error {
        tx, err := s.db.BeginTx(ctx, nil)
        if err != nil {
            return err
        }
        if _, err := tx.ExecContext(ctx, insertShare, id, with); err != nil {
            return err // the transaction stays open
        }
        return tx.Commit()
    }
    ```

    ## Use instead
    ```go
    func (s *Store) Share(ctx context.Context, id int64, with string) error {
        tx, err := s.db.BeginTx(ctx, nil)
        if err != nil {
            return err
        }
        defer tx.Rollback() // a no-op once Commit has succeeded
        if _, err := tx.ExecContext(ctx, insertShare, id, with); err != nil {
            return err
        }
        return tx.Commit()
    }
    ```

    ## Fix safety
    Two fixes are offered.  The first inserts `defer tx.Rollback()` right after
    the error check of `Begin` (`tx.Rollback(ctx)` for pgx, with the context
    `Begin` was given; `tx.TX.Rollback()` for pop), moving a later identical
    `defer` up: a rollback after a successful commit does nothing, so the
    explicit `Commit` calls keep working, and a path that finished nothing now
    rolls back — what would have happened anyway once the connection died.  It
    is not offered inside a loop.  The second, offered when the function
    neither commits nor rolls back the transaction anywhere, and `Begin` is
    called at the top level of a function whose last result is an `error`,
    inserts a deferred function that rolls back when the function returns an
    error and commits (reporting the commit's error) otherwise; it names the
    results (`(err error)`, `(_ int, err error)`) when they are not named yet.
    That one changes behaviour — the work is now committed — which is usually
    what the forgotten `Commit` meant: review it.
    """

    id = "unfinished-tx"
    summary = "a transaction can reach a return with neither Commit nor Rollback"
    requires = (*SCOPE_FACTS, DB_FIELDS, SIBLINGS)
    default_severity = Severity.WARNING
    fix_kinds = (
        DEFER_RELEASE,
        FixKind("Commit or roll back `{tx}` in a deferred function, by the result `{err}`", Applicability.UNSAFE, "the work is now committed"),
    )
    triggers = (b"Begin", b"NewTransaction")

    def check(self, decl: Node, ctx: FileContext) -> Iterable[Finding]:
        for acquisition in acquisitions(decl, ctx.imports, _CALLS, _tx_call, ctx.package.db_fields, source=ctx.source):
            finding = self._check(acquisition, ctx)
            if finding is not None:
                yield finding

    def _check(self, acquisition: Acquisition, ctx: FileContext) -> Finding | None:
        call = acquisition.call
        func = enclosing_function(call)
        if func is None:
            return None
        where = callee_text(call)
        per_request = ctx.scope.is_per_request(call)
        bound = bind(call, func, acquisition.results, ctx.source)
        if bound is None:
            thrown = discarded(call, acquisition.results)
            if thrown is None or thrown == call or not acquisition.exact:
                return None
            return Finding(
                rule=self.id,
                start=thrown.start_byte,
                end=thrown.end_byte,
                message=(
                    f"the transaction begun by {where} is thrown away: it is never committed or "
                    "rolled back, and keeps its connection and its locks"
                ),
                per_request=per_request,
            )
        name = bound.name
        if not acquisition.exact and not called_methods(func, bound.variable, ctx.source) & TX_LIKE:
            return None  # a guessed receiver whose result is not used like a transaction
        family = acquisition.family
        if context_ends_on_return(bound, lifetime_context(acquisition)):
            return None  # the deferred cancel of its context rolls it back
        releases = _POP_FINISH if family == POP else _FINISH
        gorm = family == GORM
        tracked = track(bound, callee_summary(ctx.root, ctx.source, releases, ctx.package.siblings), gorm_error=gorm, plain_fields=_GORM_FIELDS if gorm else frozenset())
        if tracked is None or not tracked.leaks:
            return None
        entries = related(tracked, bound, "Commit or Rollback")
        if not entries:
            return None
        finished_somewhere = bool(tracked.uses[Use.RELEASE] or tracked.uses[Use.TRANSFER])
        if finished_somewhere:
            message = (
                f"the transaction {name} begun by {where} can reach a return with neither Commit "
                "nor Rollback: on that path it keeps its connection and its locks"
            )
        else:
            message = (
                f"the transaction {name} begun by {where} is never committed or rolled back: it "
                "keeps its connection and its locks"
            )
        fixes: list[Fix] = []
        context = _context_argument(acquisition)
        if family != PGX or context is not None:
            rollback = _call(family, name, "Rollback", context)
            anchor = fix_anchor(bound, gorm_error=family == GORM)
            after = "after the error check" if anchor is not None and anchor != bound.stmt else "after the call"
            first = defer_fix(
                ctx.source,
                bound,
                rollback,
                gorm_error=family == GORM,
                title=f"Insert `defer {rollback}` {after}",
            )
            if first is not None:
                fixes.append(first)
                if not finished_somewhere:
                    second = _commit_or_rollback(ctx.source, bound, family, context)
                    if second is not None:
                        fixes.append(second)
        return Finding(
            rule=self.id,
            start=bound.target.start_byte,
            end=bound.target.end_byte,
            message=message,
            related=tuple(entries),
            fixes=tuple(fixes),
            per_request=per_request,
        )


def _context_argument(acquisition: Acquisition) -> str | None:
    """The context ``Begin`` was given, when it can be written again as is (``ctx``, ``r.Context()``)."""
    args = arguments(acquisition.call)
    if not args:
        return None
    first = args[0]
    if _plain(first):
        return text(first)
    if first.type == "call_expression" and not arguments(first):
        function = first.child_by_field_name("function")
        if function is not None and function.type == "selector_expression" and _plain(
            function.child_by_field_name("operand")
        ):
            method = text(function.child_by_field_name("field"))
            if method in ("Context", "UserContext", "Background", "TODO"):
                return text(first)
    return None


def _plain(node: Node | None) -> bool:
    """An identifier or a chain of field selections (``ctx``, ``s.ctx``)."""
    while node is not None and node.type == "selector_expression":
        node = node.child_by_field_name("operand")
    return node is not None and node.type == "identifier"


def _call(family: str, name: str, method: str, context: str | None) -> str:
    if family == POP:
        return f"{name}.TX.{method}()"
    if family == PGX:
        return f"{name}.{method}({context})"
    return f"{name}.{method}()"


def _commit_or_rollback(source: bytes, bound: Bound, family: str, context: str | None) -> Fix | None:
    """``defer func() { if err != nil { rollback } else { err = commit } }()``, naming the results if need be."""
    func = bound.func
    body = func.child_by_field_name("body")
    if body is None or bound.stmt.parent is None or bound.stmt.parent.parent != body:
        return None  # not at the top level of the function: err could be shadowed there
    anchor = fix_anchor(bound, gorm_error=family == GORM)
    if anchor is None:
        return None
    named = _error_result(func, body)
    if named is None:
        return None
    err, signature = named
    commit = _call(family, bound.name, "Commit", context)
    if family == GORM:
        commit += ".Error"
    rollback = _call(family, bound.name, "Rollback", context)
    code = (
        "defer func() {\n"
        f"\tif {err} != nil {{\n"
        f"\t\t_ = {rollback}\n"
        "\t} else {\n"
        f"\t\t{err} = {commit}\n"
        "\t}\n"
        "}()"
    )
    insert = insert_statement_after(source, anchor, code)
    if insert is None:
        return None
    edits = [insert] if signature is None else [signature, insert]
    return Fix(
        f"Commit or roll back `{bound.name}` in a deferred function, by the result `{err}`",
        tuple(edits),
        Applicability.UNSAFE,
    )


def _error_result(func: Node, body: Node) -> tuple[str, Edit | None] | None:
    """The name of the function's ``error`` result, and the edit that names the results when needed."""
    result = func.child_by_field_name("result")
    if result is None:
        return None
    if result.type != "parameter_list":
        if text(result) != "error":
            return None
        if not _can_name_err(func, body):
            return None
        return "err", Edit(result.start_byte, result.end_byte, "(err error)")
    declarations = [d for d in result.named_children if d.type == "parameter_declaration"]
    if not declarations:
        return None
    last = declarations[-1]
    kind = last.child_by_field_name("type")
    if kind is None or text(kind) != "error":
        return None
    names = last.children_by_field_name("name")
    if names:
        name = text(names[-1])
        return (name, None) if name != "_" else None
    if any(d.children_by_field_name("name") for d in declarations) or not _can_name_err(func, body):
        return None
    parts = [f"_ {text(d.child_by_field_name('type'))}" for d in declarations[:-1]]
    return "err", Edit(result.start_byte, result.end_byte, "(" + ", ".join([*parts, "err error"]) + ")")


def _can_name_err(func: Node, body: Node) -> bool:
    """Would a result named ``err`` leave the function compiling (no clash with a parameter or a ``:=``)?"""
    declared = {"err"}
    params = func.child_by_field_name("parameters")
    for param in params.named_children if params is not None else []:
        for name in param.children_by_field_name("name"):
            if text(name) == "err":
                return False
            declared.add(text(name))
    for statement in statements(body):
        if statement.type == "labeled_statement" and statement.named_child_count > 1:
            statement = statement.named_children[-1]
        if statement.type == "short_var_declaration":
            left = statement.child_by_field_name("left")
            names = [text(n) for n in left.named_children] if left is not None else []
            if "err" in names and all(n == "_" or n in declared for n in names):
                return False  # `err := f()` would declare nothing new
            declared.update(names)
        elif statement.type == "var_declaration":
            for spec in statement.named_children:
                specs = spec.named_children if spec.type == "var_spec_list" else [spec]
                for item in specs:
                    names = [text(n) for n in item.children_by_field_name("name")]
                    if "err" in names:
                        return False
                    declared.update(names)
    return True
