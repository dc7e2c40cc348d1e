import ipaddress
import socket
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    return client_ip_from(request.META)


def client_ip_from(meta: Mapping[str, Any]) -> str:
    """The client's address from a request's META (a WSGI environ)."""
    # Only trust X-Forwarded-For hops added by our own proxies; the rest is client-controlled.
    hops = settings.TRUSTED_PROXY_COUNT
    forwarded = meta.get("HTTP_X_FORWARDED_FOR", "")
    if hops and forwarded:
        parts = [p.strip() for p in forwarded.split(",") if p.strip()]
        if len(parts) >= hops:
            return parts[-hops]
    return str(meta.get("REMOTE_ADDR", ""))


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
