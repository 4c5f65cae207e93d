"""The links account mail carries: signed, expiring, bound to the account's state, stored nowhere.

A link's token is `django.core.signing` over {user id, purpose-specific data, binding}, salted per
purpose so a token made for one purpose is refused by the others, with its age checked against the
purpose's timeout. The binding is an HMAC (SECRET_KEY) of the account state the link must die
with: the password hash and last sign-in for a reset, the email and verification flag for a
verification, the email and password for an email change. Using a link changes that state, so a
link works once without any record of it; a password change, a sign-in or a deactivation ends the
links it should. Nothing is stored: there is no token table to leak, and asking for a link writes
nothing but its audit event (so asking about an unknown email does the same database work).
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing
from django.utils.crypto import constant_time_compare, salted_hmac

from accounts.models import User


@dataclass(frozen=True)
class Purpose:
    salt: str
    timeout_setting: str  # Seconds, read at use: tests and operators may change it.
    state: Callable[[User], str]  # What the link dies with.

    @property
    def max_age(self) -> int:
        return getattr(settings, self.timeout_setting)


def _login_stamp(user: User) -> str:
    return "" if user.last_login is None else user.last_login.replace(microsecond=0, tzinfo=None).isoformat()


PASSWORD_RESET = Purpose(
    "accounts.links.password_reset",
    "PASSWORD_RESET_TIMEOUT",
    lambda user: f"{user.password}|{_login_stamp(user)}|{user.email}|{user.is_active}",
)
EMAIL_VERIFICATION = Purpose(
    "accounts.links.email_verification",
    "EMAIL_CONFIRMATION_TIMEOUT",
    lambda user: f"{user.email}|{user.email_verified}|{user.is_active}",
)
EMAIL_CHANGE = Purpose(
    "accounts.links.email_change",
    "EMAIL_CONFIRMATION_TIMEOUT",
    lambda user: f"{user.email}|{user.password}|{user.is_active}",
)


@dataclass(frozen=True)
class Link:
    """A token's content once its signature and age are checked; `matches` checks the binding."""

    purpose: Purpose
    user_id: uuid.UUID
    binding: str
    data: dict[str, Any]

    def matches(self, user: User) -> bool:
        """Whether the account is still in the state the link was made for (any current or fallback key)."""
        state = self.purpose.state(user)
        return any(
            constant_time_compare(self.binding, _binding(self.purpose, state, secret))
            for secret in (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS)
        )


class LinkRefused(Exception):
    """Not a token of ours for this purpose, or too old."""


def _binding(purpose: Purpose, state: str, secret: str) -> str:
    return salted_hmac(purpose.salt, state, secret=secret, algorithm="sha256").hexdigest()[:32]


def make(purpose: Purpose, user: User, **data: str) -> str:
    """A token for `user`, carrying `data` (readable by whoever holds it: never a secret)."""
    payload = {"u": str(user.pk), "b": _binding(purpose, purpose.state(user), settings.SECRET_KEY), "d": data}
    return signing.dumps(payload, salt=purpose.salt, compress=True)


def read(purpose: Purpose, token: str) -> Link:
    """The link a token stands for; LinkRefused if forged, for another purpose, or expired."""
    try:
        payload = signing.loads(token, salt=purpose.salt, max_age=purpose.max_age)
        link = Link(purpose, uuid.UUID(payload["u"]), str(payload["b"]), dict(payload["d"]))
    except (signing.BadSignature, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise LinkRefused from exc
    return link


def url(path: str, token: str) -> str:
    """The page of the client app (FRONTEND_URL) that opens this link. The token is in the
    fragment, which browsers never send to a server nor put in a Referer header."""
    return f"{settings.FRONTEND_URL}/{path}#token={token}"
