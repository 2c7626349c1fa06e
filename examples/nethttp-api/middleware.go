package main

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

var (
	limitersMu sync.Mutex
	limiters   = map[string]*rate.Limiter{}
)

// clientRate is how many requests a second each client address may make (RATE_LIMIT, default 10).
var clientRate rate.Limit = 10

// rateLimit allows each client address clientRate requests a second.
func rateLimit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			ip = r.RemoteAddr
		}
		limitersMu.Lock()
		lim, ok := limiters[ip]
		if !ok {
			lim = rate.NewLimiter(clientRate, 20)
			// Leak: one limiter per client address is added on every new request and never removed.
			limiters[ip] = lim
		}
		limitersMu.Unlock()
		if !lim.Allow() {
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		next.ServeHTTP(w, r)
	})
}

var (
	idempotencyMu   sync.Mutex
	idempotencyKeys = map[string]time.Time{}
)

// seenBefore reports whether an Idempotency-Key was used in the last ten minutes.
// sweepIdempotencyKeys (run by the reaper) removes the old keys.
func seenBefore(r *http.Request) bool {
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		return false
	}
	idempotencyMu.Lock()
	defer idempotencyMu.Unlock()
	if _, ok := idempotencyKeys[key]; ok {
		return true
	}
	idempotencyKeys[key] = time.Now()
	return false
}

func sweepIdempotencyKeys(maxAge time.Duration) {
	idempotencyMu.Lock()
	defer idempotencyMu.Unlock()
	for key, at := range idempotencyKeys {
		if time.Since(at) > maxAge {
			delete(idempotencyKeys, key)
		}
	}
}

type scratchKey struct{}

// scratchBuffer gives handlers a buffer for decoding uploads.
func scratchBuffer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && seenBefore(r) {
			w.WriteHeader(http.StatusConflict)
			return
		}
		// Leak: a 10 MiB buffer hangs off every request's context, for small requests too.
		ctx := context.WithValue(r.Context(), scratchKey{}, make([]byte, 10<<20))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
