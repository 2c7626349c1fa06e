"""The Go language version of a module, from the ``go`` directive of its go.mod."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

_GO_DIRECTIVE = re.compile(rb"^go[ \t]+([0-9]+)\.([0-9]+)", re.MULTILINE)


def parse_go_directive(gomod: bytes) -> tuple[int, int] | None:
    match = _GO_DIRECTIVE.search(gomod)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2))


@lru_cache(maxsize=1024)
def _version_in_dir(directory: Path) -> tuple[int, int] | None:
    for candidate in (directory, *directory.parents):
        gomod = candidate / "go.mod"
        try:
            data = gomod.read_bytes()
        except OSError:
            continue
        return parse_go_directive(data)
    return None


def go_version_for(path: Path) -> tuple[int, int] | None:
    """The ``go`` version of the nearest go.mod above ``path`` (None when there is none)."""
    try:
        directory = path.resolve().parent if not path.is_dir() else path.resolve()
    except OSError:
        return None
    return _version_in_dir(directory)


def clear_cache() -> None:
    _version_in_dir.cache_clear()
