"""Writes on projects, documents and their permissions: the one door every surface goes through.

Each function is one transaction and writes its audit event in it. The REST views, the Django
admin, management commands and the demo seeder all call these; none writes the models itself.
"""

from typing import Any

from django.contrib.auth.models import Group, Permission
from django.db import transaction

from accounts import audit
from accounts.models import SecurityEvent, User
from accounts.roles import ROLES
from api.models import (
    Document,
    Project,
    ProjectGroupObjectPermission,
    ProjectUserObjectPermission,
    ShareableGroup,
)
from api.selectors import ALL, SHARE, VIEW, ProjectAccess, codename, in_order, short_name
from project.errors import Invalid, Refused

Event = SecurityEvent.Type
PROJECT_FIELDS = ("name", "description")
DOCUMENT_FIELDS = ("title", "body")


class SharingRefused(Refused):
    """A sharing request that is well-formed but not allowed (a 403)."""


class SharingInvalid(Invalid):
    """A sharing request that can never succeed as asked (a 400 on `permissions`)."""

    field = "permissions"


def _permissions(names: set[str]) -> list[Permission]:
    return list(Permission.objects.filter(content_type__app_label="api", codename__in=[codename(n) for n in names]))


def _lock(project: Project) -> None:
    """Serialise every change to a project's grants: a share, a revoke, a delete.

    Grant rows may not exist yet (nothing to lock), so the project row is the lock.
    """
    Project.objects.select_for_update().filter(pk=project.pk).values_list("pk", flat=True).first()


def _save_changes(instance: Project | Document, fields: tuple[str, ...], values: dict[str, Any]) -> dict[str, list]:
    """Set and save the fields whose value changes; returns {field: [before, after]} for the audit.

    A field outside `fields` is a programmer's mistake (a surface passing what it should not).
    """
    unknown = set(values) - set(fields)
    if unknown:
        raise TypeError(f"{type(instance).__name__} changes only {', '.join(fields)}, not {', '.join(sorted(unknown))}")
    changes = {name: [getattr(instance, name), new] for name, new in values.items() if getattr(instance, name) != new}
    if changes:
        for name, (_, new) in changes.items():
            setattr(instance, name, new)
        instance.save(update_fields=[*changes, "updated_at"])
    return changes


@transaction.atomic
def project_create(*, owner: User, name: str, description: str = "", actor: User | None = None) -> Project:
    """Create a project; its owner holds every project permission from the same transaction.

    `actor` is who did it when that is not the owner (an admin creating it for them).
    """
    project = Project.objects.create(owner=owner, name=name, description=description)
    ProjectUserObjectPermission.objects.bulk_create(
        ProjectUserObjectPermission(user=owner, permission=perm, content_object=project)
        for perm in _permissions(set(ALL))
    )
    audit.record(Event.PROJECT_CREATE, actor=actor or owner, target=project, detail={"owner": owner.email})
    return project


@transaction.atomic
def project_update(*, project: Project, actor: User | None, **values: Any) -> Project:
    """Change a project's name and/or description; the event lists each field before and after."""
    changes = _save_changes(project, PROJECT_FIELDS, values)
    if changes:
        audit.record(Event.PROJECT_UPDATE, actor=actor, target=project, detail={"changes": changes})
    return project


@transaction.atomic
def project_delete(*, project: Project, actor: User | None) -> None:
    """Delete a project with its documents; the event lists every grant the delete removed."""
    _lock(project)
    grants = project_grants(project=project)
    detail = {
        "name": project.name,
        "owner": project.owner.email,
        "documents": project.documents.count(),
        "grants_removed": {
            "users": [{"email": u["email"], "permissions": u["permissions"]} for u in grants["users"]],
            "groups": grants["groups"],
        },
    }
    audit.record(Event.PROJECT_DELETE, actor=actor, target=project, detail=detail)
    project.delete()


@transaction.atomic
def document_create(*, project: Project, created_by: User, title: str, body: str = "") -> Document:
    return Document.objects.create(project=project, created_by=created_by, title=title, body=body)


@transaction.atomic
def document_update(*, document: Document, **values: Any) -> Document:
    _save_changes(document, DOCUMENT_FIELDS, values)
    return document


@transaction.atomic
def document_delete(*, document: Document) -> None:
    document.delete()


def _normalise(requested: set[str]) -> set[str]:
    # Any permission on a project is useless without seeing it: change/delete/share imply view.
    return requested | {VIEW} if requested else set()


def _check_sharer(access: ProjectAccess, project: Project, before: set[str], after: set[str]) -> None:
    """A sharer may only grant or take away permissions they hold themselves, as committed now
    (read under the project lock: a revocation of the sharer's own rights cannot race past)."""
    held = access.fresh_flags(project)
    if SHARE not in held:
        raise SharingRefused("You need the share permission on this project.")
    lacking = sorted((before ^ after) - held)
    if lacking:
        raise SharingRefused(f"You cannot grant or revoke permissions you do not hold: {', '.join(lacking)}.")


def _set_grants(
    *, access: ProjectAccess, project: Project, model: type, grantee_field: str, grantee: User | Group, wanted: set[str]
) -> set[str]:
    """Make the grantee hold exactly `wanted` (plus implied view); audit what was added and removed."""
    _lock(project)  # Two PUTs for one grantee: the second reads what the first committed.
    rows = model.objects.filter(content_object=project, **{grantee_field: grantee})
    before = {short_name(c) for c in rows.values_list("permission__codename", flat=True)}
    after = _normalise(wanted)
    _check_sharer(access, project, before, after)
    rows.exclude(permission__codename__in=[codename(n) for n in after]).delete()
    # Under the project lock no door races this insert; a raw write around the services
    # (guardian's assign_perm in a shell) may have, and the row is what both asked for.
    model.objects.bulk_create(
        (
            model(permission=perm, content_object=project, **{grantee_field: grantee})
            for perm in _permissions(after - before)
        ),
        ignore_conflicts=True,
    )
    grantee_detail = {
        "grantee_type": grantee_field,
        "grantee_id": str(grantee.pk) if isinstance(grantee, User) else grantee.name,
        "grantee": grantee.email if isinstance(grantee, User) else grantee.name,
        "now": in_order(after),
    }
    for event, changed in ((Event.PERMISSION_GRANT, after - before), (Event.PERMISSION_REVOKE, before - after)):
        if changed:
            detail = {**grantee_detail, "permissions": in_order(changed)}
            audit.record(event, actor=access.user, target=project, detail=detail)
    return after


@transaction.atomic
def project_share_with_user(*, access: ProjectAccess, project: Project, user: User, permissions: set[str]) -> set[str]:
    """Set exactly `permissions` (plus implied view) for `user` on `project`; returns them."""
    if user.pk == project.owner_id:
        raise SharingInvalid("The owner's permissions cannot be changed.")
    if user.pk == access.user.pk:
        raise SharingRefused("You cannot change your own permissions.")
    return _set_grants(
        access=access,
        project=project,
        model=ProjectUserObjectPermission,
        grantee_field="user",
        grantee=user,
        wanted=permissions,
    )


@transaction.atomic
def project_share_with_group(
    *, access: ProjectAccess, project: Project, group: Group, permissions: set[str]
) -> set[str]:
    """Set exactly `permissions` (plus implied view) for a shareable `group` on `project`."""
    if not shareable_groups().filter(pk=group.pk).exists():
        raise SharingInvalid("Projects can be shared only with shareable groups (teams).", field="group")
    return _set_grants(
        access=access,
        project=project,
        model=ProjectGroupObjectPermission,
        grantee_field="group",
        grantee=group,
        wanted=permissions,
    )


@transaction.atomic
def group_set_shareable(*, group: Group, shareable: bool, actor: User | None) -> None:
    """Mark a group as a team projects may be shared with, or take the mark away.

    Unmarking is refused while the group holds grants: the sharing services (and so every
    door) refuse a group that is not shareable, so its grants could no longer be revoked.
    There is no event type of its own yet: recorded as an admin action whose detail says what
    changed.
    """
    if shareable and group.name in ROLES:
        raise SharingInvalid(
            "A role cannot be a sharing target: it reaches every account with the role.", field="shareable"
        )
    exists = ShareableGroup.objects.filter(group=group).exists()
    if exists == shareable:
        return
    if not shareable and ProjectGroupObjectPermission.objects.filter(group=group).exists():
        raise Refused("This team still holds permissions on projects: revoke them on each project's sharing page.")
    if shareable:
        ShareableGroup.objects.create(group=group)
    else:
        ShareableGroup.objects.filter(group=group).delete()
    audit.record(
        Event.ADMIN_ACTION,
        actor=actor,
        target=group,
        detail={"action": "group_set_shareable", "shareable": shareable},
    )


@transaction.atomic
def group_delete(*, group: Group, actor: User | None) -> None:
    """Delete a group. A role only by a superuser (its meaning is in accounts/roles.py); a group
    that still holds grants on projects not at all: revoke them first, each one audited. So a
    delete takes no one's access to a project away and needs no event of its own (the admin's
    change log records who did it)."""
    if group.name in ROLES and actor is not None and not actor.is_superuser:
        raise Refused("Only a superuser may delete a role.")
    if ProjectGroupObjectPermission.objects.filter(group=group).exists():
        raise Refused("This group still holds permissions on projects: revoke them on each project's sharing page.")
    group.delete()


def shareable_groups():
    """The groups that are sharing targets: those an admin marked shareable (teams)."""
    return Group.objects.filter(shareable__isnull=False)


def project_grants(*, project: Project) -> dict[str, list[dict]]:
    """Who holds what on a project: two queries, whatever the number of grants."""
    users: dict[str, dict] = {}
    for user_id, email, perm in ProjectUserObjectPermission.objects.filter(content_object=project).values_list(
        "user_id", "user__email", "permission__codename"
    ):
        users.setdefault(email, {"id": user_id, "email": email, "permissions": set()})["permissions"].add(
            short_name(perm)
        )
    groups: dict[str, dict] = {}
    for name, perm in ProjectGroupObjectPermission.objects.filter(content_object=project).values_list(
        "group__name", "permission__codename"
    ):
        groups.setdefault(name, {"name": name, "permissions": set()})["permissions"].add(short_name(perm))

    return {
        "users": [{**u, "permissions": in_order(u["permissions"])} for _, u in sorted(users.items())],
        "groups": [{**g, "permissions": in_order(g["permissions"])} for _, g in sorted(groups.items())],
    }
