// Package buffalo is a stub of github.com/gobuffalo/buffalo for type-checking test fixtures.
package buffalo

import (
	"context"
	"net/http"

	"github.com/gobuffalo/buffalo/render"
)

// Handler handles a request.
type Handler func(Context) error

// MiddlewareFunc wraps a Handler.
type MiddlewareFunc func(Handler) Handler

// ParamValues are the parameters of a request.
type ParamValues interface {
	Get(string) string
}

// Logger logs for a request.
type Logger interface {
	Debugf(string, ...interface{})
	Infof(string, ...interface{})
	Warnf(string, ...interface{})
	Errorf(string, ...interface{})
}

// Session is the session of a request.
type Session struct{}

func (s *Session) Get(name interface{}) interface{} { panic("stub") }
func (s *Session) Set(name, value interface{})      { panic("stub") }
func (s *Session) Delete(name interface{})          { panic("stub") }
func (s *Session) Save() error                      { panic("stub") }

// Context is the context of one request; it is a context.Context that ends with the request.
type Context interface {
	context.Context
	Response() http.ResponseWriter
	Request() *http.Request
	Session() *Session
	Params() ParamValues
	Param(string) string
	Set(string, interface{})
	LogField(string, interface{})
	Logger() Logger
	Bind(interface{}) error
	Render(int, render.Renderer) error
	Error(int, error) error
	Redirect(int, string, ...interface{}) error
	Data() map[string]interface{}
}

// Options configure an App.
type Options struct {
	Name        string
	Env         string
	Addr        string
	SessionName string
	Context     context.Context
}

// RouteInfo describes a route.
type RouteInfo struct {
	Method string
	Path   string
}

// App is a Buffalo application.
type App struct {
	Options
}

// New makes an App.
func New(opts Options) *App { panic("stub") }

func (a *App) Use(mw ...MiddlewareFunc)              { panic("stub") }
func (a *App) GET(p string, h Handler) *RouteInfo    { panic("stub") }
func (a *App) POST(p string, h Handler) *RouteInfo   { panic("stub") }
func (a *App) PUT(p string, h Handler) *RouteInfo    { panic("stub") }
func (a *App) DELETE(p string, h Handler) *RouteInfo { panic("stub") }
func (a *App) Group(path string) *App                { panic("stub") }
func (a *App) Serve() error                          { panic("stub") }
