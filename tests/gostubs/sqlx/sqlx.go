// Package sqlx is a stub of github.com/jmoiron/sqlx for the fixture tests:
// the types and signatures the fixtures use, with no behaviour.
package sqlx

import (
	"context"
	"database/sql"
)

// Queryer is an interface used by Get and Select.
type Queryer interface {
	Query(query string, args ...interface{}) (*sql.Rows, error)
	Queryx(query string, args ...interface{}) (*Rows, error)
	QueryRowx(query string, args ...interface{}) *Row
}

// QueryerContext is an interface used by GetContext and SelectContext.
type QueryerContext interface {
	QueryContext(ctx context.Context, query string, args ...interface{}) (*sql.Rows, error)
	QueryxContext(ctx context.Context, query string, args ...interface{}) (*Rows, error)
	QueryRowxContext(ctx context.Context, query string, args ...interface{}) *Row
}

// Execer is an interface used by MustExec and LoadFile.
type Execer interface {
	Exec(query string, args ...interface{}) (sql.Result, error)
}

// ExecerContext is an interface used by MustExecContext and LoadFileContext.
type ExecerContext interface {
	ExecContext(ctx context.Context, query string, args ...interface{}) (sql.Result, error)
}

type binder interface {
	DriverName() string
	Rebind(string) string
	BindNamed(string, interface{}) (string, []interface{}, error)
}

// Ext is a union interface which can bind, query, and exec.
type Ext interface {
	binder
	Queryer
	Execer
}

// ExtContext is a union interface which can bind, query, and exec, with Context.
type ExtContext interface {
	binder
	QueryerContext
	ExecerContext
}

// DB is a wrapper around sql.DB which keeps track of the driverName upon Open.
type DB struct {
	*sql.DB
}

// Tx is an sqlx wrapper around sql.Tx with extra functionality.
type Tx struct {
	*sql.Tx
}

// Conn is a wrapper around sql.Conn with extra functionality.
type Conn struct {
	*sql.Conn
}

// Stmt is an sqlx wrapper around sql.Stmt with extra functionality.
type Stmt struct {
	*sql.Stmt
}

// NamedStmt is a prepared statement that executes named queries.
type NamedStmt struct {
	Params      []string
	QueryString string
	Stmt        *Stmt
}

// Rows is a wrapper around sql.Rows which caches costly reflect operations.
type Rows struct {
	*sql.Rows
}

// Row is a reimplementation of sql.Row in order to gain access to the underlying
// sql.Rows.Columns() data, necessary for StructScan.
type Row struct{}

// Open is the same as sql.Open, but returns an *sqlx.DB instead.
func Open(driverName, dataSourceName string) (*DB, error) { panic("stub") }

// MustOpen is the same as sql.Open, but returns an *sqlx.DB instead and panics on error.
func MustOpen(driverName, dataSourceName string) *DB { panic("stub") }

// NewDb returns a new sqlx DB wrapper for a pre-existing *sql.DB.
func NewDb(db *sql.DB, driverName string) *DB { panic("stub") }

// Connect to a database and verify with a ping.
func Connect(driverName, dataSourceName string) (*DB, error) { panic("stub") }

// ConnectContext to a database and verify with a ping.
func ConnectContext(ctx context.Context, driverName, dataSourceName string) (*DB, error) {
	panic("stub")
}

// MustConnect connects to a database and panics on error.
func MustConnect(driverName, dataSourceName string) *DB { panic("stub") }

// Select executes a query using the provided Queryer, and StructScans each row into dest.
func Select(q Queryer, dest interface{}, query string, args ...interface{}) error {
	panic("stub")
}

// Get does a QueryRow using the provided Queryer, and scans the resulting row to dest.
func Get(q Queryer, dest interface{}, query string, args ...interface{}) error { panic("stub") }

// NamedQuery binds a named query and then runs Query on the result using the provided Ext.
func NamedQuery(e Ext, query string, arg interface{}) (*Rows, error) { panic("stub") }

// NamedExec uses BindStruct to get a query executable by the driver and then runs Exec on the result.
func NamedExec(e Ext, query string, arg interface{}) (sql.Result, error) { panic("stub") }

// StructScan all rows from an sql.Rows or an sqlx.Rows into the dest slice; the rows are closed.
func StructScan(rows rowsi, dest interface{}) error { panic("stub") }

type rowsi interface {
	Close() error
	Columns() ([]string, error)
	Err() error
	Next() bool
	Scan(...interface{}) error
}

// In expands slice values in args, returning the modified query string and a new arg list.
func In(query string, args ...interface{}) (string, []interface{}, error) { panic("stub") }

// DriverName returns the driverName passed to the Open function for this DB.
func (db *DB) DriverName() string { panic("stub") }

// Rebind transforms a query from QUESTION to the DB driver's bindvar type.
func (db *DB) Rebind(query string) string { panic("stub") }

// BindNamed binds a query using the DB driver's bindvar type.
func (db *DB) BindNamed(query string, arg interface{}) (string, []interface{}, error) {
	panic("stub")
}

// NamedQuery using this DB.
func (db *DB) NamedQuery(query string, arg interface{}) (*Rows, error) { panic("stub") }

// NamedQueryContext using this DB.
func (db *DB) NamedQueryContext(ctx context.Context, query string, arg interface{}) (*Rows, error) {
	panic("stub")
}

// NamedExec using this DB.
func (db *DB) NamedExec(query string, arg interface{}) (sql.Result, error) { panic("stub") }

// NamedExecContext using this DB.
func (db *DB) NamedExecContext(ctx context.Context, query string, arg interface{}) (sql.Result, error) {
	panic("stub")
}

// Select using this DB.
func (db *DB) Select(dest interface{}, query string, args ...interface{}) error { panic("stub") }

// SelectContext using this DB.
func (db *DB) SelectContext(ctx context.Context, dest interface{}, query string, args ...interface{}) error {
	panic("stub")
}

// Get using this DB.
func (db *DB) Get(dest interface{}, query string, args ...interface{}) error { panic("stub") }

// GetContext using this DB.
func (db *DB) GetContext(ctx context.Context, dest interface{}, query string, args ...interface{}) error {
	panic("stub")
}

// MustBegin starts a transaction, and panics on error.
func (db *DB) MustBegin() *Tx { panic("stub") }

// MustBeginTx starts a transaction, and panics on error.
func (db *DB) MustBeginTx(ctx context.Context, opts *sql.TxOptions) *Tx { panic("stub") }

// Beginx begins a transaction and returns an *sqlx.Tx instead of an *sql.Tx.
func (db *DB) Beginx() (*Tx, error) { panic("stub") }

// BeginTxx begins a transaction and returns an *sqlx.Tx instead of an *sql.Tx.
func (db *DB) BeginTxx(ctx context.Context, opts *sql.TxOptions) (*Tx, error) { panic("stub") }

// Queryx queries the database and returns an *sqlx.Rows.
func (db *DB) Queryx(query string, args ...interface{}) (*Rows, error) { panic("stub") }

// QueryxContext queries the database and returns an *sqlx.Rows.
func (db *DB) QueryxContext(ctx context.Context, query string, args ...interface{}) (*Rows, error) {
	panic("stub")
}

// QueryRowx queries the database and returns an *sqlx.Row.
func (db *DB) QueryRowx(query string, args ...interface{}) *Row { panic("stub") }

// QueryRowxContext queries the database and returns an *sqlx.Row.
func (db *DB) QueryRowxContext(ctx context.Context, query string, args ...interface{}) *Row {
	panic("stub")
}

// MustExec (panic) runs MustExec using this database.
func (db *DB) MustExec(query string, args ...interface{}) sql.Result { panic("stub") }

// Preparex returns an sqlx.Stmt instead of a sql.Stmt.
func (db *DB) Preparex(query string) (*Stmt, error) { panic("stub") }

// PreparexContext returns an sqlx.Stmt instead of a sql.Stmt.
func (db *DB) PreparexContext(ctx context.Context, query string) (*Stmt, error) { panic("stub") }

// PrepareNamed returns an sqlx.NamedStmt.
func (db *DB) PrepareNamed(query string) (*NamedStmt, error) { panic("stub") }

// PrepareNamedContext returns an sqlx.NamedStmt.
func (db *DB) PrepareNamedContext(ctx context.Context, query string) (*NamedStmt, error) {
	panic("stub")
}

// Connx returns an *sqlx.Conn instead of an *sql.Conn.
func (db *DB) Connx(ctx context.Context) (*Conn, error) { panic("stub") }

// DriverName returns the driverName used by the DB which began this transaction.
func (tx *Tx) DriverName() string { panic("stub") }

// Rebind a query within a transaction's bindvar type.
func (tx *Tx) Rebind(query string) string { panic("stub") }

// BindNamed binds a query within a transaction's bindvar type.
func (tx *Tx) BindNamed(query string, arg interface{}) (string, []interface{}, error) {
	panic("stub")
}

// NamedQuery within a transaction.
func (tx *Tx) NamedQuery(query string, arg interface{}) (*Rows, error) { panic("stub") }

// NamedExec a named query within a transaction.
func (tx *Tx) NamedExec(query string, arg interface{}) (sql.Result, error) { panic("stub") }

// NamedExecContext a named query within a transaction.
func (tx *Tx) NamedExecContext(ctx context.Context, query string, arg interface{}) (sql.Result, error) {
	panic("stub")
}

// Select within a transaction.
func (tx *Tx) Select(dest interface{}, query string, args ...interface{}) error { panic("stub") }

// SelectContext within a transaction.
func (tx *Tx) SelectContext(ctx context.Context, dest interface{}, query string, args ...interface{}) error {
	panic("stub")
}

// Get within a transaction.
func (tx *Tx) Get(dest interface{}, query string, args ...interface{}) error { panic("stub") }

// GetContext within a transaction.
func (tx *Tx) GetContext(ctx context.Context, dest interface{}, query string, args ...interface{}) error {
	panic("stub")
}

// Queryx within a transaction.
func (tx *Tx) Queryx(query string, args ...interface{}) (*Rows, error) { panic("stub") }

// QueryxContext within a transaction.
func (tx *Tx) QueryxContext(ctx context.Context, query string, args ...interface{}) (*Rows, error) {
	panic("stub")
}

// QueryRowx within a transaction.
func (tx *Tx) QueryRowx(query string, args ...interface{}) *Row { panic("stub") }

// MustExec runs MustExec within a transaction.
func (tx *Tx) MustExec(query string, args ...interface{}) sql.Result { panic("stub") }

// Preparex a statement within a transaction.
func (tx *Tx) Preparex(query string) (*Stmt, error) { panic("stub") }

// PreparexContext a statement within a transaction.
func (tx *Tx) PreparexContext(ctx context.Context, query string) (*Stmt, error) { panic("stub") }

// PrepareNamed returns an sqlx.NamedStmt within a transaction.
func (tx *Tx) PrepareNamed(query string) (*NamedStmt, error) { panic("stub") }

// BeginTxx begins a transaction on this connection.
func (c *Conn) BeginTxx(ctx context.Context, opts *sql.TxOptions) (*Tx, error) { panic("stub") }

// QueryxContext queries the database and returns an *sqlx.Rows.
func (c *Conn) QueryxContext(ctx context.Context, query string, args ...interface{}) (*Rows, error) {
	panic("stub")
}

// PreparexContext returns an sqlx.Stmt instead of a sql.Stmt.
func (c *Conn) PreparexContext(ctx context.Context, query string) (*Stmt, error) { panic("stub") }

// Queryx using this statement.
func (s *Stmt) Queryx(args ...interface{}) (*Rows, error) { panic("stub") }

// QueryxContext using this statement.
func (s *Stmt) QueryxContext(ctx context.Context, args ...interface{}) (*Rows, error) {
	panic("stub")
}

// QueryRowx using this statement.
func (s *Stmt) QueryRowx(args ...interface{}) *Row { panic("stub") }

// Select using the prepared statement.
func (s *Stmt) Select(dest interface{}, args ...interface{}) error { panic("stub") }

// Get using the prepared statement.
func (s *Stmt) Get(dest interface{}, args ...interface{}) error { panic("stub") }

// MustExec (panic) using this statement.
func (s *Stmt) MustExec(args ...interface{}) sql.Result { panic("stub") }

// Close closes the named statement.
func (n *NamedStmt) Close() error { panic("stub") }

// Exec executes a named statement using the struct passed.
func (n *NamedStmt) Exec(arg interface{}) (sql.Result, error) { panic("stub") }

// ExecContext executes a named statement using the struct passed.
func (n *NamedStmt) ExecContext(ctx context.Context, arg interface{}) (sql.Result, error) {
	panic("stub")
}

// Query executes a named statement using the struct argument, returning rows.
func (n *NamedStmt) Query(arg interface{}) (*sql.Rows, error) { panic("stub") }

// QueryContext executes a named statement using the struct argument, returning rows.
func (n *NamedStmt) QueryContext(ctx context.Context, arg interface{}) (*sql.Rows, error) {
	panic("stub")
}

// Queryx using this NamedStmt.
func (n *NamedStmt) Queryx(arg interface{}) (*Rows, error) { panic("stub") }

// QueryxContext using this NamedStmt.
func (n *NamedStmt) QueryxContext(ctx context.Context, arg interface{}) (*Rows, error) {
	panic("stub")
}

// Select using this NamedStmt.
func (n *NamedStmt) Select(dest interface{}, arg interface{}) error { panic("stub") }

// Get using this NamedStmt.
func (n *NamedStmt) Get(dest interface{}, arg interface{}) error { panic("stub") }

// SliceScan using this Rows.
func (r *Rows) SliceScan() ([]interface{}, error) { panic("stub") }

// MapScan using this Rows.
func (r *Rows) MapScan(dest map[string]interface{}) error { panic("stub") }

// StructScan is like sql.Rows.Scan, but scans a single Row into a single Struct.
func (r *Rows) StructScan(dest interface{}) error { panic("stub") }

// Scan is a fixed implementation of sql.Row.Scan.
func (r *Row) Scan(dest ...interface{}) error { panic("stub") }

// StructScan a single Row into dest.
func (r *Row) StructScan(dest interface{}) error { panic("stub") }

// Err returns the error encountered while scanning.
func (r *Row) Err() error { panic("stub") }
