"""What the external audits check that the server alone decides: compression without a
secret, robots.txt and the sitemap, a description on every page, the API reference."""

import gzip

import pytest

pytestmark = pytest.mark.django_db

PAGES = [
    "/",
    "/tiktok/",
    "/map/",
    "/region/BR/",
    "/tiktok/report",
    "/api/v1/docs",
    "/api/v1/docs/services",
]


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
    index = client.get("/api/v1/docs").content.decode()
    assert '<html lang="en">' in index and "<main" in index
    tags = {op["tags"][0] for item in schema["paths"].values() for op in item.values()}
    pages = {}
    for tag in tags:
        assert f'href="/api/v1/docs/{tag}"' in index, tag
        r = client.get(f"/api/v1/docs/{tag}")
        assert r.status_code == 200, tag
        pages[tag] = r.content.decode()
    for path, item in schema["paths"].items():
        for method, op in item.items():
            tag_page = pages[op["tags"][0]]
            # On its tag's page in full, and in the index as a line linking there (where the
            # one-page reference's deep links, /api/v1/docs#<operation>, now land).
            assert f'<h2 id="{op["operationId"]}">' in tag_page, (method, path)
            link = f'href="/api/v1/docs/{op["tags"][0]}#{op["operationId"]}"'
            assert link in index, (method, path)
    for name in schema["components"]["schemas"]:
        assert f'id="schema-{name}"' in index, name
        home = index.split(f'id="schema-{name}"')[0].rsplit('href="', 1)[1].split("#")[0]
        assert f'<h3 id="schema-{name}">' in pages[home.rsplit("/", 1)[1]], name
    assert "swagger-ui" in client.get("/api/v1/swagger").content.decode()


def test_a_tag_page_has_every_schema_its_operations_use(client):
    page = client.get("/api/v1/docs/outages").content.decode()
    # Directly (the detail's output), and through another schema (its series' buckets).
    for name in ("OutageDetail", "OutageSeries", "Bucket"):
        assert f'<h3 id="schema-{name}">' in page, name
    # and no other tag's alone
    assert 'id="schema-SubscriptionOutput"' not in page
    hrefs = {h.split('"')[0] for h in page.split('href="#schema-')[1:]}
    assert {h for h in hrefs if f'id="schema-{h}"' not in page} == set()


def test_the_reference_pages_are_cached_and_an_unknown_tag_is_404(client):
    r = client.get("/api/v1/docs/services", HTTP_ACCEPT_ENCODING="gzip")
    assert r["Content-Encoding"] == "gzip" and r.has_header("ETag")
    assert r["Cache-Control"].startswith("public")
    again = client.get("/api/v1/docs/services", HTTP_IF_NONE_MATCH=r["ETag"].replace("-gzip", ""))
    assert again.status_code == 304
    assert client.get("/api/v1/docs/nope").status_code == 404


def test_each_reference_page_is_small_enough_for_a_phone(client):
    # The one-page reference was 168 kB of HTML; the largest tag page is a third of it.
    for path in ["/api/v1/docs", "/api/v1/docs/services", "/api/v1/docs/subscriptions"]:
        assert len(client.get(path).content) < 100_000, path


def test_the_sitemap_lists_the_reference_pages(client, data):
    body = client.get("/sitemap.xml").content.decode()
    for loc in ["/api/v1/docs", "/api/v1/docs/services", "/api/v1/docs/outages"]:
        assert f"<loc>http://testserver{loc}</loc>" in body, loc
