// Package render is a stub of github.com/gobuffalo/buffalo/render for type-checking test fixtures.
package render

import "io"

// Data is the data a renderer renders.
type Data map[string]interface{}

// Renderer renders a response body.
type Renderer interface {
	ContentType() string
	Render(io.Writer, Data) error
}

// Options configure an Engine.
type Options struct {
	HTMLLayout string
}

// Engine makes renderers.
type Engine struct {
	Options
}

// New makes an Engine.
func New(opts Options) *Engine { panic("stub") }

func (e *Engine) HTML(names ...string) Renderer                 { panic("stub") }
func (e *Engine) JSON(v interface{}) Renderer                   { panic("stub") }
func (e *Engine) String(s string, args ...interface{}) Renderer { panic("stub") }
