"""unclosed-file: a file opened with os.Open/Create/OpenFile/CreateTemp is not closed on every path."""

from __future__ import annotations

from collections.abc import Iterable

from tree_sitter import Node

from golsp_leaks.goanalysis.dataflow.ownership import Releases
from golsp_leaks.goanalysis.libraries.calls import package_calls
from golsp_leaks.goanalysis.libraries.files import FUNCTIONS, METHODS
from golsp_leaks.goanalysis.resources.tracking import STREAM_BORROWS, NamedType, Resource, examine
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

#: The functions of package os that open a file the caller must close.
CONSTRUCTORS = FUNCTIONS["os"]
#: The receiver types whose methods open a file (``fh.Open()`` of a ``*multipart.FileHeader``).
OPENER_TYPES = tuple((NamedType(path, name), methods) for (path, name), methods in sorted(METHODS.items()))
_METHOD_NAMES = " ".join(f'"{m}"' for m in sorted({m for ms in METHODS.values() for m in ms}))
_METHOD_CALLS = f"""(call_expression
  function: (selector_expression operand: (_) @recv field: (field_identifier) @fn (#any-of? @fn {_METHOD_NAMES}))) @call"""

OS_FILE = NamedType("os", "File")


def _openers(ctx: FileContext) -> frozenset[tuple[str, bool]]:
    """The file's functions (and methods of a unique name) that return an ``*os.File``."""
    own = returning(ctx.root, ctx.source, "*os.File", lambda t: OS_FILE.is_type(t, ctx), b"File")
    return own | package_returning(ctx.root, ctx.source, ctx.package.siblings, ("os", "File"), b"File")


FILE = Resource(
    releases=Releases(methods=frozenset({("Close",)}), borrowing_calls=STREAM_BORROWS),
    release=lambda name: f"{name}.Close()",
    has_error=True,
    default_name="f",
)

class UnclosedFile(Rule):
    """
    ## What it does
    Reports a file opened with `os.Open`, `os.Create`, `os.OpenFile`,
    `os.CreateTemp` (or `ioutil.TempFile`), an uploaded file's
    `(*multipart.FileHeader).Open`, an SFTP client's (`*sftp.Client`) `Open`,
    `OpenFile` or `Create`, or a function of the package (in this file or
    another) that returns the file it opens, when some path from the call to a `return` (or to the end of
    the function) neither closes it nor hands it on, and when the file is thrown
    away (`_`, `_ = f`, or a call whose results are dropped), or overwritten
    before it is closed.  Handing it on is returning it, passing it to a
    function that keeps or closes it (a function of the package, or a method
    of the receiver's type, is judged by what it does: `closeQuietly(f)`
    closes, `size(f)` only reads), storing it
    (a struct field, a map, a package variable), sending it on a channel, or
    capturing it in a closure that outlives the call; a close inside a deferred
    closure counts.  The error path of the call itself — `if err != nil { return
    err }` — is not a leak: there is no file yet.  Reading through a wrapper that
    does not own the file (`bufio.NewScanner(f)`, `io.Copy(dst, f)`,
    `json.NewDecoder(f)`), or through a struct of the package that has no
    `Close` (`&countingReader{r: f}` read through and never returned), is not
    handing it on.

    Code that runs once per process — `main` and `init`, outside loops — is not
    reported: the exit closes what it leaves open.

    ## Why is this bad?
    Every open file holds a file descriptor.  One that is not closed stays open
    until the garbage collector happens to finalize the `*os.File`, which may be
    never under a steady load; a long-running process then runs out of
    descriptors ("too many open files") and fails to accept connections or open
    anything else.  On Windows an open file also cannot be renamed or removed.

    ## Example
    ```go
    func firstLine(path string) (string, error) {
        f, err := os.Open(path)
        if err != nil {
            return "", err
        }
        sc := bufio.NewScanner(f)
        if !sc.Scan() {
            return "", sc.Err() // f is never closed
        }
        return sc.Text(), nil
    }
    ```

    ## Use instead
    ```go
    func firstLine(path string) (string, error) {
        f, err := os.Open(path)
        if err != nil {
            return "", err
        }
        defer f.Close()
        sc := bufio.NewScanner(f)
        if !sc.Scan() {
            return "", sc.Err()
        }
        return sc.Text(), nil
    }
    ```

    ## Fix safety
    The fix inserts `defer f.Close()` right after the error check of that very
    call (moving a later `defer f.Close()` of the same statement list up, when
    there is one), and for a file bound to `_` first names it.  It is offered
    only when the error is checked at once, when no path hands the file on (a
    file that is returned on one path must not be closed by a `defer`), and not
    inside a loop, where a `defer` would pile up until the function returns.  An
    explicit `f.Close()` elsewhere stays: closing twice returns an error that the
    deferred call ignores.  For a file written to, check the error of an explicit
    `Close` as well: the deferred one discards it.
    """

    id = "unclosed-file"
    summary = "a file opened with os.Open/Create/OpenFile/CreateTemp is not closed on every path"
    requires = (*SCOPE_FACTS, SIBLINGS)
    default_severity = Severity.WARNING
    fix_kinds = (
        DEFER_RELEASE,
        NAME_AND_DEFER,
    )
    triggers = (b"Open(", b"OpenFile(", b"Create(", b"CreateTemp(", b"TempFile(")

    def may_fire_in(self, source: bytes) -> bool:
        return True  # a function of the file may acquire one without a trigger in sight (see wants)

    def wants(self, decl_text: bytes, ctx: FileContext | None = None) -> bool:
        return super().wants(decl_text, ctx) or (ctx is not None and called_in(decl_text, _openers(ctx)))

    def check(self, decl: Node, ctx: FileContext) -> Iterable[Finding]:
        found = [
            (call, f"{path.rsplit('/', 1)[-1]}.{name}")
            for path, names in FUNCTIONS.items()
            for call, name in package_calls(decl, ctx.imports, (path,), names)
        ]
        found.extend(_opener_methods(decl, ctx))
        found.extend(calls_of(decl, _openers(ctx)))
        for call, where in sorted(found, key=lambda pair: pair[0].start_byte):
            finding = self._check_call(call, where, ctx)
            if finding is not None:
                yield finding

    def _check_call(self, call: Node, where: str, ctx: FileContext) -> Finding | None:
        outcome = examine(call, FILE, ctx, missing=lambda name: f"without closing {name}")
        if outcome is None:
            return None
        if outcome.kind in ("dropped", "discarded"):
            message = (
                f"the file opened by {where} is thrown away without being closed: "
                "its file descriptor leaks until the garbage collector finalizes it"
            )
        elif outcome.kind == "never":
            message = (
                f"the file {outcome.name} opened by {where} is never closed: "
                "its file descriptor leaks until the garbage collector finalizes it"
            )
        else:
            message = (
                f"the file {outcome.name} opened by {where} is not closed on every path: "
                "the paths that return without closing it leak its file descriptor"
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


def _opener_methods(decl: Node, ctx: FileContext) -> list[tuple[Node, str]]:
    """Calls of the methods that open a file on a receiver known to have their type."""
    found: list[tuple[Node, str]] = []
    if not any(ctx.imports.has(named.path) for named, _ in OPENER_TYPES):
        return found
    for _, captures in cursor(_METHOD_CALLS).matches(decl):
        receiver, method = captures["recv"][0], text(captures["fn"][0])
        for named, methods in OPENER_TYPES:
            if method in methods and ctx.imports.has(named.path) and named.is_value(receiver, ctx, decl):
                shown = text(receiver)
                found.append((captures["call"][0], f"{shown if len(shown) <= 30 else named.name}.{method}"))
                break
    return found
