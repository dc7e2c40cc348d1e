import io
import textwrap
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.utils import timezone

from common.regions import countries, subdivisions
from demo import simulation
from demo.tasks import (
    TRICKLE_BURST_KEY,
    TRICKLE_LOCK_KEY,
    TRICKLE_WATERMARK_KEY,
    simulate_trickle,
)
from outages.catalogue import CATALOGUE
from outages.models import Service
from reports.models import Report
from tests.embedded import run_on_embedded_default

END = datetime(2025, 3, 20, 17, 42, 13, tzinfo=UTC)  # a Thursday afternoon
WEEK = timedelta(days=7)


@pytest.fixture(scope="module")
def history() -> tuple[pd.DataFrame, list[simulation.InjectedOutage]]:
    return simulation.demo_history(end=END, days=14, seed=7)


@pytest.fixture(scope="module")
def frame(history) -> pd.DataFrame:
    return history[0]


@pytest.fixture(scope="module")
def outages(history) -> list[simulation.InjectedOutage]:
    return history[1]


def in_window(frame: pd.DataFrame, start: datetime, end: datetime) -> pd.Series:
    return (frame["created_at"] >= start) & (frame["created_at"] < end)


def same_window_other_days(frame: pd.DataFrame, outage: simulation.InjectedOutage) -> list[int]:
    counts = []
    for days in range(-13, 14):
        shift = timedelta(days=days)
        lo, hi = outage.start + shift, outage.end + shift
        if days and lo >= END - timedelta(days=14) and hi <= END:
            counts.append(int(in_window(frame, lo, hi).sum()))
    return counts


# The pure generator


def test_history_has_a_seedable_volume_of_every_service(frame):
    assert 200_000 < len(frame) < 600_000
    assert set(frame["service_slug"]) == {e.slug for e in CATALOGUE}
    assert list(frame.columns) == list(simulation.COLUMNS)


def test_every_value_is_one_the_site_accepts(frame):
    assert str(frame["created_at"].dt.tz) == "UTC"
    assert frame["created_at"].min() >= END - timedelta(days=14)
    assert frame["created_at"].max() < END
    assert frame["created_at"].is_monotonic_increasing

    assert set(frame["country"]) <= set(countries())
    assert frame["country"].nunique() >= 20
    with_sub = frame[frame["subdivision"] != ""]
    assert set(with_sub["subdivision"]) <= set(subdivisions())
    owner = with_sub["subdivision"].map(lambda code: subdivisions()[code][0])
    assert (owner == with_sub["country"]).all()
    assert (with_sub["subdivision"].str.len() <= 6).all()  # the model's column width

    offered = {e.slug: set(e.problems) for e in CATALOGUE}
    for slug, problems in frame.groupby("service_slug")["problem"]:
        assert set(problems) <= offered[slug], slug

    assert frame["client_key"].str.fullmatch(r"[0-9a-f]{32}").all()
    assert frame["client_key"].is_unique
    assert set(frame["source"]) == {"web", "api"}
    assert 0.7 < (frame["source"] == "web").mean() < 0.95
    comments = frame.loc[frame["comment"] != "", "comment"]
    assert 0.01 < len(comments) / len(frame) < 0.08
    assert comments.str.len().max() <= 280


def test_subdivisions_come_with_big_countries_and_favour_populous_ones(frame):
    share = (frame["subdivision"] != "").groupby(frame["country"]).mean()
    for code in ("US", "GB", "DE", "BR", "IN", "CA", "AU"):
        assert share[code] > 0.4, code
    assert share["FR"] == 0 and share["JP"] == 0
    us = frame.loc[frame["subdivision"].str.startswith("US-"), "subdivision"].value_counts()
    assert us["US-CA"] > 10 * us["US-WY"]


def test_audience_is_weighted_by_country(frame):
    by_country = frame["country"].value_counts()
    assert by_country.index[0] == "US"
    assert by_country["US"] > 2 * by_country["IN"]
    assert by_country["BR"] > by_country["AU"] > by_country["NZ"]
    # Carriers only have customers at home.
    assert set(frame.loc[frame["service_slug"] == "verizon", "country"]) == {"US"}
    assert set(frame.loc[frame["service_slug"] == "bt", "country"]) == {"GB"}


def test_daily_rhythm_follows_each_countrys_local_time(frame):
    for code, zone in (("US", "America/Chicago"), ("IN", "Asia/Kolkata"), ("DE", "Europe/Berlin")):
        local = frame.loc[frame["country"] == code, "created_at"].dt.tz_convert(zone)
        by_hour = local.dt.hour.value_counts()
        evening = by_hour.loc[[19, 20, 21]].mean()
        night = by_hour.loc[[2, 3, 4]].mean()
        assert evening > 4 * night, code


def test_work_tools_are_quiet_at_weekends_and_leisure_is_not(frame):
    day = frame["created_at"].dt.tz_convert("America/Chicago").dt.day_of_week
    weekend = day >= 5
    work = frame["service_slug"].isin(["slack", "zoom", "microsoft-teams"])
    play = frame["service_slug"].isin(["netflix", "fortnite", "twitch"])
    # Two weeks hold four weekend days and ten weekdays.
    assert (work & ~weekend).sum() / 10 > 2.5 * (work & weekend).sum() / 4
    assert (play & weekend).sum() / 4 > (play & ~weekend).sum() / 10


def test_volume_grows_mildly(frame, outages):
    first, second = END - timedelta(days=14), END - WEEK
    quiet = pd.Series(True, index=frame.index)
    for outage in outages:
        quiet &= ~(
            in_window(frame, outage.start, outage.end) & (frame.service_slug == outage.service)
        )
    ratio = (quiet & in_window(frame, second, END)).sum() / (
        quiet & in_window(frame, first, second)
    ).sum()
    assert 1.0 < ratio < 1.12


def test_counts_are_overdispersed(frame):
    # The same weekday hour of a busy service holds ~70 reports. Poisson counts would vary
    # by about their square root (variance/mean ~1); real report streams wander far more.
    facebook = frame.loc[frame["service_slug"] == "facebook", "created_at"]
    weekdays = facebook[facebook.dt.day_of_week < 5]
    hourly = weekdays.groupby(weekdays.dt.floor("h")).size()
    spread = hourly.groupby(hourly.index.hour).agg(["mean", "var"])
    assert (spread["var"] / spread["mean"]).median() > 2


def test_at_least_a_global_and_a_single_country_outage_are_injected(outages):
    assert len(outages) >= 2
    global_ = [o for o in outages if o.country is None]
    local = [o for o in outages if o.country is not None]
    assert global_ and local
    for outage in outages:
        assert END - timedelta(days=14) <= outage.start < outage.end <= END
        assert outage.start.tzinfo is not None
        assert timedelta(minutes=30) <= outage.end - outage.start <= timedelta(hours=3)
        assert outage.factor > 5
        assert outage.service in {e.slug for e in CATALOGUE}


def test_the_global_outage_stands_out_and_is_dominated_by_its_problems(frame, outages):
    outage = max((o for o in outages if o.country is None), key=lambda o: o.factor)
    assert outage.factor >= 20
    service = frame[frame["service_slug"] == outage.service]
    during = service[in_window(service, outage.start, outage.end)]
    week_before = in_window(service, outage.start - WEEK, outage.end - WEEK).sum()
    assert len(during) > 8 * week_before
    top_two = during["problem"].value_counts(normalize=True).iloc[:2]
    assert set(top_two.index) == {p for p, _ in outage.problems[:2]}
    assert top_two.sum() > 0.7
    # Worldwide means many countries join in.
    assert during["country"].nunique() >= 15
    # The ramp: reports climb over minutes as people notice, rather than jumping at once.
    minute = (during["created_at"] - outage.start) // timedelta(minutes=1)
    first = (minute < 3).sum() / 3
    middle = ((minute >= 30) & (minute < 40)).sum() / 10
    assert middle > 2 * first


def test_the_country_outage_stays_in_its_country(frame, outages):
    outage = next(o for o in outages if o.country == "BR" and o.service == "tiktok")
    service = frame[frame["service_slug"] == outage.service]
    home = service[service["country"] == outage.country]
    abroad = service[service["country"] != outage.country]

    during_home = home[in_window(home, outage.start, outage.end)]
    assert len(during_home) > 8 * max(
        1, in_window(home, outage.start - WEEK, outage.end - WEEK).sum()
    )
    assert len(during_home) > 10 * max(1.0, pd.Series(same_window_other_days(home, outage)).mean())
    assert (during_home["subdivision"] != "").mean() > 0.7
    assert during_home["problem"].value_counts().index[0] == "upload"

    typical_abroad = pd.Series(same_window_other_days(abroad, outage)).mean()
    assert in_window(abroad, outage.start, outage.end).sum() < 1.6 * typical_abroad


def test_the_same_seed_gives_the_same_reports():
    start = END - timedelta(hours=1)
    a = simulation.simulate_reports(start=start, end=END, seed=3)
    b = simulation.simulate_reports(start=start, end=END, seed=3)
    c = simulation.simulate_reports(start=start, end=END, seed=4)
    pd.testing.assert_frame_equal(a, b)
    assert not a["client_key"].equals(c["client_key"])


def test_the_trickle_covers_exactly_its_window():
    now = END + timedelta(minutes=3, seconds=20, microseconds=5)
    reports = simulation.trickle_reports(now=now, seconds=600)
    assert 50 < len(reports) < 600  # ~21 a minute at this hour
    assert reports["created_at"].min() >= now - timedelta(seconds=600)
    assert reports["created_at"].max() < now
    assert str(reports["created_at"].dt.tz) == "UTC"
    assert list(reports.columns) == list(simulation.COLUMNS)
    assert simulation.trickle_reports(now=now, seconds=0).empty


def test_a_live_burst_lifts_one_service_in_one_country():
    now = END
    burst = simulation.parse_burst("tiktok:BR:40:45", start=now - timedelta(minutes=15))
    assert burst is not None and burst.country == "BR" and burst.factor == 40
    calm = simulation.trickle_reports(now=now, seconds=600, seed=5)
    busy = simulation.trickle_reports(now=now, seconds=600, seed=5, bursts=[burst])

    def count(reports: pd.DataFrame, in_brazil: bool) -> int:
        tiktok = reports[reports["service_slug"] == "tiktok"]
        return int(((tiktok["country"] == "BR") == in_brazil).sum())

    assert count(busy, in_brazil=True) > 10 * max(1, count(calm, in_brazil=True))
    assert count(busy, in_brazil=False) == count(calm, in_brazil=False)


def test_burst_specs_are_checked():
    start = END
    assert simulation.parse_burst("", start=start) is None
    burst = simulation.parse_burst("github", start=start)
    assert burst is not None and burst.country is None and burst.end > start
    with pytest.raises(ValueError):
        simulation.parse_burst("myspace:US", start=start)
    for bad in ("tiktok:XX", "tiktok:BR:0.5", "tiktok:BR:loud", "tiktok:30:-5"):
        with pytest.raises(ValueError):
            simulation.parse_burst(bad, start=start)


# Seeding and the live trickle against the database


@pytest.mark.django_db
def test_seed_demo_writes_a_day_and_then_leaves_the_data_alone():
    out = io.StringIO()
    call_command("seed_demo", "--days", "1", stdout=out)
    stored = Report.objects.count()
    assert Service.objects.count() == len(CATALOGUE)
    assert 10_000 < stored < 60_000
    assert "day 1/1" in out.getvalue()
    newest = Report.objects.order_by("-created_at").first()
    assert newest is not None and newest.created_at <= timezone.now()
    assert newest.created_at.tzinfo is not None
    assert set(Report.objects.values_list("source", flat=True).distinct()) == {"web", "api"}

    again = io.StringIO()
    call_command("seed_demo", "--days", "1", stdout=again)
    assert Report.objects.count() == stored
    assert "skipping" in again.getvalue()


@pytest.mark.django_db
def test_seed_demo_force_replaces_and_top_up_fills_the_gap():
    call_command("seed_demo", "--days", "1", "--scale", "0.05", stdout=io.StringIO())
    first = Report.objects.count()
    call_command("seed_demo", "--days", "1", "--scale", "0.05", "--force", stdout=io.StringIO())
    assert 0.8 * first < Report.objects.count() < 1.2 * first

    Report.objects.filter(created_at__gte=timezone.now() - timedelta(hours=3)).delete()
    before = Report.objects.count()
    call_command("seed_demo", "--top-up", stdout=io.StringIO())
    assert Report.objects.count() > before
    newest = Report.objects.order_by("-created_at").values_list("created_at", flat=True)[0]
    assert timezone.now() - newest < timedelta(minutes=5)


@pytest.fixture
def catalogue(db: None) -> None:
    call_command("seed_services", stdout=io.StringIO())


def test_the_trickle_does_nothing_unless_enabled(settings, catalogue):
    settings.DEMO_TRICKLE = False
    cache.set(TRICKLE_WATERMARK_KEY, (timezone.now() - timedelta(minutes=10)).timestamp())
    assert simulate_trickle() == 0
    assert not Report.objects.exists()


def test_the_trickle_fills_the_time_since_its_last_run_once(settings, catalogue):
    settings.DEMO_TRICKLE = True
    since = timezone.now() - timedelta(minutes=3)
    cache.set(TRICKLE_WATERMARK_KEY, since.timestamp())

    created = simulate_trickle()
    assert created == Report.objects.count() > 5
    stamps = list(Report.objects.values_list("created_at", flat=True))
    assert min(stamps) >= since and max(stamps) <= timezone.now()
    # Spread over the window, not stamped at the moment of the run.
    assert max(stamps) - min(stamps) > timedelta(minutes=1)


def test_after_a_long_pause_the_trickle_only_backfills_what_the_rollup_still_counts(
    settings, catalogue
):
    settings.DEMO_TRICKLE = True
    settings.ROLLUP_LATENESS = 300
    cache.set(TRICKLE_WATERMARK_KEY, (timezone.now() - timedelta(hours=6)).timestamp())
    simulate_trickle()
    oldest = Report.objects.order_by("created_at").values_list("created_at", flat=True)[0]
    assert timezone.now() - oldest < timedelta(seconds=300)

    assert simulate_trickle() <= 3  # the next run only covers the instant since
    assert cache.get(TRICKLE_LOCK_KEY) is None


def test_a_second_worker_backs_off_while_the_trickle_runs(settings, catalogue):
    settings.DEMO_TRICKLE = True
    cache.set(TRICKLE_WATERMARK_KEY, (timezone.now() - timedelta(minutes=10)).timestamp())
    cache.add(TRICKLE_LOCK_KEY, "another-worker", timeout=60)
    assert simulate_trickle() == 0
    assert not Report.objects.exists()


def test_without_a_watermark_the_trickle_starts_at_the_newest_report(settings, catalogue):
    settings.DEMO_TRICKLE = True
    call_command("seed_demo", "--days", "1", "--scale", "0.05", stdout=io.StringIO())
    Report.objects.filter(created_at__gte=timezone.now() - timedelta(minutes=3)).delete()
    newest = Report.objects.order_by("-created_at").values_list("created_at", flat=True)[0]
    last_id = Report.objects.order_by("-id").values_list("id", flat=True)[0]
    cache.delete(TRICKLE_WATERMARK_KEY)

    assert simulate_trickle() > 0
    added = Report.objects.filter(id__gt=last_id)
    assert added.exists()
    assert not added.filter(created_at__lt=newest).exists()


def test_a_configured_burst_reaches_the_database(settings, catalogue):
    settings.DEMO_TRICKLE = True
    settings.DEMO_TRICKLE_BURST = "whatsapp:IN:300:60"
    now = timezone.now()
    cache.set(
        TRICKLE_BURST_KEY.format(spec="whatsapp:in:300:60"),
        (now - timedelta(minutes=20)).timestamp(),
    )
    cache.set(TRICKLE_WATERMARK_KEY, (now - timedelta(minutes=10)).timestamp())
    simulate_trickle()
    whatsapp = Report.objects.filter(service__slug="whatsapp")
    assert whatsapp.filter(country="IN").count() > 20
    assert whatsapp.filter(country="IN").count() > 3 * whatsapp.exclude(country="IN").count()


def test_several_bursts_start_together_and_a_typo_skips_only_its_own(settings, catalogue):
    from demo.tasks import _live_bursts

    settings.DEMO_TRICKLE_BURST = "cloudflare:60:60,myspace:US,discord:30:45"
    now = timezone.now()
    bursts = _live_bursts(now=now)
    assert [(b.service, b.factor) for b in bursts] == [("cloudflare", 60.0), ("discord", 30.0)]
    assert bursts[0].start == bursts[1].start
    assert bursts[1].end - bursts[1].start == timedelta(minutes=45)


def test_a_mistyped_burst_does_not_stop_the_trickle(settings, catalogue):
    settings.DEMO_TRICKLE = True
    settings.DEMO_TRICKLE_BURST = "myspace:US"
    cache.set(TRICKLE_WATERMARK_KEY, (timezone.now() - timedelta(minutes=10)).timestamp())
    assert simulate_trickle() > 0


SQLITE_SCRIPT = textwrap.dedent(
    """
    import django
    django.setup()
    from datetime import timedelta
    from django.core.cache import cache
    from django.core.management import call_command
    from django.utils import timezone
    from reports.models import Report
    from demo.tasks import TRICKLE_WATERMARK_KEY, simulate_trickle

    call_command("migrate", verbosity=0)
    call_command("seed_demo", "--days", "1", "--scale", "0.05")
    seeded = Report.objects.count()
    recent = Report.objects.filter(created_at__gte=timezone.now() - timedelta(hours=6))
    assert 0 < recent.count() < seeded, (recent.count(), seeded)
    assert Report.objects.latest("created_at").created_at.tzinfo is not None
    # The trickle fills the time since the newest report: leave it three minutes to fill.
    since = timezone.now() - timedelta(minutes=3)
    Report.objects.filter(created_at__gte=since).delete()
    cache.set(TRICKLE_WATERMARK_KEY, since.timestamp())
    assert simulate_trickle() > 0
    print(seeded)
    """
)


@pytest.mark.sqlite
def test_seeding_and_the_trickle_work_on_the_embedded_default(tmp_path):
    out = run_on_embedded_default(SQLITE_SCRIPT, tmp_path, DEMO_TRICKLE="true")
    assert out.returncode == 0, out.stderr[-3000:]
    assert "day 1/1" in out.stdout
    assert int(out.stdout.strip().splitlines()[-1]) > 1000
