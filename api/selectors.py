"""Read-side helpers for projects: who sees what, and the caller's flags, loaded in bulk.

Visibility is decided here, once, as a queryset every view starts from, so a project the
caller may not see is a 404 that falls out of the lookup instead of being re-checked.
"""

from collections.abc import Iterable
from uuid import UUID

from django.db.models import QuerySet
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

    def load(self, project_ids: Iterable[UUID], *, fresh: bool = False) -> None:
        """Fetch the caller's flags for many projects in one query (`fresh`: even if known)."""
        missing = [pk for pk in project_ids if fresh or pk not in self._flags]
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
        if project.pk not in self._flags:
            self.load([project.pk])
        return self._flags[project.pk]

    def fresh_flags(self, project: Project) -> frozenset[str]:
        """The flags as committed now: for decisions taken under a lock, not the request's cache."""
        self.load([project.pk], fresh=True)
        return self._flags[project.pk]

    def remember(self, project: Project, flags: frozenset[str]) -> None:
        """Flags the caller was just given (the owner of a new project): no query to read them back."""
        self._flags[project.pk] = flags

    def can_create(self) -> bool:
        return self.is_admin or self.user.has_perm("api.add_project")


def project_access(request: Request) -> ProjectAccess:
    """The request's ProjectAccess, made once per request."""
    access = getattr(request, "_project_access", None)
    if access is None or access.user is not request.user:
        access = ProjectAccess(request.user)
        request._project_access = access
    return access
