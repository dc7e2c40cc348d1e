from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    # Only trust X-Forwarded-For hops added by our own proxies; the rest is client-controlled.
    hops = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if hops and forwarded:
        parts = [p.strip() for p in forwarded.split(",") if p.strip()]
        if len(parts) >= hops:
            return parts[-hops]
    return str(request.META.get("REMOTE_ADDR", ""))
