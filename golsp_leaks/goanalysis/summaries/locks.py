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

The file's ``sync`` import must be named ``sync`` (the rare renamed import is not read).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_STRUCT = re.compile(rb"^(?:type\s+|\s+)([A-Za-z_]\w*)(?:\[[^\]\n]*\])?\s+struct\s*\{", re.MULTILINE)
_SYNC_FIELD = re.compile(
    rb"^[ \t]*([A-Za-z_]\w*(?:[ \t]*,[ \t]*[A-Za-z_]\w*)*)[ \t]+\*?sync\.(RWMutex|Mutex|WaitGroup)\b", re.MULTILINE
)
_SYNC_EMBEDDED = re.compile(rb"^[ \t]*\*?sync\.(RWMutex|Mutex)[ \t]*(?://[^\n]*)?$", re.MULTILINE)
_METHOD = re.compile(
    rb"^func[ \t]*\([ \t]*([A-Za-z_]\w*)[ \t]+\*?([A-Za-z_]\w*)(?:\[[^\]\n]*\])?[ \t]*\)[ \t]*([A-Za-z_]\w*)",
    re.MULTILINE,
)
_FUNC = re.compile(rb"^func[ \t]*(?:\([^)\n]*\)[ \t]*)?([A-Za-z_]\w*)", re.MULTILINE)
_BODY_END = re.compile(rb"^\}", re.MULTILINE)
_LOCK_OPS = re.compile(rb"([A-Za-z_][\w.]*)\.(R?Lock|R?Unlock)\(\)")


@dataclass(frozen=True)
class LockFacts:
    mutex_fields: frozenset[str] = frozenset()
    lock_types: frozenset[str] = frozenset()
    waitgroup_fields: frozenset[str] = frozenset()
    locking: frozenset[tuple[str, str, str]] = frozenset()
    unlocking: frozenset[str] = frozenset()

    def __or__(self, other: LockFacts) -> LockFacts:
        return LockFacts(
            self.mutex_fields | other.mutex_fields,
            self.lock_types | other.lock_types,
            self.waitgroup_fields | other.waitgroup_fields,
            self.locking | other.locking,
            self.unlocking | other.unlocking,
        )

    def takes_lock(self, type_name: str, method: str, path: str) -> bool:
        return (type_name, method, path) in self.locking


EMPTY = LockFacts()


def _bodies(data: bytes, pattern: re.Pattern[bytes]) -> list[tuple[re.Match[bytes], bytes]]:
    """Each match of a function header with the text up to the closing brace at column 0."""
    found: list[tuple[re.Match[bytes], bytes]] = []
    for match in pattern.finditer(data):
        end = _BODY_END.search(data, match.end())
        found.append((match, data[match.end() : end.start() if end else len(data)]))
    return found


def _struct_ranges(data: bytes) -> list[tuple[str, int, int]]:
    """(type name, start, end) of the struct type declarations of the file."""
    ranges: list[tuple[str, int, int]] = []
    for match in _STRUCT.finditer(data):
        depth, i = 1, match.end()
        while depth and i < len(data):
            ch = data[i]
            if ch == 0x7B:
                depth += 1
            elif ch == 0x7D:
                depth -= 1
            i += 1
        ranges.append((match.group(1).decode(), match.start(), i))
    return ranges


def _releases_first(body: bytes) -> bool:
    """Does the body unlock some mutex before (or without) locking it: release a lock its caller holds?"""
    seen: set[bytes] = set()
    for op in _LOCK_OPS.finditer(body):
        if op.group(1) in seen:
            continue
        seen.add(op.group(1))
        if op.group(2).endswith(b"Unlock"):
            return True
    return False


def lock_facts(data: bytes) -> LockFacts:
    """The lock facts of one file's text."""
    if b"sync" not in data:
        return EMPTY
    mutex_fields: set[str] = set()
    waitgroup_fields: set[str] = set()
    structs = _struct_ranges(data)
    for match in _SYNC_FIELD.finditer(data):
        if not any(start <= match.start() < end for _, start, end in structs):
            continue  # a variable, not a field
        names = {n.strip().decode() for n in match.group(1).split(b",")}
        (waitgroup_fields if match.group(2) == b"WaitGroup" else mutex_fields).update(names)
    lock_types = {
        name
        for match in _SYNC_EMBEDDED.finditer(data)
        for name, start, end in structs
        if start <= match.start() < end
    }
    locking: set[tuple[str, str, str]] = set()
    if b"Lock()" in data:
        for header, body in _bodies(data, _METHOD):
            receiver, type_name, method = (g.decode() for g in header.groups())
            seen: set[str] = set()
            for op in re.finditer(rb"\b" + re.escape(receiver.encode()) + rb"((?:\.\w+)*?)\.(R?Lock|R?Unlock)\(\)", body):
                path = op.group(1).decode().lstrip(".")
                if path in seen:
                    continue
                seen.add(path)
                if op.group(2).endswith(b"Lock") and not op.group(2).endswith(b"Unlock"):
                    locking.add((type_name, method, path))
    unlocking = {header.group(1).decode() for header, body in _bodies(data, _FUNC) if _releases_first(body)}
    return LockFacts(
        frozenset(mutex_fields),
        frozenset(lock_types),
        frozenset(waitgroup_fields),
        frozenset(locking),
        frozenset(unlocking),
    )
