"""JWT authentication that also refuses tokens of ended sessions, in the same single query."""

import uuid

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token

from accounts.models import User
from accounts.roles import admin_role_expression
from accounts.tokens import SESSION_CLAIM


class SessionJWTAuthentication(JWTAuthentication):
    """simplejwt's pipeline; `get_user` joins the token's session so revocation is instant.

    One query per request: the user, active, owning a session that is neither revoked nor
    expired, and whether they hold the admin role. Logging out, a password change or
    deactivation takes effect on the next request.
    """

    def get_user(self, validated_token: Token) -> User:
        user_id = validated_token.get(api_settings.USER_ID_CLAIM)
        session_id = validated_token.get(SESSION_CLAIM)
        try:
            user_id, session_id = uuid.UUID(str(user_id)), uuid.UUID(str(session_id))
        except ValueError as exc:
            raise InvalidToken(_("Token contained no recognizable user identification")) from exc
        try:
            return User.objects.annotate(has_admin_role=admin_role_expression()).get(
                pk=user_id,
                is_active=True,
                auth_sessions__id=session_id,
                auth_sessions__revoked_at__isnull=True,
                auth_sessions__expires_at__gt=timezone.now(),
            )
        except User.DoesNotExist as exc:
            raise AuthenticationFailed(
                _("The token's session has ended or the account is unavailable."),
                code="token_revoked",
            ) from exc


def current_session_id(request: Request) -> str | None:
    """The session of the access token on this request (None under session-cookie login)."""
    token = getattr(request, "auth", None)
    return str(token.get(SESSION_CLAIM)) if token is not None and hasattr(token, "get") else None
