"""The Django admin's world: callers of each kind, the users and objects their requests aim at."""

from dataclasses import dataclass

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.messages import ERROR, get_messages
from django.http import HttpResponse
from django.test import Client

from accounts import services as account_services
from accounts.models import AuthSession, SecurityEvent, User
from accounts.roles import ADMIN, EDITOR, VIEWER
from api import services
from api.models import Document, Project, ShareableGroup
from tests.api.conftest import db_state
from tests.helpers import make_team, use_plain_static_storage

# The callers of the admin permission matrix, by the name its table columns use.
CALLERS = ("superuser", "admin", "editor")


@dataclass
class World:
    superuser: User  # root: the superuser caller.
    admin: User  # Staff through the admin role, not a superuser; the only admin-role member.
    editor: User  # Editor role, not staff: the admin is closed to them.
    bob: User  # An ordinary active user (viewer role) with a live session.
    carl: User  # An ordinary inactive user.
    root2: User  # Another superuser, active, with a live session: the protected target.
    dora: User  # An inactive superuser.
    owner: User
    project: Project
    document: Document
    team: Group
    bob_session: AuthSession
    root2_session: AuthSession
    roles: dict[str, Group]
    add_project: Permission  # A model permission to put on a role group.


@pytest.fixture
def world(make_member, make_user, roles, settings) -> World:
    use_plain_static_storage(settings)

    def session(user: User) -> AuthSession:
        return account_services.session_start(user=user, ip_address="127.0.0.1", user_agent="pytest").session

    owner = make_member("owner@example.com", EDITOR)
    project = services.project_create(owner=owner, name="Apollo", description="The first project.")
    bob = make_member("bob@example.com", VIEWER, display_name="Bob")
    root2 = make_user("root2@example.com", is_staff=True, is_superuser=True)
    return World(
        superuser=make_user("root@example.com", is_staff=True, is_superuser=True),
        admin=make_member("staff@example.com", ADMIN, is_staff=True),
        editor=make_member("editor@example.com", EDITOR),
        bob=bob,
        carl=make_member("carl@example.com", VIEWER, is_active=False),
        root2=root2,
        dora=make_user("dora@example.com", is_staff=True, is_superuser=True, is_active=False),
        owner=owner,
        project=project,
        document=services.document_create(project=project, created_by=owner, title="Plan", body="Go."),
        team=make_team("reviewers"),
        bob_session=session(bob),
        root2_session=session(root2),
        roles=roles,
        add_project=Permission.objects.get(content_type__app_label="api", codename="add_project"),
    )


def client_as(user: User) -> Client:
    """A browser signed in to the admin as `user` (HTML forms: a plain Django client)."""
    client = Client()
    client.force_login(user)
    return client


def admin_db_state() -> dict[str, list]:
    """The API's snapshot plus what the admin can also write: profiles, passwords, raw and group
    permissions, teams, sessions and the audit trail."""
    return {
        **db_state(),
        "profiles": list(User.objects.order_by("pk").values_list("pk", "display_name", "password", "is_superuser")),
        "user_permissions": sorted(User.user_permissions.through.objects.values_list("user_id", "permission_id")),
        "group_permissions": sorted(Group.permissions.through.objects.values_list("group__name", "permission_id")),
        "teams": sorted(ShareableGroup.objects.values_list("group__name", flat=True)),
        "sessions": sorted(AuthSession.objects.values_list("pk", "revoked_at")),
        "events": sorted(SecurityEvent.objects.values_list("pk", flat=True)),
        "permissions": Permission.objects.count(),
    }


def error_messages(response: HttpResponse) -> list[str]:
    return [m.message for m in get_messages(response.wsgi_request) if m.level == ERROR]


def form_errors(response: HttpResponse) -> dict:
    """The errors of the form a response redisplays (admin change form or sharing page), if any."""
    context = response.context or {}
    if "adminform" in context:
        return dict(context["adminform"].form.errors)
    if "form" in context and hasattr(context["form"], "errors"):
        return dict(context["form"].errors)
    return {}
