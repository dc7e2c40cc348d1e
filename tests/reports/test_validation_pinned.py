"""clean_report pinned: exact messages, exact boundaries and the normalisation of each field,
with the expected values written out (not taken from the module's constants)."""

import pytest

from outages.selectors import ServiceInfo
from reports.validation import CleanReport, clean_report

SERVICES = {
    "tiktok": ServiceInfo(7, "tiktok", "TikTok", ("playback", "upload", "login")),
}


def ok(**fields: object) -> dict[str, object]:
    return {"service": "tiktok", "problem": "login", "country": "US", **fields}


def test_a_clean_report_carries_every_field() -> None:
    report, errors = clean_report(ok(subdivision="US-CA", comment="down"), SERVICES)
    assert errors == {}
    assert report == CleanReport(7, "login", "US", "US-CA", "down")


def test_not_an_object() -> None:
    assert clean_report(["service"], SERVICES) == (
        None,
        {"non_field_errors": ["Expected a JSON object."]},
    )


def test_unknown_fields_are_named_and_extra_fields_admitted() -> None:
    report, errors = clean_report(ok(colour="red", client_id="x"), SERVICES)
    assert report is None
    assert errors == {"colour": ["Unknown field."], "client_id": ["Unknown field."]}
    report, errors = clean_report(ok(client_id="x"), SERVICES, extra_fields=("client_id",))
    assert errors == {}
    assert report == CleanReport(7, "login", "US", "", "")


@pytest.mark.parametrize("empty", [None, ""])
def test_required_fields_empty_or_missing(empty: object) -> None:
    data = {"service": empty, "problem": empty, "country": empty, "subdivision": empty}
    assert clean_report(data, SERVICES) == (
        None,
        {
            "service": ["This field is required."],
            "problem": ["This field is required."],
            "country": ["This field is required."],
        },
    )


def test_optional_fields_may_be_empty() -> None:
    report, errors = clean_report(ok(subdivision="", comment=""), SERVICES)
    assert errors == {}
    assert report == CleanReport(7, "login", "US", "", "")


def test_non_strings_are_refused_per_field() -> None:
    data = {"service": 1, "problem": ["login"], "country": 2.0, "subdivision": {}, "comment": 5}
    assert clean_report(data, SERVICES) == (
        None,
        {key: ["Must be a string."] for key in data},
    )


def test_unstorable_text_is_refused_before_the_lookups() -> None:
    report, errors = clean_report(ok(service="tik\x00tok", comment="a\x00b"), SERVICES)
    assert report is None
    assert errors == {
        "service": ["Null characters are not allowed."],
        "comment": ["Null characters are not allowed."],
    }


def test_comment_of_exactly_280_characters_passes_and_281_fails() -> None:
    report, errors = clean_report(ok(comment="x" * 280), SERVICES)
    assert errors == {}
    assert report is not None and len(report.comment) == 280
    report, errors = clean_report(ok(comment="x" * 281), SERVICES)
    assert report is None
    assert errors == {"comment": ["At most 280 characters (got 281)."]}


def test_comment_length_counts_the_padding_and_the_comment_is_stored_stripped() -> None:
    report, errors = clean_report(ok(comment="  slow  "), SERVICES)
    assert errors == {} and report is not None
    assert report.comment == "slow"
    # 279 characters and two spaces: the raw length is what the schema's maxLength counts.
    report, errors = clean_report(ok(comment=" " + "x" * 279 + " "), SERVICES)
    assert report is None
    assert errors == {"comment": ["At most 280 characters (got 281)."]}


def test_mixed_case_codes_are_normalised() -> None:
    report, errors = clean_report(
        {"service": "TikTok", "problem": "LOGIN", "country": "us", "subdivision": "us-ca"},
        SERVICES,
    )
    assert errors == {}
    assert report == CleanReport(7, "login", "US", "US-CA", "")


def test_a_bare_subdivision_is_read_in_the_country() -> None:
    report, errors = clean_report(ok(subdivision="ca"), SERVICES)
    assert errors == {}
    assert report == CleanReport(7, "login", "US", "US-CA", "")


@pytest.mark.parametrize("field", ["service", "problem", "country", "subdivision"])
def test_padded_codes_are_not_trimmed(field: str) -> None:
    value = {"service": "tiktok", "problem": "login", "country": "US", "subdivision": "US-CA"}
    report, errors = clean_report(ok(**{field: f" {value[field]} "}), SERVICES)
    assert report is None
    assert list(errors) == [field]


def test_unknown_service_is_quoted_to_64_characters() -> None:
    name = "n" * 70
    assert clean_report(ok(service=name), SERVICES) == (
        None,
        {"service": [f"Unknown service '{'n' * 64}'."]},
    )


def test_problem_not_offered_by_the_service_lists_the_offer() -> None:
    assert clean_report(ok(problem="Email"), SERVICES) == (
        None,
        {
            "problem": [
                "'email' is not a problem type offered by TikTok; "
                "choose one of: playback, upload, login."
            ]
        },
    )


def test_problem_quoted_to_32_characters() -> None:
    problem = "p" * 40
    _, errors = clean_report(ok(problem=problem), SERVICES)
    assert errors["problem"][0].startswith(f"'{'p' * 32}' is not")


def test_with_an_unknown_service_the_problem_is_checked_against_every_type() -> None:
    # "email" is a known problem type (no error of its own); "nosuch" is not.
    assert clean_report(ok(service="nope", problem="email"), SERVICES) == (
        None,
        {"service": ["Unknown service 'nope'."]},
    )
    assert clean_report(ok(service="nope", problem="NoSuch" + "x" * 40), SERVICES) == (
        None,
        {
            "service": ["Unknown service 'nope'."],
            "problem": [f"Unknown problem type '{('nosuch' + 'x' * 40)[:32]}'."],
        },
    )


def test_unknown_country_is_quoted_to_8_characters() -> None:
    assert clean_report(ok(country="zzzzzzzzzz"), SERVICES) == (
        None,
        {"country": ["Unknown country code 'ZZZZZZZZ' (ISO 3166-1 alpha-2 expected)."]},
    )


def test_unknown_subdivision_is_quoted_to_12_characters() -> None:
    assert clean_report(ok(subdivision="US-ZZZZZZZZZZZZ"), SERVICES) == (
        None,
        {"subdivision": ["Unknown subdivision 'US-ZZZZZZZZZ' (ISO 3166-2 expected, e.g. US-CA)."]},
    )


def test_subdivision_of_another_country() -> None:
    assert clean_report(ok(subdivision="FR-75C"), SERVICES) == (
        None,
        {"subdivision": ["Subdivision 'FR-75C' is not in country 'US'."]},
    )


def test_bare_subdivision_without_a_country_is_unknown() -> None:
    # No country to prefix it with: "CA" alone is no ISO 3166-2 code.
    report, errors = clean_report(ok(country="", subdivision="CA"), SERVICES)
    assert report is None
    assert errors == {
        "country": ["This field is required."],
        "subdivision": ["Unknown subdivision 'CA' (ISO 3166-2 expected, e.g. US-CA)."],
    }


def test_full_subdivision_without_a_country_is_not_compared() -> None:
    report, errors = clean_report(ok(country="", subdivision="US-CA"), SERVICES)
    assert report is None
    assert errors == {"country": ["This field is required."]}


# ------------------------------------------------------------------ "it works again for me"


def test_a_recovery_of_a_service_without_an_other_problem_is_clean() -> None:
    from reports.validation import CleanRecovery, clean_recovery

    # TikTok here offers no "other": a recovery is judged on its service, not on a problem.
    got = clean_recovery({"service": "TikTok", "country": "br", "subdivision": "BR-SP"}, SERVICES)
    assert got == (CleanRecovery(7, "BR", "BR-SP"), {})


def test_a_recovery_names_its_wrong_shapes_in_the_reports_words() -> None:
    from reports.validation import clean_recovery

    assert clean_recovery(["service"], SERVICES) == (
        None,
        {"non_field_errors": ["Expected a JSON object."]},
    )
    assert clean_recovery({"service": "tiktok", "country": "BR", "problem": "x"}, SERVICES) == (
        None,
        {"problem": ["Unknown field."]},
    )


def test_an_observed_at_is_returned_in_utc_whatever_the_local_zone(monkeypatch) -> None:
    import time
    from datetime import UTC, datetime, timedelta

    from reports.validation import clean_observed_at

    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    monkeypatch.setenv("TZ", "Asia/Kolkata")  # +05:30: the process's local zone
    time.tzset()
    try:
        at, error = clean_observed_at("2026-03-02T13:30:00+02:00", now=now)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert error is None and at == now - timedelta(minutes=30)
    assert at.tzinfo is UTC
