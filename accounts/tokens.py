"""Token types: simplejwt's access/refresh pair, bound to a sign-in session by the `sid` claim,
signed and verified with the key ring (accounts.keys) through a simplejwt token backend.

Every refusal is a `TokenRefused` (a simplejwt `TokenError`) whose `code` tells the client what to do:
refresh, sign in again or fix the request. `invalid_token` turns one into the 401 simplejwt answers with.
"""

import functools
from typing import Any, ClassVar

import jwt
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.translation import gettext_lazy as _
from jwt import (
    DecodeError,
    ExpiredSignatureError,
    InvalidAlgorithmError,
    InvalidSignatureError,
    InvalidTokenError,
    PyJWK,
)
from rest_framework_simplejwt import settings as simplejwt_settings
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.exceptions import ExpiredTokenError, InvalidToken, TokenError
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken, UntypedToken

from accounts import keys

SESSION_CLAIM = "sid"
# The only header parameters we ever write. Anything else (jku, x5u, jwk, x5c, crit, b64...) is a
# token we did not issue: refused before any key is looked at, and never followed.
TOKEN_HEADERS = frozenset({"alg", "typ", "kid"})
REQUIRED_CLAIMS = ["exp", "iat", "jti"]


class TokenRefused(TokenError):
    """A token we will not accept; `code` is its problem type (docs/errors.md says what to do)."""

    code: ClassVar[str]


class TokenExpired(TokenRefused, ExpiredTokenError):
    """Ours and intact, but past its `exp`: refresh (an access token) or sign in again (a refresh token)."""

    code = "token_expired"


class TokenMalformed(TokenRefused):
    """Not a JWT, bad base64 or JSON, or claims missing, of the wrong form or not yet valid."""

    code = "token_malformed"


class TokenBadSignature(TokenRefused):
    """Not signed by a key of ours: the signature fails, or the kid, algorithm or header is not ours."""

    code = "token_bad_signature"


class TokenWrongType(TokenRefused):
    """Ours and valid, but the other type: a refresh token used as access, or the reverse."""

    code = "token_wrong_type"


class SessionRevoked(TokenRefused):
    """Ours and valid, but its session has ended (or its account is gone: the same answer)."""

    code = "session_revoked"


def invalid_token(exc: TokenError) -> InvalidToken:
    """The one translation of a token refusal into simplejwt's 401, keeping its problem code.

    A TokenError that is not ours (simplejwt's own checks, which our backend makes first) is malformed.
    """
    return InvalidToken(str(exc.args[0]), code=getattr(exc, "code", TokenMalformed.code))


@functools.lru_cache(maxsize=64)
def unverified_header(segment: bytes) -> dict[str, Any]:
    """The header a token's first segment encodes, parsed by PyJWT once: tokens share a few headers
    (one per kid), and PyJWT checks every character of every segment each time it loads a token.
    A segment that does not parse raises each time (an exception is not cached)."""
    return jwt.get_unverified_header(segment + b".e30.")  # An empty payload ({}) and signature.


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
        try:
            header = unverified_header((token.encode() if isinstance(token, str) else token).split(b".", 1)[0])
        except DecodeError:
            raise  # Not base64 or JSON: decode() calls that malformed.
        except InvalidTokenError as exc:  # A kid that is no string, a `crit` we do not support: not our header.
            raise TokenBadSignature(_("Token is not signed by a key of this service.")) from exc
        kid = header.get("kid")
        if not header.keys() <= TOKEN_HEADERS or not isinstance(kid, str) or not keys.KID_PATTERN.fullmatch(kid):
            raise TokenBadSignature(_("Token is not signed by a key of this service."))
        key = keys.key_ring_store().verifying_key(kid)
        if key is None:
            raise TokenBadSignature(_("Token is not signed by a key of this service."))
        return key.verifying_key

    def decode(self, token: str | bytes, verify: bool = True) -> dict[str, Any]:
        """The verified claims, or a TokenRefused naming what is wrong.

        These are TokenErrors, not TokenBackendErrors, so simplejwt's Token lets them through
        instead of flattening them all into "Token is invalid". PyJWT checks the signature before
        the claims, so a forged token is `token_bad_signature` whatever its `exp` says.
        """
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
            raise TokenExpired(_("Token is expired.")) from exc
        except (InvalidSignatureError, InvalidAlgorithmError) as exc:  # InvalidSignatureError is a DecodeError.
            raise TokenBadSignature(_("Token is not signed by a key of this service.")) from exc
        except DecodeError as exc:
            raise TokenMalformed(_("Token is not a well-formed JWT.")) from exc
        except InvalidTokenError as exc:  # Missing, ill-typed or not-yet-valid claims.
            raise TokenMalformed(_("Token claims are missing or not valid.")) from exc


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


class TypedTokenMixin:
    """simplejwt's type check, with a token of the other type told apart from one with no type."""

    def verify_token_type(self) -> None:
        token_type = self.payload.get(simplejwt_settings.api_settings.TOKEN_TYPE_CLAIM)
        if token_type is None:
            raise TokenMalformed(_("Token has no type."))
        if token_type != self.token_type:
            raise TokenWrongType(
                _("Token has the wrong type: this takes {expected} tokens, not {actual} tokens.").format(
                    actual=str(token_type)[:16], expected=self.token_type
                )
            )


class SessionAccessToken(KeyRingTokenMixin, TypedTokenMixin, AccessToken):
    """An access token; `sid` names the session that must still be live when it is used."""


class SessionRefreshToken(KeyRingTokenMixin, TypedTokenMixin, RefreshToken):
    """A refresh token; the access tokens it mints copy its `sid` and `user_id` claims."""

    access_token_class = SessionAccessToken


class SessionUntypedToken(KeyRingTokenMixin, UntypedToken):
    """A token of either type, verified with the key ring (for token/verify/)."""
