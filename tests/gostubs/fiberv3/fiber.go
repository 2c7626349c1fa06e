// Package fiber is a stub of github.com/gofiber/fiber/v3 for type-checking test fixtures.
package fiber

import "context"

// HTTP status codes.
const (
	StatusOK             = 200
	StatusAccepted       = 202
	StatusBadRequest     = 400
	StatusNotFound       = 404
	StatusGatewayTimeout = 504
)

// Map is a shortcut for map[string]any.
type Map map[string]any

// Handler handles a request.
type Handler = func(Ctx) error

// Config holds the settings of an App.
type Config struct {
	AppName   string
	Immutable bool
}

// Router registers routes.
type Router interface {
	Use(args ...any) Router
	Get(path string, handler Handler, handlers ...Handler) Router
	Post(path string, handler Handler, handlers ...Handler) Router
	Group(prefix string, handlers ...Handler) Router
}

// App is a Fiber application.
type App struct{}

// New makes an App.
func New(config ...Config) *App { panic("stub") }

func (app *App) Use(args ...any) Router                                        { panic("stub") }
func (app *App) Get(path string, handler Handler, handlers ...Handler) Router  { panic("stub") }
func (app *App) Post(path string, handler Handler, handlers ...Handler) Router { panic("stub") }
func (app *App) Group(prefix string, handlers ...Handler) Router               { panic("stub") }
func (app *App) Listen(addr string) error                                      { panic("stub") }

// Ctx is the context of one request; Fiber reuses it for later requests.
type Ctx interface {
	Params(key string, defaultValue ...string) string
	Query(key string, defaultValue ...string) string
	Get(key string, defaultValue ...string) string
	Cookies(key string, defaultValue ...string) string
	Body() []byte
	IP() string
	Path(override ...string) string
	Locals(key any, value ...any) any
	Context() context.Context
	SetContext(ctx context.Context)
	Set(key, val string)
	Next() error
	Status(status int) Ctx
	SendStatus(status int) error
	SendString(body string) error
	JSON(data any, ctype ...string) error
}
