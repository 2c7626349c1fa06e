"""What to scan: endpoints given on the command line or in a file, or the routes found in the code.

An endpoint spec is ``METHOD /path[?query] [@body-file]``, e.g. ``GET /orders`` or
``POST /orders @order.json``.  A file of specs has one per line; blank lines and
lines starting with ``#`` are skipped, and ``@`` paths are relative to the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from golsp_leaks.goanalysis.libraries.routes import METHODS, Route, fill_path, find_routes

_SPEC = re.compile(r"^\s*([A-Za-z]+)\s+(/\S*)(?:\s+@(\S+))?\s*$")


class SpecError(ValueError):
    """An endpoint spec that cannot be read."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One endpoint to put under load."""

    method: str
    path: str
    body: bytes | None = None
    content_type: str | None = None
    #: The route it was taken from or matches, when the code registers it.
    route: Route | None = None

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"


def _content_type(path: Path) -> str:
    suffix = path.suffix.lower()
    return {
        ".json": "application/json",
        ".xml": "application/xml",
        ".txt": "text/plain",
        ".html": "text/html",
        ".form": "application/x-www-form-urlencoded",
    }.get(suffix, "application/octet-stream")


def parse_spec(spec: str, base: Path | None = None) -> Endpoint:
    """``GET /orders`` or ``POST /orders @order.json`` (the body file read relative to ``base``)."""
    match = _SPEC.match(spec)
    if match is None:
        raise SpecError(f"bad endpoint {spec!r}: expected 'METHOD /path' or 'METHOD /path @body-file'")
    method = match.group(1).upper()
    if method not in METHODS:
        raise SpecError(f"bad endpoint {spec!r}: unknown method {match.group(1)!r}")
    body: bytes | None = None
    content_type: str | None = None
    if match.group(3):
        body_path = Path(match.group(3))
        if base is not None and not body_path.is_absolute():
            body_path = base / body_path
        try:
            body = body_path.read_bytes()
        except OSError as exc:
            raise SpecError(f"endpoint {spec!r}: cannot read {body_path}: {exc.strerror or exc}") from exc
        content_type = _content_type(body_path)
    return Endpoint(method, match.group(2), body, content_type)


def read_spec_file(path: Path) -> list[Endpoint]:
    """The endpoints of a file of specs."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise SpecError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    endpoints: list[Endpoint] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            endpoints.append(parse_spec(line, path.parent))
        except SpecError as exc:
            raise SpecError(f"{path}:{number}: {exc}") from exc
    return endpoints


def parse_params(values: list[str]) -> dict[str, str]:
    """``--param name=value`` options."""
    params: dict[str, str] = {}
    for value in values:
        name, sep, text = value.partition("=")
        if not sep or not name.strip():
            raise SpecError(f"bad --param {value!r}: expected NAME=VALUE")
        params[name.strip()] = text
    return params


def _route_pattern(path: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]*\}|:[A-Za-z_][A-Za-z0-9_]*|\*[A-Za-z0-9_]*)", path)
    regex = "".join(
        ("[^/]+" if part.startswith((":", "{")) and not part.endswith("...}") else ".*")
        if index % 2
        else re.escape(part)
        for index, part in enumerate(parts)
    )
    return re.compile(f"^{regex}/?$")


def match_route(endpoint: Endpoint, routes: list[Route]) -> Route | None:
    """The route an endpoint's method and path fall under (exact paths first)."""
    path = endpoint.path.split("?", 1)[0]
    candidates = [r for r in routes if r.method == endpoint.method]
    for route in candidates:
        if route.path.rstrip("/") == path.rstrip("/"):
            return route
    for route in candidates:
        if _route_pattern(route.path).match(path):
            return route
    return None


def from_routes(root: Path, params: dict[str, str]) -> tuple[list[Endpoint], list[str]]:
    """Endpoints for the routes registered in the code under ``root``, and notes on those skipped."""
    endpoints: list[Endpoint] = []
    notes: list[str] = []
    for route in find_routes(root):
        path, missing = fill_path(route.path, params)
        if missing:
            names = ", ".join(missing)
            hint = " ".join(f"--param {n}=VALUE" for n in missing)
            notes.append(
                f"{route.spec} ({route.file}:{route.line}) skipped: no value for the path parameter {names} ({hint})"
            )
            continue
        endpoints.append(Endpoint(route.method, path, route=route))
    return endpoints, notes


def attach_routes(endpoints: list[Endpoint], root: Path) -> list[Endpoint]:
    """The endpoints, each with the route of the code that serves it when one is found."""
    routes = find_routes(root)
    out: list[Endpoint] = []
    for endpoint in endpoints:
        route = endpoint.route or match_route(endpoint, routes)
        out.append(
            Endpoint(endpoint.method, endpoint.path, endpoint.body, endpoint.content_type, route)
        )
    return out
