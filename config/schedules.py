"""Beat schedules on the clock.

Celery's interval schedule counts from when beat started: a 30-second interval may fall at
…:29 and …:59, so a minute's reports waited up to half a minute for the pass that judges them.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

from celery.schedules import schedstate, schedule


class on_the_clock(schedule):  # noqa: N801 - named like Celery's own schedules
    """Due at every multiple of `seconds` on the UTC clock, `offset` seconds after it
    (30 and 2: …:00:02 and …:00:32), so a pass runs just after each minute closes."""

    def __init__(self, seconds: float, offset: float = 0.0, **kwargs: Any) -> None:
        super().__init__(run_every=timedelta(seconds=seconds), **kwargs)
        self.step = timedelta(seconds=seconds)
        self.offset = offset

    def last_due(self, now: datetime) -> datetime:
        step = self.step.total_seconds()
        t = now.timestamp() - self.offset
        return datetime.fromtimestamp(t - t % step + self.offset, tz=UTC)

    def is_due(self, last_run_at: datetime) -> schedstate:
        now = self.now()
        due = self.last_due(now)
        next_in = (due + self.step - now).total_seconds()
        return schedstate(self.maybe_make_aware(last_run_at) < due, next_in)

    def __reduce__(self) -> tuple[type, tuple[float, float]]:
        # Beat stores its schedule with pickle.
        return self.__class__, (self.step.total_seconds(), self.offset)

    def __repr__(self) -> str:
        return f"<on the clock: every {self.step.total_seconds():g} s + {self.offset:g} s>"
