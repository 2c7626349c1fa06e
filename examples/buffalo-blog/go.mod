module github.com/example/buffalo-blog

go 1.20

require (
	github.com/go-sql-driver/mysql v1.7.1
	github.com/gobuffalo/buffalo v1.1.0
	github.com/gobuffalo/buffalo-pop/v3 v3.0.7
	github.com/gobuffalo/envy v1.10.2
	github.com/gobuffalo/pop/v6 v6.1.1
	github.com/gofrs/uuid v4.4.0+incompatible
)
