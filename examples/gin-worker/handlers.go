package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

// Handlers serves the job API.
type Handlers struct {
	queue  *Queue
	client *http.Client
}

var (
	usageMu sync.Mutex
	usage   = map[string]int{}
)

// countUsage counts the jobs submitted with each API key.
func countUsage(c *gin.Context) {
	key := c.GetHeader("X-API-Key")
	usageMu.Lock()
	// Leak: any header value becomes a new key, and nothing ever removes one.
	usage[key]++
	usageMu.Unlock()
}

// Submit enqueues one job.
func (h *Handlers) Submit(c *gin.Context) {
	var in struct {
		URL      string `json:"url" binding:"required,url"`
		Callback string `json:"callback" binding:"omitempty,url"`
	}
	if err := c.ShouldBindJSON(&in); err != nil {
		c.JSON(http.StatusBadRequest, gin.H{"error": err.Error()})
		return
	}
	countUsage(c)
	j := &Job{ID: uuid.NewString(), URL: in.URL, Callback: in.Callback, Status: "queued"}
	if err := h.queue.Enqueue(j); err != nil {
		c.JSON(http.StatusServiceUnavailable, gin.H{"error": err.Error()})
		return
	}
	// c.Copy() is safe to use after the handler returns; c itself is not.
	cc := c.Copy()
	go func() {
		log.Printf("job %s queued by %s", j.ID, cc.ClientIP())
	}()
	c.JSON(http.StatusAccepted, gin.H{"id": j.ID})
}

// Status reports a job's state.
func (h *Handlers) Status(c *gin.Context) {
	j, ok := h.queue.Lookup(c.Param("id"))
	if !ok {
		c.JSON(http.StatusNotFound, gin.H{"error": "no such job"})
		return
	}
	c.JSON(http.StatusOK, j)
}

// Callback re-sends a finished job's result to its callback URL.
func (h *Handlers) Callback(c *gin.Context) {
	j, ok := h.queue.Lookup(c.Param("id"))
	if !ok || j.Callback == "" {
		c.JSON(http.StatusNotFound, gin.H{"error": "no such job"})
		return
	}
	// Leak: gin reuses c for another request once this handler returns, and its request context
	// is cancelled by then; the goroutine reads both.
	go func() {
		if err := h.deliver(c.Request.Context(), j); err != nil {
			log.Printf("callback for %s from %s: %v", j.ID, c.ClientIP(), err)
		}
	}()
	c.Status(http.StatusAccepted)
}

func (h *Handlers) deliver(ctx context.Context, j Job) error {
	payload, err := json.Marshal(j)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, j.Callback, bytes.NewReader(payload))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// attachBatch reads the batch body into a buffer for SubmitBatch.
func (h *Handlers) attachBatch(c *gin.Context) {
	buf := make([]byte, 10<<20)
	n, err := io.ReadFull(c.Request.Body, buf)
	if err != nil && err != io.ErrUnexpectedEOF {
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "body too large or unreadable"})
		return
	}
	// Leak: the whole 10 MiB buffer stays reachable from the request's context (buf[:n] shares
	// its backing array), however small the body.
	c.Set("batch", buf[:n])
	c.Next()
}

// SubmitBatch enqueues one job per line of the body, after checking that each URL answers.
func (h *Handlers) SubmitBatch(c *gin.Context) {
	body := c.MustGet("batch").([]byte)
	urls := strings.Fields(string(body))
	var ids, rejected []string
	for _, u := range urls {
		// Leak: the continue skips cancel, so each unreachable URL leaves a live timer behind.
		ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
		if err := h.head(ctx, u); err != nil {
			rejected = append(rejected, u)
			continue
		}
		cancel()
		j := &Job{ID: uuid.NewString(), URL: u, Status: "queued"}
		if err := h.queue.Enqueue(j); err != nil {
			rejected = append(rejected, u)
			continue
		}
		ids = append(ids, j.ID)
	}
	batch := uuid.NewString()
	// Leak: a progress logger per batch that never stops, long after the batch is done.
	go func() {
		for {
			time.Sleep(30 * time.Second)
			log.Printf("batch %s: %d jobs submitted", batch, len(ids))
		}
	}()
	c.JSON(http.StatusAccepted, gin.H{"batch": batch, "ids": ids, "rejected": rejected})
}

func (h *Handlers) head(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, url, nil)
	if err != nil {
		return err
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// Probe reports how long a URL takes to answer, giving up after five seconds.
func (h *Handlers) Probe(c *gin.Context) {
	url := c.Query("url")
	ctx, cancel := context.WithTimeout(c.Request.Context(), 5*time.Second)
	defer cancel()
	// Buffered: the prober can always hand over its result, even if we have stopped waiting.
	took := make(chan time.Duration, 1)
	go func() {
		start := time.Now()
		if err := h.head(ctx, url); err != nil {
			took <- -1
			return
		}
		took <- time.Since(start)
	}()
	select {
	case d := <-took:
		if d < 0 {
			c.JSON(http.StatusBadGateway, gin.H{"error": "unreachable"})
			return
		}
		c.JSON(http.StatusOK, gin.H{"millis": d.Milliseconds()})
	case <-ctx.Done():
		c.JSON(http.StatusGatewayTimeout, gin.H{"error": "timed out"})
	}
}

var (
	historyMu sync.Mutex
	history   []string
	// audit is where replayed events go (discarded in this example).
	audit = log.New(io.Discard, "audit ", log.LstdFlags)
)

// Replay records the request in the history and replays the whole history to the audit log,
// paced at 50 events a second so as not to flood it.
func (h *Handlers) Replay(c *gin.Context) {
	historyMu.Lock()
	// Leak: the history gets one more event per request and nothing trims it, so every replay is slower.
	history = append(history, c.Request.Method+" "+c.Request.URL.Path+" from "+c.ClientIP())
	events := append([]string(nil), history...)
	historyMu.Unlock()

	pace := time.NewTicker(20 * time.Millisecond)
	defer pace.Stop()
	for _, event := range events {
		<-pace.C
		audit.Println(event)
	}
	c.JSON(http.StatusOK, gin.H{"replayed": len(events)})
}
