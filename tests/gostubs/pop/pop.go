// Package pop is a stub of github.com/gobuffalo/pop/v6 for the fixture tests:
// the types and signatures the fixtures use, with no behaviour.
package pop

import (
	"context"
	"database/sql"

	"github.com/jmoiron/sqlx"
)

// Connections contains all available connections, by name.
var Connections = map[string]*Connection{}

// ConnectionDetails stores the data needed to connect to a datasource.
type ConnectionDetails struct {
	Dialect  string
	Driver   string
	Database string
	Host     string
	Port     string
	User     string
	Password string
	URL      string
	Pool     int
	IdlePool int
	Options  map[string]string
}

// Tx stores a transaction with an ID to keep track.
type Tx struct {
	ID int
	*sqlx.Tx
}

// Connection represents all necessary details to talk with a datastore; a
// transaction is one too (its TX is set).
type Connection struct {
	ID      string
	Elapsed int64
	TX      *Tx
}

// Query is the main value that is used to build up a query to be executed.
type Query struct {
	RawSQL     string
	Connection *Connection
}

// NewConnection creates a new connection, and sets its Dialect appropriately
// based on the ConnectionDetails passed into it. It does not open it.
func NewConnection(deets *ConnectionDetails) (*Connection, error) { panic("stub") }

// Connect takes the name of a connection, default is "development", and will
// return that connection from the available Connections, opening it the first time.
func Connect(e string) (*Connection, error) { panic("stub") }

// Open creates a new datasource connection.
func (c *Connection) Open() error { panic("stub") }

// Close destroys an active datasource connection.
func (c *Connection) Close() error { panic("stub") }

// Context returns the connection's context.
func (c *Connection) Context() context.Context { panic("stub") }

// WithContext returns a copy of the connection, wrapped with a context.
func (c *Connection) WithContext(ctx context.Context) *Connection { panic("stub") }

// Transaction will start a new transaction on the connection. If the inner
// function returns an error then the transaction will be rolled back,
// otherwise the transaction will automatically commit at the end.
func (c *Connection) Transaction(fn func(tx *Connection) error) error { panic("stub") }

// TransactionContext is Transaction with a context.
func (c *Connection) TransactionContext(ctx context.Context, fn func(tx *Connection) error) error {
	panic("stub")
}

// Rollback will open a new transaction and automatically rollback that
// transaction when the inner function returns, regardless.
func (c *Connection) Rollback(fn func(tx *Connection)) error { panic("stub") }

// NewTransaction starts a new transaction on the connection (or returns the
// connection itself when it already is a transaction).
func (c *Connection) NewTransaction() (*Connection, error) { panic("stub") }

// NewTransactionContext starts a new transaction on the connection using the provided context.
func (c *Connection) NewTransactionContext(ctx context.Context) (*Connection, error) {
	panic("stub")
}

// NewTransactionContextOptions starts a new transaction with the provided context and options.
func (c *Connection) NewTransactionContextOptions(ctx context.Context, options *sql.TxOptions) (*Connection, error) {
	panic("stub")
}

// Q creates a new "empty" query for the current connection.
func (c *Connection) Q() *Query { panic("stub") }

// Where will append a where clause to the query.
func (c *Connection) Where(stmt string, args ...interface{}) *Query { panic("stub") }

// RawQuery will override the query building feature of Pop and will use
// whatever query you want to execute against the Connection.
func (c *Connection) RawQuery(stmt string, args ...interface{}) *Query { panic("stub") }

// Find the first record of the model in the database with a particular id.
func (c *Connection) Find(model interface{}, id interface{}) error { panic("stub") }

// All retrieves all of the records in the database that match the query.
func (c *Connection) All(models interface{}) error { panic("stub") }

// Create adds a new record to the database.
func (c *Connection) Create(model interface{}, excludeColumns ...string) error { panic("stub") }

// Save wraps the Create and Update methods.
func (c *Connection) Save(model interface{}, excludeColumns ...string) error { panic("stub") }

// Update writes changes from an entry to the database.
func (c *Connection) Update(model interface{}, excludeColumns ...string) error { panic("stub") }

// Destroy deletes a given entry from the database.
func (c *Connection) Destroy(model interface{}) error { panic("stub") }

// Where will append a where clause to the query.
func (q *Query) Where(stmt string, args ...interface{}) *Query { panic("stub") }

// All retrieves all of the records in the database that match the query.
func (q *Query) All(models interface{}) error { panic("stub") }

// First record of the model in the database that matches the query.
func (q *Query) First(model interface{}) error { panic("stub") }

// Exec runs the given query.
func (q *Query) Exec() error { panic("stub") }
