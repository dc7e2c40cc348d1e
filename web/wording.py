"""What the pages and the API say in words: the status sentence and incident durations."""

from datetime import UTC, datetime, timedelta

from outages.models import Level
from outages.selectors import IncidentRow, ServiceRow


def headline(*, service: ServiceRow, incidents: list[IncidentRow]) -> str:
    """The status in one plain sentence."""
    if service.level == Level.OK:
        return f"No current problems at {service.name}"
    kind = "problems" if service.level == Level.OUTAGE else "possible problems"
    where = ""
    if incidents and all(i.country for i in incidents):
        names = sorted({i.country_name for i in incidents})
        where = " in " + (
            ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]
        )
    since = f" since {service.since:%H:%M} UTC" if service.since else ""
    return f"User reports indicate {kind} at {service.name}{where}{since}"


def delayed_text(*, since: datetime | None, now: datetime) -> str:
    """What the pages say instead of a level when detection has stopped ("" while fresh)."""
    if since is None:
        return ""
    since = since.astimezone(UTC)
    when = (
        f"{since:%H:%M}" if since.date() == now.astimezone(UTC).date() else f"{since:%-d %b %H:%M}"
    )
    return f"Data delayed since {when} UTC"


def duration_text(duration: timedelta | None) -> str:
    """An incident's length ("1 h 05 min", "35 min"), or "ongoing" while it is open."""
    if duration is None:
        return "ongoing"
    minutes = int(duration.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"
