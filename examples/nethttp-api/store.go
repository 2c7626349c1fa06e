package main

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// ErrArchived says that a note is archived already.
var ErrArchived = errors.New("note already archived")

// Note is one user's note.
type Note struct {
	ID        int64     `json:"id"`
	Owner     string    `json:"owner"`
	Title     string    `json:"title"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"created_at"`
}

// Store reads and writes notes in SQLite or PostgreSQL.
type Store struct {
	db      *sql.DB
	getNote *sql.Stmt
}

// NewStore wraps an open database.
func NewStore(db *sql.DB) *Store {
	return &Store{db: db}
}

// Prepare prepares the statements used on every request; Close releases them.
func (s *Store) Prepare(ctx context.Context) error {
	stmt, err := s.db.PrepareContext(ctx,
		`SELECT id, owner, title, body, created_at FROM notes WHERE id = $1`)
	if err != nil {
		return err
	}
	s.getNote = stmt
	return nil
}

// Close releases the prepared statements.
func (s *Store) Close() error {
	if s.getNote == nil {
		return nil
	}
	return s.getNote.Close()
}

// Note loads one note by id.
func (s *Store) Note(ctx context.Context, id int64) (Note, error) {
	var n Note
	err := s.getNote.QueryRowContext(ctx, id).Scan(&n.ID, &n.Owner, &n.Title, &n.Body, &n.CreatedAt)
	return n, err
}

// NotesByOwner lists the newest notes of one owner, archived ones left out.
func (s *Store) NotesByOwner(ctx context.Context, owner string, limit int) ([]Note, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT id, owner, title, body, created_at FROM notes
		 WHERE owner = $1 AND NOT archived ORDER BY created_at DESC LIMIT $2`, owner, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()

	var notes []Note
	for rows.Next() {
		var n Note
		if err := rows.Scan(&n.ID, &n.Owner, &n.Title, &n.Body, &n.CreatedAt); err != nil {
			return nil, err
		}
		notes = append(notes, n)
	}
	return notes, rows.Err()
}

// Search finds the notes of one owner whose title contains q.
func (s *Store) Search(ctx context.Context, owner, q string) ([]Note, error) {
	// Leak: rows is closed only after the loop; a Scan error returns with the connection still held.
	rows, err := s.db.QueryContext(ctx,
		`SELECT id, owner, title, body, created_at FROM notes
		 WHERE owner = $1 AND lower(title) LIKE '%' || lower($2) || '%'`, owner, q)
	if err != nil {
		return nil, err
	}
	var notes []Note
	for rows.Next() {
		var n Note
		if err := rows.Scan(&n.ID, &n.Owner, &n.Title, &n.Body, &n.CreatedAt); err != nil {
			return nil, err
		}
		notes = append(notes, n)
	}
	rows.Close()
	return notes, rows.Err()
}

// Tags lists the distinct tags one owner has used.
func (s *Store) Tags(ctx context.Context, owner string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT tag FROM note_tags WHERE owner = $1`, owner)
	if err != nil {
		return nil, err
	}
	defer rows.Close()

	var tags []string
	// Leak: rows.Err is never checked after the loop, so a broken connection looks like a short list.
	for rows.Next() {
		var tag string
		if err := rows.Scan(&tag); err != nil {
			return nil, err
		}
		tags = append(tags, tag)
	}
	return tags, nil
}

// CreateNote inserts a note and its tags in one transaction.
func (s *Store) CreateNote(ctx context.Context, n *Note, tags []string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // a no-op once Commit has succeeded

	err = tx.QueryRowContext(ctx,
		`INSERT INTO notes (owner, title, body) VALUES ($1, $2, $3) RETURNING id, created_at`,
		n.Owner, n.Title, n.Body).Scan(&n.ID, &n.CreatedAt)
	if err != nil {
		return err
	}
	for _, tag := range tags {
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO note_tags (note_id, owner, tag) VALUES ($1, $2, $3)`, n.ID, n.Owner, tag); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// ShareNote records that a note is shared with another user.
func (s *Store) ShareNote(ctx context.Context, id int64, with string, ttl time.Duration) error {
	// Leak: when the first insert fails the transaction is neither committed nor rolled back.
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO shares (note_id, shared_with, expires_at) VALUES ($1, $2, $3)`,
		id, with, time.Now().Add(ttl)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE notes SET shared = true WHERE id = $1`, id); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// ArchiveNote marks a note archived. It runs on a context without the request's cancellation,
// so that a client that hangs up cannot leave the archive half done.
func (s *Store) ArchiveNote(ctx context.Context, id int64) error {
	ctx = context.WithoutCancel(ctx)
	// Leak: a note archived already returns with the transaction open, and its context is never
	// cancelled, so the connection stays checked out of the pool for good.
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	var archived bool
	if err := tx.QueryRowContext(ctx, `SELECT archived FROM notes WHERE id = $1`, id).Scan(&archived); err != nil {
		tx.Rollback()
		return err
	}
	if archived {
		return ErrArchived
	}
	if _, err := tx.ExecContext(ctx, `UPDATE notes SET archived = true WHERE id = $1`, id); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// ImportNotes inserts a batch of notes for one owner.
func (s *Store) ImportNotes(ctx context.Context, owner string, notes []Note) (int, error) {
	// Leak: the prepared statement is never closed; every import leaves one behind on the server.
	stmt, err := s.db.PrepareContext(ctx, `INSERT INTO notes (owner, title, body) VALUES ($1, $2, $3)`)
	if err != nil {
		return 0, err
	}
	imported := 0
	for _, n := range notes {
		if _, err := stmt.ExecContext(ctx, owner, n.Title, n.Body); err != nil {
			return imported, err
		}
		imported++
	}
	return imported, nil
}

// DeleteExpiredShares removes shares whose time is up.
func (s *Store) DeleteExpiredShares(ctx context.Context) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM shares WHERE expires_at < $1`, time.Now())
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
