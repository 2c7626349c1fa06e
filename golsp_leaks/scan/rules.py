"""The rules of ``golsp-leaks scan``: what a running service showed, documented like the static rules.

They are not in the static registry (:func:`golsp_leaks.rules.all_rules`): the
engine never runs them on source code.  ``golsp-leaks rules``, the SARIF output
and ``docs/rules/`` take their documentation from here.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from tree_sitter import Node

from golsp_leaks.model import Finding, Severity
from golsp_leaks.rules.base import FileContext, Rule


class RuntimeRule(Rule):
    """A rule whose findings come from a scan of the running service, never from the source."""

    runtime = True

    def check(self, decl: Node, ctx: FileContext) -> Iterable[Finding]:
        return ()


class RuntimeGoroutineGrowth(RuntimeRule):
    """
    ## What it does
    Reports a `go` statement whose goroutines pile up while an endpoint is under
    load: `golsp-leaks scan` counted the goroutines per creation site before and
    after two bursts of requests, and this site grew in both, in proportion to the
    requests served. The finding is on the `go` statement (the `created by` frame of
    the goroutine dump); the place where the goroutines wait is its related location.
    Frames of the Go runtime, the standard library and other modules are skipped to
    the first frame in the scanned module.

    ## Why is this bad?
    Every goroutine holds its stack and whatever it references. One left behind per
    request grows the process until it is restarted or runs out of memory.

    ## Example
    ```go
    func (h *Handlers) SubmitBatch(c *gin.Context) {
        go func() { // 200 requests left 200 goroutines created here
            for {
                time.Sleep(30 * time.Second)
                log.Printf("batch %s", batch)
            }
        }()
    }
    ```

    ## Use instead
    Give the goroutine a way to end: a context that is cancelled, a channel that is
    closed, or no goroutine at all.
    """

    id = "runtime-goroutine-growth"
    summary = "goroutines created at this line pile up in proportion to the requests served"
    default_severity = Severity.ERROR


class RuntimeGoroutineLeak(RuntimeRule):
    """
    ## What it does
    Like `runtime-goroutine-growth`, for goroutines that the Go runtime itself proves
    leaked: Go 1.27 serves a `goroutineleak` profile in which goroutines blocked on a
    channel or lock that nothing can reach any more are marked `(leaked)` by the
    garbage collector. `golsp-leaks scan` uses it when the service serves it.

    ## Why is this bad?
    Such a goroutine can never run again: its stack and everything it references are
    lost until the process ends.

    ## Example
    ```go
    results := make(chan result) // unbuffered
    go func() { results <- search(q) }() // blocked for ever once the timeout below wins
    select {
    case r := <-results:
        return r
    case <-time.After(time.Second):
        return timeout
    }
    ```

    ## Use instead
    A buffered channel (`make(chan result, 1)`), or a `select` on `ctx.Done()` around
    the send.
    """

    id = "runtime-goroutine-leak"
    summary = "goroutines created at this line are proven leaked by the garbage collector"
    default_severity = Severity.ERROR


class RuntimeFdGrowth(RuntimeRule):
    """
    ## What it does
    Reports an endpoint after whose load the service holds more open file descriptors
    (read from `/proc/PID/fd`, so only when the scan starts the service itself), in
    proportion to the requests served, in both bursts. The finding is on the
    endpoint's handler function.

    ## Why is this bad?
    Descriptors are limited (often 1,024 per process): once they run out, the service
    can accept no connection and open no file.

    ## Example
    ```go
    f, err := os.Open(path)
    if err != nil {
        return err
    }
    data, err := io.ReadAll(f) // f is never closed
    ```

    ## Use instead
    `defer f.Close()` right after the error check; the static rules `unclosed-file`,
    `unclosed-body` and `unclosed-rows` point at the line.
    """

    id = "runtime-fd-growth"
    summary = "an endpoint leaves open file descriptors behind in proportion to its requests"
    default_severity = Severity.ERROR


class RuntimeHeapGrowth(RuntimeRule):
    """
    ## What it does
    Reports an endpoint after whose load the heap in use, measured after a forced GC
    (`/debug/pprof/heap?gc=1`), grew in both bursts by at least 16 KiB per request
    and by at least three objects of the allocation site in the scanned module whose
    in-use bytes grew most (one or two large objects more per burst is a cache or a
    pool filling up: idle pooled connections that keep their last request's context,
    say). The finding is on that site's first frame in the module.

    ## Why is this bad?
    Memory kept per request is never given back: a cache without eviction, a
    package-level map keyed by user input, a buffer parked in a long-lived value.

    ## Example
    ```go
    var seen = map[string][]byte{}

    func track(w http.ResponseWriter, r *http.Request) {
        seen[r.URL.Query().Get("id")] = make([]byte, 64<<10)
    }
    ```

    ## Use instead
    Bound the structure (an LRU, a TTL), or delete entries when they are done.
    """

    id = "runtime-heap-growth"
    summary = "the heap in use grows in proportion to an endpoint's requests, after GC"
    default_severity = Severity.WARNING


class RuntimeLatencyGrowth(RuntimeRule):
    """
    ## What it does
    Reports an endpoint whose median response time late in the scan (the last fifth
    of the second burst) is more than three times, and 200 ms more than, its median
    early in the scan (the first fifth of the first burst), at the same concurrency,
    and whose second burst's median is more than twice the first's. The finding is on
    the endpoint's handler function.

    ## Why is this bad?
    Latency that climbs with the number of requests served, not with the load, is
    the sign of work that accumulates: goroutines competing for a lock, a list
    scanned on every request that never shrinks, a pool that is exhausted.

    ## Example
    ```go
    var mu sync.Mutex
    var history []string

    func handle(w http.ResponseWriter, r *http.Request) {
        mu.Lock()
        defer mu.Unlock()
        history = append(history, r.URL.Path)
        for _, h := range history { /* ... */ }
    }
    ```

    ## Use instead
    Bound what accumulates, or keep it off the request path.
    """

    id = "runtime-latency-growth"
    summary = "an endpoint's response time grows as the scan goes on"
    default_severity = Severity.WARNING


@cache
def runtime_rules() -> tuple[Rule, ...]:
    """One instance of each runtime rule, ordered by id."""
    rules: list[Rule] = [
        RuntimeFdGrowth(),
        RuntimeGoroutineGrowth(),
        RuntimeGoroutineLeak(),
        RuntimeHeapGrowth(),
        RuntimeLatencyGrowth(),
    ]
    return tuple(sorted(rules, key=lambda r: r.id))
