"""Hostile input, generated: every intake field (single report, batch, form) and every public
parameter of the read API, given lone surrogates, NUL, control and right-to-left characters,
deep nesting, huge numbers, invalid UTF-8 and odd charsets. No answer is a server error, and
a refusal names the field or parameter that was tampered with (or the body, when the body as
a whole could not be read). Django's test client, the real PostgreSQL and Redis."""

import base64
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlencode

import pytest
from django.contrib.auth.models import User
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token

from common.text import field_name
from reports.models import Report

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    database=None,
    # One database transaction and client for all examples of a test, on purpose.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Characters that have broken text handling somewhere: NUL, a lone surrogate of each half,
# controls, bidi overrides and marks, a BOM, the highest code point, and UTF-7's way of
# spelling a surrogate ("+2AA-") for a body sent with charset=utf-7.
SPECIALS = [
    "\x00",
    "\ud800",
    "\udfff",
    "\x1b[31m",
    "\x07",
    "\x7f",
    "\u0085",
    "\u202e",
    "\u200f",
    "\u2066",
    "\ufeff",
    "\uffff",
    "\U0010ffff",
    "\r\n",
    "+2AA-",
    "%00",
    "'\"<>&;",
]
TEXT = st.lists(st.one_of(st.characters(), st.sampled_from(SPECIALS)), max_size=12).map("".join)
# Valid codes with something hostile around them, which must not slip through as the code.
NEAR_VALID = st.builds(
    lambda code, extra, at_end: code + extra if at_end else extra + code,
    st.sampled_from(["tiktok", "login", "US", "US-CA", "ca"]),
    st.sampled_from(SPECIALS),
    st.booleans(),
)
HUGE = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
)
VALUE = st.one_of(
    TEXT,
    NEAR_VALID,
    HUGE,
    st.booleans(),
    st.none(),
    st.lists(TEXT, max_size=3),
    st.dictionaries(TEXT, TEXT, max_size=2),
)
# Fragments only raw JSON can carry: numbers too long to convert, nesting past any bound,
# constants JSON does not have.
RAW = st.one_of(
    st.integers(min_value=20, max_value=3000).map(lambda n: "[" * n + "]" * n),
    st.integers(min_value=20, max_value=3000).map(lambda n: '{"a":' * n + "1" + "}" * n),
    st.integers(min_value=1, max_value=3000).map(lambda n: "[" * n),
    st.sampled_from(["1" * 5000, "1e999", "-1e-999", "NaN", "Infinity", "0x10", '"\\ud800"']),
)
# Bytes no UTF-8 decoder accepts: a stray continuation byte, a truncated sequence, an encoded
# surrogate (CESU-8), a code point above U+10FFFF, an overlong NUL.
BAD_UTF8 = st.sampled_from(
    [b"\xff", b"\x80", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\x80"]
)
CHARSET = st.sampled_from(["", "utf-8", "utf-7", "utf-16", "latin-1", "bogus", "base64"])

REPORT = {"service": "tiktok", "problem": "login", "country": "US"}
FIELDS = ["service", "problem", "country", "subdivision", "comment"]


@st.composite
def tampered_body(draw, base, fields):
    """A JSON body with one field tampered: a hostile value, a raw JSON fragment, invalid
    UTF-8 inside its string, or a hostile extra key. Returns (bytes, charset, name, how)."""
    field = draw(st.sampled_from(fields))
    how = draw(st.sampled_from(["value", "raw", "bytes", "key"]))
    body = dict(base)
    if how == "key":
        key = draw(TEXT.filter(lambda k: k not in base))
        body[key] = draw(VALUE)
        field = field_name(key)
    elif how == "value":
        body[field] = draw(VALUE)
    else:
        body[field] = "\x01placeholder\x01"
    # ensure_ascii: a surrogate goes as the escape a client would send, "\ud800".
    raw = json.dumps(body).encode()
    marker = json.dumps("\x01placeholder\x01").encode()
    if how == "raw":
        raw = raw.replace(marker, draw(RAW).encode())
    elif how == "bytes":
        raw = raw.replace(marker, b'"ok' + draw(BAD_UTF8) + b'ok"')
    return raw, draw(CHARSET), field, how


def content_type(charset):
    return "application/json" + (f"; charset={charset}" if charset else "")


def assert_named(r, name, how, charset):
    """No server error; a refusal in the error shape names what was tampered with."""
    assert r.status_code < 500, r.content[:500]
    if r.status_code < 400:
        return
    payload = r.json()
    assert {"error", "message"} <= set(payload), payload
    named = set(payload.get("fields", {}))
    expected = {name}
    if how in ("raw", "bytes") or charset not in ("", "utf-8"):
        # A body that could not be read at all names the body (or its Content-Type).
        expected |= {"body", "Content-Type"}
    assert named & expected, (name, payload)


@pytest.fixture
def fuzz_settings(settings):
    settings.RATE_LIMIT_REPORTS = 1_000_000
    settings.API_THROTTLE_ANON = "1000000/minute"
    settings.API_THROTTLE_TOKEN = "1000000/minute"


@FUZZ
@given(case=tampered_body(REPORT, FIELDS))
def test_a_single_report_never_fails_and_names_the_field(fuzz_settings, tiktok, case):
    raw, charset, field, how = case
    # generic(): post() would re-encode the bytes for the charset named.
    r = Client().generic("POST", "/api/v1/reports", raw, content_type=content_type(charset))
    assert_named(r, field, how, charset)


# A batch item's own fields; observed_at half an hour before the tests were collected.
BATCH_ITEM = {
    **REPORT,
    "client_id": "u1",
    "observed_at": (datetime.now(UTC) - timedelta(minutes=30)).isoformat(),
}


@FUZZ
@given(case=tampered_body(BATCH_ITEM, [*FIELDS, "client_id", "observed_at"]))
def test_a_batch_never_fails_and_names_the_item_field(fuzz_settings, tiktok, case):
    raw, charset, field, how = case
    item = raw.decode("latin-1")
    body = '{"reports": [' + json.dumps({**REPORT, "client_id": "u0"}) + ", " + item + "]}"
    partner = User.objects.get_or_create(username="fuzz-partner")[0]
    token = Token.objects.get_or_create(user=partner)[0]
    client = Client(headers={"authorization": f"Token {token.key}"})
    stored = Report.objects.count()
    r = client.generic(
        "POST", "/api/v1/reports/batch", body.encode("latin-1"), content_type=content_type(charset)
    )
    assert_named(r, f"reports[1].{field}", how, charset)
    if r.status_code >= 400:
        # All or nothing: the valid first item was not stored either.
        assert Report.objects.count() == stored


FORM_FIELDS = ["problem", "country", "subdivision", "comment", "website"]


@FUZZ
@given(
    field=st.sampled_from(FORM_FIELDS),
    value=st.one_of(TEXT, NEAR_VALID),
    bad_bytes=st.one_of(st.none(), BAD_UTF8),
)
def test_the_form_never_fails_and_names_the_field(fuzz_settings, tiktok, field, value, bad_bytes):
    data = {"problem": "login", "country": "US", field: value}
    # As a browser would send it; surrogatepass writes a lone surrogate as its (invalid)
    # UTF-8 bytes, and bad_bytes adds bytes no decoder accepts.
    body = urlencode({k: v.encode("utf-8", "surrogatepass") for k, v in data.items()})
    if bad_bytes is not None:
        body += f"&{field}=" + quote(bad_bytes)
    r = Client().post(
        "/tiktok/report", body.encode(), content_type="application/x-www-form-urlencoded"
    )
    assert r.status_code < 500
    if r.status_code == 400:
        assert field in r.context["form"].errors, r.context["form"].errors


# Every public read and its query parameters.
READS = {
    "/api/v1/services": ["category", "level", "q"],
    "/api/v1/services/tiktok/trend": [
        "range",
        "from",
        "to",
        "bucket",
        "country",
        "problem",
        "format",
    ],
    "/api/v1/services/tiktok/heatmap": ["window", "level", "country", "format"],
    "/api/v1/services/tiktok/problems": ["window"],
    "/api/v1/heatmap": ["window", "format"],
    "/api/v1/outages": [
        "service",
        "country",
        "status",
        "since",
        "until",
        "cursor",
        "limit",
        "format",
    ],
    "/api/v1/outages/open": ["format"],
    "/api/v1/regions/US/services": ["window"],
}
PARAMETERS = [(path, name) for path, names in READS.items() for name in names]
# A pagination cursor is base64 of "o=<offset>&r=<reverse>&p=<position>": crafted ones.
CURSOR = st.builds(
    lambda query: base64.b64encode(query.encode("utf-8", "surrogatepass")).decode(),
    st.one_of(
        st.builds(
            "p={}".format,
            st.one_of(TEXT, st.sampled_from(["2024-01-01", "9999-12-31 23:59:59-23:59"])),
        ),
        st.builds("o={}&p=2024-01-01 00:00:00+00:00".format, HUGE),
    ),
)
QUERY_VALUE = st.one_of(
    TEXT,
    NEAR_VALID,
    HUGE.map(str),
    st.sampled_from(
        ["+2AA-", "a+2AA-", "1" * 5000, "9" * 30, "-1", "1e999", "99999-01-01T00:00Z", "0000-00-00"]
    ),
    RAW,
    CURSOR,
)


@FUZZ
@given(
    target=st.sampled_from(PARAMETERS),
    value=QUERY_VALUE,
    charset=st.sampled_from(["", "utf-7", "latin-1"]),
)
def test_the_read_api_never_fails_and_names_the_parameter(
    fuzz_settings, gmail, target, value, charset
):
    path, name = target
    # Percent-encoded as UTF-8 (a lone surrogate as its invalid bytes); a Content-Type
    # charset makes Django decode the query string with it (UTF-7: "+2AA-" is a surrogate).
    query = f"{name}=" + quote(value.encode("utf-8", "surrogatepass"))
    headers = {"content-type": f"text/plain; charset={charset}"} if charset else {}
    r = Client().get(f"{path}?{query}", headers=headers)
    assert r.status_code < 500, r.content[:500]
    if r.status_code >= 400:
        assert name in r.json()["fields"], (name, r.json())


@FUZZ
@given(segment=st.one_of(TEXT, NEAR_VALID, HUGE.map(str), st.just("9" * 40)))
def test_path_parameters_never_fail(fuzz_settings, gmail, segment):
    part = quote(segment.encode("utf-8", "surrogatepass"), safe="")
    for path in [
        f"/api/v1/services/{part}",
        f"/api/v1/services/{part}/trend",
        f"/api/v1/outages/{part}",
        f"/api/v1/regions/{part}/services",
        f"/{part}/report",
    ]:
        r = Client().get(path)
        assert r.status_code < 500, (path, r.content[:500])
        if r.status_code == 400:
            assert "country" in r.json()["fields"], (path, r.json())
