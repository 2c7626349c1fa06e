package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
)

// Server holds the dependencies of the HTTP handlers.
type Server struct {
	store    *Store
	client   *http.Client
	hookURL  string
	webhooks chan webhook
}

type webhook struct {
	Event string `json:"event"`
	Note  Note   `json:"note"`
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// writeJSON encodes v into a pooled buffer, then writes it with its length.
func writeJSON(w http.ResponseWriter, status int, v any) {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)

	if err := json.NewEncoder(buf).Encode(v); err != nil {
		http.Error(w, "encoding failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func owner(r *http.Request) string {
	return r.Header.Get("X-User")
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), time.Second)
	defer cancel()
	if err := s.store.db.PingContext(ctx); err != nil {
		http.Error(w, "database unavailable", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) listNotes(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	notes, err := s.store.NotesByOwner(ctx, owner(r), 50)
	if err != nil {
		http.Error(w, "could not list notes", http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, notes)
}

func (s *Server) getNote(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil {
		http.Error(w, "bad id", http.StatusBadRequest)
		return
	}
	// Leak: cancel is lost when the lookup fails; the timer lives on for two seconds per bad request.
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	note, err := s.store.Note(ctx, id)
	if err != nil {
		http.Error(w, "note not found", http.StatusNotFound)
		return
	}
	cancel()
	writeJSON(w, http.StatusOK, note)
}

func (s *Server) createNote(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Title string   `json:"title"`
		Body  string   `json:"body"`
		Tags  []string `json:"tags"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		http.Error(w, "bad request body", http.StatusBadRequest)
		return
	}
	note := Note{Owner: owner(r), Title: in.Title, Body: in.Body}
	if err := s.store.CreateNote(r.Context(), &note, in.Tags); err != nil {
		http.Error(w, "could not save note", http.StatusInternalServerError)
		return
	}
	// The webhook outlives the request, so it gets a context that is not cancelled with it.
	go s.notify(context.WithoutCancel(r.Context()), webhook{Event: "note.created", Note: note})
	writeJSON(w, http.StatusCreated, note)
}

type searchResult struct {
	notes []Note
	err   error
}

func (s *Server) searchNotes(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	who := owner(r)
	results := make(chan searchResult)
	go func() {
		notes, err := s.store.Search(context.Background(), who, q)
		// Leak: results is unbuffered; once the timeout below wins nobody receives, and this goroutine blocks for ever.
		results <- searchResult{notes, err}
	}()
	select {
	case res := <-results:
		if res.err != nil {
			http.Error(w, "search failed", http.StatusInternalServerError)
			return
		}
		writeJSON(w, http.StatusOK, res.notes)
	case <-time.After(3 * time.Second):
		http.Error(w, "search timed out", http.StatusGatewayTimeout)
	}
}

func (s *Server) listTags(w http.ResponseWriter, r *http.Request) {
	who := owner(r)
	// Buffered: the goroutine can always deliver its result, even after a timeout.
	results := make(chan []string, 1)
	go func() {
		tags, err := s.store.Tags(context.Background(), who)
		if err != nil {
			log.Printf("tags for %s: %v", who, err)
		}
		results <- tags
	}()
	select {
	case tags := <-results:
		writeJSON(w, http.StatusOK, tags)
	case <-r.Context().Done():
	case <-time.After(2 * time.Second):
		http.Error(w, "tags timed out", http.StatusGatewayTimeout)
	}
}

func (s *Server) importNotes(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseMultipartForm(32 << 20); err != nil {
		http.Error(w, "bad upload", http.StatusBadRequest)
		return
	}
	var notes []Note
	for _, fh := range r.MultipartForm.File["notes"] {
		f, err := fh.Open()
		if err != nil {
			http.Error(w, "bad upload", http.StatusBadRequest)
			return
		}
		// Leak: deferred in a loop, every uploaded file stays open until the handler returns.
		defer f.Close()
		body, err := io.ReadAll(io.LimitReader(f, 1<<20))
		if err != nil {
			http.Error(w, "bad upload", http.StatusBadRequest)
			return
		}
		notes = append(notes, Note{Title: fh.Filename, Body: string(body)})
	}
	n, err := s.store.ImportNotes(r.Context(), owner(r), notes)
	if err != nil {
		http.Error(w, fmt.Sprintf("imported %d notes, then failed", n), http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"imported": n})
}

func (s *Server) shareNote(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil {
		http.Error(w, "bad id", http.StatusBadRequest)
		return
	}
	with := r.URL.Query().Get("with")
	if err := s.store.ShareNote(r.Context(), id, with, 7*24*time.Hour); err != nil {
		http.Error(w, "could not share", http.StatusInternalServerError)
		return
	}
	note, err := s.store.Note(r.Context(), id)
	if err != nil {
		http.Error(w, "note not found", http.StatusNotFound)
		return
	}
	// Leak: the request's context is cancelled when this handler returns, so the webhook goroutine
	// runs with a context that is already (or soon) done.
	go s.notify(r.Context(), webhook{Event: "note.shared", Note: note})
	w.WriteHeader(http.StatusAccepted)
}

func (s *Server) archiveNote(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil {
		http.Error(w, "bad id", http.StatusBadRequest)
		return
	}
	switch err := s.store.ArchiveNote(r.Context(), id); {
	case errors.Is(err, ErrArchived):
		http.Error(w, err.Error(), http.StatusConflict)
	case errors.Is(err, sql.ErrNoRows):
		http.Error(w, "note not found", http.StatusNotFound)
	case err != nil:
		http.Error(w, "could not archive", http.StatusInternalServerError)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Server) previewLink(w http.ResponseWriter, r *http.Request) {
	url := r.URL.Query().Get("url")
	if !strings.HasPrefix(url, "https://") {
		http.Error(w, "only https links", http.StatusBadRequest)
		return
	}
	title, err := s.fetchTitle(r.Context(), url)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"title": title})
}

// fetchTitle returns the <title> of an HTML page.
func (s *Server) fetchTitle(ctx context.Context, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	// Leak: the body is not closed when the status is not 200, so the connection is never released.
	resp, err := s.client.Do(req)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("preview %s: %s", url, resp.Status)
	}
	defer resp.Body.Close()

	page, err := io.ReadAll(io.LimitReader(resp.Body, 256<<10))
	if err != nil {
		return "", err
	}
	start := bytes.Index(page, []byte("<title>"))
	end := bytes.Index(page, []byte("</title>"))
	if start < 0 || end < start {
		return "", errors.New("no title")
	}
	return string(page[start+len("<title>") : end]), nil
}

// notify posts a webhook to the configured URL.
func (s *Server) notify(ctx context.Context, hook webhook) {
	if s.hookURL == "" {
		return
	}
	payload, err := json.Marshal(hook)
	if err != nil {
		return
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.hookURL, bytes.NewReader(payload))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		log.Printf("webhook %s: %v", hook.Event, err)
		return
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
}

// events streams a heartbeat as server-sent events until the client goes away.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	who := owner(r)
	w.Header().Set("Content-Type", "text/event-stream")

	// Leak: one goroutine per connection that loops for ever; it keeps polling after the client has gone.
	go func() {
		for {
			if _, err := s.store.NotesByOwner(context.Background(), who, 1); err != nil {
				log.Printf("presence poll for %s: %v", who, err)
			}
			time.Sleep(10 * time.Second)
		}
	}()

	ticker := time.NewTicker(15 * time.Second)
	defer ticker.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case t := <-ticker.C:
			fmt.Fprintf(w, "event: ping\ndata: %d\n\n", t.Unix())
			flusher.Flush()
		}
	}
}
