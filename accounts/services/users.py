"""Accounts: registration and operator-made accounts, passwords, activation, roles, profile and privileges."""

from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.db import IntegrityError, transaction

from accounts import audit, emails
from accounts import roles as role_defs
from accounts.models import AuthSession, SecurityEvent, User
from accounts.services.guards import SuperuserProtected, guard_superuser, lock_user
from accounts.services.sessions import sessions_revoke_all
from accounts.services.verification import send_verification
from project.errors import Invalid

Event = SecurityEvent.Type


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
    """Create a self-registered account with the configured role (REGISTRATION_ROLE), unverified
    until the link mailed to its address is opened (docs/recovery.md)."""
    user = _create_account(email=email, password=password, display_name=display_name, email_verified=False)
    if settings.REGISTRATION_ROLE:
        user.groups.add(role_defs.role_groups()[settings.REGISTRATION_ROLE])
    audit.record(Event.REGISTRATION, actor=user, target=user, detail={"role": settings.REGISTRATION_ROLE})
    send_verification(user)
    return user


@transaction.atomic
def user_change_password(*, user: User, new_password: str, actor: User | None = None) -> None:
    """Set a new password and end every session: all the user's tokens stop working.

    `actor` is who did it: the user themself (the default) or an admin.
    """
    guard_superuser(user=user, actor=actor)
    lock_user(user)  # Waits for sign-ins in flight: each commits its session first, or refuses.
    user.set_password(new_password)
    user.save(update_fields=["password"])
    ended = sessions_revoke_all(user=user, reason=AuthSession.RevokeReason.PASSWORD_CHANGE)
    audit.record(Event.PASSWORD_CHANGE, actor=actor or user, target=user, detail={"sessions_ended": ended})


@transaction.atomic
def user_set_active(*, user: User, is_active: bool, actor: User | None = None) -> None:
    """Activate or deactivate; deactivation ends every session at once."""
    guard_superuser(user=user, actor=actor)
    lock_user(user)  # Serialised with sign-ins, as user_change_password is.
    if user.is_active != is_active:
        user.is_active = is_active
        user.save(update_fields=["is_active"])
        audit.record(Event.ACTIVATION_CHANGE, actor=actor, target=user, detail={"is_active": is_active})
    if not is_active:
        sessions_revoke_all(user=user, reason=AuthSession.RevokeReason.DEACTIVATED)


class LastAdmin(Invalid):
    """The change would leave no active admin."""

    code = "last_admin"


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
