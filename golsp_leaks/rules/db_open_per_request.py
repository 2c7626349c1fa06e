"""db-open-per-request: a connection pool opened in code that runs per request (or per call)."""

from __future__ import annotations

from collections.abc import Iterable

from tree_sitter import Node

from golsp_leaks.goanalysis.dataflow.escapes import kept_by_holders
from golsp_leaks.goanalysis.dataflow.ownership import Releases, Use
from golsp_leaks.goanalysis.libraries.frameworks import function_key, top_level_function
from golsp_leaks.goanalysis.libraries.sql import (
    GORM,
    LIBRARIES,
    OPENERS,
    POP,
    Acquisition,
    acquisitions,
    method_call_query,
    open_call,
)
from golsp_leaks.goanalysis.libraries.sqlflow import (
    Bound,
    bind,
    called_methods,
    callee_text,
    defer_fix,
    fix_anchor,
    in_loop,
    related,
    track,
)
from golsp_leaks.goanalysis.summaries.facts import DB_FIELDS, REPEATED, SCOPE_FACTS
from golsp_leaks.goanalysis.summaries.params import callee_summary
from golsp_leaks.goanalysis.syntax.edits import insert_statement_after, terminates, unique_name
from golsp_leaks.goanalysis.syntax.nodes import FUNCTION_TYPES, enclosing_function, text
from golsp_leaks.model import Applicability, Finding, Fix, Severity
from golsp_leaks.rules.base import DEFER_RELEASE, FileContext, FixKind, Rule

_CALLS = method_call_query((name for _, name in OPENERS), on_identifier=True)
#: The flavours of the libraries that have an opener.
_FLAVOURS = frozenset(flavour for flavour, _ in OPENERS)

_CLOSE = Releases(methods=frozenset({("Close",)}))
#: gorm's DB has no Close: handing out its *sql.DB (``db.DB()``) is how it gets closed.
_GORM_CLOSE = Releases(methods=frozenset({("Close",), ("DB",)}))
_TESTING = frozenset({"T", "B", "F", "M"})


class DbOpenPerRequest(Rule):
    """
    ## What it does
    Reports `sql.Open` (and `sql.OpenDB`), sqlx's `Open`/`Connect`/`MustConnect`,
    `gorm.Open`, `pgxpool.New`/`NewWithConfig` and pop's `NewConnection`
    (followed by `Open()`) in code that runs again and again:

    * in a request handler (or code nested in one), always — even when the
      pool is closed, opening one per request is the bug;
    * in any other function, when some path from the call to a `return` neither
      closes the pool nor hands it on — so each call leaks one.

    Code that runs once is not concerned: `main`, `init`, a `sync.Once`
    (`once.Do`, `sync.OnceValue`), functions only ever called from those (when
    the package's other files are known), and tests.  Neither is a constructor:
    a function that returns the pool, or stores it in a field or a package-level
    variable, even when one of its error returns leaves the pool open, unless
    the package summaries show it runs more than once (it is called per
    request, in a loop or from a stored function literal) or it opens the pool
    in a loop.  `pop.Connect` is not reported: it returns the connection pop
    keeps for that name, opened once.

    ## Why is this bad?
    A `*sql.DB` (like a `*pgxpool.Pool` or a `*gorm.DB`) is a whole connection
    pool, with background goroutines, meant to be opened once and shared: it is
    safe for concurrent use.  Opening one per request pays a new TCP and TLS
    handshake and authentication every time, defeats the pool's limits (each
    request gets its own `MaxOpenConns`), and can exhaust the database's
    connection slots under load.  A pool that is not closed also leaks its
    connections and goroutines for the rest of the process.

    ## Example
    ```go
    func (s *Shop) salesReport(w http.ResponseWriter, r *http.Request) {
        db, err := sql.Open("pgx", s.reportDSN)
        if err != nil {
            http.Error(w, err.Error(), http.StatusInternalServerError)
            return
        }
        var orders int64
        err = db.QueryRowContext(r.Context(), `SELECT count(*) FROM orders`).Scan(&orders)
        ...
    }
    ```

    ## Use instead
    ```go
    // main: s.reportDB, err = sql.Open("pgx", reportDSN); defer s.reportDB.Close()

    func (s *Shop) salesReport(w http.ResponseWriter, r *http.Request) {
        var orders int64
        err := s.reportDB.QueryRowContext(r.Context(), `SELECT count(*) FROM orders`).Scan(&orders)
        ...
    }
    ```

    ## Fix safety
    When the pool is not closed on every path, the fix inserts `defer
    db.Close()` right after the error check of the call (for gorm, `if sqlDB,
    err := db.DB(); err == nil { defer sqlDB.Close() }`), which stops the leak
    without changing what the function does.  Sharing one pool created at
    start-up is the real remedy, and is left to you: it touches other code.
    No fix is offered inside a loop.
    """

    id = "db-open-per-request"
    summary = "a database connection pool is opened per request (or per call) and not shared"
    requires = (*SCOPE_FACTS, DB_FIELDS, REPEATED)
    default_severity = Severity.WARNING
    fix_kinds = (
        DEFER_RELEASE,
        FixKind("Close the pool under `{name}` when the function returns", Applicability.SAFE),
    )
    triggers = (b"Open", b"Connect", b"pgxpool")
    # An opener is a call on a database library's package name (open_call): without its import
    # there is none.  "Open" alone is in a third of the standard library's net/ files.
    file_triggers = tuple(path.encode() for path in sorted(LIBRARIES) if LIBRARIES[path][1] in _FLAVOURS)

    def check(self, decl: Node, ctx: FileContext) -> Iterable[Finding]:
        for acquisition in acquisitions(decl, ctx.imports, _CALLS, open_call, ctx.package.db_fields, source=ctx.source):
            finding = self._check(acquisition, ctx)
            if finding is not None:
                yield finding

    def _check(self, acquisition: Acquisition, ctx: FileContext) -> Finding | None:
        call = acquisition.call
        func = enclosing_function(call)
        if func is None:
            return None
        handler = ctx.scope.enclosing_handler(call)
        if handler is None and (ctx.scope.runs_once(call) or _startup_or_test(call, ctx)):
            return None
        bound = bind(call, func, acquisition.results, ctx.source)
        if bound is None:
            return None  # returned, stored, or thrown away at once
        name = bound.name
        family = acquisition.family
        if family == POP:
            if "Open" not in called_methods(func, bound.variable, ctx.source):
                return None  # NewConnection alone opens nothing
            opened = _pop_open_check(bound)
            if opened is not None:
                # The pool exists once Open succeeded (Close would panic before).
                bound = Bound(call, opened, bound.target, None, func, source=bound.source)
        tracked = track(bound, callee_summary(ctx.root, ctx.source, _GORM_CLOSE if family == GORM else _CLOSE))
        if tracked is None:
            return None
        if not tracked.leaks and (handler is None or not tracked.uses[Use.RELEASE]):
            return None  # closed, or kept (returned, stored: a constructor or a cache of pools)
        constructor = tracked.transferred or bool(kept_by_holders(bound.func, bound.variable, ctx.source))
        if handler is None and constructor and not _runs_repeatedly(call, func, ctx):
            # A constructor: it hands the pool to its caller, which opens it once at start-up as far
            # as the package shows; what its error returns leave open, the failed start-up ends.
            return None
        where = callee_text(call)
        function = call.child_by_field_name("function")
        location = function if function is not None else call
        share = "create one pool at start-up and share it (it is safe for concurrent use)"
        if tracked.leaks:
            entries = related(tracked, bound, f"closing {name}")
            if not entries:
                return None
            fix = _close_fix(ctx.source, bound, family)
            if handler is not None:
                message = (
                    f"{where} opens a new connection pool on every request and does not close it on "
                    f"every path: each request leaks a pool; {share}"
                )
            else:
                message = (
                    f"{where} opens a new connection pool on every call of {_function_name(func)} and "
                    f"does not close it on every path: each call leaks a pool with its connections; {share}"
                )
            return Finding(
                rule=self.id,
                start=location.start_byte,
                end=location.end_byte,
                message=message,
                related=tuple(entries),
                fixes=(fix,) if fix is not None else (),
                per_request=handler is not None,
            )
        return Finding(
            rule=self.id,
            start=location.start_byte,
            end=location.end_byte,
            message=(
                f"{where} opens (and closes) a whole connection pool on every request: each request "
                f"pays for new connections and escapes the pool's limits; {share}"
            ),
            per_request=True,
        )


def _runs_repeatedly(call: Node, func: Node, ctx: FileContext) -> bool:
    """Is the open known to run more than once: in a loop, or in a function the package calls
    per request, in a loop or from a stored function literal (the ``repeated`` summary fact)?"""
    if in_loop(call, func):
        return True
    top = top_level_function(call)
    key = function_key(top) if top is not None and top == func else None
    return key is not None and key in ctx.package.repeated


def _startup_or_test(call: Node, ctx: FileContext) -> bool:
    """Code in ``main`` or ``init`` (outside a handler), or in a test."""
    top = top_level_function(call)
    if top is not None and top.type == "function_declaration" and text(top.child_by_field_name("name")) in (
        "main",
        "init",
    ):
        return True
    if ctx.path is not None and ctx.path.endswith("_test.go"):
        return True
    current: Node | None = call
    while current is not None:
        if current.type in FUNCTION_TYPES and _takes_testing(current, ctx):
            return True
        current = current.parent
    return False


def _takes_testing(func: Node, ctx: FileContext) -> bool:
    params = func.child_by_field_name("parameters")
    names = ctx.imports.names_for("testing")
    for param in params.named_children if params is not None else []:
        kind = param.child_by_field_name("type")
        if kind is not None and kind.type == "pointer_type" and kind.named_child_count == 1:
            inner = kind.named_children[0]
            if (
                inner.type == "qualified_type"
                and text(inner.child_by_field_name("package")) in names
                and text(inner.child_by_field_name("name")) in _TESTING
            ):
                return True
    return False


def _function_name(func: Node) -> str:
    if func.type == "func_literal":
        return "this function literal"
    return text(func.child_by_field_name("name")) or "this function"


def _close_fix(source: bytes, bound: Bound, family: str) -> Fix | None:
    name = bound.name
    if kept_by_holders(bound.func, bound.variable, source):
        return None  # handed to a driver or a store that is returned: closing it would break that
    if family == POP:
        return _pop_close_fix(source, bound)
    if family != GORM:
        return defer_fix(source, bound, f"{name}.Close()")
    anchor = fix_anchor(bound)
    if anchor is None:
        return None
    inner = unique_name(bound.func, "sqlDB")
    code = f"if {inner}, err := {name}.DB(); err == nil {{\n\tdefer {inner}.Close()\n}}"
    edit = insert_statement_after(source, anchor, code)
    if edit is None:
        return None
    return Fix(f"Close the pool under `{name}` when the function returns", (edit,), Applicability.SAFE)


def _pop_open_check(bound: Bound) -> Node | None:
    """``if err := conn.Open(); err != nil { return ... }`` right after the error check of NewConnection."""
    anchor = fix_anchor(bound)
    following = anchor.next_named_sibling if anchor is not None else None
    while following is not None and following.type == "comment":
        following = following.next_named_sibling
    if following is None or following.type != "if_statement" or following.child_by_field_name("alternative"):
        return None
    init = following.child_by_field_name("initializer")
    condition = following.child_by_field_name("condition")
    if init is None or condition is None or not terminates(following.child_by_field_name("consequence")):
        return None
    left = init.child_by_field_name("left")
    right = init.child_by_field_name("right")
    if left is None or right is None or left.named_child_count != 1:
        return None
    err = text(left.named_children[0])
    if " ".join(text(right).split()) != f"{bound.name}.Open()" or " ".join(text(condition).split()) != f"{err} != nil":
        return None
    return following


def _pop_close_fix(source: bytes, bound: Bound) -> Fix | None:
    """``defer conn.Close()`` after the check of ``conn.Open()``: Close panics on a connection never opened."""
    if bound.stmt.type != "if_statement" or in_loop(bound.stmt, bound.func):
        return None
    call = f"{bound.name}.Close()"
    insert = insert_statement_after(source, bound.stmt, f"defer {call}")
    if insert is None:
        return None
    return Fix(f"Insert `defer {call}` after the error check of Open", (insert,), Applicability.SAFE)
