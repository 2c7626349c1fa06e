// Command buffalo-blog serves a small blog with posts, comments and an e-mail digest.
package main

import (
	"log"

	"github.com/example/buffalo-blog/actions"
)

func main() {
	app := actions.App()
	if err := app.Serve(); err != nil {
		log.Fatal(err)
	}
}
