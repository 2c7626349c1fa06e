// Command notes-api serves a small JSON API for personal notes.
package main

import (
	"context"
	"database/sql"
	"errors"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	_ "github.com/lib/pq"
	"golang.org/x/time/rate"
	_ "modernc.org/sqlite"
)

func main() {
	// The notes are in SQLite (pure Go, no cgo) unless DATABASE_DRIVER=postgres says otherwise.
	driver := setting("DATABASE_DRIVER", "sqlite")
	dsn := setting("DATABASE_URL", "file:notes.db?_pragma=busy_timeout(5000)")
	if driver == "postgres" {
		dsn = setting("DATABASE_URL", "postgres://notes:notes@localhost:5432/notes?sslmode=disable")
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		log.Fatalf("open database: %v", err)
	}
	defer db.Close()
	maxConns, err := strconv.Atoi(setting("DATABASE_MAX_CONNS", "20"))
	if err != nil {
		log.Fatalf("DATABASE_MAX_CONNS: %v", err)
	}
	db.SetMaxOpenConns(maxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if perSecond, err := strconv.ParseFloat(setting("RATE_LIMIT", "10"), 64); err == nil {
		clientRate = rate.Limit(perSecond)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if err := waitForDatabase(ctx, db, 10); err != nil {
		log.Fatalf("database: %v", err)
	}
	if err := createSchema(ctx, db, driver); err != nil {
		log.Fatalf("schema: %v", err)
	}
	store := NewStore(db)
	if err := store.Prepare(ctx); err != nil {
		log.Fatalf("prepare statements: %v", err)
	}
	defer store.Close()

	srv := &Server{
		store:    store,
		client:   &http.Client{Timeout: 10 * time.Second},
		hookURL:  os.Getenv("WEBHOOK_URL"),
		webhooks: make(chan webhook, 64),
	}

	// The background workers run for the life of the process and stop with ctx.
	go srv.reapExpired(ctx, time.Minute)
	go srv.drainWebhooks(ctx)

	r := chi.NewRouter()
	r.Use(middleware.RequestID, middleware.Recoverer, rateLimit, scratchBuffer)
	r.Get("/healthz", srv.health)
	r.Route("/notes", func(r chi.Router) {
		r.Get("/", srv.listNotes)
		r.Post("/", srv.createNote)
		r.Get("/search", srv.searchNotes)
		r.Get("/tags", srv.listTags)
		r.Post("/import", srv.importNotes)
		r.Get("/{id}", srv.getNote)
		r.Post("/{id}/share", srv.shareNote)
		r.Post("/{id}/archive", srv.archiveNote)
		r.Get("/{id}/preview", srv.previewLink)
	})
	r.Get("/events", srv.events)

	httpSrv := &http.Server{Addr: setting("ADDR", "127.0.0.1:8080"), Handler: r, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := httpSrv.Shutdown(shutdownCtx); err != nil {
			log.Printf("shutdown: %v", err)
		}
	}()

	log.Printf("notes-api listening on %s", httpSrv.Addr)
	if err := httpSrv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

// waitForDatabase pings the database once a second until it answers.
func waitForDatabase(ctx context.Context, db *sql.DB, attempts int) error {
	// Leak: the ticker is never stopped, so its timer outlives the function.
	ticker := time.NewTicker(time.Second)
	for i := 0; i < attempts; i++ {
		if err := db.PingContext(ctx); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
		}
	}
	return errors.New("no answer after retries")
}
