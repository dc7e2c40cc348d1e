"""What a Celery worker loads before its first task (config/celery.py): the task modules and
what they need, not the web's URLconf (Django's system checks, which run where a release
starts) nor the push library's asyncio HTTP client; and the objects left by those imports are
frozen once before the pool forks, so its collection before each fork skips them. A restarted
worker's first detection pass waits on all of this (bench/chaos.py, docs/architecture.md)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# As a worker starts: the loader's init_worker() sets Django up and imports the task modules;
# the prefork pool then sends worker_before_create_process before each child it forks.
BOOT = """
import gc, json, sys
from celery.signals import worker_before_create_process
from config.celery import app
app.loader.init_worker()
worker_before_create_process.send(sender=None)
frozen = gc.get_freeze_count()
worker_before_create_process.send(sender=None)
print(json.dumps({"modules": sorted(sys.modules), "frozen": frozen,
                  "again": gc.get_freeze_count()}))
"""


def boot() -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k != "CELERY_SKIP_CHECKS"}
    done = subprocess.run(
        [sys.executable, "-c", BOOT],
        cwd=ROOT,
        env={**env, "DEV_MODE": "true"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result


def test_a_worker_loads_its_tasks_and_not_the_web_or_the_push_client():
    result = boot()
    modules = set(result["modules"])  # type: ignore[call-overload]
    # The real start-up path: the detection task and the numeric stack it needs are loaded.
    assert {"analytics.tasks", "alerts.tasks", "pandas"} <= modules
    # Django's system checks would have imported the URLconf and every view behind it.
    assert not {"config.urls", "web.views", "web.api.urls"} & modules
    # pywebpush (and its aiohttp) only when a push is sent.
    assert not {"pywebpush", "aiohttp"} & modules


def test_the_objects_of_the_imports_are_frozen_once_before_the_pool_forks():
    result = boot()
    assert isinstance(result["frozen"], int) and result["frozen"] > 10_000
    # Once: what the parent allocates afterwards stays collectable.
    assert result["again"] == result["frozen"]
