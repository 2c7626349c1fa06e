"""The scan: load each endpoint on its own, sample the service before and after, and decide what leaked.

Each endpoint gets a baseline sample and then two equal bursts of load, each
followed by a settle period (requests done and the client's connections closed,
the goroutine count steady, a GC forced through the heap profile) and a sample.
A goroutine site, the descriptor count or the heap is reported only when it grew
in *both* bursts, by a similar amount per request: what a one-off start-up
(a lazily started worker, a connection pool filling up) adds does not repeat,
and a leak does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from golsp_leaks.goanalysis.libraries.routes import functions_in_source
from golsp_leaks.scan import DEFAULT_REQUESTS, pprof
from golsp_leaks.scan.endpoints import Endpoint
from golsp_leaks.scan.load import LoadResult, percentile, run_load
from golsp_leaks.scan.process import ProcessStats
from golsp_leaks.scan.report import EndpointSummary, Place, RuntimeFinding, ScanReport

#: Requests per endpoint unless told otherwise (two bursts of half as many).
#: Fewest extra goroutines (or descriptors) per burst that can count as growth.
MIN_GROWTH = 3
#: Fewest extra goroutines per request, in each burst, that count as growth.
MIN_PER_REQUEST = 0.05
#: How far apart the two bursts' per-request growth may be (a factor).
PROPORTION = 2.5
#: Heap growth that counts: at least this much per request, and this much in all.
HEAP_PER_REQUEST = 16 << 10
HEAP_MIN = 4 << 20
#: Latency growth that counts: the late median this many times the early one and this many
#: seconds more, and the second burst's median twice the first's (noise rarely does both).
LATENCY_FACTOR = 3.0
LATENCY_MIN = 0.2

PPROF_HINT = (
    'import _ "net/http/pprof"\n'
    'go func() { log.Println(http.ListenAndServe("127.0.0.1:6060", nil)) }()'
)


class ScanError(Exception):
    """A scan that cannot run (the target or pprof unreachable, the command exited)."""


class PprofUnreachable(ScanError):
    pass


@dataclass
class Options:
    target: str
    pprof: str
    workspace: Path
    endpoints: list[Endpoint]
    concurrency: int = 8
    requests: int | None = DEFAULT_REQUESTS
    duration: float | None = None
    timeout: float = 5.0
    settle: float = 0.2
    headers: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class Sample:
    sites: dict[tuple[str, ...], pprof.SiteCount]
    total: int
    heap_alloc: int
    heap_sites: dict[pprof.Frame, int]
    #: the size of the largest objects in use per allocation site
    object_sizes: dict[pprof.Frame, int]
    process: ProcessStats | None


def is_loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host in ("localhost", "::1") or host.startswith("127.")


class Scanner:
    """Runs one scan; ``stats`` gives the service's process figures in command mode."""

    def __init__(
        self,
        options: Options,
        stats: Callable[[], ProcessStats] | None = None,
        progress: Callable[[int, int], None] | None = None,
        alive: Callable[[], bool] | None = None,
    ) -> None:
        self.options = options
        self.stats = stats
        self.progress = progress
        self.alive = alive
        root = options.workspace
        self.locate = pprof.Locator(root, pprof.module_path(root))
        self.leak_profile = False
        self.done = 0
        self.total = sum(options.requests or 0 for _ in options.endpoints)

    # ------------------------------------------------------------------ pprof

    async def _get(self, client: httpx.AsyncClient, path: str) -> str:
        try:
            response = await client.get(self.options.pprof.rstrip("/") + path)
        except httpx.HTTPError as exc:
            raise PprofUnreachable(f"{self.options.pprof}{path}: {exc or type(exc).__name__}") from exc
        if response.status_code != 200:
            raise PprofUnreachable(f"{self.options.pprof}{path}: HTTP {response.status_code}")
        return response.text

    async def check_pprof(self, client: httpx.AsyncClient) -> None:
        index = await self._get(client, "/debug/pprof/")
        if "goroutine" not in index:
            raise PprofUnreachable(f"{self.options.pprof}/debug/pprof/ does not list the goroutine profile")
        self.leak_profile = "goroutineleak" in index

    async def sample(self, client: httpx.AsyncClient) -> Sample:
        path = "/debug/pprof/goroutineleak?debug=2" if self.leak_profile else "/debug/pprof/goroutine?debug=2"
        goroutines = pprof.parse_goroutines(await self._get(client, path))
        heap = pprof.parse_heap(await self._get(client, "/debug/pprof/heap?gc=1&debug=1"))
        return Sample(
            sites=pprof.group_goroutines(goroutines, self.locate),
            total=len(goroutines),
            heap_alloc=heap.heap_alloc,
            heap_sites=pprof.heap_by_site(heap, self.locate),
            object_sizes=pprof.object_size_by_site(heap, self.locate),
            process=self.stats() if self.stats is not None else None,
        )

    async def settle(self, client: httpx.AsyncClient) -> None:
        """Wait for the goroutine count to stop moving (at most a few seconds)."""
        await asyncio.sleep(self.options.settle)
        previous = -1
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            total, _ = pprof.parse_goroutine_counts(await self._get(client, "/debug/pprof/goroutine?debug=1"))
            if total == previous:
                return
            previous = total
            await asyncio.sleep(0.05)

    # ------------------------------------------------------------------ the scan

    async def run(self) -> ScanReport:
        started = time.monotonic()
        report = ScanReport(self.options.target, self.options.pprof, False, 0.0, notes=list(self.options.notes))
        async with httpx.AsyncClient(timeout=10.0, trust_env=False) as client:
            await self.check_pprof(client)
            report.leak_profile = self.leak_profile
            baseline: Sample | None = None
            for endpoint in self.options.endpoints:
                findings, summary, baseline = await self.scan_endpoint(client, endpoint, baseline)
                report.findings.extend(findings)
                report.endpoints.append(summary)
        report.elapsed = time.monotonic() - started
        report.findings.sort(key=lambda f: (f.path, f.line, f.rule, f.endpoint))
        return report

    def _tick(self) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total)

    async def _burst(self, endpoint: Endpoint, share: int | None, seconds: float | None) -> LoadResult:
        if self.alive is not None and not self.alive():
            raise ScanError("the service exited during the scan")
        return await run_load(
            self.options.target,
            endpoint,
            concurrency=self.options.concurrency,
            requests=share,
            duration=seconds,
            timeout=self.options.timeout,
            headers=self.options.headers,
            on_request=self._tick,
        )

    async def scan_endpoint(
        self, client: httpx.AsyncClient, endpoint: Endpoint, baseline: Sample | None = None
    ) -> tuple[list[RuntimeFinding], EndpointSummary, Sample]:
        """Scan one endpoint; ``baseline`` is the previous endpoint's last (settled) sample, when there is one."""
        opts = self.options
        share = None if opts.requests is None else max(1, opts.requests // 2)
        seconds = None if opts.duration is None else opts.duration / 2
        if baseline is None:
            await self.settle(client)
            baseline = await self.sample(client)
        samples = [baseline]
        bursts: list[LoadResult] = []
        for _ in range(2):
            bursts.append(await self._burst(endpoint, share, seconds))
            await self.settle(client)
            samples.append(await self.sample(client))
        findings = self.judge(endpoint, samples, bursts)
        latencies = [x for b in bursts for x in b.latencies]
        statuses: dict[str, int] = {}
        for burst in bursts:
            for status, count in burst.statuses.items():
                statuses[status] = statuses.get(status, 0) + count
        early, late = _early_late(bursts)
        summary = EndpointSummary(
            endpoint=endpoint.name,
            requests=sum(b.requests for b in bursts),
            errors=sum(b.errors for b in bursts),
            statuses=statuses,
            latency_ms={
                "p50": 1000 * percentile(latencies, 0.5),
                "p90": 1000 * percentile(latencies, 0.9),
                "early_p50": 1000 * percentile(early, 0.5),
                "late_p50": 1000 * percentile(late, 0.5),
            },
            goroutines=[s.total for s in samples],
            fds=[s.process.fds if s.process else None for s in samples],
            threads=[s.process.threads if s.process else None for s in samples],
            rss=[s.process.rss if s.process else None for s in samples],
            heap_alloc=[s.heap_alloc for s in samples],
            handler=f"{endpoint.route.handler}" if endpoint.route else None,
        )
        return findings, summary, samples[-1]

    # ------------------------------------------------------------------ deciding

    def judge(self, endpoint: Endpoint, samples: list[Sample], bursts: list[LoadResult]) -> list[RuntimeFinding]:
        served = [b.requests for b in bursts]
        total = sum(served)
        findings: list[RuntimeFinding] = []
        if not total:
            return findings
        handler = self._handler_place(endpoint)

        foreign: list[tuple[str, float]] = []
        for key in samples[-1].sites:
            counts = [s.sites[key].count if key in s.sites else 0 for s in samples]
            growth = _steady_growth(counts, served, MIN_GROWTH, MIN_PER_REQUEST)
            if growth is None:
                continue
            site = samples[-1].sites[key].site
            if site.created is None and site.blocked is None:
                foreign.append((site.origin or key[-1], growth))
                continue
            leaked = samples[-1].sites[key].leaked - (samples[0].sites[key].leaked if key in samples[0].sites else 0)
            findings.append(self._goroutine_finding(endpoint, site, growth, total, leaked))
        if foreign and handler is not None:
            # Goroutines of the standard library or other modules (a connection's read and write
            # loops, say): one finding on the handler, naming where they come from.
            growth = sum(g for _, g in foreign)
            origins = ", ".join(f"{g:,.0f} created by {origin}" for origin, g in sorted(foreign))
            findings.append(
                self._finding(
                    "runtime-goroutine-growth", "error", endpoint, handler, growth, total,
                    f"{total:,} requests to {endpoint.name} left {growth:,.0f} goroutines outside the module's "
                    f"code ({origins}; {growth / total:.2f} per request)",
                    (),
                )
            )

        fds = [s.process.fds if s.process else None for s in samples]
        if all(f is not None for f in fds):
            growth = _steady_growth([f or 0 for f in fds], served, MIN_GROWTH, MIN_PER_REQUEST)
            if growth is not None and handler is not None:
                findings.append(
                    self._finding(
                        "runtime-fd-growth", "error", endpoint, handler, growth, total,
                        f"{total:,} requests to {endpoint.name} left {growth:,.0f} more open file descriptors "
                        f"({growth / total:.2f} per request)",
                        (),
                    )
                )

        heap = [s.heap_alloc for s in samples]
        heap_site = self._heap_site(samples)
        # Growth by one or two large objects per burst is a cache or a pool filling up (the
        # last request's context kept by each idle connection, say), not a leak: each burst
        # must add at least MIN_GROWTH objects of the site that grew most.
        size = samples[-1].object_sizes.get(heap_site, 0) if heap_site is not None else 0
        heap_growth = _steady_growth(heap, served, max(HEAP_MIN // 2, MIN_GROWTH * size), HEAP_PER_REQUEST)
        if heap_growth is not None:
            place = self._place(heap_site, "allocated here") if heap_site is not None else handler
            if place is not None:
                findings.append(
                    self._finding(
                        "runtime-heap-growth", "warning", endpoint, place, heap_growth, total,
                        f"{total:,} requests to {endpoint.name} left {_size(heap_growth)} more heap in use "
                        f"({_size(heap_growth / total)} per request) after a GC",
                        (),
                    )
                )

        early, late = _early_late(bursts)
        if len(early) >= 5 and len(late) >= 5 and handler is not None:
            e50, l50 = percentile(early, 0.5), percentile(late, 0.5)
            b1, b2 = (percentile(b.latencies, 0.5) for b in bursts)
            if l50 > LATENCY_FACTOR * e50 and l50 - e50 > LATENCY_MIN and b2 > 2 * b1:
                findings.append(
                    self._finding(
                        "runtime-latency-growth", "warning", endpoint, handler, l50 - e50, total,
                        f"{endpoint.name} slowed down under load: median {1000 * e50:.0f} ms early, "
                        f"{1000 * l50:.0f} ms late in {total:,} requests",
                        (),
                    )
                )
        return findings

    def _goroutine_finding(
        self,
        endpoint: Endpoint,
        site: pprof.Site,
        growth: float,
        total: int,
        leaked: int,
    ) -> RuntimeFinding:
        """A finding for a site in the module's code (its go statement, or the frame it runs in)."""
        blocked = self._place(site.blocked, f"blocked here ({site.wait})") if site.blocked else None
        if site.created is not None:
            place = self._place(site.created, "")
            where = f"created at {place.path}:{place.line}"
        else:
            assert blocked is not None
            place = blocked
            where = f"started by {site.origin or 'the server'}"
        block_text = f", blocked at {blocked.path}:{blocked.line} in {site.wait}" if blocked else f", in {site.wait}"
        proven = leaked >= max(MIN_GROWTH, 0.5 * growth)
        rule = "runtime-goroutine-leak" if proven else "runtime-goroutine-growth"
        tail = "; the garbage collector proves them leaked" if proven else ""
        message = (
            f"{total:,} requests to {endpoint.name} left {growth:,.0f} goroutines {where}{block_text} "
            f"({growth / total:.2f} per request){tail}"
        )
        related = (blocked,) if blocked is not None and blocked != place else ()
        return self._finding(rule, "error", endpoint, place, growth, total, message, related)

    def _finding(
        self,
        rule: str,
        severity: str,
        endpoint: Endpoint,
        place: Place,
        growth: float,
        total: int,
        message: str,
        related: tuple[Place, ...],
    ) -> RuntimeFinding:
        return RuntimeFinding(
            rule=rule,
            severity=severity,
            endpoint=endpoint.name,
            path=place.path,
            line=place.line,
            message=message,
            line_text=_line_text(self.options.workspace / place.path, place.line),
            requests=total,
            growth=round(growth, 2),
            per_request=round(growth / total, 3),
            related=related,
        )

    def _place(self, frame: pprof.Frame, message: str) -> Place:
        return Place(self.locate.relative(frame.file) or frame.file, frame.line, message)

    def _handler_place(self, endpoint: Endpoint) -> Place | None:
        route = endpoint.route
        if route is None or not route.handler:
            return None
        root = self.options.workspace
        directory = (root / route.file).parent
        for path in sorted(directory.glob("*.go")):
            try:
                source = path.read_bytes()
            except OSError:
                continue
            for function in functions_in_source(source):
                if function.name == route.handler or function.name.endswith("." + route.handler):
                    rel = path.relative_to(root).as_posix()
                    return Place(rel, function.start_line, f"handler of {endpoint.name}")
        return None

    def _heap_site(self, samples: list[Sample]) -> pprof.Frame | None:
        """The allocation site in the module whose in-use bytes grew most, if one grew."""
        first, last = samples[0].heap_sites, samples[-1].heap_sites
        grown = {site: last[site] - first.get(site, 0) for site in last}
        if not grown:
            return None
        site, amount = max(grown.items(), key=lambda item: item[1])
        return site if amount > 0 else None


def _steady_growth(counts: list[int], served: list[int], minimum: float, per_request: float) -> float | None:
    """The total growth when each burst grew ``counts`` by at least the minimums, in proportion; else None."""
    steps = [counts[i + 1] - counts[i] for i in range(len(counts) - 1)]
    if len(steps) != len(served):
        return None
    rates: list[float] = []
    for step, requests in zip(steps, served, strict=True):
        if requests <= 0 or step < max(minimum, per_request * requests):
            return None
        rates.append(step / requests)
    if max(rates) > PROPORTION * min(rates):
        return None
    return float(sum(steps))


def _early_late(bursts: list[LoadResult]) -> tuple[list[float], list[float]]:
    """The latencies of the first fifth of the first burst and of the last fifth of the last."""
    first, last = bursts[0].latencies, bursts[-1].latencies
    return first[: max(1, len(first) // 5)], last[-max(1, len(last) // 5) :]


def _line_text(path: Path, line: int) -> str:
    try:
        lines = path.read_bytes().split(b"\n")
    except OSError:
        return ""
    if 1 <= line <= len(lines):
        return lines[line - 1].decode("utf-8", errors="replace").strip()
    return ""


def _size(value: float) -> str:
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(value) >= scale:
            return f"{value / scale:,.1f} {unit}"
    return f"{value:,.0f} B"
