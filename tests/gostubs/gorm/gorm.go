// Package gorm is a stub of gorm.io/gorm for the fixture tests: the types and
// signatures the fixtures use, with no behaviour.
package gorm

import (
	"context"
	"database/sql"
)

// Dialector is the interface a database driver implements.
type Dialector interface {
	Name() string
	Initialize(*DB) error
}

// Option is a gorm configuration option.
type Option interface {
	Apply(*Config) error
	AfterInitialize(*DB) error
}

// Config is the GORM configuration.
type Config struct {
	SkipDefaultTransaction bool
	PrepareStmt            bool
}

// Apply updates the configuration.
func (c *Config) Apply(config *Config) error { return nil }

// AfterInitialize runs after the database is initialized.
func (c *Config) AfterInitialize(db *DB) error { return nil }

// Statement is the statement being built.
type Statement struct {
	Table string
}

// DB is the GORM DB definition; a transaction is one too.
type DB struct {
	*Config
	Error        error
	RowsAffected int64
	Statement    *Statement
}

// Open initializes a db session based on the dialector.
func Open(dialector Dialector, opts ...Option) (db *DB, err error) { panic("stub") }

// DB returns the underlying *sql.DB.
func (db *DB) DB() (*sql.DB, error) { panic("stub") }

// WithContext changes the current context.
func (db *DB) WithContext(ctx context.Context) *DB { panic("stub") }

// Debug starts debug mode.
func (db *DB) Debug() (tx *DB) { panic("stub") }

// Session creates a new session with the configuration.
func (db *DB) Session(config *Session) *DB { panic("stub") }

// Session is a session configuration.
type Session struct {
	DryRun      bool
	PrepareStmt bool
	NewDB       bool
	Context     context.Context
}

// Begin begins a transaction with any transaction options opts.
func (db *DB) Begin(opts ...*sql.TxOptions) *DB { panic("stub") }

// Commit commits the changes in a transaction.
func (db *DB) Commit() *DB { panic("stub") }

// Rollback rollbacks the changes in a transaction.
func (db *DB) Rollback() *DB { panic("stub") }

// SavePoint creates a save point.
func (db *DB) SavePoint(name string) *DB { panic("stub") }

// RollbackTo rolls back to a save point.
func (db *DB) RollbackTo(name string) *DB { panic("stub") }

// Transaction starts a transaction as a block: it is committed when fc returns nil,
// rolled back when it returns an error.
func (db *DB) Transaction(fc func(tx *DB) error, opts ...*sql.TxOptions) (err error) {
	panic("stub")
}

// Model specifies the model to run db operations on.
func (db *DB) Model(value interface{}) (tx *DB) { panic("stub") }

// Table specifies the table to run db operations on.
func (db *DB) Table(name string, args ...interface{}) (tx *DB) { panic("stub") }

// Select specifies the fields to retrieve.
func (db *DB) Select(query interface{}, args ...interface{}) (tx *DB) { panic("stub") }

// Where adds conditions.
func (db *DB) Where(query interface{}, args ...interface{}) (tx *DB) { panic("stub") }

// Order specifies the order.
func (db *DB) Order(value interface{}) (tx *DB) { panic("stub") }

// Limit specifies the number of records to retrieve.
func (db *DB) Limit(limit int) (tx *DB) { panic("stub") }

// Joins specifies join conditions.
func (db *DB) Joins(query string, args ...interface{}) (tx *DB) { panic("stub") }

// Preload preloads associations.
func (db *DB) Preload(query string, args ...interface{}) (tx *DB) { panic("stub") }

// Raw runs a raw SQL query.
func (db *DB) Raw(sql string, values ...interface{}) (tx *DB) { panic("stub") }

// Exec executes raw SQL.
func (db *DB) Exec(sql string, values ...interface{}) (tx *DB) { panic("stub") }

// Create inserts value.
func (db *DB) Create(value interface{}) (tx *DB) { panic("stub") }

// Save updates value in the database, or inserts it.
func (db *DB) Save(value interface{}) (tx *DB) { panic("stub") }

// Delete deletes value matching the given conditions.
func (db *DB) Delete(value interface{}, conds ...interface{}) (tx *DB) { panic("stub") }

// Update updates a column.
func (db *DB) Update(column string, value interface{}) (tx *DB) { panic("stub") }

// First finds the first record ordered by primary key.
func (db *DB) First(dest interface{}, conds ...interface{}) (tx *DB) { panic("stub") }

// Find finds all records matching the given conditions.
func (db *DB) Find(dest interface{}, conds ...interface{}) (tx *DB) { panic("stub") }

// Count counts the records matching the query.
func (db *DB) Count(count *int64) (tx *DB) { panic("stub") }

// Scan scans the selected values into dest.
func (db *DB) Scan(dest interface{}) (tx *DB) { panic("stub") }

// Row returns one row.
func (db *DB) Row() *sql.Row { panic("stub") }

// Rows returns the rows of the query; they must be closed.
func (db *DB) Rows() (*sql.Rows, error) { panic("stub") }

// ScanRows scans one row into dest.
func (db *DB) ScanRows(rows *sql.Rows, dest interface{}) error { panic("stub") }
