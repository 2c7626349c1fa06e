// Package pgconn is a stub of github.com/jackc/pgx/v5/pgconn for the fixture
// tests: the types and signatures the fixtures use, with no behaviour.
package pgconn

// CommandTag is the status text returned by PostgreSQL for a query.
type CommandTag struct {
	s string
}

// RowsAffected returns the number of rows affected.
func (ct CommandTag) RowsAffected() int64 { return 0 }

// String returns the command tag.
func (ct CommandTag) String() string { return ct.s }

// FieldDescription describes one column of a result.
type FieldDescription struct {
	Name        string
	DataTypeOID uint32
}

// StatementDescription describes a prepared statement.
type StatementDescription struct {
	Name      string
	SQL       string
	ParamOIDs []uint32
	Fields    []FieldDescription
}
