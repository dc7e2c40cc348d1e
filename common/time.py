"""Clock arithmetic shared by the rollup, detection and the reads: every count is kept per
UTC minute and hour, so every caller floors times the same way."""

from datetime import datetime


def floor_minute(t: datetime) -> datetime:
    return t.replace(second=0, microsecond=0)


def floor_hour(t: datetime) -> datetime:
    return t.replace(minute=0, second=0, microsecond=0)
