module github.com/gobuffalo/buffalo-pop/v3

go 1.22

require (
	github.com/gobuffalo/buffalo v0.0.0
	github.com/gobuffalo/pop/v6 v6.0.0
)
