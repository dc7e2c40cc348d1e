"""What the pages and the API say in words: the status sentence, incident durations and the
outlook of when an incident is likely over."""

from datetime import UTC, datetime, timedelta

from outages.models import Level
from outages.outlook import Outlook
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


def _span(duration: timedelta) -> str:
    """ "35 minutes", "3 hours", "1 h 20 min": a duration said the way people say it."""
    minutes = max(round(duration.total_seconds() / 60), 1)
    if minutes < 60:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours, rest = divmod(minutes, 60)
    if rest == 0 or hours >= 10:
        hours = round(minutes / 60)
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{hours} h {rest:02d} min"


def _whose(*, basis: str, service_name: str, category: str, country_name: str) -> str:
    return {
        "service_country": f"past {service_name} outages in {country_name}",
        "service": f"past {service_name} outages",
        "category": f"past outages of {category.lower()} services",
        "all": "past outages of all services we follow",
    }[basis]


def history_text(
    *, outlook: Outlook | None, service_name: str, category: str, country_name: str = ""
) -> str:
    """How long incidents like this last ("Past TikTok outages were half over within ...")."""
    if outlook is None:
        return f"Not enough past outages to say how long {service_name} outages last."
    whose = _whose(
        basis=outlook.basis, service_name=service_name, category=category, country_name=country_name
    )
    return (
        f"{whose[0].upper()}{whose[1:]} were half over within {_span(outlook.half_within)}, "
        f"9 in 10 within {_span(outlook.most_within)} ({outlook.incidents} outages)."
    )


def outlook_text(
    *,
    outlook: Outlook | None,
    service_name: str,
    category: str,
    country_name: str = "",
    now: datetime,
) -> str:
    """When an open incident is likely over, with its range, or why we cannot say."""
    if outlook is None or outlook.half_by is None or outlook.most_by is None:
        return "Not enough history to say when it will be back."
    whose = _whose(
        basis=outlook.basis, service_name=service_name, category=category, country_name=country_name
    )

    def at(when: datetime) -> str:
        when = when.astimezone(UTC)
        same_day = when.date() == now.astimezone(UTC).date()
        return f"{when:%H:%M} UTC" if same_day else f"{when:%-d %b %H:%M} UTC"

    lasted = ""
    if outlook.age >= timedelta(minutes=1):
        lasted = f" that lasted {_span(outlook.age)} or more"
    return (
        f"Likely over by {at(outlook.half_by)} (half of {outlook.incidents} {whose}{lasted} "
        f"were over by then), by {at(outlook.most_by)} for 9 in 10."
    )
