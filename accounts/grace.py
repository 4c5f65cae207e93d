"""The refresh grace window: a retry of the token just rotated gets the same answer again.

A client whose refresh response was lost retries with the token it still has. Within
REFRESH_GRACE_SECONDS, and only while the pair it was given has not been used, it receives
that pair again instead of having its session revoked as a replay. The pair is kept on the
session's row (`AuthSession.grace_answer`, written by the rotation's own UPDATE), encrypted
with a key derived from the old refresh token itself, so neither a database dump nor anyone
without that token can read it; the encryption's timestamp bounds the window.

Holding the old token is not enough, though: a thief with a copy holds it too. The answer is
sealed with the client that rotated (its IP address and user agent), and only that client
gets it again (accounts.services decides, and allows it once).
"""

import base64
import hashlib
import hmac
import json
import time

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

# The window's clock (seconds since the epoch), replaceable in tests as DRF's throttles' timer is.
clock = time.time


def _cipher(raw_refresh: str) -> Fernet:
    digest = hmac.new(settings.SECRET_KEY.encode(), raw_refresh.encode(), hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(
    *,
    raw_refresh: str,
    jti: str,
    access: str,
    refresh: str,
    refresh_jti: str,
    ip_address: str | None,
    user_agent: str,
) -> str:
    """The answer to the rotation of `raw_refresh` (token `jti`) and who got it, encrypted with
    that token; empty when the window is off."""
    if settings.REFRESH_GRACE_SECONDS <= 0:
        return ""
    payload = json.dumps(
        {"for": jti, "access": access, "refresh": refresh, "jti": refresh_jti, "ip": ip_address, "ua": user_agent}
    ).encode()
    return _cipher(raw_refresh).encrypt_at_time(payload, int(clock())).decode()


def recall(sealed: str, *, raw_refresh: str, jti: str) -> dict | None:
    """The answer sealed for the rotation of `raw_refresh`, or None: none sealed, sealed for
    another token (a later rotation replaced it), or the window has passed."""
    if not sealed or settings.REFRESH_GRACE_SECONDS <= 0:
        return None
    try:
        answer = json.loads(
            _cipher(raw_refresh).decrypt_at_time(sealed.encode(), settings.REFRESH_GRACE_SECONDS, int(clock()))
        )
    except InvalidToken:
        return None
    return answer if answer.get("for") == jti else None


def same_client(remembered: dict, *, ip_address: str | None, user_agent: str) -> bool:
    """Whether a retry comes from the client the remembered answer was given to.

    Both must match: the address is what a thief elsewhere cannot choose, the user agent tells
    apart clients behind one NAT. A genuine client whose address changed within the window
    is refused: it signs in again, which is safe, where the opposite mistake hands a thief a
    live pair.
    """
    return remembered.get("ip") == ip_address and remembered.get("ua") == user_agent
