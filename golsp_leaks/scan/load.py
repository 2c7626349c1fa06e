"""Putting one endpoint under bounded, concurrent load with httpx."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from golsp_leaks.scan.endpoints import Endpoint

#: Hard limits, whatever the options say.
MAX_REQUESTS = 100_000
MAX_DURATION = 600.0
MAX_CONCURRENCY = 256


@dataclass
class LoadResult:
    """What one burst of load did: requests sent, their latencies in order, status counts."""

    requests: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    elapsed: float = 0.0


async def run_load(
    base_url: str,
    endpoint: Endpoint,
    *,
    concurrency: int,
    requests: int | None,
    duration: float | None,
    timeout: float,
    headers: dict[str, str],
    on_request: Callable[[], None] | None = None,
) -> LoadResult:
    """Send ``requests`` requests (or for ``duration`` seconds) with ``concurrency`` workers.

    The client is closed before this returns, so that the server's connection
    goroutines and descriptors go away with it and are not mistaken for a leak.
    """
    concurrency = max(1, min(concurrency, MAX_CONCURRENCY))
    limit = min(requests if requests is not None else MAX_REQUESTS, MAX_REQUESTS)
    deadline = time.monotonic() + min(duration if duration is not None else MAX_DURATION, MAX_DURATION)
    result = LoadResult()
    started = time.monotonic()
    issued = 0
    request_headers = dict(headers)
    if endpoint.content_type:
        request_headers.setdefault("Content-Type", endpoint.content_type)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(
        base_url=base_url, timeout=timeout, limits=limits, trust_env=False
    ) as client:

        async def worker() -> None:
            nonlocal issued
            while issued < limit and time.monotonic() < deadline:
                issued += 1
                began = time.perf_counter()
                try:
                    response = await client.request(
                        endpoint.method, endpoint.path, content=endpoint.body, headers=request_headers
                    )
                    await response.aread()
                    result.statuses[str(response.status_code)] += 1
                except httpx.HTTPError as exc:
                    result.errors += 1
                    result.statuses[type(exc).__name__] += 1
                result.latencies.append(time.perf_counter() - began)
                result.requests += 1
                if on_request is not None:
                    on_request()

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.elapsed = time.monotonic() - started
    return result


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` percentile (nearest rank) of the values; 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]
