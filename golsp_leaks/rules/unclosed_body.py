"""unclosed-body: the body of an HTTP client response is not closed on every path."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from tree_sitter import Node

from golsp_leaks.goanalysis.dataflow.ownership import Releases
from golsp_leaks.goanalysis.libraries.streams import reads_to_end
from golsp_leaks.goanalysis.resources.tracking import (
    STREAM_BORROWS,
    NamedType,
    Outcome,
    Resource,
    examine,
)
from golsp_leaks.goanalysis.summaries.facts import SCOPE_FACTS, SIBLINGS
from golsp_leaks.goanalysis.summaries.returns import (
    called_in,
    calls_of,
    package_returning,
    returning,
)
from golsp_leaks.goanalysis.syntax.nodes import text
from golsp_leaks.goanalysis.syntax.parse import cursor
from golsp_leaks.model import Finding, Severity
from golsp_leaks.rules.base import DEFER_RELEASE, NAME_AND_DEFER, FileContext, Rule

HTTP = "net/http"
HTTPTEST = "net/http/httptest"

#: Package functions of net/http that send a request with the default client.
FUNCTIONS = frozenset({"Get", "Head", "Post", "PostForm"})
#: Methods of *http.Client that send a request.
METHODS = FUNCTIONS | {"Do"}
#: http.RoundTripper's method: whatever the receiver, its response is the caller's.
ROUND_TRIP = "RoundTrip"

#: Fields of *http.Response that are plain data: reading them does not hand the body on.
PLAIN_FIELDS = frozenset(
    {
        "Status",
        "StatusCode",
        "Proto",
        "ProtoMajor",
        "ProtoMinor",
        "Header",
        "ContentLength",
        "TransferEncoding",
        "Close",
        "Uncompressed",
        "Trailer",
        "Request",
        "TLS",
    }
)

BODY = Resource(
    releases=Releases(
        methods=frozenset({("Body", "Close")}),
        borrowing_calls=STREAM_BORROWS,
        plain_fields=PLAIN_FIELDS,
    ),
    release=lambda name: f"{name}.Body.Close()",
    has_error=True,
    release_needs_check=True,
    default_name="resp",
    nil_fields=frozenset({"Body"}),  # the client guarantees a non-nil Body with every response
)



def _test_server_client(call: Node, ctx: FileContext) -> bool:
    """``srv.Client()`` of an httptest server."""
    function = call.child_by_field_name("function")
    arguments = call.child_by_field_name("arguments")
    return (
        ctx.imports.has(HTTPTEST)
        and function is not None
        and function.type == "selector_expression"
        and text(function.child_by_field_name("field")) == "Client"
        and arguments is not None
        and arguments.named_child_count == 0
    )


CLIENT = NamedType(HTTP, "Client", frozenset({"DefaultClient"}), _test_server_client)
RESPONSE = NamedType(HTTP, "Response")


def _wrappers(ctx: FileContext) -> frozenset[tuple[str, bool]]:
    """The file's functions (and methods of a unique name) that return an ``*http.Response``."""
    own = returning(ctx.root, ctx.source, "*http.Response", lambda t: RESPONSE.is_type(t, ctx), b"Response")
    return own | package_returning(ctx.root, ctx.source, ctx.package.siblings, (HTTP, "Response"), b"Response")

_NAMES = " ".join(f'"{m}"' for m in sorted(METHODS | {ROUND_TRIP}))
_CALLS = f"""(call_expression
  function: (selector_expression operand: (_) @recv field: (field_identifier) @fn
  (#any-of? @fn {_NAMES}))) @call"""
_DOT_CALLS = f"(call_expression function: (identifier) @fn (#any-of? @fn {_NAMES})) @call"


class UnclosedBody(Rule):
    """
    ## What it does
    Reports the `*http.Response` returned by `http.Get`, `http.Head`, `http.Post`,
    `http.PostForm`, the `Do`, `Get`, `Head`, `Post` and `PostForm` methods of
    an `*http.Client`, an `http.RoundTripper`'s `RoundTrip`, or a function of
    the package (in this file or another) that returns a fresh response (the
    project's own client wrapper, its request type's `Do`), when some path from the call to a `return` (or to the end
    of the function) neither closes `resp.Body` nor hands the response (or its
    body) on, and when the response is thrown away (`_`, or `_ = resp`), or
    overwritten before its body is closed.  Handing it on is returning it,
    passing it to a function that keeps or closes it (a function of the same
    file is judged by what it does; `drainAndClose(resp)`), storing it
    or its body, or sending it on a channel; a close inside a deferred closure
    counts.  The error path of the call — `if err != nil { return err }`, the
    `else` of `if err == nil { ... }`, `if resp != nil { ... }` skipped — is not
    a leak: there is no response there, and neither is the branch skipped by
    `if resp != nil && resp.Body != nil { ... }`: the client never returns a
    response with a nil `Body`.  Reading the body to its end —
    `io.ReadAll(resp.Body)` (or `ioutil.ReadAll`), `io.Copy(io.Discard,
    resp.Body)`, also through a reader that hands on the whole body
    (`io.ReadAll(io.TeeReader(resp.Body, &log))`, `bufio.NewReader`) —
    releases the connection as closing does: at EOF the
    transport takes it back for the next request, and a read error closes it.
    Other reads (`json.NewDecoder(resp.Body)`, `bufio.NewScanner`, and
    `io.ReadAll(io.LimitReader(resp.Body, n))`, which stops after n bytes and
    leaves a longer body unread) need not reach EOF, and, like reading the response's
    plain fields (`resp.StatusCode`, `resp.Header`), neither release it nor
    hand it on.

    A client is recognised by its declaration: `http.DefaultClient`, a variable,
    parameter or struct field of type `*http.Client`, one initialised with
    `&http.Client{...}`, or an httptest server's `Client()`.  Other receivers
    with a `Do` method are left alone.  A response to `Head` has no body and
    the transport frees its connection by itself, so an unclosed one is only
    reported as information: closing it is what the documentation asks for.
    The server side's `r.Body` is never
    reported: the server closes it.  Code that runs once per process — `main`
    and `init`, outside loops — is not reported.

    ## Why is this bad?
    Until its body is closed, a response holds its connection: the transport
    cannot reuse it for the next request and keeps a read goroutine (and for
    HTTP/1 a write goroutine) alive for it.  Each leaked response is a leaked
    connection, open until the server gives up on it; under load the client
    runs out of file descriptors or ports, and every request pays for a new
    TCP (and TLS) handshake.

    ## Example
    ```go
    func status(url string) (int, error) {
        resp, err := http.Get(url)
        if err != nil {
            return 0, err
        }
        return resp.StatusCode, nil // the body is never closed
    }
    ```

    ## Use instead
    ```go
    func status(url string) (int, error) {
        resp, err := http.Get(url)
        if err != nil {
            return 0, err
        }
        defer resp.Body.Close()
        return resp.StatusCode, nil
    }
    ```

    ## Fix safety
    The fix inserts `defer resp.Body.Close()` right after the error check of
    that very call (moving a later `defer resp.Body.Close()` of the same
    statement list up, when there is one), and for a response bound to `_` first
    names it.  It is offered only when the error is checked at once (before the
    check `resp` may be nil, and the `defer` would panic), when no path hands the
    response on (one that is returned must stay open, as must a body handed to
    a reader that is returned or stored, `bufio.NewReader(resp.Body)`: then
    nothing is reported), and not inside a loop,
    where a `defer` would pile up until the function returns.  Closing a body
    twice is harmless.  To let the connection be reused the body should also be
    read to its end; the fix does not add that.
    """

    id = "unclosed-body"
    summary = "the body of an HTTP client response is not closed on every path"
    requires = (*SCOPE_FACTS, SIBLINGS)
    default_severity = Severity.WARNING
    fix_kinds = (
        DEFER_RELEASE,
        NAME_AND_DEFER,
    )
    triggers = (b".Do(", b".Get(", b".Head(", b".Post", b".RoundTrip(")

    def may_fire_in(self, source: bytes) -> bool:
        return True  # a function of the file may acquire one without a trigger in sight (see wants)

    def wants(self, decl_text: bytes, ctx: FileContext | None = None) -> bool:
        if super().wants(decl_text, ctx):
            return True
        return ctx is not None and called_in(decl_text, _wrappers(ctx))

    def check(self, decl: Node, ctx: FileContext) -> Iterable[Finding]:
        names = ctx.imports.names_for(HTTP)
        dot = ctx.imports.is_dot_imported(HTTP)
        if not names and not dot and not ctx.imports.has(HTTPTEST) and not _wrappers(ctx):
            return
        found: dict[int, tuple[Node, str]] = {}
        for call, where in [*_request_calls(decl, ctx, names, dot), *calls_of(decl, _wrappers(ctx))]:
            found.setdefault(call.start_byte, (call, where))
        for _, (call, where) in sorted(found.items()):
            finding = self._check_call(call, where, ctx)
            if finding is not None:
                yield finding

    def _check_call(self, call: Node, where: str, ctx: FileContext) -> Finding | None:
        outcome = examine(
            call,
            BODY,
            ctx,
            missing=lambda name: f"without closing {name}.Body",
            extra_releases=lambda func, variable: reads_to_end(func, variable, ctx.source, ctx.imports),
        )
        if outcome is None:
            return None
        if where.endswith("Head"):
            return self._head(call, where, outcome, ctx)
        if outcome.kind in ("dropped", "discarded"):
            message = (
                f"the response of {where} is thrown away, so its body is never closed: "
                "the connection is neither reused nor freed until the server closes it"
            )
        elif outcome.kind == "never":
            message = (
                f"the body of the response {outcome.name} from {where} is never closed: "
                "unless the body is read to its end, the connection is neither reused nor freed "
                "until the server closes it"
            )
        else:
            message = (
                f"the body of the response {outcome.name} from {where} is not closed on every path: "
                "the paths that return without closing it leak the connection"
            )
        return Finding(
            rule=self.id,
            start=outcome.target.start_byte,
            end=outcome.target.end_byte,
            message=message,
            related=tuple(outcome.related),
            fixes=tuple(outcome.fixes),
            per_request=ctx.scope.is_per_request(call),
        )


    def _head(self, call: Node, where: str, outcome: Outcome, ctx: FileContext) -> Finding:
        """A HEAD response has no body: the transport frees its connection itself, closing is the contract."""
        subject = f"the response {outcome.name}" if outcome.name else "the response"
        if outcome.kind in ("dropped", "discarded"):
            what = f"the response of {where} is thrown away, so its body is never closed"
        elif outcome.kind == "never":
            what = f"the body of {subject} from {where} is never closed"
        else:
            what = f"the body of {subject} from {where} is not closed on every path"
        return Finding(
            rule=self.id,
            start=outcome.target.start_byte,
            end=outcome.target.end_byte,
            message=(
                f"{what}: a response to HEAD has no body, so its connection is freed anyway, "
                "but the http.Client documentation asks for the body to be closed"
            ),
            related=tuple(outcome.related),
            fixes=tuple(outcome.fixes),
            per_request=ctx.scope.is_per_request(call),
            severity=Severity.INFORMATION,
        )


def _request_calls(decl: Node, ctx: FileContext, names: set[str], dot: bool) -> Iterator[tuple[Node, str]]:
    """Calls that send a request and return an ``*http.Response``, with how to name them."""
    for _, captures in cursor(_CALLS).matches(decl):
        call = captures["call"][0]
        receiver = captures["recv"][0]
        method = text(captures["fn"][0])
        if receiver.type == "identifier" and text(receiver) in names:
            if method in FUNCTIONS:
                yield call, f"http.{method}"
            continue
        if method == ROUND_TRIP or CLIENT.is_value(receiver, ctx, decl):
            shown = text(receiver)
            if len(shown) > 30 or "\n" in shown:
                shown = "the client"
            yield call, f"{shown}.{method}"
    if dot:
        for _, captures in cursor(_DOT_CALLS).matches(decl):
            method = text(captures["fn"][0])
            if method in FUNCTIONS:
                yield captures["call"][0], method
