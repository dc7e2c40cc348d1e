"""When will it be back: how long incidents like this one lasted, as ranges that hold.

Pure Python (the web layer reads it, and keeps numpy out of its workers). The outlook of an
incident rests on the durations of past incidents, from the closest group that has enough of
them: the same service in the same country, the service anywhere, its category, every service.

Ranges are conformal: for an incident that has lasted ``age`` so far, take the past incidents
that lasted longer than ``age`` (n of them, sorted); the k-th shortest with k = ceil(q (n + 1))
is a bound the incident ends within with probability at least q, whenever its duration is
exchangeable with theirs (incidents of one group are alike, and nothing is fitted). Conditioning
on the age is what makes a two-hour-old incident's outlook different from a new one's: the
short past incidents no longer count. With fewer than ``MIN_INCIDENTS`` past incidents longer
than the age in every group, there is no outlook ("not enough history"): never a
precise-looking number without enough behind it. ``bench/outlook.py`` measures the share of
incidents that ended inside the ranges.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

# Half and nine in ten: what people ask ("will it be back soon?", "could it take all day?").
QUANTILES = (0.5, 0.9)
# The 90 % bound needs k = ceil(0.9 (n + 1)) <= n, so n >= 9; a little more keeps it from being
# simply the longest incident ever seen.
MIN_INCIDENTS = 10
BASES = ("service_country", "service", "category", "all")


@dataclass(frozen=True, slots=True)
class Outlook:
    basis: str  # one of BASES: the group the durations come from
    incidents: int  # past incidents of that group longer than the age
    age: timedelta  # how long the incident had lasted when this was computed
    half_within: timedelta  # total duration half of them stayed within
    most_within: timedelta  # ... and nine in ten
    started_at: datetime | None = None

    @property
    def half_by(self) -> datetime | None:
        return None if self.started_at is None else self.started_at + self.half_within

    @property
    def most_by(self) -> datetime | None:
        return None if self.started_at is None else self.started_at + self.most_within


def conformal_bound(durations: Sequence[float], q: float) -> float | None:
    """The k-th smallest of ``durations`` with k = ceil(q (n + 1)); None if k > n."""
    ordered = sorted(durations)
    k = math.ceil(q * (len(ordered) + 1) - 1e-9)
    return ordered[k - 1] if 1 <= k <= len(ordered) else None


def outlook(
    groups: Sequence[tuple[str, Sequence[float]]],
    *,
    age_minutes: float = 0.0,
    started_at: datetime | None = None,
) -> Outlook | None:
    """The outlook from the first group with enough past incidents longer than the age.

    ``groups``: (basis, past durations in minutes), closest first. ``age_minutes``: how long
    the incident has lasted (0 for "how long do incidents here last").
    """
    for basis, durations in groups:
        longer = [d for d in durations if d > age_minutes]
        if len(longer) < MIN_INCIDENTS:
            continue
        half, most = (conformal_bound(longer, q) for q in QUANTILES)
        if half is None or most is None:
            continue
        return Outlook(
            basis=basis,
            incidents=len(longer),
            age=timedelta(minutes=age_minutes),
            half_within=timedelta(minutes=half),
            most_within=timedelta(minutes=most),
            started_at=started_at,
        )
    return None
