"""Sessions and their tokens: sign-in, refresh-token rotation (with its grace retry), logout and revocation."""

import hashlib
import logging
import uuid
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.utils import datetime_from_epoch

from accounts import audit, grace
from accounts.models import AuthSession, RefreshTokenRecord, SecurityEvent, User
from accounts.services.guards import guard_superuser, lock_user
from accounts.tokens import SESSION_CLAIM, SessionRefreshToken

# The package's name, as before it was split: log filters on "accounts.services" keep matching.
logger = logging.getLogger(__package__)
Event = SecurityEvent.Type


SESSION_ENDED = "The session has ended: sign in again."


class RefreshRejected(Exception):
    """The refresh token was valid JWT but may not be used (used, revoked, unknown)."""


@dataclass(frozen=True)
class IssuedTokens:
    access: str
    refresh: str
    session: AuthSession
    refresh_jti: str = ""


def token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _issue_tokens(*, session: AuthSession) -> IssuedTokens:
    """Sign a new pair for `session` and set its expiry to the refresh token's; the caller saves
    the session first if it is new, then `_record` the refresh token (it refers to the session)."""
    refresh = SessionRefreshToken.for_user(session.user)
    refresh[SESSION_CLAIM] = str(session.id)
    refresh["auth_time"] = int(session.created_at.timestamp())  # The sign-in's time, for step-up (accounts/stepup.py).
    raw = str(refresh)  # Sign once: some algorithms (ES256) sign differently each time.
    session.expires_at = datetime_from_epoch(refresh["exp"])
    return IssuedTokens(access=str(refresh.access_token), refresh=raw, session=session, refresh_jti=refresh["jti"])


def _record(issued: IssuedTokens) -> None:
    RefreshTokenRecord.objects.create(
        jti=issued.refresh_jti,
        session=issued.session,
        token_hash=token_digest(issued.refresh),
        expires_at=issued.session.expires_at,
    )


class SignInRejected(Exception):
    """The password was right when checked, but the account changed before the session began."""


@transaction.atomic
def session_start(
    *, user: User, ip_address: str | None, user_agent: str, checked_password_hash: str | None = None
) -> IssuedTokens:
    """Sign-in: a new session and its first token pair.

    `checked_password_hash` is the hash the sign-in's password was checked against. If the
    password changed since (or the account was deactivated), the check is stale and the
    sign-in is refused with SignInRejected: a session must never outlive the password that
    opened it. Callers that checked no password (tests, tools) leave it out.
    """
    password_hash, is_active = lock_user(user)
    if not is_active or (checked_password_hash is not None and password_hash != checked_password_hash):
        raise SignInRejected("The account changed while signing in.")
    now = timezone.now()
    session = AuthSession(user=user, created_at=now, last_used_at=now, ip_address=ip_address, user_agent=user_agent)
    issued = _issue_tokens(session=session)  # Its expiry is the refresh token's: one INSERT, no UPDATE after.
    session.save(force_insert=True)
    _record(issued)
    audit.record(Event.SIGN_IN, actor=user, target=user, detail={"session": str(session.id)})
    return issued


def session_refresh(*, raw_refresh: str, ip_address: str | None, user_agent: str) -> IssuedTokens:
    """Rotate: consume the presented refresh token and return a new pair in the same session.

    A refresh token that was already used is a replay (a stolen token, or a stolen and then
    used one): the whole session is revoked, so thief and owner both have to sign in again.
    The one exception is the rotating client's own retry inside the grace window (see
    _grace_retry), which gets the pair it was already given. Raises TokenError for a token
    that is not a valid refresh JWT, RefreshRejected otherwise.
    """
    token = SessionRefreshToken(raw_refresh)
    return _refresh_or_revoke(token=token, raw_refresh=raw_refresh, ip_address=ip_address, user_agent=user_agent)


def _refresh_or_revoke(
    *, token: SessionRefreshToken, raw_refresh: str, ip_address: str | None, user_agent: str
) -> IssuedTokens:
    with transaction.atomic():
        # The token's record and its session, both locked: a retry waiting here resumes after the
        # rotation committed and reads the session's grace answer as committed, not as it was
        # when the wait began (PostgreSQL re-reads only the rows it locks).
        record = (
            RefreshTokenRecord.objects.select_for_update(of=("self", "session"))
            .select_related("session__user")
            .filter(jti=token["jti"])
            .first()
        )
        # One message for a token never issued (or its account deleted) and an ended session: the
        # answer must not tell a holder whether the account still exists.
        if record is None or record.token_hash != token_digest(raw_refresh):
            raise RefreshRejected(SESSION_ENDED)
        session = record.session
        if not session.is_active or not session.user.is_active:
            raise RefreshRejected(SESSION_ENDED)
        if record.used_at is None:
            return _rotate(record=record, raw_refresh=raw_refresh, ip_address=ip_address, user_agent=user_agent)
        retry = _grace_retry(record=record, raw_refresh=raw_refresh, ip_address=ip_address, user_agent=user_agent)
        if retry is not None:
            return retry
        session_revoke(session=session, reason=AuthSession.RevokeReason.REFRESH_REUSE)
        # Who presented it is unknown (thief or owner): no actor, the account is the target.
        audit.record(Event.REFRESH_REUSE, target=session.user, detail={"session": str(session.id)})
        logger.warning(
            "refresh token reuse: session revoked",
            extra={"session_id": str(session.id), "user_id": str(session.user_id), "ip": ip_address},
        )
    # Outside the transaction, so that the revocation above is committed.
    raise RefreshRejected("This refresh token was already used; the session has been revoked.")


def _rotate(*, record: RefreshTokenRecord, raw_refresh: str, ip_address: str | None, user_agent: str) -> IssuedTokens:
    session = record.session
    now = timezone.now()
    record.used_at = now
    record.save(update_fields=["used_at"])
    issued = _issue_tokens(session=session)
    _record(issued)
    session.last_used_at = now
    session.ip_address = ip_address
    session.user_agent = user_agent
    # The answer for a retry of this rotation, sealed with the token just spent, in the same row
    # and transaction: it exists exactly when the rotation committed, and the next rotation (or
    # the session's end) replaces it.
    session.grace_answer = grace.seal(
        raw_refresh=raw_refresh,
        jti=record.jti,
        access=issued.access,
        refresh=issued.refresh,
        refresh_jti=issued.refresh_jti,
        ip_address=ip_address,
        user_agent=user_agent,
    )
    session.save(update_fields=["expires_at", "last_used_at", "ip_address", "user_agent", "grace_answer"])
    audit.record(Event.REFRESH, actor=session.user, target=session.user, detail={"session": str(session.id)})
    return issued


def _grace_retry(
    *, record: RefreshTokenRecord, raw_refresh: str, ip_address: str | None, user_agent: str
) -> IssuedTokens | None:
    """The pair already given for this used token, if this is the rotating client's first retry.

    Only the client that rotated (same IP address and user agent as at rotation), only once per
    token, only inside the window and only while the new refresh token is unused. Anything else
    is a second holder of the chain: None, and the caller revokes the session.
    """
    if record.grace_used_at is not None:
        return None
    session = record.session
    remembered = grace.recall(session.grace_answer, raw_refresh=raw_refresh, jti=record.jti)
    if remembered is None or not grace.same_client(remembered, ip_address=ip_address, user_agent=user_agent):
        return None
    if not session.refresh_tokens.filter(jti=remembered["jti"], used_at__isnull=True).exists():
        return None
    record.grace_used_at = timezone.now()
    record.save(update_fields=["grace_used_at"])
    audit.record(Event.REFRESH_GRACE, actor=session.user, target=session.user, detail={"session": str(session.id)})
    return IssuedTokens(access=remembered["access"], refresh=remembered["refresh"], session=session)


def session_for_refresh_token(*, raw_refresh: str, user: User) -> AuthSession:
    """The caller's own session that a refresh token belongs to; TokenError otherwise."""
    token = SessionRefreshToken(raw_refresh)
    session = (
        AuthSession.objects.filter(
            id=token.get(SESSION_CLAIM),
            user=user,
            refresh_tokens__jti=token["jti"],
            refresh_tokens__token_hash=token_digest(raw_refresh),
        ).first()
        if is_uuid(token.get(SESSION_CLAIM))
        else None
    )
    if session is None:
        raise TokenError("Token is invalid or does not belong to you.")
    return session


def is_uuid(value: object) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def session_revoke(*, session: AuthSession, reason: str) -> None:
    if session.revoked_at is None:
        session.revoked_at = timezone.now()
        session.revoke_reason = reason
        session.grace_answer = ""  # An ended session keeps no sealed pair.
        session.save(update_fields=["revoked_at", "revoke_reason", "grace_answer"])


def sessions_revoke_all(*, user: User, reason: str) -> int:
    return AuthSession.objects.filter(user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoke_reason=reason, grace_answer=""
    )


@transaction.atomic
def session_logout(*, session: AuthSession, actor: User) -> None:
    """The session's own user ends it (logout, or revoking one of their sessions)."""
    session_revoke(session=session, reason=AuthSession.RevokeReason.LOGOUT)
    audit.record(Event.LOGOUT, actor=actor, target=session.user, detail={"session": str(session.id)})


@transaction.atomic
def session_revoke_by_admin(*, session: AuthSession, actor: User) -> None:
    guard_superuser(user=session.user, actor=actor)
    session_revoke(session=session, reason=AuthSession.RevokeReason.ADMIN)
    audit.record(Event.SESSION_REVOKED, actor=actor, target=session.user, detail={"session": str(session.id)})


@transaction.atomic
def user_logout_everywhere(*, user: User) -> int:
    """End every session: all token sessions, and browser (cookie) sessions via session_epoch."""
    count = sessions_revoke_all(user=user, reason=AuthSession.RevokeReason.LOGOUT_ALL)
    User.objects.filter(pk=user.pk).update(session_epoch=F("session_epoch") + 1)
    audit.record(Event.LOGOUT_ALL, actor=user, target=user, detail={"sessions": count})
    return count
