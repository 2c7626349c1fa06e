"""The result cache of ``golsp-leaks check``: a file already checked in the same context is not analysed again.

What a file's findings depend on, and so what its cache key holds:

* its content (a BLAKE2 hash of its bytes);
* its package context: the name, size and modification time of every ``.go``
  file of its directory (package facts are learnt from them) and the module's
  Go version;
* the configuration (enabled rules, severities, excludes);
* the tool: its version, and the size and modification time of its own
  source files (so that a changed installation never reuses old results).

The cache lives in one directory (see :func:`default_dir`), one JSON file per
checked directory, each holding the key and the reports of each file in it.
A file is written to a temporary name and renamed into place, so concurrent
runs never see half a file (the last writer wins); a file that cannot be read
or parsed, or holds something unexpected, is treated as empty and rewritten.
``golsp-leaks clean`` removes the directory, which is marked with a
``CACHEDIR.TAG`` so that backup tools skip it and ``clean`` never removes a
directory that is not a cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from golsp_leaks import __version__
from golsp_leaks.cli.files import Scope, Target
from golsp_leaks.config import Settings
from golsp_leaks.goanalysis.summaries.gomod import go_version_for
from golsp_leaks.model import Applicability, Severity

if TYPE_CHECKING:
    from golsp_leaks.cli.run import Outcome

#: Bumped when the layout of a cache file changes.
FORMAT = "1"
ENV = "GOLSP_LEAKS_CACHE_DIR"
TAG_NAME = "CACHEDIR.TAG"
TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by golsp-leaks.\n"
    "# For information about cache directory tags see https://bford.info/cachedir/\n"
)


def default_dir() -> Path:
    """``$GOLSP_LEAKS_CACHE_DIR``, else ``$XDG_CACHE_HOME/golsp-leaks``, else ``~/.cache/golsp-leaks``."""
    explicit = os.environ.get(ENV)
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "golsp-leaks"


def prepare(directory: Path) -> None:
    """Create the cache directory (and its tag); raises OSError when that is not possible."""
    directory.mkdir(parents=True, exist_ok=True)
    tag = directory / TAG_NAME
    if not tag.exists():
        _write_atomically(tag, TAG.encode())


def clean(directory: Path) -> bool:
    """Remove the cache directory; False when there was none.  Refuses a directory that is not a cache."""
    if not directory.exists():
        return False
    if not (directory / TAG_NAME).is_file():
        raise OSError(f"{directory} has no {TAG_NAME}: not a golsp-leaks cache, left alone")
    import shutil

    shutil.rmtree(directory)
    return True


@cache
def tool_fingerprint() -> str:
    """The version, and the size and modification time of every source file of the package."""
    package = Path(__file__).resolve().parent.parent
    parts = [__version__, FORMAT]
    for path in sorted(package.rglob("*.py")):
        with contextlib.suppress(OSError):
            st = path.stat()
            parts.append(f"{path.relative_to(package)}:{st.st_size}:{st.st_mtime_ns}")
    return _digest("\n".join(parts).encode())


def known_rules(root: Path) -> tuple[str, ...]:
    """The rule ids of this installation, noted in the cache directory so that a run which
    takes every file from the cache need not load the rules."""
    note = root / f"v{FORMAT}" / f"rules-{tool_fingerprint()}.json"
    with contextlib.suppress(OSError, ValueError):
        data = json.loads(note.read_bytes())
        if isinstance(data, list) and data and all(isinstance(r, str) for r in data):
            return tuple(data)
    from golsp_leaks.rules import rule_ids

    ids = rule_ids()
    with contextlib.suppress(OSError):
        note.parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(note, json.dumps(list(ids)).encode())
    return ids


def settings_fingerprint(settings: Settings) -> str:
    data = (
        sorted((k, bool(v)) for k, v in settings.rules.items()),
        sorted((k, v.value) for k, v in settings.severity.items()),
        list(settings.exclude),
    )
    return _digest(json.dumps(data).encode())


def directory_stamp(directory: str) -> str:
    """The name, size and modification time of the directory's ``.go`` files."""
    entries: list[str] = []
    try:
        with os.scandir(directory or ".") as scan:
            for entry in scan:
                if entry.name.endswith(".go"):
                    with contextlib.suppress(OSError):
                        st = entry.stat()
                        entries.append(f"{entry.name}:{st.st_size}:{st.st_mtime_ns}")
    except OSError:
        return "unreadable"
    entries.sort()
    return _digest("\n".join(entries).encode("utf-8", "surrogateescape"))


def content_key(context: str, source: bytes) -> str:
    """The key of a file: its context and a hash of its bytes."""
    return f"{context}:{_digest(source)}"


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


class DirectoryCache:
    """The cache file of one checked directory: file name -> (key, encoded reports)."""

    def __init__(self, root: Path, directory: str) -> None:
        name = _digest(os.path.abspath(directory or ".").encode("utf-8", "surrogateescape"))
        self.path = root / f"v{FORMAT}" / f"{name}.json"
        self.entries: dict[str, list[Any]] = {}
        self.changed = False
        try:
            data = json.loads(self.path.read_bytes())
        except (OSError, ValueError):
            return  # none yet, or unreadable: start afresh
        if isinstance(data, dict) and isinstance(data.get("files"), dict):
            self.entries = {
                k: v
                for k, v in data["files"].items()
                if isinstance(k, str) and isinstance(v, list) and len(v) == 2 and isinstance(v[0], str)
            }

    def get(self, name: str, key: str) -> list[Any] | None:
        entry = self.entries.get(name)
        if entry is None or entry[0] != key or not isinstance(entry[1], list):
            return None
        reports: list[Any] = entry[1]
        return reports

    def put(self, name: str, key: str, reports: list[Any]) -> None:
        self.entries[name] = [key, reports]
        self.changed = True

    def save(self) -> None:
        if not self.changed:
            return
        body = json.dumps({"format": FORMAT, "files": self.entries}, separators=(",", ":"))
        with contextlib.suppress(OSError):  # a cache that cannot be written is only slower
            self.path.parent.mkdir(parents=True, exist_ok=True)
            _write_atomically(self.path, body.encode())
        self.changed = False


def _write_atomically(path: Path, data: bytes) -> None:
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# --------------------------------------------------------------------------- reports <-> JSON


def encode_reports(reports: tuple[Any, ...]) -> list[Any]:
    """Reports (:class:`golsp_leaks.cli.run.Report`) as plain JSON values."""
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


def decode_reports(data: list[Any]) -> tuple[Any, ...] | None:
    """The reports back; None when the data is not what :func:`encode_reports` makes."""
    from golsp_leaks.cli.run import EditInfo, FixInfo, RelatedInfo, Report, Span

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
    """One run's use of the cache: the files it already knows, and keeping what the others give."""

    def __init__(self, root: Path, scopes: Sequence[Scope]) -> None:
        self.root = root
        self.scopes = scopes
        self._dirs: dict[str, DirectoryCache] = {}
        self._contexts: dict[tuple[int, str], str] = {}
        self._pending: dict[str, tuple[str, str, str]] = {}  # fs_path -> (directory, name, key)

    def _context(self, target: Target, directory: str) -> str:
        found = self._contexts.get((target.scope, directory))
        if found is None:
            found = self._contexts[(target.scope, directory)] = "|".join(
                (
                    tool_fingerprint(),
                    settings_fingerprint(self.scopes[target.scope].settings),
                    directory_stamp(directory),
                    repr(go_version_for(Path(target.fs_path))),
                )
            )
        return found

    def take_hits(self, targets: Sequence[Target], outcome: Outcome) -> list[Target]:
        """Add what the cache knows to ``outcome``; the targets it does not know."""
        from golsp_leaks.cli.run import FileResult, Outcome, read_target

        misses: list[Target] = []
        for target in targets:
            directory, name = os.path.split(target.fs_path)
            store = self._dirs.get(directory)
            if store is None:
                store = self._dirs[directory] = DirectoryCache(self.root, directory)
            probe = Outcome()
            source = read_target(target, probe)
            if source is None:
                misses.append(target)  # checked as usual, which says why it cannot be
                continue
            key = content_key(self._context(target, directory), source)
            hit = store.get(name, key)
            reports = decode_reports(hit) if hit is not None else None
            if reports is None:
                self._pending[target.fs_path] = (directory, name, key)
                misses.append(target)
                continue
            outcome.add(probe)
            outcome.cached += 1
            if reports:
                outcome.files.append(FileResult(target.display, target.fs_path, reports))
        return misses

    def store(self, outcome: Outcome) -> None:
        """Keep the results of the files analysed in this run, and write the cache files."""
        analysed = set(outcome.analysed)
        reports = {f.fs_path: f.reports for f in outcome.files}
        for fs_path, (directory, name, key) in self._pending.items():
            if fs_path in analysed:
                self._dirs[directory].put(name, key, encode_reports(reports.get(fs_path, ())))
        for store in self._dirs.values():
            store.save()
