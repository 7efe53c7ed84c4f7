"""One thread-safe LRU for the server's caches (tiles, vector indexes, archives, directories).

Bounded by entry count (the default size of an entry is 1) or by a total of
sizes (``sizeof=`` returning bytes). :meth:`LRU.get_or_create` builds a
missing entry once however many threads ask for it at the same time.

Examples
--------
>>> cache = LRU(2)
>>> cache.put("a", 1), cache.put("b", 2)
(True, True)
>>> cache.get("a")  # "a" is now the most recently used...
1
>>> _ = cache.put("c", 3)  # ...so "b" is evicted
>>> sorted(cache.keys()), cache.hits, cache.misses
(['a', 'c'], 1, 0)
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_MISSING = object()


class LRU(Generic[K, V]):
    """A least-recently-used mapping bounded by count or by summed sizes.

    Parameters
    ----------
    maxsize
        Upper bound of the summed sizes of the entries; 0 keeps nothing.
    sizeof
        The size of one value (e.g. its bytes); every entry counts 1 without it.

    Attributes
    ----------
    total
        The summed sizes of the entries held now.
    hits, misses
        How many :meth:`get` (and :meth:`get_or_create`) calls found their key or not.
    """

    def __init__(self, maxsize: int, sizeof: Callable[[V], int] | None = None) -> None:
        self.maxsize = maxsize
        self._sizeof = sizeof
        self._items: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[K, threading.Lock] = {}
        self.total = 0
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        """Whether ``key`` is held (without counting a hit or refreshing it)."""
        return key in self._items

    def keys(self) -> list[K]:
        """The keys, least recently used first."""
        with self._lock:
            return list(self._items)

    def _lookup(self, key: K) -> object:
        # caller holds the lock
        found = self._items.get(key)
        if found is None:
            self.misses += 1
            return _MISSING
        self._items.move_to_end(key)
        self.hits += 1
        return found[0]

    def get(self, key: K, default: V | None = None) -> V | None:
        """The value of ``key`` (now the most recently used), or ``default``."""
        with self._lock:
            found = self._lookup(key)
        return default if found is _MISSING else found  # type: ignore[return-value]

    def put(self, key: K, value: V) -> bool:
        """Hold ``value`` under ``key``, evicting the least recently used beyond the bound.

        Returns False (and holds nothing new) when ``value`` alone exceeds the bound.
        """
        size = 1 if self._sizeof is None else self._sizeof(value)
        if size > self.maxsize:
            return False
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.total -= old[1]
            self._items[key] = (value, size)
            self.total += size
            while self.total > self.maxsize:
                _, (_, dropped) = self._items.popitem(last=False)
                self.total -= dropped
        return True

    def pop(self, key: K, default: V | None = None) -> V | None:
        """Remove ``key`` and return its value, or ``default``."""
        with self._lock:
            found = self._items.pop(key, None)
            if found is None:
                return default
            self.total -= found[1]
            return found[0]

    def clear(self) -> None:
        """Drop every entry (the hit and miss counts stay)."""
        with self._lock:
            self._items.clear()
            self.total = 0

    def get_or_create(self, key: K, create: Callable[[], V]) -> V:
        """The value of ``key``, made by ``create`` and held if missing.

        Concurrent callers for the same missing key wait for one ``create``;
        callers for other keys do not wait. An exception from ``create`` reaches
        the caller that ran it, and the next caller tries again.
        """
        with self._lock:
            found = self._lookup(key)
            if found is not _MISSING:
                return found  # type: ignore[return-value]
            building = self._building.setdefault(key, threading.Lock())
        with building:
            with self._lock:
                done = self._items.get(key)
                if done is not None:  # made by the caller we waited for
                    self._items.move_to_end(key)
                    return done[0]
            try:
                value = create()
                self.put(key, value)
            finally:
                with self._lock:
                    if self._building.get(key) is building:
                        del self._building[key]
            return value
