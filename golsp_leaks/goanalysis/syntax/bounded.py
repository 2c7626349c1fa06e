"""A least-recently-used mapping bounded by the estimated bytes of its entries.

It sits in the lowest layer so that the caches of every layer (the package summaries, the
engine's declarations) can be bounded the same way.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterable
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """A least-recently-used mapping bounded by the estimated bytes of its entries.

    Each entry's size is given when it is put and may grow later (:meth:`grow`).  An entry may
    be put for an owner (a document, say), and all of an owner's entries dropped at once
    (:meth:`discard_owned`).
    """

    __slots__ = ("_data", "bytes", "max_bytes", "max_entries")

    def __init__(self, max_bytes: int, max_entries: int = 100_000) -> None:
        self._data: OrderedDict[K, list[Any]] = OrderedDict()  # key -> [value, size, owner]
        self.bytes = 0
        self.max_bytes = max_bytes
        self.max_entries = max_entries

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: K) -> V | None:
        item = self._data.get(key)
        if item is None:
            return None
        self._data.move_to_end(key)
        value: V = item[0]
        return value

    def refresh(self, keys: Iterable[K]) -> None:
        """Mark these entries (those still there) as just used: they are in use, evict others first."""
        data = self._data
        for key in keys:
            if key in data:
                data.move_to_end(key)

    def put(self, key: K, value: V, size: int, owner: Hashable | None = None) -> None:
        old = self._data.pop(key, None)
        if old is not None:
            self.bytes -= old[1]
        self._data[key] = [value, size, owner]
        self.bytes += size
        self.trim()

    def grow(self, key: K, size: int) -> None:
        item = self._data.get(key)
        if item is not None:
            item[1] += size
            self.bytes += size
            self.trim()

    def trim(self) -> None:
        while len(self._data) > 1 and (self.bytes > self.max_bytes or len(self._data) > self.max_entries):
            _, (_, freed, _) = self._data.popitem(last=False)
            self.bytes -= freed

    def discard(self, key: K) -> None:
        item = self._data.pop(key, None)
        if item is not None:
            self.bytes -= item[1]

    def discard_owned(self, owner: Hashable) -> None:
        """Drop the entries put for ``owner``."""
        for key in [k for k, item in self._data.items() if item[2] == owner]:
            self.discard(key)

    def clear(self) -> None:
        self._data.clear()
        self.bytes = 0
