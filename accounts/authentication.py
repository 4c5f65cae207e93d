"""JWT authentication that also refuses tokens of ended sessions, in the same single query."""

import functools
import json
import uuid
from datetime import UTC, datetime

from django.db import connections
from django.db.models import F, Func, OuterRef, Subquery, TextField
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import AUTH_HEADER_TYPE_BYTES, AUTH_HEADER_TYPES, JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token

from accounts.models import AuthSession, User
from accounts.roles import ADMIN
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
        sql, params = identity_query(User.objects.db)
        user = next(iter(User.objects.raw(sql, params(user_id, session_id, timezone.now()))), None)
        if user is None:
            # One answer for a revoked or expired session, a deactivated and a deleted account:
            # telling them apart would say whether the account exists.
            ended = SessionRevoked(_("The token's session has ended or the account is unavailable."))
            raise invalid_token(ended)
        names = user.role_names
        user.role_names = json.loads(names) if isinstance(names, str) else list(names or ())
        user.has_admin_role = ADMIN in user.role_names
        return user


# The identity query's parameters stand in for these until each request supplies its own.
_USER, _SESSION, _NOW = uuid.UUID(int=1), uuid.UUID(int=2), datetime(2000, 1, 1, tzinfo=UTC)


@functools.cache
def identity_query(alias: str):
    """The SQL of the one authentication query, compiled once per database: (sql, params(...)).

    The ORM builds it (so the selected columns follow the model), then each request only binds its
    three values: compiling the query afresh cost more than running it. It selects the user, active,
    owning the session, neither revoked nor expired; and their group names in order (`role_names`,
    which also answer "is an admin"; `me/` shows them), in place of a second query.
    """
    connection = connections[alias]
    queryset = (
        User.objects.using(alias)
        .annotate(role_names=RoleNames())
        .filter(
            pk=_USER,
            is_active=True,
            auth_sessions__id=_SESSION,
            auth_sessions__revoked_at__isnull=True,
            auth_sessions__expires_at__gt=_NOW,
        )
        .order_by()
    )
    sql, template = queryset.query.get_compiler(alias).as_sql()
    prepared = [
        (User._meta.pk, _USER),
        (AuthSession._meta.pk, _SESSION),
        (AuthSession._meta.get_field("expires_at"), _NOW),
    ]
    slots = [template.index(field.get_db_prep_value(value, connection)) for field, value in prepared]
    fields = [field for field, _ in prepared]

    def params(user_id: uuid.UUID, session_id: uuid.UUID, now: datetime) -> list:
        bound, current = list(template), connections[alias]  # Connections are per thread.
        for slot, field, value in zip(slots, fields, (user_id, session_id, now), strict=True):
            bound[slot] = field.get_db_prep_value(value, current)
        return bound

    return sql, params


class RoleNames(Func):
    """The outer user's group names, oldest group first: an array on PostgreSQL, a JSON array
    (text) on SQLite."""

    template = '(SELECT json_group_array("name") FROM %(expressions)s)'
    output_field = TextField()

    def __init__(self) -> None:
        membership = User.groups.through.objects.filter(user_id=OuterRef("pk")).order_by("group_id")
        super().__init__(Subquery(membership.values(name=F("group__name"))))

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="ARRAY%(expressions)s", **extra)


def current_session_id(request: Request) -> str | None:
    """The session of the access token on this request (None under session-cookie login)."""
    token = getattr(request, "auth", None)
    return str(token.get(SESSION_CLAIM)) if token is not None and hasattr(token, "get") else None
