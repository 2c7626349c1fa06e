"""The result cache of ``golsp-leaks check``: a file already checked in the same context is not analysed again.

What a file's findings depend on, and so what its cache key holds:

* its content (a BLAKE2 hash of its bytes);
* its package context: the name and the content hash of every ``.go`` file of
  its directory (package facts are learnt from them: the files this run reads
  anyway give their hash; one that it does not check, an excluded file say, gives
  its size and modification time instead) and the module's Go version;
* the configuration (enabled rules, severities, excludes);
* the tool: its version, and the size and modification time of its own
  source files (so that a changed installation never reuses old results).

The cache lives in one directory (see :func:`default_dir`), one JSON file per
checked directory, each holding the key, the reports and the line count of each
file in it.  A run that finds every file there reads and hashes them, reads those
JSON files and prints: it imports neither the analysis nor anything heavy
(:mod:`dataclasses`, :mod:`pathlib`, :mod:`hashlib`'s OpenSSL), and makes one
``stat``, ``open``, ``read`` and ``close`` per file.
A file is written to a temporary name and renamed into place, so concurrent
runs never see half a file (the last writer wins); a file that cannot be read
or parsed, or holds something unexpected, is treated as empty and rewritten.
``golsp-leaks clean`` removes the directory, which is marked with a
``CACHEDIR.TAG`` so that backup tools skip it and ``clean`` never removes a
directory that is not a cache.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Sequence
from functools import cache

from golsp_leaks import __version__
from golsp_leaks.cli.files import Scope, Target
from golsp_leaks.cli.results import (
    EditInfo,
    FileResult,
    FixInfo,
    Outcome,
    RelatedInfo,
    Report,
    Span,
    count_lines,
    read_file,
)
from golsp_leaks.goanalysis.summaries.gomod import go_version_in
from golsp_leaks.severity import Applicability, Severity

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    from golsp_leaks.config import Settings

try:  # BLAKE2 without hashlib, which loads OpenSSL first
    from _blake2 import blake2b
except ImportError:  # pragma: no cover
    from hashlib import blake2b

#: Bumped when the layout of a cache file changes.
FORMAT = "2"
ENV = "GOLSP_LEAKS_CACHE_DIR"
TAG_NAME = "CACHEDIR.TAG"
TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by golsp-leaks.\n"
    "# For information about cache directory tags see https://bford.info/cachedir/\n"
)


def default_dir() -> str:
    """``$GOLSP_LEAKS_CACHE_DIR``, else ``$XDG_CACHE_HOME/golsp-leaks``, else ``~/.cache/golsp-leaks``."""
    explicit = os.environ.get(ENV)
    if explicit:
        return explicit
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = xdg if xdg and os.path.isabs(xdg) else os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "golsp-leaks")


def prepare(directory: str | Path) -> None:
    """Create the cache directory (and its tag); raises OSError when that is not possible."""
    directory = os.fspath(directory)
    os.makedirs(directory, exist_ok=True)
    tag = os.path.join(directory, TAG_NAME)
    if not os.path.exists(tag):
        _write_atomically(tag, TAG.encode())


def clean(directory: str | Path) -> bool:
    """Remove the cache directory; False when there was none.  Refuses a directory that is not a cache."""
    directory = os.fspath(directory)
    if not os.path.exists(directory):
        return False
    if not os.path.isfile(os.path.join(directory, TAG_NAME)):
        raise OSError(f"{directory} has no {TAG_NAME}: not a golsp-leaks cache, left alone")
    import shutil

    shutil.rmtree(directory)
    return True


@cache
def tool_fingerprint() -> str:
    """The version, and the size and modification time of every source file of the package."""
    package = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    parts = [__version__, FORMAT]
    stack = [""]
    while stack:
        relative = stack.pop()
        try:
            with os.scandir(os.path.join(package, relative) if relative else package) as entries:
                found = sorted((entry.name, entry) for entry in entries)
        except OSError:
            continue
        for name, entry in found:
            path = f"{relative}/{name}" if relative else name
            with contextlib.suppress(OSError):
                if name.endswith(".py"):
                    st = entry.stat()
                    parts.append(f"{path}:{st.st_size}:{st.st_mtime_ns}")
                elif name != "__pycache__" and entry.is_dir(follow_symlinks=False):
                    stack.append(path)
    return _digest("\n".join(parts).encode("utf-8", "surrogateescape"))


def known_rules(root: str | Path) -> tuple[str, ...]:
    """The rule ids of this installation, noted in the cache directory so that a run which
    takes every file from the cache need not load the rules."""
    note = os.path.join(os.fspath(root), f"v{FORMAT}", f"rules-{tool_fingerprint()}.json")
    with contextlib.suppress(OSError, ValueError):
        with open(note, "rb") as handle:
            data = json.loads(handle.read())
        if isinstance(data, list) and data and all(isinstance(r, str) for r in data):
            return tuple(data)
    from golsp_leaks.rules import rule_ids

    ids = rule_ids()
    with contextlib.suppress(OSError):
        os.makedirs(os.path.dirname(note), exist_ok=True)
        _write_atomically(note, json.dumps(list(ids)).encode())
    return ids


def settings_fingerprint(settings: Settings) -> str:
    data = (
        sorted((k, bool(v)) for k, v in settings.rules.items()),
        sorted((k, v.value) for k, v in settings.severity.items()),
        list(settings.exclude),
    )
    return _digest(json.dumps(data).encode())


def directory_stamp(directory: str, names: Sequence[str] | None = None, digests: dict[str, str] | None = None) -> str:
    """What the ``.go`` files of the directory are: per name, its content hash when ``digests``
    has it (a file this run read), else its size and modification time.

    ``names`` are the ``.go`` names of the directory when the caller listed it already.
    """
    digests = digests or {}
    if names is None:
        try:
            names = sorted(name for name in os.listdir(directory or ".") if name.endswith(".go"))
        except OSError:
            return "unreadable"
    entries: list[str] = []
    for name in names:
        digest = digests.get(name)
        if digest is None:
            try:
                st = os.stat(os.path.join(directory, name))
            except OSError:
                digest = "-"
            else:
                digest = f"{st.st_size}:{st.st_mtime_ns}"
        entries.append(f"{name}:{digest}")
    return _digest("\n".join(entries).encode("utf-8", "surrogateescape"))


def content_key(context: str, source: bytes) -> str:
    """The key of a file: its context and a hash of its bytes."""
    return f"{context}:{_digest(source)}"


def _digest(data: bytes) -> str:
    return blake2b(data, digest_size=16).hexdigest()


class DirectoryCache:
    """The cache file of one checked directory: file name -> (key, encoded reports, lines)."""

    def __init__(self, root: str | Path, directory: str) -> None:
        name = _digest(os.path.abspath(directory or ".").encode("utf-8", "surrogateescape"))
        self.path = os.path.join(os.fspath(root), f"v{FORMAT}", f"{name}.json")
        self.entries: dict[str, list[Any]] = {}
        self.changed = False
        try:
            with open(self.path, "rb") as handle:
                data = json.loads(handle.read())
        except (OSError, ValueError):
            return  # none yet, or unreadable: start afresh
        if isinstance(data, dict) and isinstance(data.get("files"), dict):
            self.entries = {
                k: v
                for k, v in data["files"].items()
                if isinstance(k, str) and isinstance(v, list) and len(v) == 3 and isinstance(v[0], str)
            }

    def get(self, name: str, key: str) -> tuple[list[Any], int] | None:
        """The encoded reports and the line count of the file, when its key is ``key``."""
        entry = self.entries.get(name)
        if entry is None or entry[0] != key or not isinstance(entry[1], list):
            return None
        lines = entry[2]
        if type(lines) is not int or lines < 0:
            return None
        return entry[1], lines

    def put(self, name: str, key: str, reports: list[Any], lines: int) -> None:
        self.entries[name] = [key, reports, lines]
        self.changed = True

    def save(self) -> None:
        if not self.changed:
            return
        body = json.dumps({"format": FORMAT, "files": self.entries}, separators=(",", ":"))
        with contextlib.suppress(OSError):  # a cache that cannot be written is only slower
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            _write_atomically(self.path, body.encode())
        self.changed = False


def _write_atomically(path: str, data: bytes) -> None:
    import tempfile

    directory, name = os.path.split(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory or ".")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# --------------------------------------------------------------------------- reports <-> JSON


def encode_reports(reports: tuple[Report, ...]) -> list[Any]:
    """Reports (:class:`golsp_leaks.cli.results.Report`) as plain JSON values."""
    return [
        [
            r.rule,
            r.severity.value,
            r.message,
            list(r.span),
            [[list(x.span), x.message] for x in r.related],
            [[f.title, f.applicability.value, [[list(e.span), e.new_text] for e in f.edits]] for f in r.fixes],
        ]
        for r in reports
    ]


def decode_reports(data: list[Any]) -> tuple[Report, ...] | None:
    """The reports back; None when the data is not what :func:`encode_reports` makes."""

    def _span(values: Any) -> Span:
        if not isinstance(values, list) or len(values) != len(Span._fields):
            raise ValueError("not a span")
        return Span(*(int(v) for v in values))

    try:
        return tuple(
            Report(
                rule=str(rule),
                severity=Severity(severity),
                message=str(message),
                span=_span(span),
                related=tuple(RelatedInfo(_span(s), str(m)) for s, m in related),
                fixes=tuple(
                    FixInfo(str(title), Applicability(applicability), tuple(EditInfo(_span(s), str(t)) for s, t in edits))
                    for title, applicability, edits in fixes
                ),
            )
            for rule, severity, message, span, related, fixes in data
        )
    except (TypeError, ValueError):
        return None


class Lookup:
    """One run's use of the cache: the files it already knows, and keeping what the others give.

    ``listings`` are the ``.go`` names of the directories the run walked
    (:attr:`golsp_leaks.cli.files.Discovery.listings`): a directory in it is not listed again.
    """

    def __init__(self, root: str | Path, scopes: Sequence[Scope], listings: dict[str, tuple[str, ...]] | None = None) -> None:
        self.root = os.fspath(root)
        self.scopes = scopes
        self.listings = listings or {}
        self._dirs: dict[str, DirectoryCache] = {}
        self._versions: dict[str, str] = {}
        self._pending: dict[str, tuple[str, str, str, int]] = {}  # fs_path -> (directory, name, key, lines)

    def take_hits(self, targets: Sequence[Target], outcome: Outcome) -> list[Target]:
        """Add what the cache knows to ``outcome``; the targets it does not know.

        The files of a directory are read and hashed together: each one's key holds the
        hashes of all of them (its package context).
        """
        by_directory: dict[str, list[tuple[Target, str]]] = {}
        for target in targets:
            directory, name = os.path.split(target.fs_path)
            by_directory.setdefault(directory, []).append((target, name))
        misses: set[int] = set()
        tool = tool_fingerprint()
        settings: dict[int, str] = {}
        for directory, group in by_directory.items():
            store = self._dirs.get(directory)
            if store is None:
                store = self._dirs[directory] = DirectoryCache(self.root, directory)
            sources: list[bytes | None] = []
            digests: dict[str, str] = {}
            for target, name in group:
                try:
                    source: bytes | None = read_file(target.fs_path)
                except OSError:
                    source = None  # checked as usual, which says why it cannot be
                sources.append(source)
                if source is not None:
                    digests[name] = _digest(source)
            names = self.listings.get(directory)
            stamp = directory_stamp(directory, names, digests)
            version = self._version(directory)
            for (target, name), source in zip(group, sources, strict=True):
                digest = digests.get(name)
                if source is None or digest is None:
                    misses.add(id(target))
                    continue
                settings_part = settings.get(target.scope)
                if settings_part is None:
                    settings_part = settings[target.scope] = settings_fingerprint(self.scopes[target.scope].settings)
                key = f"{tool}|{settings_part}|{stamp}|{version}:{digest}"
                hit = store.get(name, key)
                reports = decode_reports(hit[0]) if hit is not None else None
                if hit is None or reports is None:
                    # Only a file the analysis read to the end is kept: a binary one never is.
                    self._pending[target.fs_path] = (directory, name, key, count_lines(source))
                    misses.add(id(target))
                    continue
                outcome.files_checked += 1
                outcome.lines += hit[1]
                outcome.cached += 1
                if reports:
                    outcome.files.append(FileResult(target.display, target.fs_path, reports))
        return [target for target in targets if id(target) in misses]

    def _version(self, directory: str) -> str:
        found = self._versions.get(directory)
        if found is None:
            found = self._versions[directory] = repr(go_version_in(directory))
        return found

    def store(self, outcome: Outcome) -> None:
        """Keep the results of the files analysed in this run, and write the cache files."""
        analysed = set(outcome.analysed)
        reports = {f.fs_path: f.reports for f in outcome.files}
        for fs_path, (directory, name, key, lines) in self._pending.items():
            if fs_path in analysed:
                self._dirs[directory].put(name, key, encode_reports(reports.get(fs_path, ())), lines)
        for store in self._dirs.values():
            store.save()
