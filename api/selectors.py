"""Read-side helpers for projects: who sees what, and the caller's flags, loaded in bulk.

Visibility is decided here, once, as a queryset every view starts from, so a project the
caller may not see is a 404 that falls out of the lookup instead of being re-checked.
"""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from uuid import UUID

from django.contrib.auth.models import Permission
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.expressions import RawSQL
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
        """Projects the caller holds `permission` on: a direct grant or a group's, for each row.

        Two index lookups per project the query reaches, so a detail costs the same whatever the
        caller sees. A list page comes from `visible_page` (a page is never found by testing
        every project in list order)."""
        if self.is_admin:
            return Project.objects.all()
        if not self.user.is_authenticated:
            return Project.objects.none()
        granted = Q(Exists(self._grants(ProjectUserObjectPermission, permission).filter(content_object=OuterRef("pk"))))
        if self.group_ids():
            via_groups = self._grants(ProjectGroupObjectPermission, permission, self.group_ids())
            granted |= Q(Exists(via_groups.filter(content_object=OuterRef("pk"))))
        return Project.objects.filter(granted)

    def visible_page(
        self,
        matching: QuerySet[Project],
        *,
        ordering: Sequence[str],
        bound: Mapping[str, Any],
        limit: int,
        permission: str = VIEW,
    ) -> QuerySet[Project]:
        """The projects of `matching` (a list's search) the caller sees that a page can hold:
        those a page query ordered by `ordering`, filtered by `bound` and cut at `limit` rows
        may return. The page query then returns exactly what it would from `visible()`.

        Such a project is among the first `limit` in that order of one grantee (the caller, or
        one of their groups), so each grantee's first `limit` rows are read from the grant
        index, ordered by (project_created_at, project): `limit` index entries each, whatever
        the caller sees. Only the caller's own grant rows are read, so every row is visible.
        Ordered by another field (name, updated_at), the page is cut from all the caller's
        projects, as before (the cost follows what the caller sees). Admins see every project
        of `matching`.
        """
        if self.is_admin:
            return matching
        if not self.user.is_authenticated:
            return Project.objects.none()
        branches = [self._grants(ProjectUserObjectPermission, permission)]
        branches += [self._grants(ProjectGroupObjectPermission, permission, [pk]) for pk in self.group_ids()]
        on_grant = {_on_grant(key): value for key, value in bound.items()}
        grant_ordering = [_on_grant(term) for term in ordering]
        # Only created_at is in the grant index: for another order, cutting each grantee's rows
        # would need a join and a sort per grantee, which the planner may turn into a walk of
        # every project by that field (measured: 264 ms by name at 1M). All of them, then.
        in_index_order = ordering[0].lstrip("-") == "created_at"
        parts, params = [], []
        for i, grants in enumerate(branches):
            grants = grants.filter(**on_grant)
            if matching.query.has_filters():
                grants = grants.filter(Exists(matching.filter(pk=OuterRef("content_object_id"))))
            grants = grants.values("content_object_id")
            if in_index_order:
                grants = grants.order_by(*grant_ordering)[:limit]
            # Django's own SQL for each branch, every value a parameter; joined by hand because
            # Django refuses a LIMIT inside a UNION on SQLite, which accepts it in a subquery.
            sql, branch_params = grants.query.get_compiler(using=grants.db).as_sql()
            parts.append(f"SELECT content_object_id FROM ({sql}) AS grantee_{i}")  # noqa: S608  # nosec B608
            params.extend(branch_params)
        return matching.filter(pk__in=RawSQL(" UNION ".join(parts), params))  # noqa: S611  # nosec B611

    def _grants(self, model: type, permission: str, group_ids: list[int] | None = None) -> QuerySet:
        """The grant rows of `permission` held by the caller (or by `group_ids`), by index."""
        permission_id = Subquery(
            Permission.objects.filter(content_type__app_label="api", codename=codename(permission)).values("pk")[:1]
        )
        principal = {"user_id": self.user.pk} if group_ids is None else {"group_id__in": group_ids}
        return model.objects.filter(permission_id=permission_id, **principal)

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


def _on_grant(term: str) -> str:
    """An ordering term or a lookup on Project, said of a grant row: `-created_at` ->
    `-project_created_at` (the copy, see ProjectCreatedAt), `name__gt` -> `content_object__name__gt`."""
    direction = "-" if term.startswith("-") else ""
    field, _, lookup = term.lstrip("-").partition("__")
    column = {"created_at": "project_created_at", "id": "content_object_id", "pk": "content_object_id"}.get(
        field, f"content_object__{field}"
    )
    return direction + column + (f"__{lookup}" if lookup else "")


def project_access(request: Request) -> ProjectAccess:
    """The request's ProjectAccess, made once per request."""
    access = getattr(request, "_project_access", None)
    if access is None or access.user is not request.user:
        access = ProjectAccess(request.user)
        request._project_access = access
    return access
