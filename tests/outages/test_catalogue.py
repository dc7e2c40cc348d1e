import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from outages.catalogue import CATALOGUE
from outages.models import PROBLEM_LABELS, Category, Service
from outages.services import service_upsert


def test_the_seed_covers_every_category_with_real_services():
    assert len(CATALOGUE) >= 40
    assert {e.category for e in CATALOGUE} == set(Category.values)
    assert len({e.slug for e in CATALOGUE}) == len(CATALOGUE)
    for entry in CATALOGUE:
        assert entry.home_url.startswith("https://")
        assert set(entry.problems) <= set(PROBLEM_LABELS)
        assert len(set(entry.problems)) == len(entry.problems)


@pytest.mark.django_db
def test_seed_services_is_idempotent():
    call_command("seed_services")
    call_command("seed_services")
    assert Service.objects.count() == len(CATALOGUE)
    tiktok = Service.objects.get(slug="tiktok")
    assert tiktok.problems[:2] == ["playback", "upload"]


@pytest.mark.django_db
def test_a_service_must_offer_known_problems():
    with pytest.raises(ValidationError):
        service_upsert(
            slug="x", name="X", category="social", home_url="https://x.com", problems=["teleport"]
        )
    assert not Service.objects.filter(slug="x").exists()


@pytest.mark.django_db
def test_create_api_token_prints_a_working_token(capsys, tiktok):
    import json

    from rest_framework.test import APIClient

    call_command("create_api_token", "acme")
    key = capsys.readouterr().out.strip()
    call_command("create_api_token", "acme")
    assert capsys.readouterr().out.strip() == key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    r = client.post(
        "/api/v1/reports/batch",
        data=json.dumps({"reports": [{"service": "tiktok", "problem": "login", "country": "US"}]}),
        content_type="application/json",
    )
    assert r.status_code == 201
