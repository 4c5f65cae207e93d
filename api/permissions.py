"""Who may do what with projects and their documents.

Three layers (see docs/security-model.md): `ProjectAccess.visible()` decides what exists for
the caller (an indexed subquery on guardian's direct-FK permission rows), the permission
classes below decide the action from data (`perms_map`), and services grant on create.
"""

from collections.abc import Iterable
from uuid import UUID

from django.db.models import QuerySet
from rest_framework import exceptions, permissions
from rest_framework.request import Request

from accounts.models import User
from accounts.roles import is_admin
from api.models import Project, ProjectGroupObjectPermission, ProjectUserObjectPermission

VIEW, CHANGE, DELETE, SHARE = "view", "change", "delete", "share"
PROJECT_PERMISSIONS = (VIEW, CHANGE, DELETE, SHARE)
ALL = frozenset(PROJECT_PERMISSIONS)
NONE: frozenset[str] = frozenset()


def in_order(names: set[str] | frozenset[str]) -> list[str]:
    """Permission names as the API always lists them: view, change, delete, share."""
    return [name for name in PROJECT_PERMISSIONS if name in names]


def codename(name: str) -> str:
    return f"{name}_project"


def short_name(codename: str) -> str:
    return codename.removesuffix("_project")


class ProjectAccess:
    """One caller's view of projects: what they can see, and their flags, loaded in bulk."""

    def __init__(self, user: User) -> None:
        self.user = user
        self.is_admin = is_admin(user)
        self._flags: dict[UUID, frozenset[str]] = {}
        self._group_ids: list[int] | None = None

    def group_ids(self) -> list[int]:
        """The caller's groups, fetched once per request. Passed to the permission queries as
        literals, not a subquery: the planner then reads those groups' rows by index instead of
        scanning every group grant (docs/performance.md)."""
        if self._group_ids is None:
            memberships = User.groups.through.objects.filter(user_id=self.user.pk)
            self._group_ids = list(memberships.values_list("group_id", flat=True))
        return self._group_ids

    def visible(self, permission: str = VIEW) -> QuerySet[Project]:
        """Projects the caller holds `permission` on: an index lookup, not a table scan."""
        if self.is_admin:
            return Project.objects.all()
        if not self.user.is_authenticated:
            return Project.objects.none()
        direct = ProjectUserObjectPermission.objects.filter(
            user_id=self.user.pk, permission__codename=codename(permission)
        ).values("content_object_id")
        via_groups = ProjectGroupObjectPermission.objects.filter(
            group_id__in=self.group_ids(), permission__codename=codename(permission)
        ).values("content_object_id")
        return Project.objects.filter(id__in=direct.union(via_groups))

    def load(self, project_ids: Iterable[UUID]) -> None:
        """Fetch the caller's flags for many projects in one query."""
        missing = [pk for pk in project_ids if pk not in self._flags]
        if not missing:
            return
        if self.is_admin:
            self._flags.update(dict.fromkeys(missing, ALL))
            return
        direct = ProjectUserObjectPermission.objects.filter(
            user_id=self.user.pk, content_object_id__in=missing
        ).values_list("content_object_id", "permission__codename")
        via_groups = ProjectGroupObjectPermission.objects.filter(
            group_id__in=self.group_ids(), content_object_id__in=missing
        ).values_list("content_object_id", "permission__codename")
        found: dict[UUID, set[str]] = {pk: set() for pk in missing}
        for project_id, perm in direct.union(via_groups):
            found[project_id].add(short_name(perm))
        self._flags.update({pk: frozenset(perms) for pk, perms in found.items()})

    def flags(self, project: Project) -> frozenset[str]:
        self.load([project.pk])
        return self._flags[project.pk]

    def can_create(self) -> bool:
        return self.is_admin or self.user.has_perm("api.add_project")


def project_access(request: Request) -> ProjectAccess:
    """The request's ProjectAccess, made once per request."""
    access = getattr(request, "_project_access", None)
    if access is None or access.user is not request.user:
        access = ProjectAccess(request.user)
        request._project_access = access
    return access


class CanCreateProject(permissions.BasePermission):
    """Creating a project takes the `api.add_project` model permission (editor, admin)."""

    message = "Your role may not create projects."

    def has_permission(self, request: Request, view) -> bool:
        return getattr(view, "action", None) != "create" or project_access(request).can_create()


class ProjectPermission(permissions.BasePermission):
    """Object permissions on a project. Lookups go through `visible()`, so reaching
    `has_object_permission` means the caller can see it: a refusal here is a 403."""

    perms_map = {"GET": VIEW, "HEAD": VIEW, "OPTIONS": VIEW, "PUT": CHANGE, "PATCH": CHANGE, "DELETE": DELETE}
    message = "You can see this project but may not do this to it."

    def has_object_permission(self, request: Request, view, obj: Project) -> bool:
        return self.perms_map[request.method] in project_access(request).flags(obj)


class DocumentPermission(permissions.BasePermission):
    """Documents inherit from their project: view reads them, change writes them."""

    perms_map = {
        "GET": VIEW,
        "HEAD": VIEW,
        "OPTIONS": VIEW,
        "POST": CHANGE,
        "PUT": CHANGE,
        "PATCH": CHANGE,
        "DELETE": CHANGE,
    }
    message = "You can see this project but may not change its documents."

    def has_permission(self, request: Request, view) -> bool:
        if request.method not in self.perms_map:
            # As DjangoModelPermissions does: an unmapped method (TRACE) is a 405, not a KeyError.
            raise exceptions.MethodNotAllowed(request.method)
        return self.perms_map[request.method] in project_access(request).flags(view.project)


class SharePermission(permissions.BasePermission):
    message = "You need the share permission on this project."

    def has_permission(self, request: Request, view) -> bool:
        return SHARE in project_access(request).flags(view.project)
