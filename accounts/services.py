"""Account and session writes: every change with side effects goes through here."""

import hashlib
import logging
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.utils import datetime_from_epoch

from accounts import audit, emails, grace
from accounts import roles as role_defs
from accounts.models import AuthSession, RefreshTokenRecord, SecurityEvent, User
from accounts.tokens import SESSION_CLAIM, SessionRefreshToken
from project.errors import Invalid, Refused

logger = logging.getLogger(__name__)
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
    refresh = SessionRefreshToken.for_user(session.user)
    refresh[SESSION_CLAIM] = str(session.id)
    raw = str(refresh)  # Sign once: some algorithms (ES256) sign differently each time.
    expires_at = datetime_from_epoch(refresh["exp"])
    RefreshTokenRecord.objects.create(
        jti=refresh["jti"], session=session, token_hash=token_digest(raw), expires_at=expires_at
    )
    if session.expires_at != expires_at:
        session.expires_at = expires_at
    return IssuedTokens(access=str(refresh.access_token), refresh=raw, session=session, refresh_jti=refresh["jti"])


class SignInRejected(Exception):
    """The password was right when checked, but the account changed before the session began."""


def _lock_user(user: User) -> tuple[str, bool]:
    """Lock the user's row until the transaction ends and read its password hash and activation.

    Sign-in, password change and (de)activation all take this lock first, so they run one after
    the other: a sign-in either commits its session before a password change revokes every
    session, or sees the new hash and refuses.
    """
    return User.objects.select_for_update().values_list("password", "is_active").get(pk=user.pk)


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
    password_hash, is_active = _lock_user(user)
    if not is_active or (checked_password_hash is not None and password_hash != checked_password_hash):
        raise SignInRejected("The account changed while signing in.")
    now = timezone.now()
    session = AuthSession.objects.create(
        user=user,
        created_at=now,
        last_used_at=now,
        expires_at=now,  # Set from the refresh token's expiry just below.
        ip_address=ip_address,
        user_agent=user_agent,
    )
    issued = _issue_tokens(session=session)
    session.save(update_fields=["expires_at"])
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
    try:
        return _refresh_or_revoke(token=token, raw_refresh=raw_refresh, ip_address=ip_address, user_agent=user_agent)
    except RefreshRejected:
        raise
    except BaseException:
        # A rotation that did not commit must leave no remembered answer behind (it could not be
        # handed out anyway: its new refresh token was never recorded). After a failed grace answer
        # or revocation this drops the answer too: the next retry is then a replay, the safe side.
        grace.forget(jti=token["jti"])
        raise


def _refresh_or_revoke(
    *, token: SessionRefreshToken, raw_refresh: str, ip_address: str | None, user_agent: str
) -> IssuedTokens:
    with transaction.atomic():
        record = (
            RefreshTokenRecord.objects.select_for_update(of=("self",))
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
    session.last_used_at = now
    session.ip_address = ip_address
    session.user_agent = user_agent
    session.save(update_fields=["expires_at", "last_used_at", "ip_address", "user_agent"])
    # Before the commit, not on_commit: a concurrent retry waiting on this record's lock resumes
    # the moment the commit releases it and must find the answer. If the commit fails,
    # session_refresh forgets it again.
    grace.remember(
        raw_refresh=raw_refresh,
        jti=record.jti,
        access=issued.access,
        refresh=issued.refresh,
        refresh_jti=issued.refresh_jti,
        ip_address=ip_address,
        user_agent=user_agent,
    )
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
    remembered = grace.recall(raw_refresh=raw_refresh, jti=record.jti)
    if remembered is None or not grace.same_client(remembered, ip_address=ip_address, user_agent=user_agent):
        return None
    session = record.session
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
        session.save(update_fields=["revoked_at", "revoke_reason"])


def sessions_revoke_all(*, user: User, reason: str) -> int:
    return AuthSession.objects.filter(user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoke_reason=reason
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


def _create_account(*, email: str, password: str | None, display_name: str, **extra: bool) -> User:
    """The one way an account comes to be, for registration and operators alike.

    Refuses (EmailRefused, nothing written) an email with invisible characters or confusably mixed
    scripts, and one that an account has or looks like (accounts/emails.py).
    """
    email = emails.check_email_available(email)
    try:
        with transaction.atomic():
            return User.objects.create_user(email=email, password=password, display_name=display_name, **extra)
    except IntegrityError as exc:  # A concurrent creation of this email, or of a look-alike, won the race.
        raise emails.EmailTaken(email) from exc


@transaction.atomic
def user_register(*, email: str, password: str, display_name: str = "") -> User:
    """Create a self-registered account with the configured role (REGISTRATION_ROLE)."""
    user = _create_account(email=email, password=password, display_name=display_name)
    if settings.REGISTRATION_ROLE:
        user.groups.add(role_defs.role_groups()[settings.REGISTRATION_ROLE])
    audit.record(Event.REGISTRATION, actor=user, target=user, detail={"role": settings.REGISTRATION_ROLE})
    return user


@transaction.atomic
def user_change_password(*, user: User, new_password: str, actor: User | None = None) -> None:
    """Set a new password and end every session: all the user's tokens stop working.

    `actor` is who did it: the user themself (the default) or an admin.
    """
    guard_superuser(user=user, actor=actor)
    _lock_user(user)  # Waits for sign-ins in flight: each commits its session first, or refuses.
    user.set_password(new_password)
    user.save(update_fields=["password"])
    ended = sessions_revoke_all(user=user, reason=AuthSession.RevokeReason.PASSWORD_CHANGE)
    audit.record(Event.PASSWORD_CHANGE, actor=actor or user, target=user, detail={"sessions_ended": ended})


@transaction.atomic
def user_set_active(*, user: User, is_active: bool, actor: User | None = None) -> None:
    """Activate or deactivate; deactivation ends every session at once."""
    guard_superuser(user=user, actor=actor)
    _lock_user(user)  # Serialised with sign-ins, as user_change_password is.
    if user.is_active != is_active:
        user.is_active = is_active
        user.save(update_fields=["is_active"])
        audit.record(Event.ACTIVATION_CHANGE, actor=actor, target=user, detail={"is_active": is_active})
    if not is_active:
        sessions_revoke_all(user=user, reason=AuthSession.RevokeReason.DEACTIVATED)


class LastAdmin(Invalid):
    """The change would leave no active admin."""

    code = "last_admin"


class SuperuserProtected(Refused):
    """Only a superuser may change, deactivate, demote or end the sessions of a superuser."""

    code = "superuser_protected"


def guard_superuser(*, user: User, actor: User | None) -> None:
    """Refuse a change to a superuser by anyone but a superuser, on every surface.

    `actor=None` is the system itself (a management command run by an operator on the host).
    """
    if user.is_superuser and actor is not None and not actor.is_superuser:
        raise SuperuserProtected("Only a superuser may change a superuser's account.")


@transaction.atomic
def user_update_access(
    *, user: User, actor: User | None = None, roles: list[str] | None = None, is_active: bool | None = None
) -> User:
    """Set a user's roles and/or activation. Keeps at least one active admin.

    The admin role is the one source of truth for "admin": `is_staff` (the Django admin) is
    derived from it here, so the two never disagree. Deactivation ends every session.
    """
    guard_superuser(user=user, actor=actor)
    groups = role_defs.role_groups()
    admin_group = groups[role_defs.ADMIN]
    # Every change that could remove an admin queues on the admin role's row: two admins
    # demoting each other at once are serialised (the second sees the first's commit and is
    # refused as the last admin) instead of deadlocking on each other's rows.
    Group.objects.select_for_update().filter(pk=admin_group.pk).values_list("pk", flat=True).first()
    in_admin_role = user.groups.filter(pk=admin_group.pk).exists()
    admin_before = user.is_active and in_admin_role
    admin_after = (user.is_active if is_active is None else is_active) and (
        in_admin_role if roles is None else role_defs.ADMIN in roles
    )
    others = User.objects.filter(is_active=True, groups=admin_group).exclude(pk=user.pk)
    if admin_before and not admin_after and not others.exists():
        # Name what the caller sent: the roles, or the activation.
        raise LastAdmin(
            "This is the last active admin: make someone else admin first.",
            field="roles" if roles is not None else "is_active",
        )
    if roles is not None:
        before = sorted(user.groups.filter(name__in=groups).values_list("name", flat=True))
        user.groups.remove(*[group for name, group in groups.items() if name not in roles])
        user.groups.add(*[groups[name] for name in roles])
        is_staff = role_defs.ADMIN in roles or user.is_superuser
        if user.is_staff != is_staff:
            user.is_staff = is_staff
            user.save(update_fields=["is_staff"])
        if before != sorted(roles):
            audit.record(Event.ROLE_CHANGE, actor=actor, target=user, detail={"before": before, "after": sorted(roles)})
    if is_active is not None:
        user_set_active(user=user, is_active=is_active, actor=actor)
    return user


@transaction.atomic
def user_create(
    *,
    email: str,
    password: str | None,
    roles: list[str],
    actor: User | None,
    display_name: str = "",
    is_superuser: bool = False,
) -> User:
    """An account made by an operator (the Django admin, the demo seeder), with its roles.

    The email passes the same checks as in registration; `is_staff` follows the admin role (or superuser),
    as in user_update_access. Only a superuser (or the system, `actor=None`) makes a superuser.
    A password of None makes an account that cannot sign in with a password. Audited as a
    registration whose actor is the operator and whose detail names the roles.
    """
    if is_superuser and actor is not None and not actor.is_superuser:
        raise SuperuserProtected("Only a superuser may create a superuser.")
    unknown = set(roles) - set(role_defs.ROLES)
    if unknown:
        raise Invalid(f"Unknown role(s): {', '.join(sorted(unknown))}.", field="roles")
    user = _create_account(
        email=email,
        password=password,
        display_name=display_name,
        is_staff=role_defs.ADMIN in roles or is_superuser,
        is_superuser=is_superuser,
    )
    groups = role_defs.role_groups()
    user.groups.add(*[groups[name] for name in roles])
    audit.record(
        Event.REGISTRATION,
        actor=actor,
        target=user,
        detail={"roles": sorted(roles), "is_superuser": is_superuser, "via": "operator"},
    )
    return user


@transaction.atomic
def user_update_profile(*, user: User, actor: User | None, display_name: str) -> User:
    """Change what a user is called. Not a security change: no audit event (the admin's own
    change log still records who did it)."""
    guard_superuser(user=user, actor=actor)
    if user.display_name != display_name:
        user.display_name = display_name
        user.save(update_fields=["display_name"])
    return user


@transaction.atomic
def user_update_privileges(
    *, user: User, actor: User | None, is_superuser: bool, permissions: list[Permission]
) -> User:
    """Superuser status and raw model permissions: what only a superuser may hand out.

    Audited as a role change (detail: superuser before/after, permissions added/removed).
    `is_staff` follows: a superuser is staff; a former superuser stays staff only with the admin role.
    """
    if actor is not None and not actor.is_superuser:
        raise SuperuserProtected("Only a superuser may grant superuser status or raw permissions.")
    before = set(user.user_permissions.all())
    after = set(permissions)
    superuser_before = user.is_superuser
    if after != before:
        user.user_permissions.set(after)
    if superuser_before != is_superuser:
        user.is_superuser = is_superuser
        user.is_staff = is_superuser or user.groups.filter(name=role_defs.ADMIN).exists()
        user.save(update_fields=["is_superuser", "is_staff"])
    if after != before or superuser_before != is_superuser:

        def labels(perms: set[Permission]) -> list[str]:
            return sorted(f"{p.content_type.app_label}.{p.codename}" for p in perms)

        audit.record(
            Event.ROLE_CHANGE,
            actor=actor,
            target=user,
            detail={
                "is_superuser": [superuser_before, is_superuser],
                "permissions_added": labels(after - before),
                "permissions_removed": labels(before - after),
            },
        )
    return user
