// Package frameworks pins the web frameworks and database libraries the fixtures
// are built against: go.mod and go.sum list them, and the fixture tests copy both.
package frameworks

import (
	_ "github.com/gin-gonic/gin"
	_ "github.com/go-chi/chi/v5"
	_ "github.com/gobuffalo/buffalo"
	_ "github.com/gobuffalo/buffalo-pop/v3/pop/popmw"
	_ "github.com/gobuffalo/buffalo/render"
	_ "github.com/gobuffalo/pop/v6"
	_ "github.com/gofiber/fiber/v2"
	_ "github.com/gofiber/fiber/v2/utils"
	_ "github.com/gofiber/fiber/v3"
	_ "github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jmoiron/sqlx"
	_ "github.com/labstack/echo/v4"
	_ "golang.org/x/net/context"
	_ "gorm.io/gorm"
)
