"""The Go language version of a module, from the ``go`` directive of its go.mod."""

from __future__ import annotations

import os
import re
from functools import lru_cache

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

_GO_DIRECTIVE = re.compile(rb"^go[ \t]+([0-9]+)\.([0-9]+)", re.MULTILINE)


def parse_go_directive(gomod: bytes) -> tuple[int, int] | None:
    match = _GO_DIRECTIVE.search(gomod)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2))


@lru_cache(maxsize=1024)
def _version_in_dir(directory: str) -> tuple[int, int] | None:
    """The version of the nearest go.mod in ``directory`` (a resolved path) or above it."""
    try:
        with open(os.path.join(directory, "go.mod"), "rb") as handle:
            data = handle.read()
    except OSError:
        parent = os.path.dirname(directory)
        # The parent's answer is cached too: the directories of one module share it.
        return None if parent == directory else _version_in_dir(parent)
    return parse_go_directive(data)


def go_version_for(path: Path | str) -> tuple[int, int] | None:
    """The ``go`` version of the nearest go.mod above ``path`` (None when there is none)."""
    path = os.fspath(path)
    try:
        resolved = os.path.realpath(path)
    except (OSError, ValueError):
        return None
    return _version_in_dir(resolved if os.path.isdir(resolved) else os.path.dirname(resolved))


def go_version_in(directory: str) -> tuple[int, int] | None:
    """The ``go`` version of the nearest go.mod in ``directory`` or above it."""
    try:
        resolved = os.path.realpath(directory or ".")
    except (OSError, ValueError):
        return None
    return _version_in_dir(resolved)


def clear_cache() -> None:
    _version_in_dir.cache_clear()
