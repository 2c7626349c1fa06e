// Package models holds the blog's database models.
package models

import (
	"database/sql"
	"log"

	"github.com/gobuffalo/envy"
	"github.com/gobuffalo/pop/v6"
	"modernc.org/sqlite"
)

// DB is the connection to the blog's database, opened once for the process.
var DB *pop.Connection

func init() {
	// pop's sqlite3 dialect wants a driver named sqlite3. Unless the cgo one was built in
	// (-tags sqlite), the pure-Go modernc.org/sqlite driver serves under that name.
	if !registered("sqlite3") {
		sql.Register("sqlite3", &sqlite.Driver{})
	}
	var err error
	env := envy.Get("GO_ENV", "development")
	DB, err = pop.Connect(env)
	if err != nil {
		log.Fatal(err)
	}
	pop.Debug = env == "development"
	if DB.Dialect.Name() == "sqlite3" {
		if err := createSchema(DB); err != nil {
			log.Fatalf("schema: %v", err)
		}
	}
}

func registered(driver string) bool {
	for _, name := range sql.Drivers() {
		if name == driver {
			return true
		}
	}
	return false
}
