// Package chi is a stub of github.com/go-chi/chi/v5 for type-checking test fixtures.
package chi

import "net/http"

// Middlewares is a list of middleware handlers.
type Middlewares []func(http.Handler) http.Handler

// Routes describes a router's routes.
type Routes interface {
	Middlewares() Middlewares
}

// Router registers routes and middleware.
type Router interface {
	http.Handler
	Routes

	Use(middlewares ...func(http.Handler) http.Handler)
	With(middlewares ...func(http.Handler) http.Handler) Router
	Group(fn func(r Router)) Router
	Route(pattern string, fn func(r Router)) Router
	Mount(pattern string, h http.Handler)
	Handle(pattern string, h http.Handler)
	HandleFunc(pattern string, h http.HandlerFunc)
	Method(method, pattern string, h http.Handler)
	MethodFunc(method, pattern string, h http.HandlerFunc)
	Connect(pattern string, h http.HandlerFunc)
	Delete(pattern string, h http.HandlerFunc)
	Get(pattern string, h http.HandlerFunc)
	Head(pattern string, h http.HandlerFunc)
	Options(pattern string, h http.HandlerFunc)
	Patch(pattern string, h http.HandlerFunc)
	Post(pattern string, h http.HandlerFunc)
	Put(pattern string, h http.HandlerFunc)
	Trace(pattern string, h http.HandlerFunc)
	NotFound(h http.HandlerFunc)
	MethodNotAllowed(h http.HandlerFunc)
}

// Mux is chi's router.
type Mux struct{}

// NewRouter makes a Mux.
func NewRouter() *Mux { panic("stub") }

// NewMux makes a Mux.
func NewMux() *Mux { panic("stub") }

func (mx *Mux) ServeHTTP(w http.ResponseWriter, r *http.Request)   { panic("stub") }
func (mx *Mux) Middlewares() Middlewares                           { panic("stub") }
func (mx *Mux) Use(middlewares ...func(http.Handler) http.Handler) { panic("stub") }
func (mx *Mux) With(middlewares ...func(http.Handler) http.Handler) Router {
	panic("stub")
}
func (mx *Mux) Group(fn func(r Router)) Router                        { panic("stub") }
func (mx *Mux) Route(pattern string, fn func(r Router)) Router        { panic("stub") }
func (mx *Mux) Mount(pattern string, h http.Handler)                  { panic("stub") }
func (mx *Mux) Handle(pattern string, h http.Handler)                 { panic("stub") }
func (mx *Mux) HandleFunc(pattern string, h http.HandlerFunc)         { panic("stub") }
func (mx *Mux) Method(method, pattern string, h http.Handler)         { panic("stub") }
func (mx *Mux) MethodFunc(method, pattern string, h http.HandlerFunc) { panic("stub") }
func (mx *Mux) Connect(pattern string, h http.HandlerFunc)            { panic("stub") }
func (mx *Mux) Delete(pattern string, h http.HandlerFunc)             { panic("stub") }
func (mx *Mux) Get(pattern string, h http.HandlerFunc)                { panic("stub") }
func (mx *Mux) Head(pattern string, h http.HandlerFunc)               { panic("stub") }
func (mx *Mux) Options(pattern string, h http.HandlerFunc)            { panic("stub") }
func (mx *Mux) Patch(pattern string, h http.HandlerFunc)              { panic("stub") }
func (mx *Mux) Post(pattern string, h http.HandlerFunc)               { panic("stub") }
func (mx *Mux) Put(pattern string, h http.HandlerFunc)                { panic("stub") }
func (mx *Mux) Trace(pattern string, h http.HandlerFunc)              { panic("stub") }
func (mx *Mux) NotFound(h http.HandlerFunc)                           { panic("stub") }
func (mx *Mux) MethodNotAllowed(h http.HandlerFunc)                   { panic("stub") }

// URLParam returns a URL parameter of the request.
func URLParam(r *http.Request, key string) string { panic("stub") }
