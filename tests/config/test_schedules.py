import pickle
from datetime import UTC, datetime, timedelta

from config.schedules import on_the_clock


def at(h: int, m: int, s: float) -> datetime:
    return datetime(2026, 11, 20, h, m, 0, tzinfo=UTC) + timedelta(seconds=s)


def clock(now: datetime) -> on_the_clock:
    return on_the_clock(30, offset=2, nowfun=lambda: now)


def test_due_just_after_each_half_minute_not_when_beat_started():
    # Beat started at 12:00:17 (the entry's first last-run time).
    assert clock(at(12, 0, 20)).is_due(at(12, 0, 17)) == (False, 12.0)
    assert clock(at(12, 0, 32.5)).is_due(at(12, 0, 17)) == (True, 29.5)
    # Ran at 12:00:32.6: next at 12:01:02, whatever the clock says in between.
    assert clock(at(12, 0, 50)).is_due(at(12, 0, 32.6)) == (False, 12.0)
    assert clock(at(12, 1, 2)).is_due(at(12, 0, 32.6)) == (True, 30.0)
    # A beat that slept through several boundaries runs once, not once per boundary.
    assert clock(at(12, 3, 10)).is_due(at(12, 0, 32.6)) == (True, 22.0)
    assert clock(at(12, 3, 11)).is_due(at(12, 3, 10)) == (False, 21.0)


def test_beat_can_store_it():
    s = pickle.loads(pickle.dumps(on_the_clock(30, offset=2)))
    assert (s.step, s.offset) == (timedelta(seconds=30), 2)
    assert s.is_due(datetime.now(UTC) - timedelta(seconds=31)).is_due
