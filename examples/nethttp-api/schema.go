package main

import (
	"context"
	"database/sql"
)

// schema creates the notes tables in SQLite and a first note; it may run again on every start.
var schema = []string{
	`CREATE TABLE IF NOT EXISTS notes (
		id INTEGER PRIMARY KEY, owner TEXT NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL,
		created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, shared BOOLEAN NOT NULL DEFAULT false)`,
	`CREATE TABLE IF NOT EXISTS note_tags (note_id INTEGER NOT NULL REFERENCES notes(id), owner TEXT NOT NULL, tag TEXT NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS shares (
		note_id INTEGER NOT NULL REFERENCES notes(id), shared_with TEXT NOT NULL, expires_at TIMESTAMP NOT NULL)`,
	`INSERT OR IGNORE INTO notes (id, owner, title, body) VALUES (1, 'ann', 'Welcome', 'The first note.')`,
	`INSERT OR IGNORE INTO note_tags (note_id, owner, tag) SELECT 1, 'ann', 'hello' WHERE NOT EXISTS (SELECT 1 FROM note_tags)`,
}

// createSchema runs the schema statements.
func createSchema(ctx context.Context, db *sql.DB) error {
	for _, stmt := range schema {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	return nil
}
