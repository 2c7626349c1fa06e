// Package actions holds the blog's HTTP handlers.
package actions

import (
	"net/http"

	"github.com/example/buffalo-blog/models"
	"github.com/gobuffalo/buffalo"
	"github.com/gobuffalo/buffalo-pop/v3/pop/popmw"
	"github.com/gobuffalo/envy"
)

var app *buffalo.App

// App builds the application once; the workers it starts stop with the app's context.
func App() *buffalo.App {
	if app != nil {
		return app
	}
	app = buffalo.New(buffalo.Options{
		Env:         envy.Get("GO_ENV", "development"),
		Addr:        envy.Get("ADDR", "127.0.0.1:3000"),
		SessionName: "_blog_session",
	})
	// popmw.Transaction commits the request's transaction, or rolls it back on error.
	app.Use(popmw.Transaction(models.DB))

	app.GET("/", PostsIndex)
	app.GET("/posts/{slug}", PostsShow)
	app.POST("/posts", PostsCreate)
	app.POST("/posts/{slug}/images", PostsUploadImages)
	app.POST("/posts/{slug}/comments", CommentsCreate)
	app.GET("/preview", LinkPreview)
	app.POST("/admin/import", LegacyImport)
	app.ServeFiles("/assets", http.Dir("public/assets"))

	// app.Context is cancelled when the app stops.
	go publishScheduled(app.Context)
	go weeklyDigest(app.Context)
	return app
}
