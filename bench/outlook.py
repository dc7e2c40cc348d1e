"""Calibration of "when will it be back": the share of incidents that ended inside the ranges
the outlook gave them; prints one JSON line. Run: ``python bench/outlook.py``
(``make bench-outlook``).

Simulated history (fixed seed): 60 services in 6 categories, 2-40 past incidents each,
durations log-normal with a median per category (15 min to 2 h) times a factor per service
(0.5-2x) and a spread of 0.8-1.4 (in log units). Each incident is judged leave-one-out, as the
live pages judge an open one: at ages 0, 15, 60 and 240 minutes while it was still open, its
groups (service, category, all) built from every other incident. Reported per age: how many
were judged, the share that ended within the "half" bound and within the "nine in ten" bound
(targets 50 and 90, within 5 points), and how many had no outlook (not enough history).

``--db``: the same over the closed incidents in the database ``DATABASE_URL`` names (after
``make run``'s demo, or a real site).
"""

from __future__ import annotations

import json
import math
import random
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from outages.outlook import outlook  # noqa: E402

SEED = 20261201
AGES = (0.0, 15.0, 60.0, 240.0)


def simulate(rng: random.Random) -> list[tuple[str, str, float]]:
    """(service, category, duration in minutes) of past incidents."""
    rows = []
    for c in range(6):
        median = math.exp(rng.uniform(math.log(15), math.log(120)))
        spread = rng.uniform(0.8, 1.4)
        for s in range(10):
            factor = math.exp(rng.uniform(math.log(0.5), math.log(2)))
            for _ in range(rng.randint(2, 40)):
                d = math.exp(rng.gauss(math.log(median * factor), spread))
                rows.append((f"s{c}-{s}", f"c{c}", max(d, 1.0)))
    return rows


def calibrate(rows: list[tuple[str, str, float]]) -> dict[str, object]:
    by_service: dict[str, list[int]] = defaultdict(list)
    by_category: dict[str, list[int]] = defaultdict(list)
    for i, (service, category, _) in enumerate(rows):
        by_service[service].append(i)
        by_category[category].append(i)
    durations = [d for _, _, d in rows]
    result: dict[str, object] = {}
    for age in AGES:
        judged = half = most = none = 0
        basis: dict[str, int] = defaultdict(int)
        for i, (service, category, d) in enumerate(rows):
            if d <= age:
                continue

            def others(ids: list[int], me: int = i) -> list[float]:
                return [durations[j] for j in ids if j != me]

            groups = [
                ("service", others(by_service[service])),
                ("category", others(by_category[category])),
                ("all", others(list(range(len(rows))))),
            ]
            got = outlook(groups, age_minutes=age)
            if got is None:
                none += 1
                continue
            judged += 1
            basis[got.basis] += 1
            half += d <= got.half_within.total_seconds() / 60
            most += d <= got.most_within.total_seconds() / 60
        result[f"age_{age:g}_min"] = {
            "judged": judged,
            "within_half_pct": round(100 * half / judged, 1) if judged else None,
            "within_nine_in_ten_pct": round(100 * most / judged, 1) if judged else None,
            "no_outlook": none,
            "basis": dict(basis),
        }
    return result


def database_rows() -> list[tuple[str, str, float]]:
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from outages.models import Incident, Level

    rows = (
        Incident.objects.filter(ended_at__isnull=False, max_level=Level.OUTAGE, country="")
        .values_list("service__slug", "service__category", "started_at", "ended_at")
        .order_by("started_at")
    )
    return [(s, c, (end - start).total_seconds() / 60) for s, c, start, end in rows if end]


def main() -> None:
    rows = simulate(random.Random(SEED))
    out: dict[str, object] = {
        "bench": "outlook",
        "seed": SEED,
        "targets_pct": {"within_half": 50, "within_nine_in_ten": 90, "tolerance": 5},
        "simulated": {"incidents": len(rows), **calibrate(rows)},
    }
    if "--db" in sys.argv:
        db = database_rows()
        out["database"] = {"incidents": len(db), **calibrate(db)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
