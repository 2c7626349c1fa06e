// Package popmw is a stub of github.com/gobuffalo/buffalo-pop/v3/pop/popmw for
// the fixture tests: the types and signatures the fixtures use, with no behaviour.
package popmw

import (
	"github.com/gobuffalo/buffalo"
	"github.com/gobuffalo/pop/v6"
)

// Transaction is a piece of Buffalo middleware that wraps each request in a
// transaction that will automatically get committed or rolled back. It puts
// the transaction in the context under the key "tx".
func Transaction(db *pop.Connection) buffalo.MiddlewareFunc { panic("stub") }
