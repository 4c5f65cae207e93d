"""A project and everyone around it: its owner, a holder of each permission, each role, strangers.

Grants are written with guardian's own `assign_perm`, not with the service under test, so the
tests check that the API honours what guardian stores.
"""

from collections.abc import Callable

import pytest
from django.contrib.auth.models import Group, Permission
from guardian.shortcuts import assign_perm
from rest_framework.test import APIClient

from accounts import services as account_services
from accounts.models import User
from accounts.roles import ADMIN, EDITOR, VIEWER
from api import services
from api.models import Document, Project, ProjectGroupObjectPermission, ProjectUserObjectPermission
from api.selectors import VIEW, codename
from tests.helpers import make_team

# Every caller of the permission matrix, by the name its table columns use.
CALLERS = (
    "anonymous",
    "owner",
    "view",
    "change",
    "delete",
    "share",
    "none",
    "viewer",
    "editor",
    "admin",
    "deactivated",
)


def grant(target: User | Group, project: Project, *names: str) -> None:
    """Give `target` the named permissions on `project`, plus the view they imply."""
    for name in {VIEW, *names}:
        assign_perm(codename(name), target, project)


def client_for(user: User | None) -> APIClient:
    """An API client signed in as `user` (a fresh session), or anonymous for None."""
    client = APIClient()
    if user is not None:
        tokens = account_services.session_start(user=user, ip_address="127.0.0.1", user_agent="pytest")
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens.access}")
    return client


def bulk_projects(owner: User, count: int, *, name: str = "Project {i:03}", readers: tuple = ()) -> list[Project]:
    """`count` projects of `owner`, each readable (view) by every user or group in `readers`.

    Written in bulk, so that fixtures of hundreds of projects stay fast; the owner gets no
    object permission, so a project is visible only to the readers (and admins)."""
    projects = Project.objects.bulk_create(
        Project(owner=owner, name=name.format(i=i), description=f"Description {i}") for i in range(count)
    )
    view = Permission.objects.get(content_type__app_label="api", codename=codename(VIEW))
    for reader in readers:
        if isinstance(reader, Group):
            ProjectGroupObjectPermission.objects.bulk_create(
                ProjectGroupObjectPermission(group=reader, permission=view, content_object=p) for p in projects
            )
        else:
            ProjectUserObjectPermission.objects.bulk_create(
                ProjectUserObjectPermission(user=reader, permission=view, content_object=p) for p in projects
            )
    return projects


def db_state() -> dict[str, list]:
    """Everything a request to these endpoints could write, to show that a refused one wrote nothing."""
    return {
        "projects": list(Project.objects.order_by("pk").values()),
        "documents": list(Document.objects.order_by("pk").values()),
        "user_grants": sorted(
            ProjectUserObjectPermission.objects.values_list("content_object_id", "user_id", "permission__codename")
        ),
        "group_grants": sorted(
            ProjectGroupObjectPermission.objects.values_list("content_object_id", "group__name", "permission__codename")
        ),
        "users": list(User.objects.order_by("pk").values("pk", "email", "is_active", "is_staff", "is_superuser")),
        "memberships": sorted(User.groups.through.objects.values_list("user_id", "group__name")),
        "groups": sorted(Group.objects.values_list("name", flat=True)),
    }


@pytest.fixture
def owner(make_member) -> User:
    return make_member("owner@example.com", EDITOR)


@pytest.fixture
def project(owner) -> Project:
    return services.project_create(owner=owner, name="Apollo", description="The first project.")


@pytest.fixture
def document(project, owner) -> Document:
    return services.document_create(project=project, created_by=owner, title="Plan", body="Go to the moon.")


@pytest.fixture
def other_project(owner) -> Project:
    return services.project_create(owner=owner, name="Gemini")


@pytest.fixture
def other_document(other_project, owner) -> Document:
    return services.document_create(project=other_project, created_by=owner, title="Other plan")


@pytest.fixture
def holder(make_member, project) -> Callable[..., User]:
    """A viewer-role user holding exactly the named permissions (and implied view) on `project`."""

    def make(*names: str, email: str | None = None) -> User:
        user = make_member(email or f"{'-'.join(names) or 'view'}@example.com", VIEWER)
        grant(user, project, *names)
        return user

    return make


@pytest.fixture
def admin(make_member) -> User:
    return make_member("admin@example.com", ADMIN, is_staff=True)


@pytest.fixture
def grantee(make_member, project) -> User:
    """Someone the project is already shared with (view): the target of revocations."""
    user = make_member("grantee@example.com", VIEWER)
    grant(user, project)
    return user


@pytest.fixture
def outsider(make_member) -> User:
    """Someone with no grant: the target of new shares."""
    return make_member("outsider@example.com", VIEWER)


@pytest.fixture
def team(project, make_member) -> Group:
    """A shareable group holding view on the project, with one member."""
    group = make_team("reviewers")
    grant(group, project)
    make_member("reviewer@example.com").groups.add(group)
    return group


@pytest.fixture
def auditors(db) -> Group:
    """A shareable group with no grant: the target of new group shares."""
    return make_team("auditors")


@pytest.fixture
def callers(owner, holder, make_member, admin, project) -> dict[str, User | None]:
    """One user per column of the permission matrix. "deactivated" holds change, delete and share;
    the matrix signs them in and only then deactivates them."""
    deactivated = holder("change", "delete", "share", email="deactivated@example.com")
    users = {
        "anonymous": None,
        "owner": owner,
        "view": holder(),
        "change": holder("change"),
        "delete": holder("delete"),
        "share": holder("share"),
        "none": make_member("none@example.com"),
        "viewer": make_member("viewer@example.com", VIEWER),
        "editor": make_member("editor@example.com", EDITOR),
        "admin": admin,
        "deactivated": deactivated,
    }
    assert tuple(users) == CALLERS
    return users
