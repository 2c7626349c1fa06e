// Package echo is a stub of github.com/labstack/echo/v4 for type-checking test fixtures.
package echo

import "net/http"

// Map is a shortcut for map[string]interface{}.
type Map map[string]interface{}

// HandlerFunc handles a request.
type HandlerFunc func(c Context) error

// MiddlewareFunc wraps a HandlerFunc.
type MiddlewareFunc func(next HandlerFunc) HandlerFunc

// Response wraps the http.ResponseWriter of a request.
type Response struct {
	Writer    http.ResponseWriter
	Status    int
	Size      int64
	Committed bool
}

func (r *Response) Header() http.Header { panic("stub") }

// HTTPError is an error with an HTTP status.
type HTTPError struct {
	Code    int
	Message interface{}
}

func (he *HTTPError) Error() string { panic("stub") }

// NewHTTPError makes an *HTTPError.
func NewHTTPError(code int, message ...interface{}) *HTTPError { panic("stub") }

// Context is the context of one request; Echo reuses it for later requests.
type Context interface {
	Request() *http.Request
	SetRequest(r *http.Request)
	Response() *Response
	RealIP() string
	Path() string
	Param(name string) string
	QueryParam(name string) string
	FormValue(name string) string
	Get(key string) interface{}
	Set(key string, val interface{})
	Bind(i interface{}) error
	JSON(code int, i interface{}) error
	String(code int, s string) error
	NoContent(code int) error
	Echo() *Echo
}

// Route is a registered route.
type Route struct {
	Method string
	Path   string
	Name   string
}

// Group is a group of routes.
type Group struct{}

func (g *Group) Use(middleware ...MiddlewareFunc)                            { panic("stub") }
func (g *Group) GET(path string, h HandlerFunc, m ...MiddlewareFunc) *Route  { panic("stub") }
func (g *Group) POST(path string, h HandlerFunc, m ...MiddlewareFunc) *Route { panic("stub") }

// Echo is an Echo application.
type Echo struct{}

// New makes an Echo.
func New() *Echo { panic("stub") }

func (e *Echo) Use(middleware ...MiddlewareFunc)                              { panic("stub") }
func (e *Echo) Pre(middleware ...MiddlewareFunc)                              { panic("stub") }
func (e *Echo) GET(path string, h HandlerFunc, m ...MiddlewareFunc) *Route    { panic("stub") }
func (e *Echo) POST(path string, h HandlerFunc, m ...MiddlewareFunc) *Route   { panic("stub") }
func (e *Echo) PUT(path string, h HandlerFunc, m ...MiddlewareFunc) *Route    { panic("stub") }
func (e *Echo) DELETE(path string, h HandlerFunc, m ...MiddlewareFunc) *Route { panic("stub") }
func (e *Echo) Group(prefix string, m ...MiddlewareFunc) *Group               { panic("stub") }
func (e *Echo) Start(address string) error                                    { panic("stub") }
func (e *Echo) ServeHTTP(w http.ResponseWriter, r *http.Request)              { panic("stub") }
