package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"
)

// Shop holds the dependencies of the handlers.
type Shop struct {
	store     *Store
	reportDSN string
	carriers  []string
	rates     *Rates
}

var (
	cartsMu sync.Mutex
	carts   = map[string][]Item{} // emptied by checkout

	recentMu sync.Mutex
	recent   = map[string][]int64{}
)

var receiptPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func (s *Shop) listProducts(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	products, err := s.store.Products(ctx, c.QueryInt("offset"), c.QueryInt("limit", 20))
	if err != nil {
		return err
	}
	return c.JSON(products)
}

func (s *Shop) getProduct(c *fiber.Ctx) error {
	id, err := c.ParamsInt("id")
	if err != nil {
		return fiber.ErrBadRequest
	}
	// Leak: cancel is lost when the lookup fails; the timer lives on after the 404.
	ctx, cancel := context.WithTimeout(c.UserContext(), time.Second)
	p, err := s.store.Product(ctx, int64(id))
	if errors.Is(err, sql.ErrNoRows) {
		return fiber.ErrNotFound
	}
	defer cancel()
	if err != nil {
		return err
	}
	return c.JSON(p)
}

func (s *Shop) recordView(c *fiber.Ctx) error {
	visitor := utils.CopyString(c.Cookies("visitor"))
	id, err := c.ParamsInt("id")
	if err != nil {
		return fiber.ErrBadRequest
	}
	recentMu.Lock()
	// Leak: one entry per visitor cookie is added and nothing ever removes it.
	recent[visitor] = append(recent[visitor], int64(id))
	recentMu.Unlock()

	// Leak: c and the string c.Params returns belong to fasthttp's pooled request; once this
	// handler returns they are reused, and the goroutine reads another request's bytes.
	go func() {
		log.Printf("view of product %s from %s", c.Params("id"), c.IP())
	}()
	return c.SendStatus(fiber.StatusAccepted)
}

func (s *Shop) watchProduct(c *fiber.Ctx) error {
	id, err := c.ParamsInt("id")
	if err != nil {
		return fiber.ErrBadRequest
	}
	email := utils.CopyString(c.Query("email")) // copied: safe to use after the handler returns
	// Leak: a goroutine per request that polls for ever; nothing ever tells it to stop.
	go func() {
		for {
			p, err := s.store.Product(context.Background(), int64(id))
			if err == nil && p.Stock > 0 {
				log.Printf("mail %s: %s is back in stock", email, p.Name)
			}
			time.Sleep(time.Minute)
		}
	}()
	return c.SendStatus(fiber.StatusAccepted)
}

func (s *Shop) addToCart(c *fiber.Ctx) error {
	var it Item
	if err := c.BodyParser(&it); err != nil || it.Quantity <= 0 {
		return fiber.ErrBadRequest
	}
	session := utils.CopyString(c.Params("session"))
	cartsMu.Lock()
	carts[session] = append(carts[session], it)
	n := len(carts[session])
	cartsMu.Unlock()
	return c.JSON(fiber.Map{"items": n})
}

func (s *Shop) checkout(c *fiber.Ctx) error {
	session := utils.CopyString(c.Params("session"))
	cartsMu.Lock()
	items := carts[session]
	delete(carts, session)
	cartsMu.Unlock()
	if len(items) == 0 {
		return fiber.NewError(fiber.StatusBadRequest, "empty cart")
	}
	orderID, err := s.store.PlaceOrder(c.UserContext(), session, items)
	if errors.Is(err, ErrOutOfStock) {
		return fiber.NewError(fiber.StatusConflict, err.Error())
	}
	if err != nil {
		return err
	}
	// Copied before the goroutine: the values, not the request, travel with it.
	customer := utils.CopyString(c.Get("X-Customer-Email"))
	go func() {
		log.Printf("order %d confirmed for %s", orderID, customer)
	}()
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"order": orderID})
}

func (s *Shop) receipt(c *fiber.Ctx) error {
	id, err := c.ParamsInt("id")
	if err != nil {
		return fiber.ErrBadRequest
	}
	items, cents, err := s.store.OrderTotal(c.UserContext(), int64(id))
	if err != nil {
		return err
	}
	// Leak: the buffer is never put back, so every receipt allocates a new one and the pool does nothing.
	buf := receiptPool.Get().(*bytes.Buffer)
	buf.Reset()
	fmt.Fprintf(buf, "Order %d\n", id)
	for _, it := range items {
		fmt.Fprintf(buf, "%d x product %d\n", it.Quantity, it.ProductID)
	}
	fmt.Fprintf(buf, "Total: %d.%02d\n", cents/100, cents%100)
	c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
	return c.SendString(buf.String())
}

type quote struct {
	Carrier string `json:"carrier"`
	Cents   int64  `json:"cents"`
}

func (s *Shop) shippingQuote(c *fiber.Ctx) error {
	zip := utils.CopyString(c.Query("zip"))
	quotes := make(chan quote)
	for _, url := range s.carriers {
		go func(url string) {
			q, err := fetchQuote(url, zip)
			if err != nil {
				return
			}
			// Leak: quotes is unbuffered and only the first answer is read; every slower
			// carrier's goroutine blocks here for ever.
			quotes <- q
		}(url)
	}
	select {
	case q := <-quotes:
		return c.JSON(q)
	case <-time.After(2 * time.Second):
		return fiber.NewError(fiber.StatusGatewayTimeout, "no carrier answered")
	}
}

func fetchQuote(url, zip string) (quote, error) {
	resp, err := http.Get(url + "?zip=" + zip)
	if err != nil {
		return quote{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return quote{}, fmt.Errorf("%s: %s", url, resp.Status)
	}
	var q quote
	err = json.NewDecoder(resp.Body).Decode(&q)
	return q, err
}

// prepareExport gives the export handler a buffer to render into.
func (s *Shop) prepareExport(c *fiber.Ctx) error {
	// Leak: a 10 MiB buffer is stored in the request's locals on every export request.
	c.Locals("exportBuf", make([]byte, 10<<20))
	return c.Next()
}

func (s *Shop) export(c *fiber.Ctx) error {
	buf, _ := c.Locals("exportBuf").([]byte)
	products, err := s.store.Products(c.UserContext(), 0, 1000)
	if err != nil {
		return err
	}
	out := buf[:0]
	for _, p := range products {
		out = fmt.Appendf(out, "%s,%q,%d,%d\n", p.SKU, p.Name, p.Cents, p.Stock)
	}
	c.Set(fiber.HeaderContentType, "text/csv")
	return c.Send(out)
}

func (s *Shop) salesReport(c *fiber.Ctx) error {
	// Leak: a new connection pool is opened (and torn down) on every request.
	db, err := sql.Open("pgx", s.reportDSN)
	if err != nil {
		return err
	}
	defer db.Close()
	var orders, cents int64
	err = db.QueryRowContext(c.UserContext(),
		`SELECT count(*), coalesce(sum(total_cents), 0) FROM orders WHERE placed_at > now() - interval '1 day'`).
		Scan(&orders, &cents)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"orders": orders, "revenue_cents": cents})
}
