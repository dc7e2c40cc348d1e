"""A missing page-cache key is computed once, however many requests want it at once."""

import threading
import time

import pytest
from django.core.cache import cache

from common.cache import cached


def test_concurrent_misses_compute_once_and_all_get_the_value():
    calls = []
    results = []
    start = threading.Barrier(8)

    def compute():
        calls.append(1)
        time.sleep(0.3)
        return {"n": 42}

    def request():
        start.wait()
        results.append(cached("test:stampede", compute))

    threads = [threading.Thread(target=request) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert results == [{"n": 42}] * 8
    assert cache.get("lock:test:stampede") is None


def test_a_failed_computation_releases_the_key_for_the_next_request():
    def broken():
        raise RuntimeError("database went away")

    with pytest.raises(RuntimeError):
        cached("test:failing", broken)
    assert cache.get("lock:test:failing") is None
    started = time.monotonic()
    assert cached("test:failing", lambda: [1]) == [1]
    assert time.monotonic() - started < 1.0
