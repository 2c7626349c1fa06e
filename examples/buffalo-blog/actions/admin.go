package actions

import (
	"database/sql"
	"net/http"
	"os"
	"time"

	"github.com/example/buffalo-blog/models"
	_ "github.com/go-sql-driver/mysql"
	"github.com/gobuffalo/buffalo"
	"github.com/gobuffalo/pop/v6"
)

// LegacyImport copies the posts of the old WordPress database into the blog.
func LegacyImport(c buffalo.Context) error {
	// Leak: a fresh connection pool to the legacy database is opened on every request.
	legacy, err := sql.Open("mysql", os.Getenv("LEGACY_DSN"))
	if err != nil {
		return err
	}
	defer legacy.Close()

	rows, err := legacy.QueryContext(c,
		`SELECT post_name, post_title, post_content, post_date FROM wp_posts
		 WHERE post_status = 'publish' AND post_type = 'post'`)
	if err != nil {
		return err
	}
	defer rows.Close()

	tx := c.Value("tx").(*pop.Connection)
	imported := 0
	// Leak: rows.Err is never checked after the loop: a dropped connection ends the import early, silently.
	for rows.Next() {
		var p models.Post
		var published time.Time
		if err := rows.Scan(&p.Slug, &p.Title, &p.Body, &published); err != nil {
			return err
		}
		p.PublishedAt = &published
		if err := tx.Create(&p); err != nil {
			return err
		}
		imported++
	}
	return c.Render(http.StatusOK, r.JSON(map[string]int{"imported": imported}))
}
