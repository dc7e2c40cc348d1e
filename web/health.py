"""What /healthz/ready checks: the database answers, the cache answers, and a detection pass ran
recently. Each check says what it found without the server's addresses or errors (the endpoint
is public); the log has those."""

import logging
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import Error as DatabaseFailure
from django.db import connection

from common.cache import cache_ping, detection_pass_at
from outages.selectors import status_written_last

logger = logging.getLogger(__name__)


def database_check() -> dict[str, Any]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseFailure as exc:
        logger.warning("readiness: database unavailable: %s", exc)
        return {"ok": False, "error": "the database does not answer"}
    return {"ok": True}


def cache_check() -> dict[str, Any]:
    if not cache_ping():
        return {"ok": False, "error": "the cache does not answer"}
    return {"ok": True}


def detection_check(*, now: datetime, database_ok: bool) -> dict[str, Any]:
    last = detection_pass_at()
    if last is None and database_ok:
        last = status_written_last()
    if last is None:
        return {"ok": False, "error": "no detection pass recorded", "last_pass": None}
    age = (now - last).total_seconds()
    found: dict[str, Any] = {
        "ok": age <= settings.DETECTION_MAX_AGE,
        "last_pass": last.isoformat(),
        "age_seconds": int(age),
    }
    if not found["ok"]:
        found["error"] = f"the last detection pass is older than {settings.DETECTION_MAX_AGE} s"
    return found


def readiness(*, now: datetime) -> dict[str, dict[str, Any]]:
    database = database_check()
    return {
        "database": database,
        "cache": cache_check(),
        "detection": detection_check(now=now, database_ok=database["ok"]),
    }
