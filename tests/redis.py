"""A Redis server of a test's own, on a free port, that the test can kill and start again
(empty: it keeps nothing on disk, as the shared server's configuration does). The shared
server on 6379 serves everyone else on this machine and must stay up."""

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from bench.intake import free_port


def redis_server_bin() -> str | None:
    return shutil.which("redis-server")


# The product's cache backend pointed at a Redis that is not there: nothing listens on port 1,
# so every cache call fails at once with a connection error.
UNREACHABLE_CACHES = {
    "default": {
        "BACKEND": "common.redis_cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
    }
}


class OwnRedis:
    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="outages-redis-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.root),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.exceptions.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
            finally:
                client.close()

    def kill(self) -> None:
        """SIGKILL, like a crash: what it held is gone."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def remove(self) -> None:
        self.kill()
        shutil.rmtree(self.root, ignore_errors=True)

    def cache_settings(self) -> dict[str, dict[str, object]]:
        # As config/settings.py configures the cache for REDIS_URL.
        return {
            "default": {
                "BACKEND": "common.redis_cache.RedisCache",  # the product's backend
                "LOCATION": self.url,
                "KEY_PREFIX": "or",
                "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
            }
        }
