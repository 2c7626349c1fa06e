package main

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// ErrOutOfStock is returned when an order asks for more than is on the shelf.
var ErrOutOfStock = errors.New("out of stock")

// Product is one item in the catalogue.
type Product struct {
	ID    int64  `json:"id"`
	SKU   string `json:"sku"`
	Name  string `json:"name"`
	Cents int64  `json:"price_cents"`
	Stock int    `json:"stock"`
}

// Item is one line of a cart or an order.
type Item struct {
	ProductID int64 `json:"product_id"`
	Quantity  int   `json:"quantity"`
}

// Store is the shop's database.
type Store struct {
	db *sql.DB
}

// Products lists a page of the catalogue.
func (s *Store) Products(ctx context.Context, offset, limit int) ([]Product, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT id, sku, name, price_cents, stock FROM products ORDER BY id LIMIT $2 OFFSET $1`, offset, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()

	products := make([]Product, 0, limit)
	for rows.Next() {
		var p Product
		if err := rows.Scan(&p.ID, &p.SKU, &p.Name, &p.Cents, &p.Stock); err != nil {
			return nil, err
		}
		products = append(products, p)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return products, nil
}

// ProductBySKU loads a product by its stock-keeping unit.
func (s *Store) ProductBySKU(ctx context.Context, sku string) (Product, error) {
	// Leak: returning after the first row leaves rows open, and its connection busy;
	// Next closes rows only once it has returned false.
	rows, err := s.db.QueryContext(ctx, `SELECT id, sku, name, price_cents, stock FROM products WHERE sku = $1`, sku)
	if err != nil {
		return Product{}, err
	}
	if rows.Next() {
		var p Product
		err := rows.Scan(&p.ID, &p.SKU, &p.Name, &p.Cents, &p.Stock)
		return p, err
	}
	if err := rows.Err(); err != nil {
		return Product{}, err
	}
	return Product{}, sql.ErrNoRows
}

// Product loads one product by id.
func (s *Store) Product(ctx context.Context, id int64) (Product, error) {
	var p Product
	err := s.db.QueryRowContext(ctx, `SELECT id, sku, name, price_cents, stock FROM products WHERE id = $1`, id).
		Scan(&p.ID, &p.SKU, &p.Name, &p.Cents, &p.Stock)
	return p, err
}

// PlaceOrder takes the items off the shelf and records the order, all or nothing.
func (s *Store) PlaceOrder(ctx context.Context, customer string, items []Item) (int64, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable})
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()

	var orderID int64
	if err := tx.QueryRowContext(ctx,
		`INSERT INTO orders (customer, placed_at) VALUES ($1, $2) RETURNING id`,
		customer, time.Now()).Scan(&orderID); err != nil {
		return 0, err
	}
	for _, it := range items {
		res, err := tx.ExecContext(ctx,
			`UPDATE products SET stock = stock - $1 WHERE id = $2 AND stock >= $1`, it.Quantity, it.ProductID)
		if err != nil {
			return 0, err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return 0, ErrOutOfStock
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO order_items (order_id, product_id, quantity) VALUES ($1, $2, $3)`,
			orderID, it.ProductID, it.Quantity); err != nil {
			return 0, err
		}
	}
	return orderID, tx.Commit()
}

// SetStock overwrites the stock levels from the warehouse feed.
func (s *Store) SetStock(ctx context.Context, levels map[string]int) error {
	// Leak: a failed update returns without Rollback, so the transaction keeps its connection and locks.
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	for sku, n := range levels {
		if _, err := tx.ExecContext(ctx, `UPDATE products SET stock = $1 WHERE sku = $2`, n, sku); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// OrderTotal sums an order's lines.
func (s *Store) OrderTotal(ctx context.Context, orderID int64) (items []Item, cents int64, err error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT oi.product_id, oi.quantity, p.price_cents
		 FROM order_items oi JOIN products p ON p.id = oi.product_id WHERE oi.order_id = $1`, orderID)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	for rows.Next() {
		var it Item
		var price int64
		if err := rows.Scan(&it.ProductID, &it.Quantity, &price); err != nil {
			return nil, 0, err
		}
		items = append(items, it)
		cents += price * int64(it.Quantity)
	}
	return items, cents, rows.Err()
}
