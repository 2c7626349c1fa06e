"""Finding the Go files to check, and the settings that apply to each.

A directory is walked recursively for ``*.go`` files, skipping ``vendor``,
``testdata`` and ``node_modules`` directories and hidden ones (``.git``,
``.cache``...), as the go command does.  A file named on the command line is
checked whatever its name; ``./...`` and ``pkg/...`` are accepted as in the
go command.  Every path is then matched against the ``exclude``
globs of its configuration, relative to the directory that holds the config
file (or to the checked directory when there is none).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

    from golsp_leaks.config import Settings

#: Directory names never descended into (besides hidden directories).
SKIPPED_DIRS = frozenset({"vendor", "testdata", "node_modules"})


class CliError(Exception):
    """A usage or configuration error: reported as ``golsp-leaks: error: ...``, exit status 2."""


class Scope:
    """The settings for the files under one checked path, and where exclude globs are relative to.

    Scopes compare by identity: the caller hands out one object per config file.
    """

    __slots__ = ("base", "settings")

    def __init__(self, settings: Settings, base: str) -> None:
        self.settings = settings
        self.base = base

    def __repr__(self) -> str:
        return f"Scope(settings={self.settings!r}, base={self.base!r})"


class Target:
    """One file to check: where to read it, how to print it, and which scope it belongs to."""

    __slots__ = ("display", "fs_path", "scope")

    def __init__(self, fs_path: str, display: str, scope: int) -> None:
        self.fs_path = fs_path
        self.display = display
        self.scope = scope

    def _key(self) -> tuple[str, str, int]:
        return (self.fs_path, self.display, self.scope)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Target) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Target(fs_path={self.fs_path!r}, display={self.display!r}, scope={self.scope!r})"

    def __reduce__(self) -> tuple[type[Target], tuple[str, str, int]]:
        return (Target, self._key())


class Discovery:
    """The files found, the scopes they belong to, and what could not be read.

    ``listings`` holds the ``.go`` names of each directory walked (whether checked or
    excluded), as the walk saw them: the result cache needs them and need not list the
    directory again.
    """

    __slots__ = ("listings", "scopes", "targets", "warnings")

    def __init__(self) -> None:
        self.targets: list[Target] = []
        self.scopes: list[Scope] = []
        self.warnings: list[str] = []
        self.listings: dict[str, tuple[str, ...]] = {}


def go_pattern_dir(path: str) -> str:
    """``./...`` and ``pkg/...`` (go command patterns) mean the directory, which is walked anyway."""
    if path == "...":
        return "."
    for suffix in ("/...", os.sep + "..."):
        if path.endswith(suffix) and len(path) > len(suffix):
            return path[: -len(suffix)]
    return path


def printable(path: str) -> str:
    """A path as text that can be printed: bytes of a name that are not UTF-8 become U+FFFD."""
    if path.isascii():
        return path
    return path.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="replace")


def skipped_dir(name: str) -> bool:
    return name in SKIPPED_DIRS or name.startswith(".")


def _relative(path: str, base: str) -> str:
    try:
        rel = os.path.relpath(path, base)
    except ValueError:  # another drive on Windows
        return path
    return rel.replace(os.sep, "/")


def discover(paths: Sequence[str], scope_for: Callable[[str], Scope]) -> Discovery:
    """Every Go file under ``paths``, deduplicated, in a stable order.

    ``scope_for(path)`` gives the settings for one command-line path; it may
    raise :class:`CliError`.  A path that does not exist raises CliError too.
    """
    found = Discovery()
    paths = [go_pattern_dir(p) for p in paths]
    for path in paths:
        if not os.path.lexists(path):
            raise CliError(f"{path}: no such file or directory")
    scope_ids: dict[Scope, int] = {}
    seen: set[str] = set()
    for path in paths:
        scope = scope_for(path)
        index = scope_ids.get(scope)
        if index is None:
            index = scope_ids[scope] = len(found.scopes)
            found.scopes.append(scope)
        for fs_path, display in _walk(path, found.warnings, found.listings):
            key = os.path.normcase(os.path.abspath(fs_path))
            if key in seen:
                continue
            seen.add(key)
            if scope.settings.exclude and scope.settings.is_excluded(
                _relative(fs_path, scope.base)
            ):
                continue
            found.targets.append(Target(fs_path, display, index))
    return found


def _walk(root: str, warnings: list[str], listings: dict[str, tuple[str, ...]]) -> Iterator[tuple[str, str]]:
    """(path to open, path to print) of the Go files under ``root``; the ``.go`` names of each
    directory walked go into ``listings``."""
    if not os.path.isdir(root):
        yield root, printable(os.path.normpath(root))
        return

    def on_error(exc: OSError) -> None:
        warnings.append(f"{exc.filename}: cannot read directory: {exc.strerror or exc}")

    for directory, dirs, files in os.walk(root, onerror=on_error):
        dirs[:] = sorted(d for d in dirs if not skipped_dir(d))
        names = sorted(name for name in files if name.endswith(".go"))
        listings[directory] = tuple(names)
        for name in names:
            fs_path = os.path.join(directory, name)
            yield fs_path, printable(os.path.normpath(fs_path))


def scope_base(path: str, config_file: Path | str | None) -> str:
    """The directory exclude globs are relative to: the config file's, or the checked directory."""
    if config_file is not None:
        return os.path.dirname(str(config_file)) or "."
    return path if os.path.isdir(path) else (os.path.dirname(path) or ".")
