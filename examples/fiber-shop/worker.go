package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// Rates holds the latest currency rates.
type Rates struct {
	mu  sync.RWMutex
	eur float64
}

// syncInventory pulls the warehouse feed on a schedule until ctx is cancelled.
func (s *Shop) syncInventory(ctx context.Context, every time.Duration) {
	ticker := time.NewTicker(every)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			if err := s.pullWarehouseFeed(ctx, env("FEED_DIR", "/var/lib/shop/feed")); err != nil {
				log.Printf("inventory: %v", err)
			}
		}
	}
}

// pullWarehouseFeed reads every CSV file in dir (sku,stock) and applies the levels.
func (s *Shop) pullWarehouseFeed(parent context.Context, dir string) error {
	// Leak: the cancel function is discarded, so the timeout's timer lives until it fires.
	ctx, _ := context.WithTimeout(parent, 30*time.Second)
	paths, err := filepath.Glob(filepath.Join(dir, "*.csv"))
	if err != nil {
		return err
	}
	levels := map[string]int{}
	for _, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		// Leak: deferred in a loop, every feed file stays open until the whole pull is done.
		defer f.Close()
		records, err := csv.NewReader(bufio.NewReader(f)).ReadAll()
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		for _, rec := range records {
			if len(rec) != 2 {
				continue
			}
			if n, err := strconv.Atoi(rec[1]); err == nil {
				levels[rec[0]] = n
			}
		}
	}
	return s.store.SetStock(ctx, levels)
}

// watchRates refreshes the EUR rate every ten minutes until ctx is cancelled.
func (s *Shop) watchRates(ctx context.Context) {
	ticker := time.NewTicker(10 * time.Minute)
	defer ticker.Stop()
	for {
		if rate, err := fetchEURRate(ctx); err != nil {
			log.Printf("rates: %v", err)
		} else {
			s.rates.mu.Lock()
			s.rates.eur = rate
			s.rates.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

func fetchEURRate(ctx context.Context) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://rates.example.com/latest?base=USD", nil)
	if err != nil {
		return 0, err
	}
	// Leak: the response body is never closed, so each refresh leaks a connection.
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	var body struct {
		Rates map[string]float64 `json:"rates"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return 0, err
	}
	return body.Rates["EUR"], nil
}

// writeOrderExport writes the day's orders to a CSV file for the accountants.
func writeOrderExport(path string, rows [][]string) error {
	// Leak: a write error returns before Close, leaving the file descriptor open.
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	if err := w.WriteAll(rows); err != nil {
		return err
	}
	return f.Close()
}

// writeStockSnapshot is the same export done right: Close runs on every path.
func writeStockSnapshot(path string, levels map[string]int) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	w := csv.NewWriter(f)
	for sku, n := range levels {
		if err := w.Write([]string{sku, strconv.Itoa(n)}); err != nil {
			return err
		}
	}
	w.Flush()
	return w.Error()
}
