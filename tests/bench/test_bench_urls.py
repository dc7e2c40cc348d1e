"""The benches serve the product under bench.urls with the bare reference views beside it."""

import pytest
from django.test import override_settings


@pytest.mark.django_db
@override_settings(ROOT_URLCONF="bench.urls")
def test_the_bench_root_serves_the_bare_views_and_the_product(client):
    assert client.post("/bench/bare").json() == {"ok": True}
    assert client.get("/bench/bare-drf").json() == {"ok": True}
    assert client.get("/healthz").status_code == 200
    assert client.get("/es/no-such-service/").status_code == 404  # the language prefix
    assert client.get("/api/v1/services").status_code == 200
