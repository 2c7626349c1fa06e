package main

import (
	"context"
	"log"
	"time"
)

// reapExpired deletes expired shares and idempotency keys until ctx is cancelled.
func (s *Server) reapExpired(ctx context.Context, every time.Duration) {
	ticker := time.NewTicker(every)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			n, err := s.store.DeleteExpiredShares(ctx)
			if err != nil {
				log.Printf("reaper: %v", err)
				continue
			}
			if n > 0 {
				log.Printf("reaper: removed %d expired shares", n)
			}
			sweepIdempotencyKeys(10 * time.Minute)
		}
	}
}

// drainWebhooks delivers queued webhooks until ctx is cancelled.
func (s *Server) drainWebhooks(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case hook := <-s.webhooks:
			s.notify(ctx, hook)
		// Leak: time.After makes a new timer on every pass of the loop; each lives a full minute.
		case <-time.After(time.Minute):
			log.Printf("webhooks: idle for a minute")
		}
	}
}
