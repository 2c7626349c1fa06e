// Package gin is a stub of github.com/gin-gonic/gin for type-checking test fixtures.
package gin

import (
	"net/http"
	"time"
)

// H is a shortcut for map[string]any.
type H map[string]any

// HandlerFunc handles a request (or is a middleware).
type HandlerFunc func(*Context)

// HandlersChain is a list of handlers.
type HandlersChain []HandlerFunc

// ResponseWriter is gin's response writer.
type ResponseWriter interface {
	http.ResponseWriter
	Status() int
	Size() int
	Written() bool
}

// Context is the context of one request; gin reuses it for later requests.
type Context struct {
	Request *http.Request
	Writer  ResponseWriter
	Keys    map[string]any
}

func (c *Context) Copy() *Context                            { panic("stub") }
func (c *Context) Next()                                     { panic("stub") }
func (c *Context) Abort()                                    { panic("stub") }
func (c *Context) AbortWithStatus(code int)                  { panic("stub") }
func (c *Context) AbortWithStatusJSON(code int, jsonObj any) { panic("stub") }
func (c *Context) Param(key string) string                   { panic("stub") }
func (c *Context) Query(key string) string                   { panic("stub") }
func (c *Context) DefaultQuery(key, defaultValue string) string {
	panic("stub")
}
func (c *Context) PostForm(key string) string              { panic("stub") }
func (c *Context) GetHeader(key string) string             { panic("stub") }
func (c *Context) ClientIP() string                        { panic("stub") }
func (c *Context) ShouldBindJSON(obj any) error            { panic("stub") }
func (c *Context) BindJSON(obj any) error                  { panic("stub") }
func (c *Context) Set(key string, value any)               { panic("stub") }
func (c *Context) Get(key string) (value any, exists bool) { panic("stub") }
func (c *Context) MustGet(key string) any                  { panic("stub") }
func (c *Context) JSON(code int, obj any)                  { panic("stub") }
func (c *Context) String(code int, format string, values ...any) {
	panic("stub")
}
func (c *Context) Status(code int)                         { panic("stub") }
func (c *Context) Header(key, value string)                { panic("stub") }
func (c *Context) Deadline() (deadline time.Time, ok bool) { panic("stub") }
func (c *Context) Done() <-chan struct{}                   { panic("stub") }
func (c *Context) Err() error                              { panic("stub") }
func (c *Context) Value(key any) any                       { panic("stub") }

// IRoutes registers routes.
type IRoutes interface {
	Use(middleware ...HandlerFunc) IRoutes
	GET(relativePath string, handlers ...HandlerFunc) IRoutes
	POST(relativePath string, handlers ...HandlerFunc) IRoutes
	PUT(relativePath string, handlers ...HandlerFunc) IRoutes
	DELETE(relativePath string, handlers ...HandlerFunc) IRoutes
	Any(relativePath string, handlers ...HandlerFunc) IRoutes
}

// RouterGroup is a group of routes.
type RouterGroup struct {
	Handlers HandlersChain
}

func (group *RouterGroup) Use(middleware ...HandlerFunc) IRoutes { panic("stub") }
func (group *RouterGroup) Group(relativePath string, handlers ...HandlerFunc) *RouterGroup {
	panic("stub")
}
func (group *RouterGroup) GET(relativePath string, handlers ...HandlerFunc) IRoutes {
	panic("stub")
}
func (group *RouterGroup) POST(relativePath string, handlers ...HandlerFunc) IRoutes {
	panic("stub")
}
func (group *RouterGroup) PUT(relativePath string, handlers ...HandlerFunc) IRoutes {
	panic("stub")
}
func (group *RouterGroup) DELETE(relativePath string, handlers ...HandlerFunc) IRoutes {
	panic("stub")
}
func (group *RouterGroup) Any(relativePath string, handlers ...HandlerFunc) IRoutes {
	panic("stub")
}

// Engine is a gin application.
type Engine struct {
	RouterGroup
}

// New makes an Engine without middleware.
func New() *Engine { panic("stub") }

// Default makes an Engine with the logger and recovery middleware.
func Default() *Engine { panic("stub") }

func (engine *Engine) Run(addr ...string) error                           { panic("stub") }
func (engine *Engine) ServeHTTP(w http.ResponseWriter, req *http.Request) { panic("stub") }

// AuthUserKey is the key under which BasicAuth stores the authenticated user.
const AuthUserKey = "user"

// Accounts maps user names to passwords for BasicAuth.
type Accounts map[string]string

// BasicAuth admits only the users of accounts.
func BasicAuth(accounts Accounts) HandlerFunc { panic("stub") }

func (c *Context) GetString(key string) string { panic("stub") }
