"""The golsp-leaks language server (LSP over stdio or TCP)."""

from __future__ import annotations

import gc
import logging
import sys


def run(tcp: tuple[str, int] | None = None, log_file: str | None = None, verbose: bool = False) -> None:
    """Serve LSP on stdin/stdout, or on a TCP address; logs go to stderr or ``log_file``."""
    handler: logging.Handler = logging.FileHandler(log_file) if log_file else logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.getLogger("pygls").setLevel(logging.DEBUG if verbose else logging.WARNING)

    from golsp_leaks.server.server import create_server

    # Keystroke latency: the caches hold many long-lived objects; collect young ones less often
    # and never rescan what start-up created.
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)
    # Analysis runs on a thread that holds the GIL for long stretches: hand it back to the event
    # loop's thread within half a millisecond, not the default five, when the loop has a request.
    sys.setswitchinterval(0.0005)

    server = create_server()
    if tcp is not None:
        server.start_tcp(*tcp)
    else:
        server.start_io()
