"""Signed links. A confirmation link carries the whole sign-up (address, service, place,
events, language), signed and dated, so that nothing is stored until it is used; an
unsubscribe link carries the alert's id, signed, and does not expire."""

from dataclasses import dataclass

from django.conf import settings
from django.core import signing

CONFIRM_SALT = "alerts.confirm"
UNSUBSCRIBE_SALT = "alerts.unsubscribe"


@dataclass(frozen=True, slots=True)
class SignUp:
    email: str
    service_id: int
    country: str
    on_open: bool
    on_resolve: bool
    language: str


class TokenInvalid(Exception):
    pass


def confirm_token(signup: SignUp) -> str:
    return signing.dumps(
        {
            "e": signup.email,
            "s": signup.service_id,
            "c": signup.country,
            "o": signup.on_open,
            "r": signup.on_resolve,
            "l": signup.language,
        },
        salt=CONFIRM_SALT,
        compress=True,
    )


def confirm_token_read(token: str) -> SignUp:
    try:
        data = signing.loads(token, salt=CONFIRM_SALT, max_age=settings.ALERT_CONFIRM_MAX_AGE)
        return SignUp(
            email=str(data["e"]),
            service_id=int(data["s"]),
            country=str(data["c"]),
            on_open=bool(data["o"]),
            on_resolve=bool(data["r"]),
            language=str(data["l"]),
        )
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        # SignatureExpired is a BadSignature: an old link is as unusable as a forged one.
        raise TokenInvalid() from None


def unsubscribe_token(alert_id: int) -> str:
    return signing.dumps(alert_id, salt=UNSUBSCRIBE_SALT)


def unsubscribe_token_read(token: str) -> int:
    try:
        return int(signing.loads(token, salt=UNSUBSCRIBE_SALT))
    except (signing.BadSignature, TypeError, ValueError):
        raise TokenInvalid() from None
