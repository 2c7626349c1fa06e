package models

import "github.com/gobuffalo/pop/v6"

// schema creates the blog's tables in SQLite and one published post; it may run again on every start.
var schema = []string{
	`CREATE TABLE IF NOT EXISTS posts (
		id TEXT PRIMARY KEY, slug TEXT UNIQUE NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL,
		cover_image TEXT NOT NULL DEFAULT '', publish_at TIMESTAMP, published_at TIMESTAMP,
		created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS comments (
		id TEXT PRIMARY KEY, post_id TEXT NOT NULL REFERENCES posts(id), author TEXT NOT NULL, body TEXT NOT NULL,
		created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS subscribers (
		id TEXT PRIMARY KEY, email TEXT UNIQUE NOT NULL, created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL)`,
	`INSERT OR IGNORE INTO posts (id, slug, title, body, published_at, created_at, updated_at) VALUES
		('6f1c1a52-4f0e-4a8e-9d2b-1d3c5e7f9a01', 'hello', 'Hello', 'The first post.',
		 CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)`,
}

func createSchema(db *pop.Connection) error {
	for _, stmt := range schema {
		if err := db.RawQuery(stmt).Exec(); err != nil {
			return err
		}
	}
	return nil
}
