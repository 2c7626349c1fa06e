"""Which calls talk to a database, without type information.

The database rules (``unclosed-rows``, ``rows-err-unchecked``, ``unclosed-stmt``,
``unfinished-tx``, ``db-open-per-request``) need to know that ``s.db.Query(...)``
returns rows that must be closed while ``u.Query()`` (a ``*url.URL``) does not.
They know it from the file's imports and from declarations:

* a family of libraries must be imported: ``database/sql`` and sqlx (family
  ``sql``), pgx v4/v5 and its pgxpool (``pgx``), gorm (``gorm``), pop (``pop``);
* the receiver must be a handle: a parameter, variable or type assertion whose
  declared type is one (``*sql.DB``, ``pgx.Tx``, ``*gorm.DB``...), a variable
  bound from a constructor (``sql.Open``, ``db.BeginTx``, ``pool.Acquire``), a
  gorm chain (``db.WithContext(ctx).Model(&u)``) — these are *exact*; or,
  *guessed* from its name, a package-level variable or struct field called
  ``db``, ``conn``, ``pool``, ``tx``, ``fooDB``... (``s.db``, ``models.DB``), or a
  value of a package-local type so named (``type DB struct{ *sql.DB }``).

A local variable whose origin is unknown is not a handle: a miss is better than a
false alarm.  :func:`handle_of` answers for a receiver expression and
:class:`DbFile` holds what the file imports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace

from tree_sitter import Node

from golsp_leaks.goanalysis.names import scopes
from golsp_leaks.goanalysis.syntax.imports import Imports
from golsp_leaks.goanalysis.syntax.nodes import text
from golsp_leaks.goanalysis.syntax.parse import cursor

SQL = "sql"
PGX = "pgx"
GORM = "gorm"
POP = "pop"

#: Import path -> (family, flavour).  The flavour tells the packages of one family apart.
LIBRARIES: dict[str, tuple[str, str]] = {
    "database/sql": (SQL, "sql"),
    "github.com/jmoiron/sqlx": (SQL, "sqlx"),
    "github.com/jackc/pgx/v5": (PGX, "pgx"),
    "github.com/jackc/pgx/v4": (PGX, "pgx"),
    "github.com/jackc/pgx/v5/pgxpool": (PGX, "pgxpool"),
    "github.com/jackc/pgx/v4/pgxpool": (PGX, "pgxpool"),
    "gorm.io/gorm": (GORM, "gorm"),
    "github.com/gobuffalo/pop/v6": (POP, "pop"),
    "github.com/gobuffalo/pop/v5": (POP, "pop"),
    "github.com/gobuffalo/pop": (POP, "pop"),
}

#: Kinds of handle.  ``queryer`` is an sqlx interface that may hold a DB or a Tx.
DB, TX, CONN, STMT, ROWS, QUERYER = "db", "tx", "conn", "stmt", "rows", "queryer"

#: (flavour, type name) -> kind, for qualified types such as ``*sql.DB``.
_TYPES: dict[tuple[str, str], str] = {
    ("sql", "DB"): DB,
    ("sql", "Tx"): TX,
    ("sql", "Conn"): CONN,
    ("sql", "Stmt"): STMT,
    ("sql", "Rows"): ROWS,
    ("sqlx", "DB"): DB,
    ("sqlx", "Tx"): TX,
    ("sqlx", "Conn"): CONN,
    ("sqlx", "Stmt"): STMT,
    ("sqlx", "NamedStmt"): STMT,
    ("sqlx", "Rows"): ROWS,
    ("sqlx", "Ext"): QUERYER,
    ("sqlx", "ExtContext"): QUERYER,
    ("sqlx", "Queryer"): QUERYER,
    ("sqlx", "QueryerContext"): QUERYER,
    ("pgx", "Conn"): CONN,
    ("pgx", "Tx"): TX,
    ("pgx", "Rows"): ROWS,
    ("pgxpool", "Pool"): DB,
    ("pgxpool", "Conn"): CONN,
    ("pgxpool", "Tx"): TX,
    ("gorm", "DB"): DB,
    ("pop", "Connection"): CONN,
}

#: gorm methods that return a new ``*gorm.DB`` to chain on.
GORM_CHAIN = frozenset(
    {
        "WithContext", "Debug", "Session", "Model", "Table", "Select", "Where", "Or", "Not",
        "Order", "Limit", "Offset", "Joins", "InnerJoins", "Preload", "Raw", "Group", "Having",
        "Distinct", "Omit", "Unscoped", "Scopes", "Clauses", "Attrs", "Assign", "Set",
    }
)

#: Names (lower-cased) of package-level variables and fields taken for a database handle.
_HANDLE_NAMES = frozenset(
    {
        "db", "database", "sqldb", "dbx", "gormdb", "conn", "dbconn", "sqlconn", "pool", "dbpool",
        "pgpool", "tx", "txn", "dbtx", "sqltx", "stmt", "orm",
    }
)
_HANDLE_SUFFIXES = ("DB", "Db", "Pool", "Tx", "Conn", "Stmt")

#: Names of package-local types taken for a database handle (``type DB struct{ *sql.DB }``).
_HANDLE_TYPE_NAMES = frozenset(
    {"DB", "Conn", "Tx", "Pool", "DBTX", "Querier", "Queryer", "Stmt"}
)


@dataclass(frozen=True)
class Handle:
    """A value that talks to a database.

    ``family`` is None when the handle is guessed and the file imports more than
    one family.  ``exact`` says the handle is known from a declared type or a
    constructor rather than guessed from a name.  ``maybe_tx`` marks a pop
    connection or gorm DB that may itself be a transaction (a parameter, or one
    taken from a request's context).
    """

    family: str | None
    kind: str
    exact: bool
    flavour: str = ""
    maybe_tx: bool = False


class DbFile:
    """The database libraries one file imports, under their local names, and the struct fields
    of the package's other files that hold a handle (``(field, import path, type)``)."""

    def __init__(self, imports: Imports, source: bytes, package_fields: Iterable[tuple[str, str, str]] = ()) -> None:
        self.imports = imports
        #: The file's text: local names are resolved with its scopes.
        self.source = source
        self.packages: dict[str, tuple[str, str]] = {}
        for name, path in imports.by_name.items():
            library = LIBRARIES.get(path)
            if library is not None:
                self.packages[name] = library
        self.fields: dict[str, Handle] = {}
        for field_name, path, type_name in package_fields:
            family, flavour = LIBRARIES[path]
            kind = _TYPES.get((flavour, type_name))
            if kind is not None:
                self.fields[field_name] = Handle(family, kind, True, flavour, maybe_tx=family in (POP, GORM))
        self.families = frozenset(family for family, _ in self.packages.values()) | frozenset(
            h.family for h in self.fields.values() if h.family is not None
        )

    def __bool__(self) -> bool:
        return bool(self.packages) or bool(self.fields)

    def package(self, name: str) -> tuple[str, str] | None:
        """(family, flavour) of the library imported as ``name``."""
        return self.packages.get(name)

    def is_package(self, name: str) -> bool:
        return self.imports.path_of(name) is not None


# --- declarations ---------------------------------------------------------------


@dataclass(frozen=True)
class Declaration:
    """Where a local name is declared: its type node, or the value it is bound to.

    ``value`` is the expression on the right; when one call gives several
    values (``db, err := sql.Open(...)``) it is that call and ``index`` says which
    result the name is.
    """

    node: Node
    type: Node | None = None
    value: Node | None = None
    index: int = 0
    multi: bool = False


#: Kinds of the core's declarations that are local values (not types, labels or imports).
_VALUE_KINDS = frozenset({scopes.VAR, scopes.CONST, scopes.PARAM, scopes.RESULT, scopes.RECEIVER})


def resolve(ident: Node, source: bytes, stop: Node | None = None) -> Declaration | None:
    """The declaration of the identifier ``ident`` in the functions around it, or None.

    None means the name is declared at package level (or is unknown).  The
    declaration is the one the scopes resolve (see
    :func:`golsp_leaks.goanalysis.names.scopes.bindings`): parameters, receivers
    and named results, ``:=`` and ``var``, ``if``/``for``/``switch`` initializers,
    range clauses, type-switch bindings and ``select`` receives — when it lies
    inside ``stop`` (by default, the top-level declaration).
    """
    found = scopes.declaration_of(ident, source)
    if found is None or found.package_level or found.kind not in _VALUE_KINDS:
        return None
    node = found.node
    if stop is not None and not (stop.start_byte <= node.start_byte and node.end_byte <= stop.end_byte):
        return None
    return _declaration(node)


def _declaration(ident: Node) -> Declaration | None:
    """What the statement declaring ``ident`` says of it: its type, or the value it is bound to."""
    parent = ident.parent
    if parent is None:
        return None
    kind = parent.type
    if kind in ("parameter_declaration", "variadic_parameter_declaration"):
        return Declaration(parent) if kind == "variadic_parameter_declaration" else Declaration(parent, parent.child_by_field_name("type"))
    if kind in ("var_spec", "const_spec"):
        names = parent.children_by_field_name("name")
        index = next(i for i, n in enumerate(names) if n == ident)
        return _with_value(parent, parent.child_by_field_name("type"), index, parent.child_by_field_name("value"), len(names))
    holder = parent.parent
    if kind != "expression_list" or holder is None:
        return None
    if holder.type == "short_var_declaration":
        names = parent.named_children
        index = next(i for i, n in enumerate(names) if n == ident)
        return _with_value(holder, None, index, holder.child_by_field_name("right"), len(names))
    if holder.type in ("range_clause", "receive_statement"):
        return Declaration(holder)
    if holder.type == "type_switch_statement":
        return Declaration(parent)
    return None


def _with_value(node: Node, type_node: Node | None, index: int, values: Node | None, count: int) -> Declaration:
    if values is None:
        return Declaration(node, type_node)
    items = values.named_children
    if len(items) == count:
        return Declaration(node, type_node, items[index], 0)
    if len(items) == 1:
        return Declaration(node, type_node, items[0], index, multi=True)
    return Declaration(node, type_node)


def is_local(ident: Node, source: bytes, stop: Node | None = None) -> bool:
    """Is the identifier a variable declared in the function(s) around it?"""
    return resolve(ident, source, stop) is not None


# --- handles --------------------------------------------------------------------


def handle_of_type(type_node: Node | None, api: DbFile) -> Handle | None:
    """The handle a declared type stands for: ``*sql.DB``, ``pgx.Tx``, ``*DB`` (guessed)."""
    if type_node is None:
        return None
    if type_node.type == "pointer_type" and type_node.named_child_count == 1:
        type_node = type_node.named_children[0]
    if type_node.type == "parenthesized_type" and type_node.named_child_count == 1:
        return handle_of_type(type_node.named_children[0], api)
    if type_node.type == "qualified_type":
        package = api.package(text(type_node.child_by_field_name("package")))
        if package is None:
            return None
        family, flavour = package
        kind = _TYPES.get((flavour, text(type_node.child_by_field_name("name"))))
        if kind is None:
            return None
        maybe_tx = family in (POP, GORM)
        return Handle(family, kind, True, flavour, maybe_tx=maybe_tx)
    if type_node.type == "type_identifier" and text(type_node) in _HANDLE_TYPE_NAMES:
        return _guess(text(type_node), api)
    return None


def plausible_name(name: str) -> bool:
    """Is ``name`` what a package-level variable or field holding a database handle is called?"""
    return name.lower() in _HANDLE_NAMES or (name.endswith(_HANDLE_SUFFIXES) and len(name) > 2)


def _guess(name: str, api: DbFile) -> Handle | None:
    if not api.families:
        return None
    low = name.lower()
    if low.endswith(("tx", "txn")):
        kind = TX
    elif low.endswith("stmt"):
        kind = STMT
    else:
        kind = DB
    family = next(iter(api.families)) if len(api.families) == 1 else None
    # A package-level variable or a field holds the root connection, not a transaction.
    return Handle(family, kind, False)


def handle_of(expr: Node | None, api: DbFile, *, depth: int = 0) -> Handle | None:
    """The database handle ``expr`` (a method call's receiver) is, if it plausibly is one."""
    if expr is None or depth > 8 or not api:
        return None
    kind = expr.type
    if kind == "parenthesized_expression" and expr.named_child_count == 1:
        return handle_of(expr.named_children[0], api, depth=depth + 1)
    if kind == "identifier":
        name = text(expr)
        declaration = resolve(expr, api.source)
        if declaration is None:
            if api.is_package(name):
                return None
            return _guess(name, api) if plausible_name(name) else None
        found = _handle_of_declaration(declaration, api, depth)
        if found is None and plausible_name(name) and _is_local_type(declaration.type):
            # `func (db *datastore) ...` where datastore embeds *sql.DB: named like a handle.
            return _guess(name, api)
        return found
    if kind == "selector_expression":
        operand = expr.child_by_field_name("operand")
        field = text(expr.child_by_field_name("field"))
        if operand is not None and operand.type == "identifier" and api.package(text(operand)) is not None:
            return None  # sql.ErrNoRows and the like
        if field in api.fields:
            return api.fields[field]  # declared in another file of the package
        return _guess(field, api) if plausible_name(field) else None
    if kind == "call_expression":
        function = expr.child_by_field_name("function")
        if function is not None and function.type == "selector_expression":
            method = text(function.child_by_field_name("field"))
            if method in GORM_CHAIN:
                inner = handle_of(function.child_by_field_name("operand"), api, depth=depth + 1)
                if inner is not None and inner.family in (GORM, None) and GORM in api.families:
                    return replace(inner, family=GORM, kind=TX if inner.kind == TX else DB, flavour="gorm")
        return None
    if kind == "type_assertion_expression":
        handle = handle_of_type(expr.child_by_field_name("type"), api)
        return replace(handle, maybe_tx=True) if handle is not None else None
    return None


#: Predeclared types: a variable of one of them is no database handle, whatever its name.
_PREDECLARED = frozenset(
    {
        "bool", "byte", "complex64", "complex128", "error", "float32", "float64", "int", "int8",
        "int16", "int32", "int64", "rune", "string", "uint", "uint8", "uint16", "uint32", "uint64",
        "uintptr", "any", "comparable",
    }
)


def _is_local_type(type_node: Node | None) -> bool:
    """A (pointer to a) type declared in this package: ``*datastore``, ``Repo``."""
    if type_node is None:
        return False
    if type_node.type == "pointer_type" and type_node.named_child_count == 1:
        type_node = type_node.named_children[0]
    return type_node.type == "type_identifier" and text(type_node) not in _PREDECLARED


def _handle_of_declaration(declaration: Declaration, api: DbFile, depth: int) -> Handle | None:
    if declaration.type is not None:
        return handle_of_type(declaration.type, api)
    value = declaration.value
    if value is None:
        return None
    if declaration.multi:
        return handle_from_call(value, declaration.index, api, depth=depth)
    if value.type == "call_expression":
        single = handle_from_call(value, 0, api, depth=depth, single=True)
        if single is not None:
            return single
    if value.type == "unary_expression":
        return None
    return handle_of(value, api, depth=depth + 1)


def handle_from_call(call: Node, index: int, api: DbFile, *, depth: int = 0, single: bool = False) -> Handle | None:
    """The handle a call returns as its ``index``-th result (constructors, Begin, Conn...)."""
    if index != 0 or call.type != "call_expression":
        return None
    function = call.child_by_field_name("function")
    if function is None or function.type != "selector_expression":
        return None
    operand = function.child_by_field_name("operand")
    method = text(function.child_by_field_name("field"))
    if operand is not None and operand.type == "identifier" and not is_local(operand, api.source):
        package = api.package(text(operand))
        if package is not None:
            return _constructed(package, method, single)
    receiver = handle_of(operand, api, depth=depth + 1)
    if receiver is None:
        return None
    family = receiver.family
    if family == GORM:
        if method == "Begin" and single:
            return Handle(GORM, TX, receiver.exact, "gorm")
        return None
    if family == POP and method.startswith("NewTransaction") and not single:
        return Handle(POP, TX, receiver.exact, "pop")
    if method in ("Begin", "BeginTx", "Beginx", "BeginTxx") and not single:
        return replace(receiver, kind=TX, maybe_tx=False)
    if method in ("MustBegin", "MustBeginTx") and single:
        return replace(receiver, kind=TX, maybe_tx=False)
    if method in ("Conn", "Connx", "Acquire") and not single:
        return replace(receiver, kind=CONN, maybe_tx=False)
    if method in ("Prepare", "PrepareContext", "Preparex", "PreparexContext") and not single:
        return replace(receiver, kind=STMT, maybe_tx=False)
    return None


#: Package functions that make a handle: (flavour, name) -> (kind, returns an error too).
CONSTRUCTORS: dict[tuple[str, str], tuple[str, bool]] = {
    ("sql", "Open"): (DB, True),
    ("sql", "OpenDB"): (DB, False),
    ("sqlx", "Open"): (DB, True),
    ("sqlx", "Connect"): (DB, True),
    ("sqlx", "ConnectContext"): (DB, True),
    ("sqlx", "MustOpen"): (DB, False),
    ("sqlx", "MustConnect"): (DB, False),
    ("sqlx", "NewDb"): (DB, False),
    ("gorm", "Open"): (DB, True),
    ("pgxpool", "New"): (DB, True),
    ("pgxpool", "NewWithConfig"): (DB, True),
    ("pgxpool", "Connect"): (DB, True),
    ("pgxpool", "ConnectConfig"): (DB, True),
    ("pgx", "Connect"): (CONN, True),
    ("pgx", "ConnectConfig"): (CONN, True),
    ("pop", "Connect"): (CONN, True),
    ("pop", "NewConnection"): (CONN, True),
}


def _constructed(package: tuple[str, str], function: str, single: bool) -> Handle | None:
    family, flavour = package
    made = CONSTRUCTORS.get((flavour, function))
    if made is None or made[1] == single:
        return None
    return Handle(family, made[0], True, flavour)


def selector_parts(call: Node) -> tuple[Node, str] | None:
    """(receiver, method) of a method call ``receiver.method(...)``."""
    function = call.child_by_field_name("function")
    if function is None or function.type != "selector_expression":
        return None
    operand = function.child_by_field_name("operand")
    if operand is None:
        return None
    return operand, text(function.child_by_field_name("field"))


def arguments(call: Node) -> list[Node]:
    args = call.child_by_field_name("arguments")
    return [a for a in args.named_children if a.type != "comment"] if args is not None else []


# --- acquisitions ------------------------------------------------------------------


@dataclass(frozen=True)
class Acquisition:
    """A call that acquires a database resource.

    ``family`` is the library family the call belongs to ("" when the receiver
    is guessed and more than one family fits, all alike for the rule).
    ``results`` is how many values the call returns.
    """

    call: Node
    method: str
    handle: Handle
    family: str
    results: int

    @property
    def exact(self) -> bool:
        return self.handle.exact


#: Methods returning rows: method -> families it exists in.
ROWS_METHODS: dict[str, frozenset[str]] = {
    "Query": frozenset({SQL, PGX}),
    "QueryContext": frozenset({SQL}),
    "Queryx": frozenset({SQL}),
    "QueryxContext": frozenset({SQL}),
    "NamedQuery": frozenset({SQL}),
    "NamedQueryContext": frozenset({SQL}),
    "Rows": frozenset({GORM}),
}
_STMT_ROWS_METHODS = frozenset({"Query", "QueryContext", "Queryx", "QueryxContext"})

#: Methods preparing a statement (database/sql and sqlx; pgx's Prepare returns a description).
STMT_METHODS = frozenset(
    {"Prepare", "PrepareContext", "Preparex", "PreparexContext", "PrepareNamed", "PrepareNamedContext"}
)

#: Methods beginning a transaction.
TX_METHODS = frozenset(
    {
        "Begin", "BeginTx", "Beginx", "BeginTxx", "MustBegin", "MustBeginTx",
        "NewTransaction", "NewTransactionContext", "NewTransactionContextOptions",
    }
)


def _family(handle: Handle, candidates: frozenset[str], api: DbFile) -> str | None:
    """The family the call is in: the handle's, or the only imported one that has the method."""
    if handle.family is not None:
        return handle.family if handle.family in candidates else None
    fitting = candidates & api.families
    if not fitting:
        return None
    return next(iter(fitting)) if len(fitting) == 1 else ""


def rows_call(call: Node, api: DbFile) -> Acquisition | None:
    """A call returning rows to close: ``db.QueryContext(...)``, ``pool.Query(...)``, gorm's ``.Rows()``."""
    parts = selector_parts(call)
    if parts is None:
        return None
    receiver, method = parts
    candidates = ROWS_METHODS.get(method)
    if candidates is None:
        return None
    args = len(arguments(call))
    if receiver.type == "identifier" and not is_local(receiver, api.source):
        package = api.package(text(receiver))
        if package is not None:
            if package[1] == "sqlx" and method in ("NamedQuery", "NamedQueryContext"):
                return Acquisition(call, method, Handle(SQL, QUERYER, True, "sqlx"), SQL, 2)
            return None
    handle = handle_of(receiver, api)
    if handle is None:
        return None
    family = _family(handle, candidates, api)
    if family is None:
        return None
    if family == GORM and args != 0:
        return None
    if family == PGX and (handle.kind not in (DB, TX, CONN) or args < 2):
        return None
    if family == SQL and handle.kind not in (DB, TX, CONN, QUERYER) and not (
        handle.kind == STMT and method in _STMT_ROWS_METHODS
    ):
        return None
    if family == "" and handle.kind not in (DB, TX, CONN):
        return None
    return Acquisition(call, method, handle, family, 2)


def stmt_call(call: Node, api: DbFile) -> Acquisition | None:
    """A call preparing a statement on a database or connection (not on a transaction)."""
    parts = selector_parts(call)
    if parts is None:
        return None
    receiver, method = parts
    if method not in STMT_METHODS:
        return None
    handle = handle_of(receiver, api)
    if handle is None or handle.kind not in (DB, CONN):
        return None  # a statement prepared on a Tx is closed with it
    family = _family(handle, frozenset({SQL, PGX}), api)
    if family is None or family == PGX:
        return None  # pgx's Prepare returns a description, not something to close
    args = len(arguments(call))
    if family == "" and (method != "Prepare" or args != 1):
        return None  # pgx's Prepare(ctx, name, sql) has three
    if args != (2 if method.endswith("Context") else 1):
        return None
    return Acquisition(call, method, handle, SQL, 2)


def tx_call(call: Node, api: DbFile, targets: int) -> Acquisition | None:
    """A call beginning a transaction, bound to ``targets`` variables."""
    parts = selector_parts(call)
    if parts is None:
        return None
    receiver, method = parts
    if method not in TX_METHODS:
        return None
    handle = handle_of(receiver, api)
    if handle is None:
        return None
    args = len(arguments(call))
    if method.startswith("NewTransaction"):
        candidates, results = frozenset({POP}), 2
    elif method in ("Beginx", "BeginTxx"):
        candidates, results = frozenset({SQL}), 2
    elif method in ("MustBegin", "MustBeginTx"):
        candidates, results = frozenset({SQL}), 1
    elif method == "Begin" and targets == 1:
        candidates, results = frozenset({GORM}), 1
    elif method == "Begin":
        candidates, results = (frozenset({SQL}) if args == 0 else frozenset({PGX})), 2
    else:  # BeginTx(ctx, opts): *sql.TxOptions (nil, &sql.TxOptions{}) or a pgx.TxOptions value
        candidates, results = _begin_tx_families(call), 2
    family = _family(handle, candidates, api)
    if not family:
        return None  # unknown, or sql and pgx alike: the fix would not know Rollback's arguments
    if family == POP and handle.maybe_tx:
        return None  # NewTransaction on a transaction returns that same transaction
    if family == SQL and handle.kind not in (DB, CONN):
        return None
    if family == PGX and handle.kind not in (DB, CONN, TX):
        return None
    if family == SQL and method in ("Begin", "Beginx", "MustBegin") and args != 0:
        return None
    if family == PGX and method == "Begin" and args != 1:
        return None
    if results != targets:
        return None
    return Acquisition(call, method, handle, family, results)


def _begin_tx_families(call: Node) -> frozenset[str]:
    args = arguments(call)
    options = args[1] if len(args) == 2 else None
    if options is None:
        return frozenset({SQL, PGX})
    if options.type in ("nil", "unary_expression"):
        return frozenset({SQL})
    if options.type == "composite_literal":
        return frozenset({PGX})
    return frozenset({SQL, PGX})


#: Package functions that open a connection pool: (flavour, name) -> results.
OPENERS: dict[tuple[str, str], int] = {
    ("sql", "Open"): 2,
    ("sql", "OpenDB"): 1,
    ("sqlx", "Open"): 2,
    ("sqlx", "Connect"): 2,
    ("sqlx", "ConnectContext"): 2,
    ("sqlx", "MustOpen"): 1,
    ("sqlx", "MustConnect"): 1,
    ("gorm", "Open"): 2,
    ("pgxpool", "New"): 2,
    ("pgxpool", "NewWithConfig"): 2,
    ("pgxpool", "Connect"): 2,
    ("pgxpool", "ConnectConfig"): 2,
    ("pop", "NewConnection"): 2,
}


def open_call(call: Node, api: DbFile) -> Acquisition | None:
    """A call opening a connection pool: ``sql.Open``, ``gorm.Open``, ``pgxpool.New``..."""
    function = call.child_by_field_name("function")
    if function is None or function.type != "selector_expression":
        return None
    operand = function.child_by_field_name("operand")
    if operand is None or operand.type != "identifier" or is_local(operand, api.source):
        return None
    package = api.package(text(operand))
    if package is None:
        return None
    family, flavour = package
    name = text(function.child_by_field_name("field"))
    results = OPENERS.get((flavour, name))
    if results is None:
        return None
    return Acquisition(call, name, Handle(family, DB, True, flavour), family, results)


def lifetime_context(acquisition: Acquisition) -> Node | None:
    """The context whose end releases the resource: ``ctx`` of ``db.QueryContext(ctx, ...)``,
    ``tx.BeginTx(ctx, nil)``, gorm's ``db.WithContext(ctx)...``; None for pgx and calls without one.

    ``database/sql`` (under sqlx, gorm and pop too) closes rows and rolls back a
    transaction when that context ends.
    """
    call, method = acquisition.call, acquisition.method
    if acquisition.family in (SQL, POP) and (method.endswith("Context") or method in ("BeginTx", "BeginTxx", "MustBeginTx")):
        args = arguments(call)
        return args[0] if args else None
    if acquisition.family == GORM:
        node = selector_parts(call)
        receiver = node[0] if node is not None else None
        while receiver is not None and receiver.type == "call_expression":
            parts = selector_parts(receiver)
            if parts is None:
                return None
            if parts[1] == "WithContext":
                args = arguments(receiver)
                return args[0] if args else None
            receiver = parts[0]
    return None


def chain_head(expr: Node | None) -> Node | None:
    """The variable a receiver starts from: ``tx`` for ``tx``, ``tx.Model(&u).Where(q)``."""
    while expr is not None and expr.type in ("call_expression", "parenthesized_expression"):
        if expr.type == "parenthesized_expression":
            expr = expr.named_children[0] if expr.named_child_count == 1 else None
            continue
        parts = selector_parts(expr)
        expr = parts[0] if parts is not None else None
    return expr if expr is not None and expr.type == "identifier" else None


def method_call_query(methods: Iterable[str], *, on_identifier: bool = False) -> str:
    """A query for the calls ``x.M(...)`` with ``M`` one of ``methods``, captured as ``@call``
    (``x`` a plain identifier, e.g. a package name, when ``on_identifier``)."""
    names = " ".join(f'"{m}"' for m in sorted(set(methods)))
    operand = "operand: (identifier) " if on_identifier else ""
    return (
        f"(call_expression function: (selector_expression {operand}field: (field_identifier) @m"
        f" (#any-of? @m {names}))) @call"
    )


def acquisitions(
    decl: Node,
    imports: Imports,
    query: str,
    classify: Callable[[Node, DbFile], Acquisition | None],
    package_fields: Iterable[tuple[str, str, str]] = (),
    *,
    source: bytes,
) -> Iterator[Acquisition]:
    """The calls in ``decl`` matched by ``query`` that ``classify`` recognises as acquisitions,
    in a file that imports a database library or uses a handle field of the package (none otherwise)."""
    api = DbFile(imports, source, package_fields)
    if not api:
        return
    for _, captures in cursor(query).matches(decl):
        found = classify(captures["call"][0], api)
        if found is not None:
            yield found
