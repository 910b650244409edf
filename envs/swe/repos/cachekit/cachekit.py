"""cachekit: bounded caches (LRU, LFU, TTL) and a memoizing decorator, with statistics.

* :class:`LRUCache` evicts the least recently used entry (a hash map over a doubly linked list).
* :class:`LFUCache` evicts the least frequently used entry; ties go to the least recently used.
* :class:`TTLCache` forgets entries after a time to live, read from an injectable clock.
* :func:`memoize` caches a function's results in an :class:`LRUCache`.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

_MISSING = object()


@dataclass
class CacheStats:
    """Counters of one cache."""

    hits: int = 0
    misses: int = 0
    evictions: int = 0

    @property
    def hit_rate(self) -> float:
        """hits / lookups, 0.0 before any lookup."""
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else 0.0


class _Node:
    __slots__ = ("key", "next", "prev", "value")

    def __init__(self, key: Any = None, value: Any = None) -> None:
        self.key, self.value = key, value
        self.prev: _Node = self
        self.next: _Node = self


class LRUCache:
    """A least-recently-used cache of at most ``capacity`` entries.

    Args:
        capacity: the most entries kept (>= 1).
        on_evict: called with ``(key, value)`` for every evicted entry.
    """

    def __init__(self, capacity: int, on_evict: Callable[[Any, Any], None] | None = None) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.on_evict = on_evict
        self.stats = CacheStats()
        self._map: dict[Hashable, _Node] = {}
        self._head = _Node()  # sentinel: head.next is the most recent, head.prev the least

    def _unlink(self, node: _Node) -> None:
        node.prev.next = node.next
        node.next.prev = node.prev

    def _push_front(self, node: _Node) -> None:
        node.prev = self._head
        node.next = self._head.next
        self._head.next.prev = node
        self._head.next = node

    def get(self, key: Hashable, default: Any = None) -> Any:
        """The cached value (now the most recent), or ``default``; counts a hit or a miss."""
        node = self._map.get(key)
        if node is None:
            self.stats.misses += 1
            return default
        self.stats.hits += 1
        self._unlink(node)
        self._push_front(node)
        return node.value

    def peek(self, key: Hashable, default: Any = None) -> Any:
        """The cached value without touching recency or statistics."""
        node = self._map.get(key)
        return default if node is None else node.value

    def put(self, key: Hashable, value: Any) -> None:
        """Insert or update ``key`` as the most recent entry, evicting the least recent one
        when the cache is over capacity."""
        node = self._map.get(key)
        if node is not None:
            node.value = value
            self._unlink(node)
            self._push_front(node)
            return
        node = _Node(key, value)
        self._map[key] = node
        self._push_front(node)
        self._shrink()

    def _shrink(self) -> None:
        while len(self._map) > self.capacity:
            oldest = self._head.prev
            self._unlink(oldest)
            del self._map[oldest.key]
            self.stats.evictions += 1
            if self.on_evict is not None:
                self.on_evict(oldest.key, oldest.value)

    def pop(self, key: Hashable, default: Any = _MISSING) -> Any:
        """Remove ``key`` and return its value (``KeyError`` if absent and no default)."""
        node = self._map.pop(key, None)
        if node is None:
            if default is _MISSING:
                raise KeyError(key)
            return default
        self._unlink(node)
        return node.value

    def resize(self, capacity: int) -> None:
        """Change the capacity, evicting the least recent entries if needed."""
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._shrink()

    def keys(self) -> list[Hashable]:
        """Keys from the most to the least recently used."""
        keys = []
        node = self._head.next
        while node is not self._head:
            keys.append(node.key)
            node = node.next
        return keys

    def clear(self) -> None:
        self._map.clear()
        self._head.prev = self._head.next = self._head

    def __contains__(self, key: Hashable) -> bool:
        return key in self._map

    def __len__(self) -> int:
        return len(self._map)


class LFUCache:
    """A least-frequently-used cache; among equally used entries the least recent goes first.

    Args:
        capacity: the most entries kept (>= 1).
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.stats = CacheStats()
        self._entries: dict[Hashable, list[Any]] = {}  # key -> [value, uses, last tick]
        self._tick = 0

    def _touch(self, entry: list[Any]) -> None:
        self._tick += 1
        entry[1] += 1
        entry[2] = self._tick

    def get(self, key: Hashable, default: Any = None) -> Any:
        entry = self._entries.get(key)
        if entry is None:
            self.stats.misses += 1
            return default
        self.stats.hits += 1
        self._touch(entry)
        return entry[0]

    def put(self, key: Hashable, value: Any) -> None:
        """Insert (one use) or update (one more use) ``key``, evicting first if full."""
        entry = self._entries.get(key)
        if entry is not None:
            entry[0] = value
            self._touch(entry)
            return
        if len(self._entries) >= self.capacity:
            victim = min(self._entries, key=lambda k: (self._entries[k][1], self._entries[k][2]))
            del self._entries[victim]
            self.stats.evictions += 1
        entry = [value, 0, 0]
        self._entries[key] = entry
        self._touch(entry)

    def frequency(self, key: Hashable) -> int:
        """How many times ``key`` was put or read since it was inserted (0 if absent)."""
        entry = self._entries.get(key)
        return 0 if entry is None else entry[1]

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)


class TTLCache:
    """Entries expire ``ttl`` seconds after they were put; an entry is gone at its expiry time.

    Args:
        ttl: default time to live in seconds (> 0).
        clock: returns the current time in seconds (default ``time.monotonic``).
        capacity: optional bound; when full, the entry expiring soonest is evicted.
    """

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic,
                 capacity: int | None = None) -> None:
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        self.ttl = ttl
        self.clock = clock
        self.capacity = capacity
        self.stats = CacheStats()
        self._entries: dict[Hashable, tuple[Any, float]] = {}  # key -> (value, expires at)

    def put(self, key: Hashable, value: Any, ttl: float | None = None) -> None:
        """Store ``value`` until ``now + ttl`` (``ttl`` defaults to the cache's)."""
        self._entries.pop(key, None)
        if self.capacity is not None and len(self._entries) >= self.capacity:
            self.purge()
        if self.capacity is not None and len(self._entries) >= self.capacity:
            victim = min(self._entries, key=lambda k: self._entries[k][1])
            del self._entries[victim]
            self.stats.evictions += 1
        self._entries[key] = (value, self.clock() + (self.ttl if ttl is None else ttl))

    def get(self, key: Hashable, default: Any = None) -> Any:
        """The live value, or ``default`` (an expired entry is dropped and counts as a miss)."""
        entry = self._entries.get(key)
        if entry is not None and self.clock() >= entry[1]:
            del self._entries[key]
            entry = None
        if entry is None:
            self.stats.misses += 1
            return default
        self.stats.hits += 1
        return entry[0]

    def ttl_remaining(self, key: Hashable) -> float:
        """Seconds until ``key`` expires (0.0 if absent or expired)."""
        entry = self._entries.get(key)
        if entry is None:
            return 0.0
        return max(0.0, entry[1] - self.clock())

    def purge(self) -> int:
        """Drop every expired entry; returns how many were dropped."""
        now = self.clock()
        expired = [key for key, (_, expires) in self._entries.items() if now >= expires]
        for key in expired:
            del self._entries[key]
        return len(expired)

    def __len__(self) -> int:
        """Number of live entries."""
        self.purge()
        return len(self._entries)


def make_key(args: tuple, kwargs: dict[str, Any]) -> Hashable:
    """The cache key of a call: positional arguments, then keyword arguments sorted by name."""
    return (args, tuple(sorted(kwargs.items())))


def memoize(maxsize: int = 128) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator caching results in an :class:`LRUCache` of ``maxsize`` entries.

    The wrapper exposes ``cache`` (the LRUCache) and ``cache_clear()``.
    """

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        cache = LRUCache(maxsize)

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            key = make_key(args, kwargs)
            result = cache.get(key, _MISSING)
            if result is _MISSING:
                result = function(*args, **kwargs)
                cache.put(key, result)
            return result

        def cache_clear() -> None:
            cache.clear()
            cache.stats = CacheStats()

        wrapper.cache = cache  # type: ignore[attr-defined]
        wrapper.cache_clear = cache_clear  # type: ignore[attr-defined]
        return wrapper

    return decorate
