"""A warning that repeats on every request is written once per interval, with a count."""

import logging

from common import logs
from common.logs import WARNING_INTERVAL, warn_every

logger = logging.getLogger("tests.logs")


def test_a_repeated_warning_is_written_once_per_interval_with_a_count(caplog, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(logs.time, "monotonic", lambda: clock[0])
    caplog.set_level(logging.WARNING, logger="tests.logs")
    written = [warn_every(logger, "redis", "cache down: %s", "refused") for _ in range(500)]
    assert written.count(True) == 1
    warn_every(logger, "broker", "broker down")  # another kind has its own interval
    clock[0] += WARNING_INTERVAL + 1
    assert warn_every(logger, "redis", "cache down: %s", "refused")
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "cache down: refused",
        "broker down",
        "cache down: refused (and 499 more like it in the last 11 s)",
    ]
