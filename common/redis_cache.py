"""Django's Redis cache with one client object per process instead of one per call.

Django's RedisCacheClient builds a new redis.Redis for every cache operation; building one
(its table of response callbacks) cost about as much CPU as the round trip it serves, on every
page hit and every report. So each cache object keeps one client per server. Django makes a
cache object per thread (``caches`` is thread-local), so that is one client, and one
connection pool, per thread of a process; each command still takes its connection from the
pool, which checks it first (a connection Redis closed, as when it restarts, is replaced
before the command is sent rather than failing it)."""

from typing import Any

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient


class SharedClientRedisCacheClient(RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        base: Any = self  # the stubs leave out the private helpers used here
        index = base._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            client = base._client(connection_pool=base._get_connection_pool(write))
            self._clients[index] = client
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = SharedClientRedisCacheClient
