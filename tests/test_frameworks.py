"""Which code runs per request, what its request context is, and the package facts behind it."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from tree_sitter import Node

from golsp_leaks.goanalysis.libraries.frameworks import (
    RequestScope,
    function_key,
    made_values,
    package_variable_holds,
)
from golsp_leaks.goanalysis.summaries.package import (
    clear_cache,
    invalidate,
    package_facts,
    source_facts,
)
from golsp_leaks.goanalysis.syntax.imports import Imports
from golsp_leaks.goanalysis.syntax.nodes import text
from golsp_leaks.goanalysis.syntax.parse import cursor, parse
from golsp_leaks.rules.base import FileContext, PackageFacts


def _go(body: str) -> bytes:
    return textwrap.dedent(body).lstrip().encode()


def _functions(source: bytes) -> tuple[RequestScope, list[Node]]:
    root = parse(source).root_node
    scope = RequestScope(root, Imports.from_root(root))
    qc = cursor("[(function_declaration) (method_declaration) (func_literal)] @f")
    funcs = sorted(qc.captures(root).get("f", []), key=lambda n: n.start_byte)
    return scope, funcs


def _marked(source: bytes, marker: str) -> Node:
    """The innermost function whose first line carries ``// marker``."""
    _, funcs = _functions(source)
    for func in reversed(funcs):
        line_end = source.find(b"\n", func.start_byte)
        if f"// {marker}".encode() in source[func.start_byte : line_end]:
            return func
    raise AssertionError(f"no function marked {marker}")


HANDLERS = [
    (
        "net/http",
        """
        package p

        import "net/http"

        func h(w http.ResponseWriter, r *http.Request) { // target
        }
        """,
        ("net/http", "r", "r.Context()"),
    ),
    (
        "net/http alias",
        """
        package p

        import web "net/http"

        func h(rw web.ResponseWriter, req *web.Request) { // target
        }
        """,
        ("net/http", "req", "req.Context()"),
    ),
    (
        "fiber v2",
        """
        package p

        import "github.com/gofiber/fiber/v2"

        func h(c *fiber.Ctx) error { // target
            return nil
        }
        """,
        ("fiber", "c", "c.UserContext()"),
    ),
    (
        "fiber v3",
        """
        package p

        import "github.com/gofiber/fiber/v3"

        func h(c fiber.Ctx) error { // target
            return nil
        }
        """,
        ("fiber", "c", "c.Context()"),
    ),
    (
        "buffalo",
        """
        package p

        import "github.com/gobuffalo/buffalo"

        func h(c buffalo.Context) error { // target
            return nil
        }
        """,
        ("buffalo", "c", "c"),
    ),
    (
        "gin",
        """
        package p

        import "github.com/gin-gonic/gin"

        func h(ctx *gin.Context) { // target
        }
        """,
        ("gin", "ctx", "ctx.Request.Context()"),
    ),
    (
        "echo",
        """
        package p

        import "github.com/labstack/echo/v4"

        func h(c echo.Context) error { // target
            return nil
        }
        """,
        ("echo", "c", "c.Request().Context()"),
    ),
    (
        "fiber literal passed to a router",
        """
        package p

        import "github.com/gofiber/fiber/v2"

        func routes(app *fiber.App) {
            app.Get("/x", func(c *fiber.Ctx) error { // target
                return nil
            })
        }
        """,
        ("fiber", "c", "c.UserContext()"),
    ),
    (
        "gin literal passed to a router",
        """
        package p

        import "github.com/gin-gonic/gin"

        func routes(r *gin.Engine) {
            r.GET("/x", func(c *gin.Context) { // target
            })
        }
        """,
        ("gin", "c", "c.Request.Context()"),
    ),
    (
        "echo middleware",
        """
        package p

        import "github.com/labstack/echo/v4"

        func mw(next echo.HandlerFunc) echo.HandlerFunc {
            return func(c echo.Context) error { // target
                return next(c)
            }
        }
        """,
        ("echo", "c", "c.Request().Context()"),
    ),
    (
        "http.HandlerFunc in middleware",
        """
        package p

        import "net/http"

        func mw(next http.Handler) http.Handler {
            return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { // target
                next.ServeHTTP(w, r)
            })
        }
        """,
        ("net/http", "r", "r.Context()"),
    ),
    (
        "buffalo middleware",
        """
        package p

        import "github.com/gobuffalo/buffalo"

        func mw(next buffalo.Handler) buffalo.Handler {
            return func(c buffalo.Context) error { // target
                return next(c)
            }
        }
        """,
        ("buffalo", "c", "c"),
    ),
]


@pytest.mark.parametrize(("name", "source", "expected"), HANDLERS, ids=[h[0] for h in HANDLERS])
def test_handler_shapes(name: str, source: str, expected: tuple[str, str, str]) -> None:
    src = _go(source)
    func = _marked(src, "target")
    scope, _ = _functions(src)
    found = scope.handler(func)
    assert found is not None, name
    assert (found.framework, found.param, found.request_context) == expected


NOT_HANDLERS = [
    (
        "a request without a writer is a client request",
        """
        package p

        import "net/http"

        func send(r *http.Request) error { // target
            return nil
        }
        """,
    ),
    (
        "fasthttp's context of fiber v2 is not a handler parameter by value",
        """
        package p

        import "github.com/gofiber/fiber/v2"

        func h(c fiber.Ctx) error { // target
            return nil
        }
        """,
    ),
    (
        "a local type called Context",
        """
        package p

        type Context struct{}

        func h(c *Context) { // target
        }
        """,
    ),
    (
        "chi's Route callback runs once",
        """
        package p

        import "github.com/go-chi/chi/v5"

        func routes(r chi.Router) {
            r.Route("/notes", func(r chi.Router) { // target
            })
        }
        """,
    ),
    (
        "gin imported but not used in the signature",
        """
        package p

        import "github.com/gin-gonic/gin"

        var _ = gin.New

        func h(c *Context) { // target
        }

        type Context struct{}
        """,
    ),
]


@pytest.mark.parametrize(("name", "source"), NOT_HANDLERS, ids=[h[0] for h in NOT_HANDLERS])
def test_not_handlers(name: str, source: str) -> None:
    src = _go(source)
    func = _marked(src, "target")
    scope, _ = _functions(src)
    assert scope.handler(func) is None, name


def test_middleware_constructor_body_runs_once_but_its_handler_per_request() -> None:
    src = _go(
        """
        package p

        import "net/http"

        func mw(next http.Handler) http.Handler { // outer
            setup()
            return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { // inner
                next.ServeHTTP(w, r)
            })
        }

        func setup() {}
        """
    )
    scope, _ = _functions(src)
    outer = _marked(src, "outer")
    inner = _marked(src, "inner")
    assert scope.middleware(outer) == "net/http"
    assert scope.handler(outer) is None
    assert scope.is_per_request(inner)
    body = outer.child_by_field_name("body")
    assert body is not None
    assert not scope.is_per_request(body.named_children[0])


def test_code_nested_in_a_handler_is_per_request() -> None:
    src = _go(
        """
        package p

        import "net/http"

        func h(w http.ResponseWriter, r *http.Request) {
            go func() { // nested
            }()
        }
        """
    )
    scope, _ = _functions(src)
    nested = _marked(src, "nested")
    found = scope.enclosing_handler(nested)
    assert found is not None and found.request_context == "r.Context()"


def test_runs_once() -> None:
    src = _go(
        """
        package p

        import "sync"

        var once sync.Once

        func main() {
            go func() { // main-goroutine
            }()
            for i := 0; i < 3; i++ {
                go func() { // main-loop
                }()
            }
            f := func() { // stored
            }
            f()
        }

        func lazy() {
            once.Do(func() { // once
            })
        }

        func other() {
            go func() { // other
            }()
        }
        """
    )
    scope, _ = _functions(src)
    assert scope.runs_once(_marked(src, "main-goroutine"))
    assert not scope.runs_once(_marked(src, "main-loop"))
    assert not scope.runs_once(_marked(src, "stored"))
    assert scope.runs_once(_marked(src, "once"))
    assert not scope.runs_once(_marked(src, "other"))


def test_function_keys() -> None:
    src = _go(
        """
        package p

        type S[T any] struct{}

        func (s *S[T]) m() {}

        func f() {}
        """
    )
    _, funcs = _functions(src)
    assert [function_key(f) for f in funcs] == ["S.m", "f"]


FACTS_SOURCE = _go(
    """
    package main

    import (
        "net/http"
        "sync"
    )

    var (
        mu      sync.Mutex
        seen    = map[string]int{}
        kept    = map[string]int{}
        log     []string
        bounded []string
        cache   sync.Map
        ticks   int
    )

    type server struct{}

    func (s *server) list(w http.ResponseWriter, r *http.Request) {
        s.record(r.URL.Path)
        go s.audit(r.URL.Path)
    }

    func (s *server) record(path string) {
        remember(path)
    }

    func remember(path string) {
        mu.Lock()
        seen[path]++
        mu.Unlock()
    }

    func (s *server) audit(path string) {}

    func sweep() {
        for k := range kept {
            delete(kept, k)
        }
        if len(bounded) > 100 {
            bounded = bounded[1:]
        }
        log = append(log, "swept")
        cache.Delete("x")
    }

    func startWorkers() {
        go sweep()
    }

    func main() {
        startWorkers()
        s := &server{}
        http.HandleFunc("/", s.list)
        for {
            go ticker()
        }
    }

    func ticker() {}
    """
)


def test_source_facts() -> None:
    facts = source_facts(FACTS_SOURCE)
    assert {"server.list", "server.record", "server.audit", "remember"} <= facts.handlers
    assert "sweep" not in facts.handlers
    assert facts.collections == {"seen", "kept", "log", "bounded", "cache"}
    assert facts.shrunk_globals == {"kept", "bounded", "cache"}
    assert "startWorkers" in facts.startup and "sweep" in facts.startup
    assert "ticker" not in facts.startup
    assert "server.audit" in facts.goroutines and "ticker" in facts.goroutines
    assert "sweep" not in facts.goroutines


def test_per_request_from_facts() -> None:
    root = parse(FACTS_SOURCE).root_node
    ctx = FileContext(FACTS_SOURCE, root, Imports.from_root(root), package=source_facts(FACTS_SOURCE))
    qc = cursor("(function_declaration name: (identifier) @n) @f")
    funcs = {text(c["n"][0]): c["f"][0] for _, c in qc.matches(root)}
    assert ctx.scope.is_per_request(funcs["remember"])
    assert not ctx.scope.is_per_request(funcs["sweep"])
    assert ctx.scope.runs_once(funcs["sweep"].child_by_field_name("body") or funcs["sweep"])


LIFECYCLE_SOURCE = _go(
    """
    package p

    type worker struct {
        jobs chan int
        done chan struct{}
    }

    func newWorker() *worker { return &worker{} }

    func (w *worker) Start() {
        go func() {
            for {
                select {
                case <-w.jobs:
                case <-w.done:
                    return
                }
            }
        }()
    }

    func (w *worker) Stop() { close(w.done) }
    """
)


def test_lifecycles() -> None:
    facts = source_facts(LIFECYCLE_SOURCE)
    assert facts.lifecycles == {("worker", "Start", "Stop")}
    assert facts.constructors == {("newWorker", "worker")}
    assert facts.runners == frozenset()  # Start waits only inside the goroutine it starts


RUNNER_SOURCE = _go(
    """
    package p

    type conn struct {
        callbacks chan func()
        seen      map[string]int
        log       []string
        kept      map[string]int
    }

    func (c *conn) dispatch() {
        for cb := range c.callbacks {
            cb()
        }
    }

    func (c *conn) Close() { close(c.callbacks) }

    func newConn() *conn {
        c := &conn{}
        c.kept = map[string]int{}
        return c
    }

    func (c *conn) forget(k string) { delete(c.seen, k) }

    func (c *conn) rotate() { c.log = c.log[len(c.log)/2:] }

    func (c *conn) grow(k string) { c.log = append(c.log, k) }
    """
)


def test_runners_and_shrunk_fields() -> None:
    facts = source_facts(RUNNER_SOURCE)
    assert facts.runners == {("conn", "dispatch", "Close")}
    # delete and a re-slice shrink; a constructor filling a field in and an append do not
    assert facts.shrunk_fields == {"seen", "log"}


def test_package_facts_reads_siblings(tmp_path: Path) -> None:
    clear_cache()
    (tmp_path / "main.go").write_bytes(
        _go(
            """
            package main

            import "net/http"

            var hits = map[string]int{}

            func hello(w http.ResponseWriter, r *http.Request) { count(r.URL.Path) }
            """
        )
    )
    (tmp_path / "count.go").write_bytes(
        _go(
            """
            package main

            func count(path string) { hits[path]++ }
            """
        )
    )
    (tmp_path / "reset_test.go").write_bytes(
        _go(
            """
            package main

            func reset() { delete(hits, "x") }
            """
        )
    )
    (tmp_path / "gen.go").write_bytes(b"//go:build ignore\n\npackage main\n\nfunc gen() { clear(hits) }\n")
    facts = package_facts(tmp_path / "count.go")
    assert "count" in facts.handlers
    assert facts.collections == {"hits"}
    assert facts.shrunk_globals == frozenset()  # only a test and an ignored file delete from it

    # The editor's unsaved text counts, not the file on disk.
    own = b"package main\n\nfunc count(path string) { hits[path]++; delete(hits, path) }\n"
    assert package_facts(tmp_path / "count.go", own).shrunk_globals == {"hits"}

    # A changed sibling is read again.
    (tmp_path / "main.go").write_bytes(
        b'package main\n\nimport "net/http"\n\nvar hits = map[string]int{}\n\nvar _ = http.StatusOK\n'
    )
    stat = (tmp_path / "main.go").stat()
    os.utime(tmp_path / "main.go", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    invalidate(tmp_path / "main.go")  # what the server does when a file is saved
    assert "count" not in package_facts(tmp_path / "count.go").handlers

    # A test file sees the test files of its package.
    assert package_facts(tmp_path / "reset_test.go").shrunk_globals == {"hits"}


def test_package_facts_without_web_code_follow_the_goroutines(tmp_path: Path) -> None:
    clear_cache()
    (tmp_path / "janitor.go").write_bytes(
        _go(
            """
            package main

            import "time"

            func startJanitor() {
                go func() {
                    for {
                        time.Sleep(time.Minute)
                    }
                }()
            }

            func spawn() {
                go loop()
            }
            """
        )
    )
    (tmp_path / "main.go").write_bytes(b"package main\n\nfunc main() {\n\tsetup()\n}\n")
    (tmp_path / "setup.go").write_bytes(b"package main\n\nfunc setup() {\n\tstartJanitor()\n}\n")
    (tmp_path / "loop.go").write_bytes(b"package main\n\nfunc loop() {\n\tfor {\n\t}\n}\n")
    (tmp_path / "other.go").write_bytes(b"package main\n\nfunc other() {}\n")
    facts = package_facts(tmp_path / "janitor.go")
    assert {"startJanitor", "setup"} <= facts.startup
    assert "loop" in facts.endless
    # A file with no goroutine that a fact could matter for gets none, only the list of the others.
    other = package_facts(tmp_path / "other.go")
    assert PackageFacts(siblings=other.siblings) == other
    assert sorted(Path(path).name for path, _, _ in other.siblings) == ["janitor.go", "loop.go", "main.go", "setup.go"]


def test_functions_registered_with_a_router_run_per_request() -> None:
    src = _go(
        """
        package main

        import (
            "context"
            "net/http"
        )

        type request struct{}

        func listNotes(ctx context.Context, req request) error { return nil }

        func adapt(f func(context.Context, request) error) http.HandlerFunc { return nil }

        func rateLimit(next http.Handler) http.Handler { return next }

        func main() {
            mux := http.NewServeMux()
            mux.Handle("/notes", adapt(listNotes))
            mux.Handle("/x", rateLimit(http.NotFoundHandler()))
        }
        """
    )
    facts = source_facts(src)
    assert "listNotes" in facts.handlers
    assert "adapt" not in facts.handlers and "rateLimit" not in facts.handlers


_MAKES = b"""package p

type hub struct{ n int }
type myhub struct{}

var h = &hub{}
var (
	grouped = hub{}
)

func f(x hub) *hub {
	a := hub{n: 1}
	b := &hub {}
	c := new(hub)
	d := other.hub{}
	e := myhub{}
	_ = func(hub) {}
	return new( hub )
}
"""


@pytest.mark.parametrize(
    ("type_name", "expected"),
    [
        ("hub", ["hub{}", "hub{}", "hub{n: 1}", "hub {}", "new(hub)", "new( hub )"]),
        ("myhub", ["myhub{}"]),
        ("nothing", []),
        ("hub{", []),
    ],
)
def test_made_values_are_composite_literals_and_new(type_name: str, expected: list[str]) -> None:
    root = parse(_MAKES).root_node
    assert [text(node) for node in made_values(root, type_name)] == expected


def test_package_variable_holds_reads_the_file_top_level_var_specs() -> None:
    root = parse(_MAKES).root_node
    assert package_variable_holds(root, "hub")
    assert not package_variable_holds(root, "myhub")


def test_package_variable_holds_reads_grouped_var_specs_too() -> None:
    root = parse(b"package a\n\nvar (\n\tname = \"x\"\n\th    = &hub{}\n\ts    Server\n)\n").root_node
    assert package_variable_holds(root, "hub")
    assert package_variable_holds(root, "Server")
    assert not package_variable_holds(root, "myhub")


@pytest.mark.parametrize(
    ("imported", "call", "once"),
    [
        ('"sync"', "sync.OnceFunc", True),
        ('s "sync"', "s.OnceFunc", True),
        ('s "sync"', "sync.OnceFunc", False),  # sync is not the name the file imports it under
        ('. "sync"', "OnceValue", True),
        ('"sync"', "OnceValue", False),
        ('sync "example.com/app/internal/syncx"', "sync.OnceFunc", False),
    ],
)
def test_a_literal_given_to_sync_once_functions_runs_once_by_the_import(imported: str, call: str, once: bool) -> None:
    source = _go(
        f"""
        package app

        import {imported}

        func setup() {{
            {call}(func() {{
                _ = 1
            }})()
        }}

        func OnceValue(f func()) func() {{ return f }}
        """
    )
    scope, funcs = _functions(source)
    literal = next(f for f in funcs if f.type == "func_literal")
    assert scope.runs_once(literal.child_by_field_name("body")) is once


ONCE_RECEIVERS = [
    # (description, declarations at package level, statements before the call, the receiver, a sync.Once?)
    ("a var of type sync.Once", "var setupOnce sync.Once", "", "setupOnce", True),
    ("a var not named once", "var guard sync.Once", "", "guard", True),
    ("a pointer parameter", "", "", "p", True),
    ("a local made by &sync.Once{}", "", "o := &sync.Once{}", "o", True),
    ("a local made by new(sync.Once)", "", "o := new(sync.Once)", "o", True),
    ("a field of a struct of the file", "type svc struct{ initOnce sync.Once }\nvar s svc", "", "s.initOnce", True),
    ("a field named otherwise", "type svc struct{ boot *sync.Once }\nvar s svc", "", "s.boot", True),
    ("an embedded sync.Once", "type lazy struct{ sync.Once }\nvar l lazy", "", "l", True),
    ("a var named once of another type", "type runner struct{}\nfunc (runner) Do(f func()) { f() }\nvar once runner", "", "once", False),
    ("a field named once of another type", "type runner struct{}\nfunc (runner) Do(f func()) { f() }\ntype svc struct{ once runner }\nvar s svc", "", "s.once", False),
    ("a local once shadowing the package's sync.Once", "type runner struct{}\nfunc (runner) Do(f func()) { f() }\nvar once sync.Once", "once := runner{}", "once", False),
    ("the package's sync.Once beside another local", "type runner struct{}\nfunc (runner) Do(f func()) { f() }\nvar once sync.Once", "{\n\tonce := runner{}\n\t_ = once\n}", "once", True),
    ("no declaration in sight: by its name", "", "", "cfgOnce", True),
    ("no declaration in sight, another name", "", "", "guard2", False),
]


@pytest.mark.parametrize(
    ("description", "declared", "before", "receiver", "once"), ONCE_RECEIVERS, ids=[c[0] for c in ONCE_RECEIVERS]
)
def test_once_do_is_known_by_the_declared_type(description: str, declared: str, before: str, receiver: str, once: bool) -> None:
    """``x.Do(f)`` runs ``f`` once when ``x`` is a ``sync.Once`` by its declaration, whatever its name."""
    source = (
        f'package app\n\nimport "sync"\n\n{declared}\n\nfunc setup(p *sync.Once) {{\n{before}\n'
        f"\t{receiver}.Do(func() {{\n\t\t_ = 1\n\t}})\n}}\n"
    ).encode()
    root = parse(source).root_node
    scope = RequestScope(root, Imports.from_root(root), source=source)
    qc = cursor("(func_literal) @f")
    literal = qc.captures(root)["f"][-1]
    assert scope.runs_once(literal.child_by_field_name("body")) is once
