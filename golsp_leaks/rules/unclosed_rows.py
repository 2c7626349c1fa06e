"""unclosed-rows: rows from a database query that are not closed on every path."""

from __future__ import annotations

from collections.abc import Iterable

from tree_sitter import Node

from golsp_leaks.goanalysis.dataflow.ownership import Releases, Use
from golsp_leaks.goanalysis.libraries.sql import (
    GORM,
    PGX,
    ROWS_METHODS,
    SQL,
    TX,
    Acquisition,
    acquisitions,
    chain_head,
    lifetime_context,
    method_call_query,
    rows_call,
    selector_parts,
)
from golsp_leaks.goanalysis.libraries.sqlflow import (
    bind,
    called_methods,
    callee_text,
    context_ends_on_return,
    defer_fix,
    deferred_release_before,
    discarded,
    related,
    track,
)
from golsp_leaks.goanalysis.names.scopes import declaration_of
from golsp_leaks.goanalysis.summaries.facts import DB_FIELDS, SCOPE_FACTS, SIBLINGS
from golsp_leaks.goanalysis.summaries.params import callee_summary
from golsp_leaks.goanalysis.summaries.returns import called_in, own_rows_calls, own_rows_functions
from golsp_leaks.goanalysis.syntax.nodes import enclosing_function, text
from golsp_leaks.model import Applicability, Edit, Finding, Fix, Severity
from golsp_leaks.rules.base import DEFER_RELEASE, FileContext, FixKind, Rule

_CALLS = method_call_query(ROWS_METHODS)

RELEASES = Releases(methods=frozenset({("Close",)}), next_closes=True)

#: What code does with rows; a guessed receiver's result must be used like this.
ROWS_LIKE = frozenset(
    {
        "Next", "Scan", "Close", "Err", "Columns", "ColumnTypes", "NextResultSet", "StructScan",
        "MapScan", "SliceScan", "Values", "RawValues", "FieldDescriptions", "CommandTag",
    }
)

#: Methods that read rows passed to them without closing them (gorm's ``db.ScanRows(rows, &u)``).
_BORROWING = frozenset({"ScanRows"})

#: Query -> Exec, for rows thrown away: the statement returns nothing to read.
_EXEC_INSTEAD = {"Query": "Exec", "QueryContext": "ExecContext", "Queryx": "Exec", "QueryxContext": "ExecContext"}


class UnclosedRows(Rule):
    """
    ## What it does
    Reports the rows returned by a database query — `Query`/`QueryContext` of
    `database/sql` (on a `*sql.DB`, `*sql.Tx`, `*sql.Conn` or `*sql.Stmt`),
    sqlx's `Queryx`/`NamedQuery`, pgx's `Query` (on a `*pgx.Conn`, a
    `*pgxpool.Pool` or a `pgx.Tx`), gorm's `.Rows()`, and the package's own
    functions and methods that return fresh `*sql.Rows` or `*sqlx.Rows` (a
    repository method, every dialect's `versionRows`, a method of the project's
    querier interface; their callers own the rows) — when some path from
    the query to a `return` (or the end of the function) neither closes them nor
    hands them on.  Rows that are returned, passed to another function, stored
    in a field or a map, sent on a channel or closed in a deferred closure are
    not this function's to close.  A path on which the query failed (`if err !=
    nil { return err }`) holds no rows, and a `for rows.Next()` loop that runs to
    its end closes them by itself: what leaks is a `return` (or `break`) in the
    middle of the loop, or before it.  Rows thrown away (`_, err :=
    db.Query(...)`) are reported too.

    The receiver must plausibly be a database handle: a value whose declared
    type is one, or a package-level variable or field named like one (`db`,
    `s.db`, `models.DB`) in a file that imports the library.

    ## Why is this bad?
    Open rows hold a connection from the pool.  Until they are closed (or, with
    `QueryContext`, until the context ends) the connection cannot be reused;
    once `SetMaxOpenConns` connections are stuck this way every query blocks for
    ever.  With pgx the connection cannot even run another query.

    ## Example
    ```go
    func (s *Store) Search(ctx context.Context, q string) ([]Note, error) {
        rows, err := s.db.QueryContext(ctx, searchSQL, q)
        if err != nil {
            return nil, err
        }
        var notes []Note
        for rows.Next() {
            var n Note
            if err := rows.Scan(&n.ID, &n.Title); err != nil {
                return nil, err // rows stay open
            }
            notes = append(notes, n)
        }
        return notes, rows.Err()
    }
    ```

    ## Use instead
    ```go
    func (s *Store) Search(ctx context.Context, q string) ([]Note, error) {
        rows, err := s.db.QueryContext(ctx, searchSQL, q)
        if err != nil {
            return nil, err
        }
        defer rows.Close()
        var notes []Note
        for rows.Next() {
            var n Note
            if err := rows.Scan(&n.ID, &n.Title); err != nil {
                return nil, err
            }
            notes = append(notes, n)
        }
        return notes, rows.Err()
    }
    ```

    ## Fix safety
    The fix inserts `defer rows.Close()` right after the query's error check
    (moving a later `defer rows.Close()` of the same block up), where the rows
    are known to exist.  It is not offered when the error is not checked right
    away (closing nil rows panics) or when the query is inside a loop (the
    deferred calls would pile up until the function returns).  Closing rows
    twice is harmless, so an explicit `rows.Close()` left in place does no
    harm.  For rows thrown away, the fix calls `Exec` instead of `Query`: the
    statement's results were never read.
    """

    id = "unclosed-rows"
    summary = "rows from a database query are not closed on every path"
    requires = (*SCOPE_FACTS, DB_FIELDS, SIBLINGS)
    default_severity = Severity.WARNING
    fix_kinds = (
        DEFER_RELEASE,
        FixKind("Call `{exec}` instead of `{query}`", Applicability.UNSAFE, "the statement runs without its rows being read"),
    )
    triggers = (b"Query", b"Rows()")

    def wants(self, decl_text: bytes, ctx: FileContext | None = None) -> bool:
        return super().wants(decl_text, ctx) or (ctx is not None and called_in(decl_text, own_rows_functions(ctx)))

    def check(self, decl: Node, ctx: FileContext) -> Iterable[Finding]:
        found = {a.call.start_byte: a for a in acquisitions(decl, ctx.imports, _CALLS, rows_call, ctx.package.db_fields, source=ctx.source)}
        for acquisition in own_rows_calls(decl, ctx):
            found.setdefault(acquisition.call.start_byte, acquisition)
        for _, acquisition in sorted(found.items()):
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
        bound = bind(call, func, 2, ctx.source)
        if bound is None:
            thrown = discarded(call, 2)
            if thrown is None or not acquisition.exact:
                return None
            return Finding(
                rule=self.id,
                start=thrown.start_byte,
                end=thrown.end_byte,
                message=(
                    f"the rows returned by {where} are thrown away and never closed: they hold a "
                    "database connection; use Exec for a statement whose rows you do not read"
                ),
                fixes=tuple(_exec_instead(acquisition)),
                per_request=per_request,
            )
        name = bound.name
        if not acquisition.exact and not called_methods(func, bound.variable, ctx.source) & ROWS_LIKE:
            return None  # a guessed receiver whose result is not used like rows
        if context_ends_on_return(bound, lifetime_context(acquisition)):
            return None  # the deferred cancel of its context closes the rows
        if _transaction_ends_on_return(acquisition, bound.func, ctx.source):
            return None  # the transaction's deferred end closes its rows
        tracked = track(bound, callee_summary(ctx.root, ctx.source, RELEASES, ctx.package.siblings), next_closes=True, borrowing_methods=_BORROWING)
        if tracked is None or not tracked.leaks:
            return None
        entries = related(tracked, bound, f"closing {name}")
        if not entries:
            return None
        subject = "rows" if name == "rows" else f"the rows {name}"
        handed_on = tracked.uses[Use.RELEASE] or tracked.uses[Use.TRANSFER]
        if handed_on:
            message = (
                f"{subject} returned by {where} are not closed on every path: until they are "
                "closed they hold a database connection"
            )
        else:
            message = (
                f"{subject} returned by {where} are never closed: a return before "
                f"{name}.Next() reports false keeps their database connection busy"
            )
        # pgx's Query returns rows even with an error: `rows, _ := conn.Query(...)` is its idiom.
        never_nil = acquisition.family == PGX and acquisition.method == "Query"
        fix = defer_fix(ctx.source, bound, f"{name}.Close()", never_nil=never_nil)
        return Finding(
            rule=self.id,
            start=bound.target.start_byte,
            end=bound.target.end_byte,
            message=message,
            related=tuple(entries),
            fixes=(fix,) if fix is not None else (),
            per_request=per_request,
        )


_TX_END = Releases(methods=frozenset({("Commit",), ("Rollback",), ("TX", "Commit"), ("TX", "Rollback")}))


def _transaction_ends_on_return(acquisition: Acquisition, func: Node, source: bytes) -> bool:
    """Rows of a database/sql transaction whose Rollback (or Commit) this function has deferred.

    Ending a transaction closes its rows (not with pgx, where open rows make the
    rollback fail).
    """
    if acquisition.family not in (SQL, GORM) or acquisition.handle.kind != TX:
        return False
    parts = selector_parts(acquisition.call)
    head = chain_head(parts[0]) if parts is not None else None
    if head is None:
        return False
    return deferred_release_before(func, declaration_of(head, source), _TX_END, acquisition.call, source)


def _exec_instead(acquisition: Acquisition) -> list[Fix]:
    if acquisition.family not in (SQL, PGX):
        return []
    replacement = _EXEC_INSTEAD.get(acquisition.method)
    function = acquisition.call.child_by_field_name("function")
    field = function.child_by_field_name("field") if function is not None else None
    if replacement is None or field is None or text(field) != acquisition.method:
        return []
    if acquisition.family == PGX and acquisition.method != "Query":
        return []
    return [
        Fix(
            f"Call `{replacement}` instead of `{acquisition.method}`",
            (Edit(field.start_byte, field.end_byte, replacement),),
            Applicability.UNSAFE,
        )
    ]
