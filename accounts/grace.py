"""The refresh grace window: a retry of the token just rotated gets the same answer again.

A client whose refresh response was lost retries with the token it still has. Within
REFRESH_GRACE_SECONDS, and only while the pair it was given has not been used, it receives
that pair again instead of having its session revoked as a replay. The pair is kept in the
shared cache, encrypted with a key derived from the old refresh token itself, so neither a
cache dump nor anyone without that token can read it.

Holding the old token is not enough, though: a thief with a copy holds it too. The answer is
remembered with the client that rotated (its IP address and user agent), and only that client
gets it again (accounts.services decides, and allows it once).
"""

import base64
import contextlib
import hashlib
import hmac
import json

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.cache import cache

from project.breaker import StoreUnavailable, cache_breaker


def _cache_key(jti: str) -> str:
    return f"refresh-grace:{jti}"


def _cipher(raw_refresh: str) -> Fernet:
    digest = hmac.new(settings.SECRET_KEY.encode(), raw_refresh.encode(), hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def remember(
    *,
    raw_refresh: str,
    jti: str,
    access: str,
    refresh: str,
    refresh_jti: str,
    ip_address: str | None,
    user_agent: str,
) -> None:
    """Keep the answer to the rotation of `raw_refresh`, and who got it, for the grace window."""
    seconds = settings.REFRESH_GRACE_SECONDS
    if seconds <= 0:
        return
    payload = json.dumps(
        {"access": access, "refresh": refresh, "jti": refresh_jti, "ip": ip_address, "ua": user_agent}
    ).encode()
    token = _cipher(raw_refresh).encrypt(payload)
    # An optimisation only: without the cache a retry is a replay. The breaker logs the outage.
    with contextlib.suppress(StoreUnavailable):
        cache_breaker.call(lambda: cache.set(_cache_key(jti), token, timeout=seconds))


def forget(*, jti: str) -> None:
    """Drop a remembered answer (its rotation did not commit)."""
    # Harmless if it stays: its pair was never recorded, so it is never handed out.
    with contextlib.suppress(StoreUnavailable):
        cache_breaker.call(lambda: cache.delete(_cache_key(jti)))


def recall(*, raw_refresh: str, jti: str) -> dict | None:
    """The remembered answer for `raw_refresh`, or None once the window has passed."""
    if settings.REFRESH_GRACE_SECONDS <= 0:
        return None
    try:
        blob = cache_breaker.call(lambda: cache.get(_cache_key(jti)))
    except StoreUnavailable:
        return None
    if blob is None:
        return None
    try:
        return json.loads(_cipher(raw_refresh).decrypt(blob, ttl=settings.REFRESH_GRACE_SECONDS))
    except InvalidToken:
        return None


def same_client(remembered: dict, *, ip_address: str | None, user_agent: str) -> bool:
    """Whether a retry comes from the client the remembered answer was given to.

    Both must match: the address is what a thief elsewhere cannot choose, the user agent tells
    apart clients behind one NAT. A genuine client whose address changed within the window
    is refused: it signs in again, which is safe, where the opposite mistake hands a thief a
    live pair.
    """
    return remembered.get("ip") == ip_address and remembered.get("ua") == user_agent
