module github.com/gobuffalo/pop/v6

go 1.22

require github.com/jmoiron/sqlx v0.0.0
