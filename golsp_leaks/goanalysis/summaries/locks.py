"""What a file declares about locks and wait groups: the facts the lock and wait-group rules read.

Read from a file's text, so that the package's other files cost no parse:

``mutex_fields``
    struct fields declared with the type ``sync.Mutex`` or ``sync.RWMutex`` (or a pointer to one);
``lock_types``
    struct types that embed ``sync.Mutex`` or ``sync.RWMutex`` (``type T struct{ sync.Mutex }``);
``waitgroup_fields``
    struct fields of type ``sync.WaitGroup`` (or a pointer to one);
``locking``
    ``(type, method, path)``: method ``method`` of ``type`` takes the lock at ``path`` of its
    receiver (``"mu"`` for ``r.mu.Lock()``, ``""`` for an embedded mutex's ``r.Lock()``)
    before releasing it — calling it with that lock held deadlocks;
``unlocking``
    functions and methods (by name) whose body releases a lock: a helper that unlocks for its caller.

The types are recognised through the name the file imports ``sync`` under (``import s "sync"``
gives ``s.Mutex``; a dot import gives ``Mutex``); a file that does not import ``sync`` declares none.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, fields

_STRUCT = re.compile(rb"^(?:type\s+|\s+)([A-Za-z_]\w*)(?:\[[^\]\n]*\])?\s+struct\s*\{", re.MULTILINE)
#: An import spec of ``sync``, alone (``import s "sync"``) or in a group: its name, if any.
_SYNC_IMPORT = re.compile(rb'^(?:import[ \t]+|[ \t]+)(?:([A-Za-z_]\w*|\.)[ \t]+)?"sync"[ \t]*(?://[^\n]*)?$', re.MULTILINE)
_IMPORTS_END = re.compile(rb"^(?:func|type|var|const)\b", re.MULTILINE)
_METHOD = re.compile(
    rb"^func[ \t]*\([ \t]*([A-Za-z_]\w*)[ \t]+\*?([A-Za-z_]\w*)(?:\[[^\]\n]*\])?[ \t]*\)[ \t]*([A-Za-z_]\w*)",
    re.MULTILINE,
)
_FUNC = re.compile(rb"^func[ \t]*(?:\([^)\n]*\)[ \t]*)?([A-Za-z_]\w*)", re.MULTILINE)
_BRACES = re.compile(rb"[{}]")
_LOCK_CALL = re.compile(rb"\.(R?Lock|R?Unlock)\(\)")
_HOLDER = re.compile(rb"[A-Za-z_][\w.]*$")


@dataclass(frozen=True)
class LockFacts:
    mutex_fields: frozenset[str] = frozenset()
    lock_types: frozenset[str] = frozenset()
    waitgroup_fields: frozenset[str] = frozenset()
    locking: frozenset[tuple[str, str, str]] = frozenset()
    unlocking: frozenset[str] = frozenset()

    def __or__(self, other: LockFacts) -> LockFacts:
        return LockFacts.union((self, other))

    @staticmethod
    def union(many: Iterable[LockFacts]) -> LockFacts:
        """The facts of many files together, each set made once (not file by file)."""
        parts = [f for f in many if f is not EMPTY]
        if len(parts) <= 1:
            return parts[0] if parts else EMPTY
        return LockFacts(
            *(frozenset().union(*(getattr(p, f.name) for p in parts)) for f in fields(LockFacts))
        )

    def takes_lock(self, type_name: str, method: str, path: str) -> bool:
        return (type_name, method, path) in self.locking


EMPTY = LockFacts()


def _bodies(data: bytes, pattern: re.Pattern[bytes], ends: list[int]) -> list[tuple[re.Match[bytes], int, int]]:
    """Each match of a function header with where its text runs to: the closing brace at column 0
    (``ends``: the offsets of those braces, in order)."""
    found: list[tuple[re.Match[bytes], int, int]] = []
    for match in pattern.finditer(data):
        i = bisect.bisect_left(ends, match.end())
        found.append((match, match.end(), ends[i] if i < len(ends) else len(data)))
    return found


def _struct_ranges(data: bytes) -> list[tuple[str, int, int]]:
    """(type name, start, end) of the struct type declarations of the file."""
    ranges: list[tuple[str, int, int]] = []
    for match in _STRUCT.finditer(data):
        depth, i = 1, len(data)
        for brace in _BRACES.finditer(data, match.end()):
            depth += 1 if brace.group() == b"{" else -1
            if not depth:
                i = brace.end()
                break
        ranges.append((match.group(1).decode(), match.start(), i))
    return ranges


def _struct_at(structs: list[tuple[str, int, int]], offset: int) -> str | None:
    """The innermost struct type whose declaration holds ``offset``."""
    found = None
    for name, start, end in structs:
        if start > offset:
            break
        if offset < end:
            found = name
    return found


def _lock_ops(data: bytes, start: int, end: int) -> list[tuple[int, bytes, bytes]]:
    """(offset, holder, method) of each ``holder.Lock()``-like call in ``data[start:end]``, in order."""
    found: list[tuple[int, bytes, bytes]] = []
    for call in _LOCK_CALL.finditer(data, start, end):
        holder = _HOLDER.search(data, max(start, call.start() - 120), call.start())
        if holder is not None:
            found.append((call.start(), holder.group(), call.group(1)))
    return found


def _releases_first(data: bytes, start: int, end: int) -> bool:
    """Does the body ``data[start:end]`` unlock some mutex before (or without) locking it: release
    a lock its caller holds?"""
    if data.find(b"Unlock()", start, end) < 0:
        return False
    seen: set[bytes] = set()
    for _, holder, method in _lock_ops(data, start, end):
        if holder in seen:
            continue
        seen.add(holder)
        if method.endswith(b"Unlock"):
            return True
    return False


def _sync_qualifiers(data: bytes) -> frozenset[bytes]:
    """The qualifiers the file writes ``sync``'s names with: ``b"sync"`` for ``import "sync"``, the
    name of a renamed import, ``b""`` for a dot import; none for a blank import or none at all."""
    end = _IMPORTS_END.search(data)
    found = set()
    for match in _SYNC_IMPORT.finditer(data, 0, end.start() if end else len(data)):
        name = match.group(1)
        if name == b"_":
            continue
        found.add(b"" if name == b"." else name or b"sync")
    return frozenset(found)


_sync_patterns: dict[frozenset[bytes], tuple[re.Pattern[bytes], re.Pattern[bytes]]] = {}


def _patterns(qualifiers: frozenset[bytes]) -> tuple[re.Pattern[bytes], re.Pattern[bytes]]:
    """The field and embedded-field patterns for ``sync``'s types written with these qualifiers."""
    found = _sync_patterns.get(qualifiers)
    if found is None:
        qualified = b"(?:" + b"|".join(re.escape(q) + b"\\." if q else b"" for q in sorted(qualifiers)) + b")"
        found = (
            re.compile(
                rb"^[ \t]*([A-Za-z_]\w*(?:[ \t]*,[ \t]*[A-Za-z_]\w*)*)[ \t]+\*?" + qualified + rb"(RWMutex|Mutex|WaitGroup)\b",
                re.MULTILINE,
            ),
            re.compile(rb"^[ \t]*\*?" + qualified + rb"(RWMutex|Mutex)[ \t]*(?://[^\n]*)?$", re.MULTILINE),
        )
        _sync_patterns[qualifiers] = found
    return found


#: The facts of the texts seen lately, by a digest of the text: a file is read as the one checked
#: and as a sibling of the others.  Bounded: emptied when full (a file being edited brings a
#: new text with every keystroke).
_known: dict[bytes, LockFacts] = {}
_KNOWN_SIZE = 256


def forget_texts() -> None:
    """Let go of the lock facts of the texts seen lately (a closed document's among them)."""
    _known.clear()


def lock_facts(data: bytes) -> LockFacts:
    """The lock facts of one file's text."""
    if b"sync" not in data:
        return EMPTY
    key = hashlib.blake2b(data, digest_size=16).digest()
    found = _known.get(key)
    if found is None:
        found = _read_lock_facts(data)
        if len(_known) >= _KNOWN_SIZE:
            _known.clear()
        _known[key] = found
    return found


def _body_ends(data: bytes) -> list[int]:
    """The offsets of the closing braces at column 0, in order: where the bodies of gofmt'ed
    top-level declarations end."""
    ends = [0] if data.startswith(b"}") else []
    i = data.find(b"\n}")
    while i >= 0:
        ends.append(i + 1)
        i = data.find(b"\n}", i + 2)
    return ends


def _read_lock_facts(data: bytes) -> LockFacts:
    mutex_fields: set[str] = set()
    waitgroup_fields: set[str] = set()
    lock_types: set[str] = set()
    # Each fact needs some text: a type of sync's (written with the name sync is imported under),
    # a Lock() or an Unlock(); the file is scanned only for the facts it can have.
    qualifiers = _sync_qualifiers(data) if b"Mutex" in data or b"WaitGroup" in data else frozenset()
    if qualifiers:
        sync_field, sync_embedded = _patterns(qualifiers)
        fields_found = list(sync_field.finditer(data))
        embedded_found = list(sync_embedded.finditer(data)) if b"Mutex" in data else []
        structs = _struct_ranges(data) if fields_found or embedded_found else []
        for match in fields_found:
            if _struct_at(structs, match.start()) is None:
                continue  # a variable, not a field
            names = {n.strip().decode() for n in match.group(1).split(b",")}
            (waitgroup_fields if match.group(2) == b"WaitGroup" else mutex_fields).update(names)
        lock_types = {name for match in embedded_found if (name := _struct_at(structs, match.start()))}
    locking: set[tuple[str, str, str]] = set()
    unlocks = b"Unlock()" in data
    if not unlocks and b"Lock()" not in data:
        return LockFacts(frozenset(mutex_fields), frozenset(lock_types), frozenset(waitgroup_fields))
    ends = _body_ends(data)
    if b"Lock()" in data:
        for header, start, end in _bodies(data, _METHOD, ends):
            receiver, type_name, method = (g.decode() for g in header.groups())
            if method.endswith(("Locked", "locked")):
                continue  # by convention called with the lock held
            closure = data.find(b"func(", start, end)
            prefix = receiver + "."
            seen: set[str] = set()
            for offset, held, op in _lock_ops(data, start, end):
                if 0 <= closure < offset:
                    break  # from here on the lock may be taken by a closure, another goroutine
                holder = held.decode()
                if holder != receiver and not holder.startswith(prefix):
                    continue
                path = holder[len(prefix) :] if holder != receiver else ""
                if path in seen:
                    continue
                seen.add(path)
                if not op.endswith(b"Unlock"):
                    locking.add((type_name, method, path))
    unlocking = (
        {header.group(1).decode() for header, start, end in _bodies(data, _FUNC, ends) if _releases_first(data, start, end)}
        if unlocks
        else set()
    )
    return LockFacts(
        frozenset(mutex_fields),
        frozenset(lock_types),
        frozenset(waitgroup_fields),
        frozenset(locking),
        frozenset(unlocking),
    )
