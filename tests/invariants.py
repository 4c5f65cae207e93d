"""Invariants every door must keep, checked after each case of the permission matrices.

`check_invariants()` asserts what must hold in any state the services can produce:

- every project's owner holds view, change, delete and share on it;
- no user or group grant of change, delete or share comes without view;
- if anyone ever held the admin role (a member now, active or not, or a `role_change` event
  that took it away), an active member of the admin role exists;
- no change-type event (role, activation, password, session revocation) targets a user who is
  a superuser now with an actor who is not a superuser now.

With `since=mark()` taken before the request, it also checks that each change the test made has
exactly one audit event of the right type: each project created (`project_create`) or deleted
(`project_delete`), each account created (`registration`), each user whose set of roles
(`role_change`) or activation (`activation_change`) changed, and each grantee whose permissions
on a surviving project grew (`permission_grant`, listing what was added) or shrank
(`permission_revoke`).

What it cannot see: it compares two snapshots, so a change undone before the check (granted
and revoked again) is invisible, and so is an event written for a change that did not happen,
as long as no real change of that kind happened too. Superuser status is read as it is now, not
as it was when the event was written. Documents, display names and passwords have no event to
match (documents and names are not security changes; password changes are checked by their
own tests). The Django admin's own change log (`admin_action`) is not counted: it is a second,
generic record of the same request.
"""

from collections import Counter
from dataclasses import dataclass
from uuid import UUID

from django.db.models import F

from accounts.models import SecurityEvent, User
from accounts.roles import ADMIN, ROLES
from api.models import Project, ProjectGroupObjectPermission, ProjectUserObjectPermission
from api.selectors import ALL, VIEW, in_order, short_name

Event = SecurityEvent.Type
# Events that change an account, as opposed to the account's own use of it (sign-in, refresh).
CHANGE_EVENTS = (Event.ROLE_CHANGE, Event.ACTIVATION_CHANGE, Event.PASSWORD_CHANGE, Event.SESSION_REVOKED)

Grant = tuple[UUID, str, str, str]  # (project id, "user" or "group", user id or group name, permission)


@dataclass(frozen=True)
class Marker:
    """What the tables looked like before a test's request: `check_invariants(since=...)` input."""

    events: frozenset[UUID]
    projects: frozenset[UUID]
    users: dict[UUID, tuple[frozenset[str], bool]]  # id -> (roles, is_active)
    grants: frozenset[Grant]


def _grants() -> frozenset[Grant]:
    users = ProjectUserObjectPermission.objects.values_list("content_object_id", "user_id", "permission__codename")
    groups = ProjectGroupObjectPermission.objects.values_list(
        "content_object_id", "group__name", "permission__codename"
    )
    return frozenset(
        [(p, "user", str(u), short_name(c)) for p, u, c in users]
        + [(p, "group", g, short_name(c)) for p, g, c in groups]
    )


def _users() -> dict[UUID, tuple[frozenset[str], bool]]:
    roles: dict[UUID, set[str]] = {pk: set() for pk in User.objects.values_list("pk", flat=True)}
    for user_id, name in User.groups.through.objects.filter(group__name__in=ROLES).values_list(
        "user_id", "group__name"
    ):
        roles[user_id].add(name)
    active = dict(User.objects.values_list("pk", "is_active"))
    return {pk: (frozenset(names), active[pk]) for pk, names in roles.items()}


def mark() -> Marker:
    return Marker(
        events=frozenset(SecurityEvent.objects.values_list("pk", flat=True)),
        projects=frozenset(Project.objects.values_list("pk", flat=True)),
        users=_users(),
        grants=_grants(),
    )


def owners_hold_everything() -> list[str]:
    held: dict[UUID, set[str]] = {}
    for project_id, perm in ProjectUserObjectPermission.objects.filter(
        user_id=F("content_object__owner_id")
    ).values_list("content_object_id", "permission__codename"):
        held.setdefault(project_id, set()).add(short_name(perm))
    return [
        f"project {name!r}: its owner holds {in_order(held.get(pk, set()))}, not all four"
        for pk, name in Project.objects.values_list("pk", "name")
        if held.get(pk, set()) != ALL
    ]


def no_grant_without_view() -> list[str]:
    by_grantee: dict[tuple[UUID, str, str], set[str]] = {}
    for project_id, kind, grantee, perm in _grants():
        by_grantee.setdefault((project_id, kind, grantee), set()).add(perm)
    return [
        f"{kind} {grantee} holds {sorted(perms)} on project {project_id} without view"
        for (project_id, kind, grantee), perms in by_grantee.items()
        if VIEW not in perms
    ]


def an_active_admin_remains() -> list[str]:
    members = User.objects.filter(groups__name=ADMIN)
    if members.filter(is_active=True).exists():
        return []
    demoted = any(
        ADMIN in event.detail.get("before", []) for event in SecurityEvent.objects.filter(type=Event.ROLE_CHANGE)
    )
    if members.exists() or demoted:
        return ["there were admins, and no active member of the admin role is left"]
    return []


def superusers_changed_only_by_superusers() -> list[str]:
    superusers = {str(pk) for pk in User.objects.filter(is_superuser=True).values_list("pk", flat=True)}
    events = SecurityEvent.objects.filter(
        type__in=CHANGE_EVENTS, target_type="user", target_id__in=superusers, actor__isnull=False
    ).exclude(actor__is_superuser=True)
    return [f"{e.type} on superuser {e.target_label} by non-superuser {e.actor_email}" for e in events]


def events_match_changes(since: Marker) -> list[str]:
    """Each change since `since` has exactly one audit event of its type (see the module docstring)."""
    new = list(SecurityEvent.objects.exclude(pk__in=since.events))
    counts = Counter((e.type, e.target_id) for e in new)
    problems: list[str] = []

    def expect_one(event_type: str, target_id: object, what: str) -> None:
        found = counts[(event_type, str(target_id))]
        if found != 1:
            problems.append(f"{what}: {found} {event_type} event(s), expected exactly one")

    projects = frozenset(Project.objects.values_list("pk", flat=True))
    for pk in projects - since.projects:
        expect_one(Event.PROJECT_CREATE, pk, f"project {pk} created")
    for pk in since.projects - projects:
        expect_one(Event.PROJECT_DELETE, pk, f"project {pk} deleted")

    for pk, (roles, active) in _users().items():
        if pk not in since.users:
            expect_one(Event.REGISTRATION, pk, f"user {pk} created")
            continue
        roles_before, active_before = since.users[pk]
        if roles != roles_before:
            expect_one(Event.ROLE_CHANGE, pk, f"user {pk} roles {sorted(roles_before)} -> {sorted(roles)}")
        if active != active_before:
            expect_one(Event.ACTIVATION_CHANGE, pk, f"user {pk} active {active_before} -> {active}")

    grants = _grants()
    sharing = Counter(
        (e.type, e.target_id, e.detail.get("grantee_type"), e.detail.get("grantee_id"), tuple(e.detail["permissions"]))
        for e in new
        if e.type in (Event.PERMISSION_GRANT, Event.PERMISSION_REVOKE)
    )
    for event_type, changed in (
        (Event.PERMISSION_GRANT, grants - since.grants),
        (Event.PERMISSION_REVOKE, since.grants - grants),
    ):
        per_grantee: dict[tuple[UUID, str, str], set[str]] = {}
        for project_id, kind, grantee, perm in changed:
            # A new project's owner grants come with its project_create; a deleted project's grants
            # are listed in its project_delete.
            if project_id in projects and project_id in since.projects:
                per_grantee.setdefault((project_id, kind, grantee), set()).add(perm)
        for (project_id, kind, grantee), perms in per_grantee.items():
            listed = tuple(in_order(perms))
            found = sharing[(event_type, str(project_id), kind, grantee, listed)]
            if found != 1:
                problems.append(
                    f"{kind} {grantee} on project {project_id}: {list(listed)} changed, "
                    f"{found} matching {event_type} event(s), expected exactly one"
                )
    return problems


def check_invariants(since: Marker | None = None) -> None:
    problems = [
        *owners_hold_everything(),
        *no_grant_without_view(),
        *an_active_admin_remains(),
        *superusers_changed_only_by_superusers(),
        *(events_match_changes(since) if since is not None else []),
    ]
    assert not problems, "invariants broken:\n" + "\n".join(problems)
