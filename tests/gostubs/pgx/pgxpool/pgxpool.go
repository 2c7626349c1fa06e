// Package pgxpool is a stub of github.com/jackc/pgx/v5/pgxpool for the fixture
// tests: the types and signatures the fixtures use, with no behaviour.
package pgxpool

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Config is the configuration struct for creating a pool.
type Config struct {
	ConnConfig *pgx.ConnConfig
	MaxConns   int32
	MinConns   int32
}

// ParseConfig builds a Config from connString.
func ParseConfig(connString string) (*Config, error) { panic("stub") }

// Pool allows for connection reuse.
type Pool struct{}

// New creates a new Pool.
func New(ctx context.Context, connString string) (*Pool, error) { panic("stub") }

// NewWithConfig creates a new Pool from config.
func NewWithConfig(ctx context.Context, config *Config) (*Pool, error) { panic("stub") }

// Close closes all connections in the pool and rejects future Acquire calls.
func (p *Pool) Close() { panic("stub") }

// Acquire returns a connection from the Pool.
func (p *Pool) Acquire(ctx context.Context) (*Conn, error) { panic("stub") }

// Exec acquires a connection from the Pool and executes the given SQL.
func (p *Pool) Exec(ctx context.Context, sql string, arguments ...any) (pgconn.CommandTag, error) {
	panic("stub")
}

// Query acquires a connection and executes a query that returns pgx.Rows.
func (p *Pool) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	panic("stub")
}

// QueryRow acquires a connection and executes a query that is expected to return at most one row.
func (p *Pool) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row { panic("stub") }

// Begin acquires a connection from the Pool and starts a transaction.
func (p *Pool) Begin(ctx context.Context) (pgx.Tx, error) { panic("stub") }

// BeginTx acquires a connection from the Pool and starts a transaction with txOptions.
func (p *Pool) BeginTx(ctx context.Context, txOptions pgx.TxOptions) (pgx.Tx, error) {
	panic("stub")
}

// Ping acquires a connection from the Pool and executes an empty sql statement against it.
func (p *Pool) Ping(ctx context.Context) error { panic("stub") }

// Conn is an acquired *pgx.Conn from a Pool.
type Conn struct{}

// Release returns c to the pool it was acquired from.
func (c *Conn) Release() { panic("stub") }

// Exec executes sql on the acquired connection.
func (c *Conn) Exec(ctx context.Context, sql string, arguments ...any) (pgconn.CommandTag, error) {
	panic("stub")
}

// Query runs a query on the acquired connection.
func (c *Conn) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	panic("stub")
}

// QueryRow runs a query on the acquired connection.
func (c *Conn) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row { panic("stub") }

// Begin starts a transaction block from the acquired connection.
func (c *Conn) Begin(ctx context.Context) (pgx.Tx, error) { panic("stub") }

// BeginTx starts a transaction block from the acquired connection with txOptions.
func (c *Conn) BeginTx(ctx context.Context, txOptions pgx.TxOptions) (pgx.Tx, error) {
	panic("stub")
}

// Conn returns the underlying *pgx.Conn.
func (c *Conn) Conn() *pgx.Conn { panic("stub") }
