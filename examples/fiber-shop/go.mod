module github.com/example/fiber-shop

go 1.21

require (
	github.com/gofiber/fiber/v2 v2.52.5
	github.com/jackc/pgx/v5 v5.6.0
)
