"""What people report for one service in a window: problems by share of reports."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Sum

from analytics.models import MinuteCount
from analytics.selectors.windows import WINDOWS
from common.cache import cached, minute_key
from common.time import floor_minute
from outages.models import PROBLEM_LABELS


@dataclass(frozen=True, slots=True)
class ProblemRow:
    code: str
    reports: int
    share: float

    @property
    def label(self) -> str:
        # At display time, in the page's language (the rows are cached for every language).
        return str(PROBLEM_LABELS.get(self.code, self.code))


def service_problems(*, service_id: int, window: str, now: datetime) -> list[ProblemRow]:
    """Problems reported for one service in the window, most reported first."""

    def compute() -> list[ProblemRow]:
        since = floor_minute(now) + timedelta(minutes=1) - WINDOWS[window]
        rows = list(
            MinuteCount.objects.filter(service_id=service_id, minute__gte=since)
            .values("problem")
            .annotate(n=Sum("count"))
            .values_list("problem", "n")
        )
        total = sum(n for _, n in rows)
        ordered = sorted(rows, key=lambda r: (-r[1], r[0]))
        return [
            ProblemRow(
                code=code,
                reports=n,
                share=round(n / total, 3) if total else 0.0,
            )
            for code, n in ordered
        ]

    return cached(f"pages:problems2:{service_id}:{window}:{minute_key(now)}", compute)
