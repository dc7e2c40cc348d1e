"""What the pages and the API say in words: the status sentence, incident durations and the
outlook of when an incident is likely over. Every sentence is whole in the catalogue (a
translator sees "User reports indicate problems at %(service)s since %(time)s", not pieces),
in the active language (the page's, or the API's ?lang=)."""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from django.urls import reverse
from django.utils import dateformat
from django.utils.formats import number_format
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from outages.models import Level
from outages.outlook import Outlook
from outages.selectors import IncidentRow, ServiceRow


def clock(when: datetime, *, now: datetime) -> str:
    """A time in UTC, with the day when it is not today's: "14:05 UTC", "3 Mar 14:05 UTC"."""
    when = when.astimezone(UTC)
    if when.date() == now.astimezone(UTC).date():
        return _("%(time)s UTC") % {"time": f"{when:%H:%M}"}
    day = dateformat.format(when, pgettext("day and time, Django date format", "j M H:i"))
    return _("%(time)s UTC") % {"time": day}


def _and(names: Sequence[str]) -> str:
    """ "Brazil", "Brazil and Chile", "Brazil, Chile and Peru"."""
    if len(names) == 1:
        return names[0]
    return _("%(first)s and %(last)s") % {
        "first": pgettext("list separator", ", ").join(names[:-1]),
        "last": names[-1],
    }


def alternatives_html(*, others: list[ServiceRow], country_name: str) -> SafeString:
    """ "What works instead: <a>Instagram</a> and <a>YouTube</a> have no problems right now",
    with links; empty when there is nothing to offer."""
    if not others:
        return mark_safe("")
    links = [
        format_html('<a href="{}">{}</a>', reverse("service_detail", args=[o.slug]), o.name)
        for o in others
    ]
    words = {"services": _and(links)}
    if country_name:
        words["country"] = format_html("{}", country_name)
        sentence = ngettext(
            "What works instead: %(services)s has no problems in %(country)s right now.",
            "What works instead: %(services)s have no problems in %(country)s right now.",
            len(others),
        )
    else:
        sentence = ngettext(
            "What works instead: %(services)s has no problems right now.",
            "What works instead: %(services)s have no problems right now.",
            len(others),
        )
    # The sentence is ours and every inserted part is escaped above.
    return mark_safe(escape(sentence) % words)  # noqa: S308


def headline(*, service: ServiceRow, incidents: list[IncidentRow]) -> str:
    """The status in one plain sentence."""
    if service.level == Level.OK:
        return _("No current problems at %(service)s") % {"service": service.name}
    outage = service.level == Level.OUTAGE
    words = {"service": service.name}
    if incidents and all(i.country for i in incidents):
        words["places"] = _and(sorted({i.country_name for i in incidents}))
    if service.since:
        words["time"] = _("%(time)s UTC") % {"time": f"{service.since:%H:%M}"}
    sentences = {
        (True, False, False): _("User reports indicate problems at %(service)s"),
        (True, True, False): _("User reports indicate problems at %(service)s in %(places)s"),
        (True, False, True): _("User reports indicate problems at %(service)s since %(time)s"),
        (True, True, True): _(
            "User reports indicate problems at %(service)s in %(places)s since %(time)s"
        ),
        (False, False, False): _("User reports indicate possible problems at %(service)s"),
        (False, True, False): _(
            "User reports indicate possible problems at %(service)s in %(places)s"
        ),
        (False, False, True): _(
            "User reports indicate possible problems at %(service)s since %(time)s"
        ),
        (False, True, True): _(
            "User reports indicate possible problems at %(service)s in %(places)s since %(time)s"
        ),
    }
    return sentences[(outage, "places" in words, "time" in words)] % words


def delayed_text(*, since: datetime | None, now: datetime) -> str:
    """What the pages say instead of a level when detection has stopped ("" while fresh)."""
    if since is None:
        return ""
    return _("Data delayed since %(time)s") % {"time": clock(since, now=now)}


def duration_text(duration: timedelta | None) -> str:
    """An incident's length ("1 h 05 min", "35 min"), or "ongoing" while it is open."""
    if duration is None:
        return _("ongoing")
    minutes = int(duration.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return _("%(hours)s h %(minutes)s min") % {"hours": hours, "minutes": f"{minutes:02d}"}
    return _("%(minutes)s min") % {"minutes": minutes}


def _span(duration: timedelta) -> str:
    """ "35 minutes", "3 hours", "1 h 20 min": a duration said the way people say it."""
    minutes = max(round(duration.total_seconds() / 60), 1)
    if minutes < 60:
        return ngettext("%(count)s minute", "%(count)s minutes", minutes) % {"count": minutes}
    hours, rest = divmod(minutes, 60)
    if rest == 0 or hours >= 10:
        hours = round(minutes / 60)
        return ngettext("%(count)s hour", "%(count)s hours", hours) % {"count": hours}
    return _("%(hours)s h %(minutes)s min") % {"hours": hours, "minutes": f"{rest:02d}"}


def _whose(*, basis: str, service_name: str, category: str, country_name: str) -> str:
    """Whose past outages an outlook is from, as a phrase inside a sentence."""
    words = {"service": service_name, "category": category, "country": country_name}
    return {
        "service_country": _("past %(service)s outages in %(country)s"),
        "service": _("past %(service)s outages"),
        "category": _("past outages of services in %(category)s"),
        "all": _("past outages of all services we follow"),
    }[basis] % words


def history_text(
    *, outlook: Outlook | None, service_name: str, category: str, country_name: str = ""
) -> str:
    """How long incidents like this last ("Past TikTok outages were half over within ...")."""
    if outlook is None:
        return _("Not enough past outages to say how long %(service)s outages last.") % {
            "service": service_name
        }
    words = {
        "service": service_name,
        "category": category,
        "country": country_name,
        "half": _span(outlook.half_within),
        "most": _span(outlook.most_within),
        "count": number_format(outlook.incidents, force_grouping=True),
    }
    return {
        "service_country": _(
            "Past %(service)s outages in %(country)s were half over within %(half)s, "
            "9 in 10 within %(most)s (%(count)s outages)."
        ),
        "service": _(
            "Past %(service)s outages were half over within %(half)s, "
            "9 in 10 within %(most)s (%(count)s outages)."
        ),
        "category": _(
            "Past outages of services in %(category)s were half over within %(half)s, "
            "9 in 10 within %(most)s (%(count)s outages)."
        ),
        "all": _(
            "Past outages of all services we follow were half over within %(half)s, "
            "9 in 10 within %(most)s (%(count)s outages)."
        ),
    }[outlook.basis] % words


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
        return _("Not enough history to say when it will be back.")
    words = {
        "half_by": clock(outlook.half_by, now=now),
        "most_by": clock(outlook.most_by, now=now),
        "count": number_format(outlook.incidents, force_grouping=True),
        "whose": _whose(
            basis=outlook.basis,
            service_name=service_name,
            category=category,
            country_name=country_name,
        ),
        "lasted": _span(outlook.age),
    }
    if outlook.age >= timedelta(minutes=1):
        return (
            _(
                "Likely over by %(half_by)s (half of %(count)s %(whose)s that lasted %(lasted)s "
                "or more were over by then), by %(most_by)s for 9 in 10."
            )
            % words
        )
    return (
        _(
            "Likely over by %(half_by)s (half of %(count)s %(whose)s were over by then), "
            "by %(most_by)s for 9 in 10."
        )
        % words
    )
