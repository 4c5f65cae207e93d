"""Writes on projects, documents and their permissions. Each is one transaction."""

from django.contrib.auth.models import Group, Permission
from django.db import transaction

from accounts import audit
from accounts.models import SecurityEvent, User
from api.models import Document, Project, ProjectGroupObjectPermission, ProjectUserObjectPermission
from api.permissions import ALL, VIEW, ProjectAccess, codename, in_order, short_name
from project.errors import Invalid, Refused

Event = SecurityEvent.Type


class SharingRefused(Refused):
    """A sharing request that is well-formed but not allowed (a 403)."""


class SharingInvalid(Invalid):
    """A sharing request that can never succeed as asked (a 400 on `permissions`)."""

    field = "permissions"


def _permissions(names: set[str]) -> list[Permission]:
    return list(Permission.objects.filter(content_type__app_label="api", codename__in=[codename(n) for n in names]))


@transaction.atomic
def project_create(*, owner: User, name: str, description: str = "") -> Project:
    """Create a project; its creator holds every project permission from the same transaction."""
    project = Project.objects.create(owner=owner, name=name, description=description)
    ProjectUserObjectPermission.objects.bulk_create(
        ProjectUserObjectPermission(user=owner, permission=perm, content_object=project)
        for perm in _permissions(set(ALL))
    )
    return project


@transaction.atomic
def document_create(*, project: Project, created_by: User, title: str, body: str = "") -> Document:
    return Document.objects.create(project=project, created_by=created_by, title=title, body=body)


def _normalise(requested: set[str]) -> set[str]:
    # Any permission on a project is useless without seeing it: change/delete/share imply view.
    return requested | {VIEW} if requested else set()


def _check_sharer(access: ProjectAccess, project: Project, before: set[str], after: set[str]) -> None:
    """A sharer may only grant or take away permissions they hold themselves."""
    held = access.flags(project)
    touched = before ^ after
    lacking = sorted(touched - held)
    if lacking:
        raise SharingRefused(f"You cannot grant or revoke permissions you do not hold: {', '.join(lacking)}.")


def _set_grants(
    *, access: ProjectAccess, project: Project, model: type, grantee_field: str, grantee: User | Group, wanted: set[str]
) -> set[str]:
    """Make the grantee hold exactly `wanted` (plus implied view); audit what was added and removed."""
    rows = model.objects.select_for_update().filter(content_object=project, **{grantee_field: grantee})
    before = {short_name(c) for c in rows.values_list("permission__codename", flat=True)}
    after = _normalise(wanted)
    _check_sharer(access, project, before, after)
    rows.exclude(permission__codename__in=[codename(n) for n in after]).delete()
    # A concurrent share may have inserted the same row since `before` was read (no row existed
    # to lock): the row is what both asked for, so a conflict is no error.
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
    """Set exactly `permissions` (plus implied view) for `group` on `project`; returns them."""
    return _set_grants(
        access=access,
        project=project,
        model=ProjectGroupObjectPermission,
        grantee_field="group",
        grantee=group,
        wanted=permissions,
    )


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
