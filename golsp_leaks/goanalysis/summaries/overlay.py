"""Texts of files that are newer than what is on disk, read by the package facts instead of the disk.

Whoever holds such a text (in the editor, an unsaved buffer) puts it here with :func:`put` and
drops it with :func:`drop`; the package facts (:mod:`.package`, :mod:`.declared`) read a file of
the package through :func:`read` and list a directory's files with :func:`in_directory`.  Each
text has a stamp of its own, ``(-generation, size)``, which no file on disk has, so what the
caches learnt from one version of a file is never taken for another's.  Thread-safe.
"""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

Stamp = tuple[int, int]

_lock = threading.Lock()
_texts: dict[Path, tuple[bytes, Stamp]] = {}
_generations = itertools.count(1)
#: Bumped whenever what some file reads as changes here: a cache of what the directory's files
#: say (a listing of a package's files) is valid for one value of it.
_version = 0


def put(path: str | Path, source: bytes) -> bool:
    """Let ``source`` stand for the file at ``path`` until :func:`drop`.  True when that changes
    what the file reads as (a new text, not the same one again)."""
    key = Path(path)
    with _lock:
        current = _texts.get(key)
        if current is not None and (current[0] is source or current[0] == source):
            return False
        _texts[key] = (source, (-next(_generations), len(source)))
        _bump()
        return True


def drop(path: str | Path) -> bool:
    """The file at ``path`` reads from disk again.  True when it had a text here."""
    with _lock:
        dropped = _texts.pop(Path(path), None) is not None
        if dropped:
            _bump()
        return dropped


def stamp(path: Path) -> Stamp | None:
    """The stamp of the file's text here, None when it has none."""
    with _lock:
        found = _texts.get(path)
    return found[1] if found is not None else None


def in_directory(directory: Path) -> list[tuple[Path, bytes, Stamp]]:
    """The files of ``directory`` that have a text here: ``(path, text, stamp)``, by name."""
    with _lock:
        found = [(path, source, mark) for path, (source, mark) in _texts.items() if path.parent == directory]
    return sorted(found, key=lambda item: item[0].name)


def read(path: Path) -> bytes:
    """The file's text here, or else on disk (``OSError`` when it cannot be read)."""
    with _lock:
        found = _texts.get(path)
    return found[0] if found is not None else path.read_bytes()


def version() -> int:
    """A number that changes whenever some file's text here is put, replaced or dropped."""
    return _version


def _bump() -> None:
    global _version
    _version += 1


def clear() -> None:
    with _lock:
        if _texts:
            _bump()
        _texts.clear()
