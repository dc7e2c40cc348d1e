"""Warnings that repeat on every request while a dependency is down (Redis, the broker) are
written once per interval per kind, with how many were held back: a flood of requests during
an outage must not become a flood of identical log lines that buries everything else."""

import logging
import threading
import time

# Seconds between two lines of one kind.
WARNING_INTERVAL = 10.0

_lock = threading.Lock()
# kind -> (monotonic time of its last line, occurrences since then not written)
_seen: dict[str, tuple[float, int]] = {}


def warn_every(logger: logging.Logger, kind: str, message: str, *args: object) -> bool:
    """Log `message % args` at WARNING unless a line of this `kind` was written in the last
    WARNING_INTERVAL seconds; the next line written says how many were held back. Returns
    whether this call wrote a line."""
    now = time.monotonic()
    with _lock:
        last, held = _seen.get(kind, (float("-inf"), 0))
        if now - last < WARNING_INTERVAL:
            _seen[kind] = (last, held + 1)
            return False
        _seen[kind] = (now, 0)
    if held:
        suffix = " (and %d more like it in the last %.0f s)"
        logger.warning(message + suffix, *args, held, now - last)
    else:
        logger.warning(message, *args)
    return True


def warn_every_reset() -> None:
    with _lock:
        _seen.clear()
