"""JWT authentication that also refuses tokens of ended sessions, in the same single query."""

import uuid

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import AUTH_HEADER_TYPE_BYTES, AUTH_HEADER_TYPES, JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token

from accounts.models import User
from accounts.roles import admin_role_expression
from accounts.tokens import SESSION_CLAIM, SessionRevoked, TokenMalformed, invalid_token


class SessionJWTAuthentication(JWTAuthentication):
    """simplejwt's pipeline; `get_user` joins the token's session so revocation is instant.

    One query per request: the user, active, owning a session that is neither revoked nor
    expired, and whether they hold the admin role. Logging out, a password change or
    deactivation takes effect on the next request.

    Each refusal keeps its own problem code (accounts.tokens), so a client can tell "refresh"
    from "sign in again" from "fix the header".
    """

    def get_raw_token(self, header: bytes) -> bytes | None:
        # simplejwt passes a header of another scheme on as "no credentials", which tells a client
        # sending `Token x` or `JWT x` nothing about its mistake. No other authentication here reads
        # the header (session login uses the cookie); a proxy's own Basic auth must not be forwarded.
        parts = header.split()
        if parts and parts[0] not in AUTH_HEADER_TYPE_BYTES:
            raise AuthenticationFailed(
                _("Unsupported authorization scheme: send `Authorization: {scheme} <access token>`.").format(
                    scheme=AUTH_HEADER_TYPES[0]
                ),
                code="unsupported_auth_scheme",
            )
        return super().get_raw_token(header)

    def get_validated_token(self, raw_token: bytes) -> Token:
        # simplejwt answers "not valid for any token type" whatever went wrong; the token class's own
        # refusal (expired, malformed, bad signature, wrong type) is what the client can act on.
        for token_class in api_settings.AUTH_TOKEN_CLASSES:
            try:
                return token_class(raw_token)
            except TokenError as exc:
                refusal = exc
        raise invalid_token(refusal) from refusal

    def get_user(self, validated_token: Token) -> User:
        user_id = validated_token.get(api_settings.USER_ID_CLAIM)
        session_id = validated_token.get(SESSION_CLAIM)
        try:
            user_id, session_id = uuid.UUID(str(user_id)), uuid.UUID(str(session_id))
        except ValueError as exc:
            malformed = TokenMalformed(_("Token contained no recognizable user identification."))
            raise invalid_token(malformed) from exc
        try:
            return User.objects.annotate(has_admin_role=admin_role_expression()).get(
                pk=user_id,
                is_active=True,
                auth_sessions__id=session_id,
                auth_sessions__revoked_at__isnull=True,
                auth_sessions__expires_at__gt=timezone.now(),
            )
        except User.DoesNotExist as exc:
            # One answer for a revoked or expired session, a deactivated and a deleted account:
            # telling them apart would say whether the account exists.
            ended = SessionRevoked(_("The token's session has ended or the account is unavailable."))
            raise invalid_token(ended) from exc


def current_session_id(request: Request) -> str | None:
    """The session of the access token on this request (None under session-cookie login)."""
    token = getattr(request, "auth", None)
    return str(token.get(SESSION_CLAIM)) if token is not None and hasattr(token, "get") else None
