"""The options of ``golsp-leaks scan``, apart from the scan itself.

The argument parser of every command is built at each start; the scan (and httpx with it)
is imported only when ``scan`` runs (:mod:`golsp_leaks.cli.scan`).
"""

from __future__ import annotations

import argparse

from golsp_leaks.scan import DEFAULT_REQUESTS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

FAIL_ON = ("error", "warning", "information", "hint", "never")


def add_parser(commands: Any, options: bool = True) -> None:
    """Register ``scan`` on the subcommand parsers of ``golsp-leaks`` (its options too, unless
    ``options`` is False: another command runs)."""
    scan = commands.add_parser(
        "scan",
        help="load a running service's endpoints and report goroutine, descriptor and heap leaks",
        description=(
            "Put each endpoint of a Go service under concurrent load, sample net/http/pprof "
            "before and after, and report the lines whose goroutines (or the descriptors or "
            "heap) grow with the requests.  With '-- COMMAND...' the service is started, "
            "scanned and stopped.  The report is also written to .golsp-leaks/scan.json."
        ),
        epilog=(
            "examples:\n"
            "  golsp-leaks scan --url http://127.0.0.1:8080 --pprof http://127.0.0.1:6060\n"
            "  golsp-leaks scan --param id=1 -- go run .\n"
            "  golsp-leaks scan --endpoint 'POST /orders @order.json' -- ./server\n"
            "exit status: 0 no finding at or above --fail-on, 1 some, 2 an error."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    if not options:
        return
    scan.add_argument("--url", default="http://127.0.0.1:8080", help="the service (default: %(default)s)")
    scan.add_argument("--pprof", help="where net/http/pprof is served (default: --url)")
    scan.add_argument(
        "--endpoint", action="append", default=[], metavar="'METHOD /path [@body]'",
        help="an endpoint to scan (repeatable; default: the routes registered in the code)",
    )
    scan.add_argument("--endpoints", metavar="FILE", help="a file of endpoints, one per line")
    scan.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="a path parameter's value")
    scan.add_argument("--header", action="append", default=[], metavar="'NAME: VALUE'", help="a request header")
    scan.add_argument("--concurrency", type=int, default=8, metavar="N", help="requests in flight (default: 8)")
    amount = scan.add_mutually_exclusive_group()
    amount.add_argument(
        "--requests", type=int, metavar="N", help=f"requests per endpoint (default: {DEFAULT_REQUESTS})"
    )
    amount.add_argument("--duration", type=float, metavar="SECONDS", help="load time per endpoint")
    scan.add_argument("--timeout", type=float, default=5.0, metavar="SECONDS", help="per request (default: 5)")
    scan.add_argument("--settle", type=float, default=0.2, metavar="SECONDS", help="wait after each burst (default: 0.2)")
    scan.add_argument("--start-timeout", type=float, default=60.0, metavar="SECONDS", help="wait for COMMAND to answer (default: 60)")
    scan.add_argument("--workspace", default=".", metavar="DIR", help="the module's source (default: .)")
    scan.add_argument("--allow-remote", action="store_true", help="allow targets that are not loopback addresses")
    scan.add_argument("--format", choices=("text", "json", "sarif"), default="text")
    scan.add_argument("--fail-on", choices=FAIL_ON, default="warning")
    scan.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    scan.add_argument(
        "service_command", nargs=argparse.REMAINDER, metavar="-- COMMAND...", help="start this service, scan it, stop it"
    )
