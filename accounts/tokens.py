"""Token types: simplejwt's access/refresh pair, bound to a sign-in session by the `sid` claim,
signed and verified with the key ring (accounts.keys) through a simplejwt token backend."""

import functools
from typing import Any

import jwt
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.translation import gettext_lazy as _
from jwt import ExpiredSignatureError, InvalidTokenError, PyJWK
from rest_framework_simplejwt import settings as simplejwt_settings
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.exceptions import TokenBackendError, TokenBackendExpiredToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken, UntypedToken

from accounts import keys

SESSION_CLAIM = "sid"
# The only header parameters we ever write. Anything else (jku, x5u, jwk, x5c, crit, b64...) is a
# token we did not issue: refused before any key is looked at, and never followed.
TOKEN_HEADERS = frozenset({"alg", "typ", "kid"})
REQUIRED_CLAIMS = ["exp", "iat", "jti"]


class KeyRingBackend(TokenBackend):
    """simplejwt's backend with keys from the ring: signs with the signer and names it in `kid`;
    verifies with the key that `kid` names, in that key's own algorithm and no other."""

    def __init__(self) -> None:
        jwt_settings = simplejwt_settings.api_settings  # Looked up now: tests may override SIMPLE_JWT.
        super().__init__(
            settings.JWT_ALGORITHM,
            audience=jwt_settings.AUDIENCE,
            issuer=jwt_settings.ISSUER,
            leeway=jwt_settings.LEEWAY,
            json_encoder=jwt_settings.JSON_ENCODER,
        )

    def encode(self, payload: dict[str, Any]) -> str:
        signer = keys.key_ring_store().current().signer
        claims = payload.copy()
        if self.audience is not None:
            claims["aud"] = self.audience
        if self.issuer is not None:
            claims["iss"] = self.issuer
        return jwt.encode(
            claims,
            signer.signing_key,
            algorithm=signer.algorithm,
            headers={"kid": signer.kid},
            json_encoder=self.json_encoder,
        )

    def get_verifying_key(self, token: str | bytes) -> PyJWK:
        header = jwt.get_unverified_header(token)
        kid = header.get("kid")
        if not header.keys() <= TOKEN_HEADERS or not isinstance(kid, str) or not keys.KID_PATTERN.fullmatch(kid):
            raise TokenBackendError(_("Token is invalid"))
        key = keys.key_ring_store().verifying_key(kid)
        if key is None:
            raise TokenBackendError(_("Token is invalid"))
        return key.verifying_key

    def decode(self, token: str | bytes, verify: bool = True) -> dict[str, Any]:
        try:
            key = self.get_verifying_key(token)
            return jwt.decode(
                token,
                key,
                algorithms=[key.algorithm_name],  # The key's algorithm, whatever the header claims.
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.get_leeway(),
                options={
                    "verify_aud": self.audience is not None,
                    "verify_signature": verify,
                    "require": REQUIRED_CLAIMS,
                },
            )
        except ExpiredSignatureError as exc:
            raise TokenBackendExpiredToken(_("Token is expired")) from exc
        except InvalidTokenError as exc:
            raise TokenBackendError(_("Token is invalid")) from exc


@functools.cache
def key_ring_backend() -> KeyRingBackend:
    return KeyRingBackend()


@receiver(setting_changed)
def _forget_backend(*, setting: str, **kwargs) -> None:
    if setting in {"SIMPLE_JWT", "JWT_ALGORITHM"}:
        key_ring_backend.cache_clear()


class KeyRingTokenMixin:
    """Makes a simplejwt token class sign and verify with the key ring (its `token_backend` hook)."""

    @property
    def token_backend(self) -> KeyRingBackend:
        return key_ring_backend()


class SessionAccessToken(KeyRingTokenMixin, AccessToken):
    """An access token; `sid` names the session that must still be live when it is used."""


class SessionRefreshToken(KeyRingTokenMixin, RefreshToken):
    """A refresh token; the access tokens it mints copy its `sid` and `user_id` claims."""

    access_token_class = SessionAccessToken


class SessionUntypedToken(KeyRingTokenMixin, UntypedToken):
    """A token of either type, verified with the key ring (for token/verify/)."""
