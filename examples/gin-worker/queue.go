package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net/http"
	"sync"
	"time"
)

// Job downloads a URL and records its SHA-256.
type Job struct {
	ID       string `json:"id"`
	URL      string `json:"url"`
	Callback string `json:"callback,omitempty"`
	Status   string `json:"status"`
	Sum      string `json:"sum,omitempty"`
	Err      string `json:"error,omitempty"`
}

// Queue is an in-memory job queue.
type Queue struct {
	jobs chan *Job

	mu   sync.Mutex
	byID map[string]*Job
}

// NewQueue makes a queue that holds up to size pending jobs.
func NewQueue(size int) *Queue {
	return &Queue{jobs: make(chan *Job, size), byID: map[string]*Job{}}
}

// Enqueue adds a job, or fails when the queue is full.
func (q *Queue) Enqueue(j *Job) error {
	q.mu.Lock()
	q.byID[j.ID] = j
	q.mu.Unlock()
	select {
	case q.jobs <- j:
		return nil
	default:
		q.mu.Lock()
		delete(q.byID, j.ID)
		q.mu.Unlock()
		return fmt.Errorf("queue full")
	}
}

// Lookup returns a copy of a job's state; finished jobs are forgotten once read.
func (q *Queue) Lookup(id string) (Job, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	j, ok := q.byID[id]
	if !ok {
		return Job{}, false
	}
	if j.Status == "done" || j.Status == "failed" {
		delete(q.byID, id)
	}
	return *j, true
}

// Work runs jobs until ctx is cancelled, logging when it has been idle for a while.
func (q *Queue) Work(ctx context.Context, worker int) {
	const idle = 5 * time.Minute
	timer := time.NewTimer(idle)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-q.jobs:
			q.run(ctx, j)
			if !timer.Stop() {
				<-timer.C
			}
			timer.Reset(idle)
		case <-timer.C:
			log.Printf("worker %d: idle for %s", worker, idle)
			timer.Reset(idle)
		}
	}
}

func (q *Queue) run(ctx context.Context, j *Job) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	sum, err := checksum(ctx, j.URL)
	q.mu.Lock()
	defer q.mu.Unlock()
	if err != nil {
		j.Status, j.Err = "failed", err.Error()
		return
	}
	j.Status, j.Sum = "done", sum
}

func checksum(ctx context.Context, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	h := sha256.New()
	if _, err := io.Copy(h, resp.Body); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
