from datetime import datetime

from django.db import IntegrityError, transaction

from outages.models import LEVEL_RANK, Level, Outage, Service, ServiceStatus


@transaction.atomic
def service_upsert(
    *, slug: str, name: str, category: str, home_url: str, problems: list[str]
) -> Service:
    fields = {"name": name, "category": category, "home_url": home_url, "problems": problems}
    Service(slug=slug, **fields).full_clean(validate_unique=False)
    service, _ = Service.objects.update_or_create(slug=slug, defaults=fields)
    return service


def _rank(level: str) -> int:
    return LEVEL_RANK[Level(level)]


def outage_observe(
    *,
    service_id: int,
    country: str,
    level: str,
    at: datetime,
    started_at: datetime,
    reports: float,
    expected: float,
) -> tuple[Outage, bool]:
    """Open the incident of a (service, scope) or update the open one. Returns (outage, opened).

    Safe on two detection workers at once: the partial unique constraint admits one open
    incident per scope, and the loser of the race updates the winner's row instead.
    """
    with transaction.atomic():
        outage = (
            Outage.objects.select_for_update()
            .filter(service_id=service_id, country=country, ended_at=None)
            .first()
        )
        opened = False
        if outage is None:
            try:
                with transaction.atomic():
                    outage = Outage.objects.create(
                        service_id=service_id,
                        country=country,
                        level=level,
                        max_level=level,
                        started_at=min(started_at, at),
                        peak_at=at,
                        peak_reports=reports,
                        peak_expected=expected,
                    )
                return outage, True
            except IntegrityError:
                outage = Outage.objects.select_for_update().get(
                    service_id=service_id, country=country, ended_at=None
                )
        outage.level = level
        if _rank(level) > _rank(outage.max_level):
            outage.max_level = level
        if reports > outage.peak_reports:
            outage.peak_at, outage.peak_reports, outage.peak_expected = at, reports, expected
        outage.save(
            update_fields=[
                "level",
                "max_level",
                "peak_at",
                "peak_reports",
                "peak_expected",
                "updated_at",
            ]
        )
        return outage, opened


def outage_resolve(*, outage_id: int, ended_at: datetime) -> bool:
    """Close an open incident; False if it was already closed (by another worker)."""
    return (
        Outage.objects.filter(id=outage_id, ended_at=None).update(ended_at=ended_at, level=Level.OK)
        == 1
    )


def outage_set_breakdown(
    *, outage_id: int, regions: list[dict[str, object]], problems: list[dict[str, object]]
) -> None:
    Outage.objects.filter(id=outage_id).update(regions=regions, problems=problems)


def service_status_write(*, rows: list[ServiceStatus]) -> None:
    """Replace the status of the given services in one statement."""
    ServiceStatus.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["service"],
        update_fields=["level", "since", "current", "expected", "threshold", "updated_at"],
    )
