// Command gin-worker accepts download-and-checksum jobs over HTTP and runs them on a worker pool.
package main

import (
	"context"
	"errors"
	"log"
	"net/http"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	q := NewQueue(256)
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func(id int) {
			defer wg.Done()
			q.Work(ctx, id) // returns when ctx is cancelled
		}(i)
	}

	r := gin.New()
	r.Use(gin.Logger(), gin.Recovery())
	h := &Handlers{queue: q, client: &http.Client{Timeout: 30 * time.Second}}
	r.POST("/jobs", h.Submit)
	r.GET("/jobs/:id", h.Status)
	r.POST("/jobs/:id/callback", h.Callback)
	r.POST("/jobs/batch", h.attachBatch, h.SubmitBatch)
	r.GET("/probe", h.Probe)
	r.GET("/audit/replay", h.Replay)

	srv := &http.Server{Addr: listenAddr("ADDR", "127.0.0.1:8081"), Handler: r, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Fatal(err)
		}
	}()

	<-ctx.Done()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Printf("shutdown: %v", err)
	}
	wg.Wait()
}
