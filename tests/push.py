"""A local push service: an HTTP server on 127.0.0.1 that takes the encrypted POSTs of Web
Push, checks their VAPID Authorization (RFC 8292) against the application server's public
key, decrypts them as the browser would (RFC 8291, with a subscriber key pair made here), and
answers with queued status codes (then 201)."""

import base64
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from py_vapid import Vapid


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def vapid_private_key() -> str:
    """A fresh application server key, as VAPID_PRIVATE_KEY holds it."""
    key = Vapid()
    key.generate_keys()
    return b64url(key.private_key.private_numbers().private_value.to_bytes(32, "big"))


def vapid_problem(authorization: str, *, public_key: str, audience: str) -> str | None:
    """What is wrong with a `vapid t=<JWT>, k=<key>` header, or None."""
    if not authorization.startswith("vapid "):
        return "not a vapid scheme"
    params = dict(part.strip().split("=", 1) for part in authorization[len("vapid ") :].split(","))
    if params.get("k") != public_key:
        return "k is not the application server's key"
    header, claims, signature = params["t"].split(".")
    raw = unb64url(signature)
    if len(raw) != 64:
        return "signature is not a raw ES256 signature"
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(public_key))
    try:
        key.verify(
            encode_dss_signature(int.from_bytes(raw[:32]), int.from_bytes(raw[32:])),
            f"{header}.{claims}".encode(),
            ec.ECDSA(hashes.SHA256()),
        )
    except InvalidSignature:
        return "bad signature"
    if json.loads(unb64url(header)) != {"typ": "JWT", "alg": "ES256"}:
        return "bad JWT header"
    body = json.loads(unb64url(claims))
    if body.get("aud") != audience:
        return f"aud is {body.get('aud')!r}"
    if not time.time() < body.get("exp", 0) <= time.time() + 24 * 3600:
        return "exp is not within 24 hours"
    if not str(body.get("sub", "")).startswith(("mailto:", "https:")):
        return "no sub"
    return None


class PushService:
    def __init__(self, public_key: str) -> None:
        self.public_key = public_key
        self.received: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        self.arrived = threading.Condition()
        # The browser's side of one subscription.
        self.browser_key = ec.generate_private_key(ec.SECP256R1())
        self.auth_secret = os.urandom(16)
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers["Content-Length"]))
                problem = vapid_problem(
                    self.headers.get("Authorization", ""),
                    public_key=service.public_key,
                    audience=service.origin,
                )
                status = service.statuses.pop(0) if service.statuses else 201
                if problem:
                    status = 401
                entry: dict[str, Any] = {
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "vapid_problem": problem,
                    "status": status,
                }
                if not problem and self.headers.get("Content-Encoding") == "aes128gcm":
                    entry["payload"] = json.loads(
                        http_ece.decrypt(
                            body,
                            private_key=service.browser_key,
                            auth_secret=service.auth_secret,
                            version="aes128gcm",
                        )
                    )
                with service.arrived:
                    service.received.append(entry)
                    service.arrived.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def subscription(self, name: str = "device-1") -> dict[str, Any]:
        """What the browser's PushSubscription.toJSON() gives the page."""
        public = self.browser_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": f"{self.origin}/push/{name}",
            "expirationTime": None,
            "keys": {"p256dh": b64url(public), "auth": b64url(self.auth_secret)},
        }

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
