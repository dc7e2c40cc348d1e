import gc
import json
import tracemalloc
from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from reports.models import Report, Source
from reports.validation import clean_observed_at

pytestmark = pytest.mark.django_db

URL = "/api/v1/reports/batch"


def item(**overrides):
    return {"service": "tiktok", "problem": "upload", "country": "BR", **overrides}


def post(client, body):
    return client.post(URL, data=json.dumps(body), content_type="application/json")


def test_it_stores_a_batch_in_one_go(token_api, tiktok, gmail):
    reports = [item(subdivision="BR-RJ", client_id=f"u{i}") for i in range(2500)]
    reports += [{"service": "gmail", "problem": "email", "country": "us"}] * 500
    r = post(token_api, {"reports": reports})
    assert r.status_code == 201, r.content[:500]
    assert r.json() == {"created": 3000}
    assert Report.objects.filter(service=tiktok, subdivision="BR-RJ").count() == 2500
    assert Report.objects.filter(service=gmail, country="US").count() == 500
    assert set(Report.objects.values_list("source", flat=True)) == {Source.BATCH}
    assert Report.objects.values("client_key").distinct().count() == 2501
    assert all(r.created_at.tzinfo is not None for r in Report.objects.all()[:10])


def test_it_takes_ten_thousand_reports(token_api, tiktok):
    r = post(token_api, {"reports": [item()] * 10_000})
    assert r.status_code == 201
    assert Report.objects.count() == 10_000


def test_a_stored_batch_keeps_none_of_its_parsed_items(token_api, tiktok):
    # DRF's request, view and response refer to one another, and such a cycle is freed only
    # by a full garbage collection, which may come several batches later: the parsed items
    # must be freed when the call returns, not when that collection comes.
    reports = [item(comment=f"{i:05d} " + "x" * 200, client_id=f"u{i}") for i in range(2000)]
    body = json.dumps({"reports": reports})
    del reports
    post(token_api, {"reports": [item()]})  # the first call's imports and caches
    gc.collect()
    gc.disable()
    tracemalloc.start()
    try:
        r = token_api.post(URL, data=body, content_type="application/json")
        assert r.status_code == 201, r.content[:300]
        del r
        parsed = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(True, json.decoder.__file__)]
        )
    finally:
        tracemalloc.stop()
        gc.enable()
    # What the parser made and is still alive: a few kB (the emptied list, its dict), not the
    # 2,000 items (1.3 MB when they wait for the collection).
    assert sum(stat.size for stat in parsed.statistics("filename")) < 100_000


def test_it_needs_a_token(api, tiktok):
    r = post(api, {"reports": [item()]})
    assert r.status_code == 401
    assert r.json()["error"] == "not_authenticated"
    assert Report.objects.count() == 0


def test_it_rejects_a_bad_token(api, tiktok):
    api.credentials(HTTP_AUTHORIZATION="Token nope")
    r = post(api, {"reports": [item()]})
    assert r.status_code == 401
    assert Report.objects.count() == 0


def test_one_bad_item_rejects_the_whole_batch(token_api, tiktok):
    reports = [item() for _ in range(100)]
    reports[37] = item(country="ZZ")
    reports[80] = item(subdivision="US-CA")
    r = post(token_api, {"reports": reports})
    assert r.status_code == 400
    fields = r.json()["fields"]
    assert set(fields) == {"reports[37].country", "reports[80].subdivision"}
    assert "not in country 'BR'" in fields["reports[80].subdivision"][0]
    assert Report.objects.count() == 0


def test_it_names_a_non_object_item(token_api, tiktok):
    r = post(token_api, {"reports": [item(), "oops"]})
    assert r.status_code == 400
    assert "reports[1].non_field_errors" in r.json()["fields"]
    assert Report.objects.count() == 0


def test_it_rejects_a_bad_client_id(token_api, tiktok):
    r = post(token_api, {"reports": [item(client_id=5)]})
    assert r.status_code == 400
    assert "reports[0].client_id" in r.json()["fields"]


@override_settings(BATCH_MAX_REPORTS=10)
def test_it_rejects_a_batch_over_the_limit(token_api, tiktok):
    r = post(token_api, {"reports": [item()] * 11})
    assert r.status_code == 400
    assert "At most 10 reports" in r.json()["fields"]["reports"][0]
    assert Report.objects.count() == 0


def test_the_default_limit_is_ten_thousand(token_api, tiktok):
    r = post(token_api, {"reports": [item()] * 10_001})
    assert r.status_code == 400
    assert "At most 10000 reports per call (got 10001)" in r.json()["fields"]["reports"][0]
    assert Report.objects.count() == 0


@pytest.mark.parametrize("body", [{}, {"reports": "x"}, {"reports": []}, [item()]])
def test_it_needs_a_list_of_reports(token_api, tiktok, body):
    r = post(token_api, body)
    assert r.status_code == 400
    assert "reports" in r.json()["fields"]


def test_it_rejects_malformed_json(token_api, tiktok):
    r = token_api.post(URL, data='{"reports": [', content_type="application/json")
    assert r.status_code == 400
    assert r.json()["fields"]["body"]


def test_it_rejects_the_wrong_content_type(token_api, tiktok):
    r = token_api.post(URL, data="a,b\n1,2", content_type="text/csv")
    assert r.status_code == 415


@override_settings(BATCH_MAX_BODY=1000)
def test_it_rejects_an_oversized_body(token_api, tiktok):
    r = post(token_api, {"reports": [item()] * 50})
    assert r.status_code == 413
    assert "at most 1000 bytes" in r.json()["message"]
    assert Report.objects.count() == 0


def test_a_failed_write_leaves_nothing(token_api, tiktok, monkeypatch):
    # The database rejects the last row (a value too long for its column) mid-write: the
    # transaction must roll back every row before it.
    from reports import api as api_module

    real = api_module.report_create_many

    def sabotage(*, reports, **rest):
        bad = type(reports[-1])(reports[0].service_id, "upload", "BRA", "", "")
        return real(reports=[*reports[:-1], bad], **rest)

    monkeypatch.setattr(api_module, "report_create_many", sabotage)
    from django.db import DataError

    with pytest.raises(DataError):
        post(token_api, {"reports": [item()] * 20})
    assert Report.objects.count() == 0


def test_a_failed_write_of_a_backlog_leaves_nothing(token_api, tiktok, monkeypatch):
    from reports import api as api_module

    real = api_module.report_create_many

    def sabotage(*, reports, **rest):
        bad = type(reports[-1])(reports[0].service_id, "upload", "BRA", "", "")
        return real(reports=[*reports[:-1], bad], **rest)

    monkeypatch.setattr(api_module, "report_create_many", sabotage)
    from django.db import DataError

    earlier = (timezone.now() - timedelta(hours=2)).isoformat()
    with pytest.raises(DataError):
        post(token_api, {"reports": [item(observed_at=earlier)] * 20})
    assert Report.objects.count() == 0


@pytest.mark.parametrize("field", ["client_id", "comment", "service"])
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("\ud800", "Surrogate characters are not allowed: U+D800."),
        ("a\x00b", "Null characters are not allowed."),
    ],
)
def test_it_refuses_text_it_cannot_store_naming_the_item(token_api, tiktok, field, text, message):
    r = post(token_api, {"reports": [item(), item(**{field: text})]})
    assert r.status_code == 400, r.content
    assert r.json()["fields"] == {f"reports[1].{field}": [message]}
    assert Report.objects.count() == 0


@pytest.mark.parametrize(
    "body",
    ["[" * 5000, '{"reports": [' + "[" * 40 + "]" * 40 + "]}"],
    ids=["unclosed", "moderate"],
)
def test_it_refuses_json_nested_too_deeply(token_api, tiktok, body):
    r = token_api.post(URL, data=body, content_type="application/json")
    assert r.status_code == 400, r.content
    assert r.json()["fields"]["body"] == ["JSON nested too deeply: at most 32 levels."]


def test_it_names_an_unknown_top_level_field(token_api, tiktok):
    r = post(token_api, {"reports": [item()], "report": [item()], "\udfff": 1})
    assert r.status_code == 400, r.content
    assert r.json()["fields"] == {"report": ["Unknown field."], "\\udfff": ["Unknown field."]}
    assert Report.objects.count() == 0


def test_items_observed_earlier_are_stored_in_their_own_minutes(token_api, tiktok):
    now = timezone.now()
    an_hour_ago = now - timedelta(hours=1)
    reports = [
        item(observed_at=an_hour_ago.isoformat()),
        # The same instant written with another offset and as "Z".
        item(observed_at=an_hour_ago.astimezone(timezone.get_fixed_timezone(150)).isoformat()),
        item(observed_at=an_hour_ago.astimezone(UTC).isoformat().replace("+00:00", "Z")),
        item(),
    ]
    r = post(token_api, {"reports": reports})
    assert r.status_code == 201, r.content
    rows = list(Report.objects.order_by("id").values_list("created_at", "received_at"))
    assert [created for created, _ in rows[:3]] == [an_hour_ago] * 3
    received = {at for _, at in rows[:3]}
    assert len(received) == 1
    arrived = received.pop()
    assert arrived is not None and now <= arrived <= timezone.now()
    # Without observed_at: arrived when it happened, no separate arrival time.
    assert now <= rows[3][0] <= timezone.now() and rows[3][1] is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2026-12-01T14:05:00", "UTC offset"),
        ("2026-12-01", "UTC offset"),
        ("yesterday", "ISO 8601"),
        ("", "ISO 8601"),
        (None, "ISO 8601"),
        (1764597900, "ISO 8601"),
        ("0001-01-01T00:00:00+01:00", "ISO 8601"),
        ("2026-12-01T14:05:00+00:00" + " " * 40, "ISO 8601"),
        ("2026-12-01T14:05:00\ud800Z", "ISO 8601"),
        ("2000-01-01T00:00:00Z", "24 hours old"),
        ("2100-01-01T00:00:00Z", "60 seconds ahead"),
    ],
)
def test_it_rejects_a_bad_observed_at_naming_the_item(token_api, tiktok, value, message):
    reports = [item(), item(observed_at=value), item()]
    r = post(token_api, {"reports": reports})
    assert r.status_code == 400
    fields = r.json()["fields"]
    assert list(fields) == ["reports[1].observed_at"]
    assert message in fields["reports[1].observed_at"][0]
    assert Report.objects.count() == 0


def test_observed_at_is_at_most_a_day_old_and_a_minute_ahead():
    now = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
    at = clean_observed_at
    assert at((now - timedelta(hours=24)).isoformat(), now=now) == (now - timedelta(hours=24), None)
    assert at((now + timedelta(seconds=60)).isoformat(), now=now)[0] == now + timedelta(seconds=60)
    tick = timedelta(microseconds=1)
    assert at((now - timedelta(hours=24) - tick).isoformat(), now=now) == (
        None,
        "At most 24 hours old.",
    )
    assert at((now + timedelta(seconds=60) + tick).isoformat(), now=now)[0] is None
    # Offsets are honoured: 16:00 at +01:00 is now.
    assert at("2026-12-01T16:00:00+01:00", now=now) == (now, None)
