"""What the external audits check that the server alone decides: compression without a
secret, robots.txt and the sitemap, a description on every page, the API reference."""

import gzip

import pytest

pytestmark = pytest.mark.django_db

PAGES = ["/", "/tiktok/", "/map/", "/region/BR/", "/tiktok/report", "/api/v1/docs"]


def test_pages_and_api_json_are_gzipped(client, data):
    for path in ["/", "/tiktok/", "/api/v1/services", "/api/v1/schema"]:
        r = client.get(path, HTTP_ACCEPT_ENCODING="gzip")
        assert r.status_code == 200, path
        assert r["Content-Encoding"] == "gzip", path
        assert "Accept-Encoding" in r["Vary"], path
        assert len(gzip.decompress(r.content)) > len(r.content), path


def test_nothing_with_a_csrf_token_or_a_session_is_compressed(client, data, admin_user):
    # BREACH: a secret in a compressed response that also reflects input leaks by its size.
    form = client.get("/tiktok/report?country=BR", HTTP_ACCEPT_ENCODING="gzip")
    assert b"csrfmiddlewaretoken" in form.content
    assert not form.has_header("Content-Encoding")
    client.force_login(admin_user)
    home = client.get("/", HTTP_ACCEPT_ENCODING="gzip")
    assert not home.has_header("Content-Encoding")


def test_robots_txt_names_the_sitemap(client, data):
    r = client.get("/robots.txt")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/plain")
    text = r.content.decode()
    assert "User-agent: *" in text and "Disallow: /api/" in text
    assert "Sitemap: http://testserver/sitemap.xml" in text


def test_the_sitemap_lists_services_and_regions(client, data):
    r = client.get("/sitemap.xml")
    assert r.status_code == 200
    body = r.content.decode()
    for loc in ["/", "/map/", "/tiktok/", "/gmail/", "/region/BR/", "/region/US/"]:
        assert f"<loc>http://testserver{loc}</loc>" in body, loc


@pytest.mark.parametrize("path", PAGES)
def test_every_page_has_a_description(client, data, path):
    body = client.get(path).content.decode()
    start = body.index('<meta name="description" content="') + len('<meta name="description" ')
    assert len(body[start : body.index(">", start)]) > 60, path


def test_the_api_reference_lists_every_operation_and_schema(client, api, data):
    schema = api.get("/api/v1/schema", HTTP_ACCEPT="application/json").json()
    page = client.get("/api/v1/docs").content.decode()
    assert '<html lang="en">' in page and "<main" in page
    for path, item in schema["paths"].items():
        for method, op in item.items():
            assert f'id="{op["operationId"]}"' in page, (method, path)
    for name in schema["components"]["schemas"]:
        assert f'id="schema-{name}"' in page, name
    assert "swagger-ui" in client.get("/api/v1/swagger").content.decode()
