"""Incident rows for tests: open or past, worldwide or in a country."""

from datetime import datetime, timedelta

from outages.models import Incident, Level, Service


def incident_add(
    service: Service,
    *,
    started_at: datetime,
    lasted: timedelta | None = None,
    country: str = "",
    level: str = Level.OUTAGE,
) -> Incident:
    """An incident from `started_at`: open, or over after `lasted` (then at level ok, having
    reached `level`)."""
    return Incident.objects.create(
        service=service,
        country=country,
        level=level if lasted is None else Level.OK,
        max_level=level,
        started_at=started_at,
        ended_at=None if lasted is None else started_at + lasted,
        peak_at=started_at,
        peak_reports=40,
        peak_expected=4,
    )


def history_add(service: Service, *, before: datetime, minutes: list[int]) -> None:
    """Past outages of these lengths, one a day in the days before `before`."""
    for i, length in enumerate(minutes):
        incident_add(
            service,
            started_at=before - timedelta(days=len(minutes) + 1 - i),
            lasted=timedelta(minutes=length),
        )
