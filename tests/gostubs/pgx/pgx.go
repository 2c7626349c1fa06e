// Package pgx is a stub of github.com/jackc/pgx/v5 for the fixture tests: the
// types and signatures the fixtures use, with no behaviour.
package pgx

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
)

// ErrNoRows occurs when rows are expected but none are returned.
var ErrNoRows = errors.New("no rows in result set")

// ErrTxClosed occurs when Commit or Rollback is called on a closed transaction.
var ErrTxClosed = errors.New("tx is closed")

// ConnConfig contains all the options used to establish a connection.
type ConnConfig struct {
	Host     string
	Database string
}

// Conn is a PostgreSQL connection handle. It is not safe for concurrent usage.
type Conn struct{}

// Connect establishes a connection with a PostgreSQL server with a connection string.
func Connect(ctx context.Context, connString string) (*Conn, error) { panic("stub") }

// Close closes a connection.
func (c *Conn) Close(ctx context.Context) error { panic("stub") }

// Exec executes sql.
func (c *Conn) Exec(ctx context.Context, sql string, arguments ...any) (pgconn.CommandTag, error) {
	panic("stub")
}

// Query sends a query to the server and returns a Rows to read the results.
func (c *Conn) Query(ctx context.Context, sql string, args ...any) (Rows, error) { panic("stub") }

// QueryRow is a convenience wrapper over Query.
func (c *Conn) QueryRow(ctx context.Context, sql string, args ...any) Row { panic("stub") }

// Begin starts a transaction.
func (c *Conn) Begin(ctx context.Context) (Tx, error) { panic("stub") }

// BeginTx starts a transaction with txOptions.
func (c *Conn) BeginTx(ctx context.Context, txOptions TxOptions) (Tx, error) { panic("stub") }

// Prepare creates a prepared statement with name and sql.
func (c *Conn) Prepare(ctx context.Context, name, sql string) (*pgconn.StatementDescription, error) {
	panic("stub")
}

// Deallocate releases a prepared statement.
func (c *Conn) Deallocate(ctx context.Context, name string) error { panic("stub") }

// Ping checks that the connection is alive.
func (c *Conn) Ping(ctx context.Context) error { panic("stub") }

// TxIsoLevel is the transaction isolation level.
type TxIsoLevel string

// TxAccessMode is the transaction access mode.
type TxAccessMode string

// TxDeferrableMode is the transaction deferrable mode.
type TxDeferrableMode string

// Transaction isolation levels and access modes.
const (
	Serializable  TxIsoLevel   = "serializable"
	ReadCommitted TxIsoLevel   = "read committed"
	ReadWrite     TxAccessMode = "read write"
	ReadOnly      TxAccessMode = "read only"
)

// TxOptions are transaction modes within a transaction block.
type TxOptions struct {
	IsoLevel       TxIsoLevel
	AccessMode     TxAccessMode
	DeferrableMode TxDeferrableMode
	BeginQuery     string
}

// Tx represents a database transaction.
type Tx interface {
	Begin(ctx context.Context) (Tx, error)
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
	Prepare(ctx context.Context, name, sql string) (*pgconn.StatementDescription, error)
	Exec(ctx context.Context, sql string, arguments ...any) (commandTag pgconn.CommandTag, err error)
	Query(ctx context.Context, sql string, args ...any) (Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) Row
	Conn() *Conn
}

// Rows is the result set returned from Query. Rows must be closed before the
// connection can be used again; it is closed automatically when Next returns false.
type Rows interface {
	Close()
	Err() error
	CommandTag() pgconn.CommandTag
	FieldDescriptions() []pgconn.FieldDescription
	Next() bool
	Scan(dest ...any) error
	Values() ([]any, error)
	RawValues() [][]byte
	Conn() *Conn
}

// Row is one row returned by QueryRow.
type Row interface {
	Scan(dest ...any) error
}

// CollectableRow is the subset of Rows methods that a RowToFunc may call.
type CollectableRow interface {
	FieldDescriptions() []pgconn.FieldDescription
	Scan(dest ...any) error
	Values() ([]any, error)
	RawValues() [][]byte
}

// RowToFunc is a function that scans or otherwise converts row to a T.
type RowToFunc[T any] func(row CollectableRow) (T, error)

// CollectRows iterates through rows, calling fn for each row, and collecting the
// results into a slice of T. It closes rows.
func CollectRows[T any](rows Rows, fn RowToFunc[T]) ([]T, error) { panic("stub") }

// RowToStructByName returns a T scanned from row, matching columns to fields by name.
func RowToStructByName[T any](row CollectableRow) (T, error) { panic("stub") }

// ForEachRow iterates through rows, scanning each into scans and calling fn. It closes rows.
func ForEachRow(rows Rows, scans []any, fn func() error) (pgconn.CommandTag, error) {
	panic("stub")
}

// BeginFunc calls Begin on db and then calls fn; it commits when fn returns nil
// and rolls back otherwise.
func BeginFunc(ctx context.Context, db interface {
	Begin(ctx context.Context) (Tx, error)
}, fn func(Tx) error) (err error) {
	panic("stub")
}
