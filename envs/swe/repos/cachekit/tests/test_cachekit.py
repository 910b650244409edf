"""Tests of cachekit."""

import pytest
from cachekit import CacheStats, LFUCache, LRUCache, TTLCache, make_key, memoize


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def filled(capacity: int, *keys: str) -> LRUCache:
    cache = LRUCache(capacity)
    for value, key in enumerate(keys, start=1):
        cache.put(key, value)
    return cache


def test_stats_hit_rate():
    """The hit rate is hits over lookups, and 0.0 before any lookup."""
    assert CacheStats().hit_rate == 0.0
    assert CacheStats(hits=2, misses=1).hit_rate == pytest.approx(2 / 3)
    assert CacheStats(hits=0, misses=4).hit_rate == 0.0


def test_lru_rejects_zero_capacity():
    """A capacity below 1 is rejected."""
    with pytest.raises(ValueError):
        LRUCache(0)


def test_lru_keys_most_recent_first():
    """keys() lists the most recently used key first."""
    cache = filled(3, "a", "b", "c")
    assert cache.keys() == ["c", "b", "a"]
    assert len(cache) == 3


def test_lru_get_hit_refreshes():
    """A hit returns the value and makes the key the most recent."""
    cache = filled(3, "a", "b", "c")
    assert cache.get("a") == 1
    assert cache.keys() == ["a", "c", "b"]
    assert cache.stats.hits == 1 and cache.stats.misses == 0


def test_lru_get_miss_returns_default():
    """A miss returns the default and counts a miss."""
    cache = filled(2, "a")
    assert cache.get("zz") is None
    assert cache.get("zz", 7) == 7
    assert cache.stats.misses == 2 and cache.stats.hits == 0


def test_lru_evicts_least_recent():
    """Putting a third key into a cache of 2 evicts the oldest and reports it."""
    evicted = []
    cache = LRUCache(2, on_evict=lambda key, value: evicted.append((key, value)))
    cache.put("a", 1)
    cache.put("b", 2)
    cache.put("c", 3)
    assert "a" not in cache and "b" in cache and "c" in cache
    assert cache.keys() == ["c", "b"]
    assert evicted == [("a", 1)] and cache.stats.evictions == 1


def test_lru_get_protects_from_eviction():
    """A key read recently survives; the untouched one is evicted."""
    cache = filled(2, "a", "b")
    cache.get("a")
    cache.put("c", 3)
    assert cache.keys() == ["c", "a"]


def test_lru_update_does_not_evict():
    """Updating a present key replaces its value, refreshes it and evicts nothing."""
    cache = filled(2, "a", "b")
    cache.put("a", 10)
    assert len(cache) == 2 and cache.keys() == ["a", "b"]
    assert cache.peek("a") == 10 and cache.stats.evictions == 0


def test_lru_peek_changes_nothing():
    """peek reads without changing the order or the statistics."""
    cache = filled(3, "a", "b")
    assert cache.peek("a") == 1
    assert cache.peek("zz", "none") == "none"
    assert cache.keys() == ["b", "a"]
    assert cache.stats == CacheStats()


def test_lru_contains_changes_nothing():
    """Membership tests are not lookups."""
    cache = filled(2, "a")
    assert "a" in cache and "b" not in cache
    assert cache.stats == CacheStats() and cache.keys() == ["a"]


def test_lru_pop():
    """pop removes and returns; a missing key raises unless a default is given."""
    cache = filled(3, "a", "b", "c")
    assert cache.pop("b") == 2
    assert cache.keys() == ["c", "a"] and len(cache) == 2
    with pytest.raises(KeyError):
        cache.pop("b")
    assert cache.pop("b", None) is None


def test_lru_pop_last_then_reuse():
    """After popping every key the cache works as new."""
    cache = filled(2, "a")
    cache.pop("a")
    assert cache.keys() == [] and len(cache) == 0
    cache.put("x", 9)
    assert cache.keys() == ["x"]


def test_lru_resize_evicts_oldest_first():
    """Shrinking evicts the least recent entries, oldest first."""
    evicted = []
    cache = LRUCache(3, on_evict=lambda key, value: evicted.append(key))
    for key in "abc":
        cache.put(key, key)
    cache.resize(1)
    assert cache.keys() == ["c"] and evicted == ["a", "b"]
    assert cache.stats.evictions == 2 and cache.capacity == 1


def test_lru_resize_rejects_zero():
    """A capacity below 1 is rejected by resize too."""
    with pytest.raises(ValueError):
        filled(2, "a").resize(0)


def test_lru_clear():
    """clear empties the cache; it stays usable."""
    cache = filled(3, "a", "b")
    cache.clear()
    assert len(cache) == 0 and cache.keys() == [] and "a" not in cache
    cache.put("z", 1)
    assert cache.keys() == ["z"]


def test_lfu_evicts_least_used():
    """With a read on a, b has fewer uses and is evicted."""
    cache = LFUCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1
    cache.put("c", 3)
    assert "b" not in cache and "a" in cache and "c" in cache
    assert cache.stats.evictions == 1


def test_lfu_ties_evict_least_recent():
    """Among equally used keys, the least recently used is evicted."""
    cache = LFUCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.put("c", 3)
    assert "a" not in cache and "b" in cache


def test_lfu_tie_after_reads():
    """b and c have two uses each; b was used before c, so b goes."""
    cache = LFUCache(3)
    for key in "abc":
        cache.put(key, key)
    for key in "abca":
        cache.get(key)
    cache.put("d", "d")
    assert sorted(k for k in "abcd" if k in cache) == ["a", "c", "d"]


def test_lfu_frequency():
    """put counts one use, each read or update one more; absent keys have 0."""
    cache = LFUCache(2)
    cache.put("a", 1)
    assert cache.frequency("a") == 1
    cache.get("a")
    assert cache.frequency("a") == 2
    cache.put("a", 5)
    assert cache.frequency("a") == 3 and cache.get("a") == 5
    assert cache.frequency("zz") == 0


def test_lfu_stats_and_len():
    """Hits, misses and size are counted."""
    cache = LFUCache(1)
    cache.put("a", 1)
    cache.get("a")
    cache.get("b")
    cache.put("b", 2)
    assert len(cache) == 1 and cache.stats == CacheStats(hits=1, misses=1, evictions=1)


def test_lfu_rejects_zero_capacity():
    """A capacity below 1 is rejected."""
    with pytest.raises(ValueError):
        LFUCache(0)


def test_ttl_rejects_non_positive_ttl():
    """The default ttl must be positive."""
    with pytest.raises(ValueError):
        TTLCache(0)


def test_ttl_entry_expires_at_its_deadline():
    """An entry put at 100 with ttl 10 is there at 109.9 and gone at 110."""
    clock = FakeClock()
    cache = TTLCache(10, clock=clock)
    cache.put("a", 1)
    clock.now = 109.9
    assert cache.get("a") == 1
    clock.now = 110.0
    assert cache.get("a") is None
    assert cache.stats.hits == 1 and cache.stats.misses == 1


def test_ttl_per_entry_ttl():
    """A per-entry ttl overrides the default."""
    clock = FakeClock()
    cache = TTLCache(10, clock=clock)
    cache.put("short", 1, ttl=5)
    cache.put("long", 2)
    clock.now = 105.0
    assert cache.get("short") is None and cache.get("long") == 2


def test_ttl_zero_entry_ttl_expires_at_once():
    """An entry ttl of 0 expires immediately."""
    cache = TTLCache(10, clock=FakeClock())
    cache.put("a", 1, ttl=0)
    assert cache.get("a", "gone") == "gone"


def test_ttl_remaining():
    """ttl_remaining counts down to 0.0 and is 0.0 for absent keys."""
    clock = FakeClock()
    cache = TTLCache(10, clock=clock)
    cache.put("a", 1)
    clock.now = 104.0
    assert cache.ttl_remaining("a") == 6.0
    clock.now = 111.0
    assert cache.ttl_remaining("a") == 0.0
    assert cache.ttl_remaining("zz") == 0.0


def test_ttl_put_again_refreshes():
    """Putting a key again restarts its time to live."""
    clock = FakeClock()
    cache = TTLCache(10, clock=clock)
    cache.put("a", 1)
    clock.now = 108.0
    cache.put("a", 2)
    clock.now = 112.0
    assert cache.get("a") == 2


def test_ttl_purge_and_len():
    """purge drops only expired entries and says how many; len counts live entries."""
    clock = FakeClock()
    cache = TTLCache(10, clock=clock)
    cache.put("a", 1)
    cache.put("b", 2, ttl=20)
    cache.put("c", 3, ttl=30)
    clock.now = 115.0
    assert len(cache) == 2
    clock.now = 125.0
    assert cache.purge() == 1
    assert cache.get("c") == 3


def test_ttl_capacity_evicts_soonest_expiry():
    """When full, the entry expiring soonest makes room."""
    clock = FakeClock()
    cache = TTLCache(10, clock=clock, capacity=2)
    cache.put("a", 1)
    cache.put("b", 2, ttl=30)
    cache.put("c", 3, ttl=20)
    assert cache.get("a") is None and cache.get("b") == 2 and cache.get("c") == 3
    assert cache.stats.evictions == 1


def test_ttl_capacity_prefers_purging_expired():
    """Expired entries are purged before any live entry is evicted."""
    clock = FakeClock()
    cache = TTLCache(50, clock=clock, capacity=2)
    cache.put("a", 1, ttl=5)
    cache.put("b", 2)
    clock.now = 106.0
    cache.put("c", 3)
    assert cache.get("b") == 2 and cache.get("c") == 3
    assert cache.stats.evictions == 0


def test_ttl_capacity_update_does_not_evict():
    """Putting a present key again at capacity evicts nothing."""
    cache = TTLCache(10, clock=FakeClock(), capacity=2)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.put("a", 3)
    assert cache.stats.evictions == 0 and cache.get("a") == 3 and cache.get("b") == 2


def test_make_key_sorts_keywords():
    """Keyword arguments are sorted by name, so their order does not matter."""
    assert make_key((1,), {"b": 2, "a": 1}) == ((1,), (("a", 1), ("b", 2)))
    assert make_key((), {"x": 1, "y": 2}) == make_key((), {"y": 2, "x": 1})


def test_memoize_caches_results():
    """A repeated call is answered from the cache."""
    calls = []

    @memoize()
    def square(x):
        calls.append(x)
        return x * x

    assert square(3) == 9 and square(3) == 9 and square(4) == 16
    assert calls == [3, 4]
    assert square.cache.stats.hits == 1 and square.cache.stats.misses == 2


def test_memoize_caches_none():
    """A None result is cached like any other."""
    calls = []

    @memoize()
    def nothing(x):
        calls.append(x)

    nothing(1)
    nothing(1)
    assert calls == [1]


def test_memoize_keyword_arguments():
    """Calls with the same keywords in another order share one entry."""
    calls = []

    @memoize()
    def box(*, width, height):
        calls.append((width, height))
        return width * height

    assert box(width=2, height=3) == 6 and box(height=3, width=2) == 6
    assert calls == [(2, 3)]


def test_memoize_maxsize_evicts():
    """With room for two results, the least recent is recomputed."""
    calls = []

    @memoize(maxsize=2)
    def double(x):
        calls.append(x)
        return 2 * x

    for x in (1, 2, 3, 1):
        double(x)
    assert calls == [1, 2, 3, 1] and double.cache.stats.evictions == 2


def test_memoize_cache_clear():
    """cache_clear forgets results and statistics."""
    calls = []

    @memoize()
    def ident(x):
        calls.append(x)
        return x

    ident(5)
    ident.cache_clear()
    assert ident.cache.stats == CacheStats() and len(ident.cache) == 0
    ident(5)
    assert calls == [5, 5]


def test_memoize_keeps_metadata():
    """The wrapper keeps the function's name and docstring."""

    @memoize()
    def documented(x):
        """Doc."""
        return x

    assert documented.__name__ == "documented" and documented.__doc__ == "Doc."
