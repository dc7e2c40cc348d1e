import re
from urllib.parse import urlsplit

from tests.mail import body_of

LINK = re.compile(r"http://testserver(/alerts/(?:confirm|unsubscribe)/[^/\s]+/)")


def sign_up(client, service, **fields):
    form = {"email": "ana@example.com", "country": "", "events": ["opened", "resolved"]}
    form |= fields
    return client.post(f"/{service.slug}/alerts/", form)


def link_in(message) -> str:
    match = LINK.search(body_of(message))
    assert match, body_of(message)
    return match.group(1)


def unsubscribe_path(message) -> str:
    # A long header is folded onto its own line; unfolded, it keeps a leading space.
    header = str(message["List-Unsubscribe"]).strip()
    assert header.startswith("<") and header.endswith(">"), header
    return urlsplit(header[1:-1]).path
