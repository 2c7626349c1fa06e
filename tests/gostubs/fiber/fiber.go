// Package fiber is a stub of github.com/gofiber/fiber/v2 for type-checking test fixtures.
package fiber

import "context"

// HTTP status codes.
const (
	StatusOK                  = 200
	StatusCreated             = 201
	StatusAccepted            = 202
	StatusNoContent           = 204
	StatusBadRequest          = 400
	StatusNotFound            = 404
	StatusConflict            = 409
	StatusInternalServerError = 500
	StatusGatewayTimeout      = 504
)

// Header names and MIME types.
const (
	HeaderContentType              = "Content-Type"
	MIMEApplicationJSON            = "application/json"
	MIMETextPlainCharsetUTF8       = "text/plain; charset=utf-8"
	MIMEApplicationJSONCharsetUTF8 = "application/json; charset=utf-8"
)

// Map is a shortcut for map[string]interface{}.
type Map map[string]interface{}

// Handler handles a request.
type Handler = func(*Ctx) error

// Error is an HTTP error.
type Error struct {
	Code    int
	Message string
}

func (e *Error) Error() string { panic("stub") }

// Predefined errors.
var (
	ErrBadRequest = NewError(StatusBadRequest)
	ErrNotFound   = NewError(StatusNotFound)
)

// NewError makes an *Error.
func NewError(code int, message ...string) *Error { panic("stub") }

// Config holds the settings of an App.
type Config struct {
	AppName   string
	Immutable bool
}

// Router registers routes.
type Router interface {
	Use(args ...interface{}) Router
	Get(path string, handlers ...Handler) Router
	Post(path string, handlers ...Handler) Router
	Put(path string, handlers ...Handler) Router
	Delete(path string, handlers ...Handler) Router
	All(path string, handlers ...Handler) Router
	Group(prefix string, handlers ...Handler) Router
}

// App is a Fiber application.
type App struct{}

// New makes an App.
func New(config ...Config) *App { panic("stub") }

func (app *App) Use(args ...interface{}) Router                 { panic("stub") }
func (app *App) Get(path string, handlers ...Handler) Router    { panic("stub") }
func (app *App) Post(path string, handlers ...Handler) Router   { panic("stub") }
func (app *App) Put(path string, handlers ...Handler) Router    { panic("stub") }
func (app *App) Delete(path string, handlers ...Handler) Router { panic("stub") }
func (app *App) All(path string, handlers ...Handler) Router    { panic("stub") }
func (app *App) Group(prefix string, handlers ...Handler) Router {
	panic("stub")
}
func (app *App) Listen(addr string) error { panic("stub") }
func (app *App) Shutdown() error          { panic("stub") }

// Ctx is the context of one request; Fiber reuses it for later requests.
type Ctx struct{}

func (c *Ctx) Params(key string, defaultValue ...string) string       { panic("stub") }
func (c *Ctx) ParamsInt(key string, defaultValue ...int) (int, error) { panic("stub") }
func (c *Ctx) Query(key string, defaultValue ...string) string        { panic("stub") }
func (c *Ctx) QueryInt(key string, defaultValue ...int) int           { panic("stub") }
func (c *Ctx) Get(key string, defaultValue ...string) string          { panic("stub") }
func (c *Ctx) Cookies(key string, defaultValue ...string) string      { panic("stub") }
func (c *Ctx) FormValue(key string, defaultValue ...string) string    { panic("stub") }
func (c *Ctx) Body() []byte                                           { panic("stub") }
func (c *Ctx) BodyRaw() []byte                                        { panic("stub") }
func (c *Ctx) BodyParser(out interface{}) error                       { panic("stub") }
func (c *Ctx) IP() string                                             { panic("stub") }
func (c *Ctx) Path(override ...string) string                         { panic("stub") }
func (c *Ctx) Method(override ...string) string                       { panic("stub") }
func (c *Ctx) OriginalURL() string                                    { panic("stub") }
func (c *Ctx) Hostname() string                                       { panic("stub") }
func (c *Ctx) Locals(key interface{}, value ...interface{}) interface{} {
	panic("stub")
}
func (c *Ctx) UserContext() context.Context       { panic("stub") }
func (c *Ctx) SetUserContext(ctx context.Context) { panic("stub") }
func (c *Ctx) Set(key string, val string)         { panic("stub") }
func (c *Ctx) Next() error                        { panic("stub") }
func (c *Ctx) Status(status int) *Ctx             { panic("stub") }
func (c *Ctx) SendStatus(status int) error        { panic("stub") }
func (c *Ctx) SendString(body string) error       { panic("stub") }
func (c *Ctx) Send(body []byte) error             { panic("stub") }
func (c *Ctx) JSON(data interface{}, ctype ...string) error {
	panic("stub")
}
