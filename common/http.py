import ipaddress
import socket

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


def non_public_address(host: str, port: int) -> str | None:
    """Why a connection to `host` must not be made (it does not resolve, or resolves to any
    address outside the public internet), or None: outgoing requests to addresses a client
    chose (webhooks, push endpoints) and to upstreams (status pages) must not reach us."""
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        return f"could not resolve {host}: {exc}"
    for info in infos:
        if not ipaddress.ip_address(info[4][0]).is_global:
            return f"refused: {host} resolves to a non-public address"
    return None
