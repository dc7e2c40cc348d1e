"""The cache's Redis client is made once per cache object (Django's is made per operation):
one per thread, reused by every operation of that thread, and unharmed by a Redis restart."""

import threading

import pytest
from django.core.cache import cache, caches

from common.redis_cache import SharedClientRedisCacheClient


def _backend():
    return caches["default"]._cache  # type: ignore[attr-defined]


def _client():
    return _backend().get_client(write=True)


@pytest.fixture(autouse=True)
def _redis_cache():
    if not isinstance(_backend(), SharedClientRedisCacheClient):
        pytest.skip("needs REDIS_URL (the cache is not Redis)")


def test_a_thread_reuses_one_client_for_every_operation():
    client = _client()
    for i in range(3):
        cache.set("test:rc", i)
        assert cache.get("test:rc") == i
        assert _client() is client


def test_each_thread_has_a_client_of_its_own():
    clients = []

    def work():
        cache.set("test:rc:thread", 1)
        clients.append(_client())

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    work()
    assert len({id(c) for c in clients}) == 4


def test_after_redis_restarts_the_next_operation_succeeds(own_redis):
    cache.set("test:rc:restart", 1)
    client = _client()
    own_redis.kill()
    own_redis.start()  # empty: it keeps nothing on disk
    assert cache.get("test:rc:restart") is None  # not an error: the pool replaced the connection
    cache.set("test:rc:restart", 2)
    assert cache.get("test:rc:restart") == 2
    assert _client() is client
