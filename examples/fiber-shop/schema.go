package main

import (
	"context"
	"database/sql"
)

// schema creates the shop's tables in SQLite and stocks a few products.
var schema = []string{
	`CREATE TABLE IF NOT EXISTS products (
		id INTEGER PRIMARY KEY, sku TEXT UNIQUE NOT NULL, name TEXT NOT NULL,
		price_cents INTEGER NOT NULL, stock INTEGER NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, customer TEXT NOT NULL, placed_at TIMESTAMP NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS order_items (
		order_id INTEGER NOT NULL REFERENCES orders(id), product_id INTEGER NOT NULL REFERENCES products(id),
		quantity INTEGER NOT NULL)`,
	`INSERT OR IGNORE INTO products (id, sku, name, price_cents, stock) VALUES
		(1, 'MUG-1', 'Mug', 1200, 1000000), (2, 'TEE-1', 'T-shirt', 2500, 1000000)`,
}

// createSchema runs the schema statements, which may run again on every start.
func createSchema(ctx context.Context, db *sql.DB) error {
	for _, stmt := range schema {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	return nil
}
