// Command fiber-shop is a small storefront: a catalogue, carts and checkout.
package main

import (
	"context"
	"database/sql"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/logger"
	"github.com/gofiber/fiber/v2/middleware/recover"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"
)

func main() {
	// The shop's own data is in SQLite (pure Go, no cgo) unless DATABASE_DRIVER says otherwise.
	driver := env("DATABASE_DRIVER", "sqlite")
	db, err := sql.Open(driver, env("DATABASE_URL", "file:shop.db?_pragma=busy_timeout(5000)"))
	if err != nil {
		log.Fatalf("open database: %v", err)
	}
	defer db.Close()
	db.SetMaxOpenConns(25)
	db.SetConnMaxLifetime(30 * time.Minute)
	if driver == "sqlite" {
		if err := createSchema(context.Background(), db); err != nil {
			log.Fatalf("schema: %v", err)
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	shop := &Shop{
		store:     &Store{db: db},
		reportDSN: env("REPORT_DATABASE_URL", "postgres://reports@localhost:5432/shop"),
		carriers:  strings.Split(env("CARRIERS", "https://rates.parcelco.example/quote,https://api.shipfast.example/v1/quote"), ","),
		rates:     &Rates{},
	}

	// Background workers started once; both stop when ctx is cancelled.
	go shop.syncInventory(ctx, 5*time.Minute)
	go shop.watchRates(ctx)

	app := fiber.New(fiber.Config{
		AppName:      "fiber-shop",
		ReadTimeout:  10 * time.Second,
		WriteTimeout: 10 * time.Second,
	})
	app.Use(recover.New(), logger.New())

	api := app.Group("/api")
	api.Get("/products", shop.listProducts)
	api.Get("/products/:id", shop.getProduct)
	api.Get("/products/:id/watch", shop.watchProduct)
	api.Post("/products/:id/views", shop.recordView)
	api.Post("/cart/:session/items", shop.addToCart)
	api.Post("/cart/:session/checkout", shop.checkout)
	api.Get("/orders/:id/receipt", shop.receipt)
	api.Get("/shipping/quote", shop.shippingQuote)
	api.Get("/admin/export", shop.prepareExport, shop.export)
	api.Get("/admin/report", shop.salesReport)

	go func() {
		<-ctx.Done()
		if err := app.ShutdownWithTimeout(10 * time.Second); err != nil {
			log.Printf("shutdown: %v", err)
		}
	}()
	if err := app.Listen(env("ADDR", "127.0.0.1:3000")); err != nil {
		log.Fatal(err)
	}
}

func env(key, fallback string) string {
	if v, ok := os.LookupEnv(key); ok {
		return v
	}
	return fallback
}
