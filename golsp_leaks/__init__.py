"""golsp-leaks: find goroutine, resource and request-scope leaks in Go code while it is typed."""

__version__ = "0.1.0"
