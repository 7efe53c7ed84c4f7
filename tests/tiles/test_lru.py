"""The one LRU behind the tile cache, the vector index cache, archives and directories."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tiles._lru import LRU


def test_evicts_the_least_recently_used() -> None:
    cache: LRU[str, int] = LRU(3)
    for i, key in enumerate("abc"):
        assert cache.put(key, i)
    assert cache.get("a") == 0  # a becomes the most recent; b is now the oldest
    cache.put("d", 3)
    assert cache.keys() == ["c", "a", "d"]
    cache.put("c", 30)  # replacing refreshes too
    cache.put("e", 4)
    assert cache.keys() == ["d", "c", "e"]
    assert cache.get("a") is None and cache.get("a", -1) == -1
    assert (cache.hits, cache.misses) == (1, 2)
    assert "a" not in cache and "c" in cache and len(cache) == 3
    assert cache.pop("c") == 30 and cache.pop("c") is None
    assert cache.total == 2


def test_bounded_by_summed_sizes() -> None:
    cache: LRU[str, bytes] = LRU(10, sizeof=len)
    cache.put("a", b"xxxx")
    cache.put("b", b"yyyy")
    assert cache.total == 8
    cache.put("c", b"zzz")  # 11 > 10: the oldest goes
    assert cache.keys() == ["b", "c"] and cache.total == 7
    cache.put("b", b"y")  # a smaller replacement frees its difference
    assert cache.total == 4
    assert not cache.put("big", b"x" * 11)  # larger than the bound: not held, nothing evicted
    assert cache.keys() == ["c", "b"] and cache.total == 4
    cache.put("d", b"w" * 10)  # exactly the bound: everything else goes
    assert cache.keys() == ["d"] and cache.total == 10
    cache.clear()
    assert len(cache) == 0 and cache.total == 0


def test_zero_holds_nothing() -> None:
    cache: LRU[str, bytes] = LRU(0, sizeof=len)
    assert not cache.put("a", b"x")
    assert cache.get_or_create("a", lambda: b"x") == b"x"
    assert len(cache) == 0


def test_threads_keep_the_bound_and_the_accounting() -> None:
    cache: LRU[int, bytes] = LRU(1000, sizeof=len)

    def work(seed: int) -> None:
        for i in range(2000):
            key = (seed * 7919 + i * 31) % 97
            if i % 3:
                cache.put(key, b"x" * (key % 50 + 1))
            elif i % 7 == 0:
                cache.pop(key)
            else:
                cache.get(key)
            assert cache.total <= 1000

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(work, range(4)))
    keys = cache.keys()
    assert cache.total == sum(len(cache.get(k) or b"") for k in keys)
    assert len(set(keys)) == len(keys) == len(cache)


def test_get_or_create_builds_a_key_once_for_concurrent_callers() -> None:
    cache: LRU[str, int] = LRU(8)
    calls: dict[str, int] = {"a": 0, "b": 0}
    started = threading.Barrier(6)

    def create(key: str) -> int:
        calls[key] += 1
        time.sleep(0.05)  # long enough that the other callers arrive while it runs
        return ord(key)

    def ask(key: str) -> int:
        started.wait()
        return cache.get_or_create(key, lambda: create(key))

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(ask, "aaabbb"))
    assert results == [97] * 3 + [98] * 3
    assert calls == {"a": 1, "b": 1}
    assert cache.misses == 6 and len(cache) == 2  # waiters count as misses, like the tile cache
    assert cache.get_or_create("a", lambda: 0) == 97 and cache.hits == 1


def test_a_failed_create_is_retried_by_the_next_caller() -> None:
    cache: LRU[str, int] = LRU(8)

    def fail() -> int:
        raise OSError("unreadable")

    with pytest.raises(OSError, match="unreadable"):
        cache.get_or_create("a", fail)
    assert "a" not in cache
    assert cache.get_or_create("a", lambda: 1) == 1
    assert cache._building == {}  # no build lock is left behind
