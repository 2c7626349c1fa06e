"""unclosed-stmt: a prepared statement that is not closed on every path."""

from __future__ import annotations

from collections.abc import Iterable

from tree_sitter import Node

from golsp_leaks.goanalysis.dataflow.ownership import Releases, Use
from golsp_leaks.goanalysis.libraries.sql import (
    STMT_METHODS,
    Acquisition,
    acquisitions,
    method_call_query,
    stmt_call,
)
from golsp_leaks.goanalysis.libraries.sqlflow import (
    bind,
    called_methods,
    callee_text,
    defer_fix,
    discarded,
    related,
    track,
)
from golsp_leaks.goanalysis.summaries.facts import DB_FIELDS, SCOPE_FACTS, SIBLINGS
from golsp_leaks.goanalysis.summaries.params import callee_summary
from golsp_leaks.goanalysis.syntax.nodes import enclosing_function
from golsp_leaks.model import Finding, Severity
from golsp_leaks.rules.base import DEFER_RELEASE, FileContext, Rule

_CALLS = method_call_query(STMT_METHODS)

RELEASES = Releases(methods=frozenset({("Close",)}))

#: What code does with a statement; a guessed receiver's result must be used like this.
STMT_LIKE = frozenset(
    {
        "Exec", "ExecContext", "Query", "QueryContext", "QueryRow", "QueryRowContext", "Close",
        "Queryx", "QueryxContext", "QueryRowx", "QueryRowxContext", "Get", "GetContext", "Select",
        "SelectContext", "MustExec", "MustExecContext",
    }
)


class UnclosedStmt(Rule):
    """
    ## What it does
    Reports a statement prepared with `Prepare`/`PrepareContext` on a `*sql.DB`
    or `*sql.Conn` (or sqlx's `Preparex`, `PrepareNamed` and their `Context`
    variants) when some path from the call to a `return` neither closes it nor
    hands it on.  A statement stored in a field (prepared once, closed at
    shutdown), returned or passed to another function is not this function's to
    close.  A statement prepared on a transaction is not reported: it is closed
    with the transaction.  pgx's `Prepare` returns a description, not a
    statement, and is not concerned.

    ## Why is this bad?
    A `*sql.Stmt` stays prepared on the server, on every connection that ran
    it, and in the pool's bookkeeping, until it is closed or the whole `*sql.DB`
    is.  Preparing a statement per call without closing it piles up prepared
    statements until the server refuses more (MySQL's
    `max_prepared_stmt_count`) or runs out of memory.

    ## Example
    ```go
    func (s *Store) Import(ctx context.Context, notes []Note) error {
        stmt, err := s.db.PrepareContext(ctx, `INSERT INTO notes (title) VALUES ($1)`)
        if err != nil {
            return err
        }
        for _, n := range notes {
            if _, err := stmt.ExecContext(ctx, n.Title); err != nil {
                return err
            }
        }
        return nil
    }
    ```

    ## Use instead
    ```go
    func (s *Store) Import(ctx context.Context, notes []Note) error {
        stmt, err := s.db.PrepareContext(ctx, `INSERT INTO notes (title) VALUES ($1)`)
        if err != nil {
            return err
        }
        defer stmt.Close()
        for _, n := range notes {
            if _, err := stmt.ExecContext(ctx, n.Title); err != nil {
                return err
            }
        }
        return nil
    }
    ```

    ## Fix safety
    The fix inserts `defer stmt.Close()` right after the error check of the
    `Prepare` call (moving a later `defer stmt.Close()` up), where the
    statement is known to exist.  It is not offered when the error is not
    checked right away or when the statement is prepared inside a loop.
    Closing a statement twice is harmless.
    """

    id = "unclosed-stmt"
    summary = "a prepared statement is not closed on every path"
    requires = (*SCOPE_FACTS, DB_FIELDS, SIBLINGS)
    default_severity = Severity.WARNING
    fix_kinds = (
        DEFER_RELEASE,
    )
    triggers = (b"Prepare",)

    def check(self, decl: Node, ctx: FileContext) -> Iterable[Finding]:
        for acquisition in acquisitions(decl, ctx.imports, _CALLS, stmt_call, ctx.package.db_fields, source=ctx.source):
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
                    f"the statement prepared by {where} is thrown away and never closed: it stays "
                    "prepared on the server until the database handle is closed"
                ),
                per_request=per_request,
            )
        name = bound.name
        if not acquisition.exact and not called_methods(func, bound.variable, ctx.source) & STMT_LIKE:
            return None
        tracked = track(bound, callee_summary(ctx.root, ctx.source, RELEASES, ctx.package.siblings))
        if tracked is None or not tracked.leaks:
            return None
        entries = related(tracked, bound, f"closing {name}")
        if not entries:
            return None
        if tracked.uses[Use.RELEASE] or tracked.uses[Use.TRANSFER]:
            message = (
                f"the statement {name} prepared by {where} is not closed on every path: it stays "
                "prepared on the server until the database handle is closed"
            )
        else:
            message = (
                f"the statement {name} prepared by {where} is never closed: every call leaves one "
                "more statement prepared on the server"
            )
        fix = defer_fix(ctx.source, bound, f"{name}.Close()")
        return Finding(
            rule=self.id,
            start=bound.target.start_byte,
            end=bound.target.end_byte,
            message=message,
            related=tuple(entries),
            fixes=(fix,) if fix is not None else (),
            per_request=per_request,
        )
