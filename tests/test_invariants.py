"""The invariant checker (tests/invariants.py) fires on each broken state, written with raw ORM."""

import pytest
from django.contrib.auth.models import Permission
from guardian.shortcuts import assign_perm, remove_perm

from accounts import audit
from accounts import services as account_services
from accounts.models import SecurityEvent, User
from accounts.roles import ADMIN, EDITOR
from api import services
from api.models import Project, ProjectUserObjectPermission
from api.selectors import ProjectAccess
from tests.helpers import make_team
from tests.invariants import (
    an_active_admin_remains,
    check_invariants,
    events_match_changes,
    mark,
    no_grant_without_view,
    owners_hold_everything,
    superusers_changed_only_by_superusers,
)

pytestmark = pytest.mark.django_db
Event = SecurityEvent.Type


@pytest.fixture
def owner(make_member) -> User:
    return make_member("owner@example.com", EDITOR)


@pytest.fixture
def project(owner) -> Project:
    return services.project_create(owner=owner, name="Apollo")


def test_invariants_hold_after_changes_through_the_services(project, owner, make_member, roles):
    make_member("admin@example.com", ADMIN, is_staff=True)
    reader = make_member("reader@example.com")
    marker = mark()

    services.project_share_with_user(access=ProjectAccess(owner), project=project, user=reader, permissions={"change"})
    services.project_create(owner=owner, name="Gemini")
    account_services.user_update_access(user=reader, roles=[EDITOR], is_active=False)

    check_invariants(since=marker)


def test_fires_when_an_owner_lacks_a_permission(project, owner):
    remove_perm("api.share_project", owner, project)

    assert owners_hold_everything() == ["project 'Apollo': its owner holds ['view', 'change', 'delete'], not all four"]
    with pytest.raises(AssertionError, match="owner holds"):
        check_invariants()


def test_fires_on_a_project_made_without_grants(owner):
    Project.objects.create(owner=owner, name="Bare")

    assert owners_hold_everything()


def test_fires_on_change_without_view_for_a_user(project, make_user):
    reader = make_user("reader@example.com")
    assign_perm("api.change_project", reader, project)

    assert no_grant_without_view() == [f"user {reader.pk} holds ['change'] on project {project.pk} without view"]


def test_fires_on_share_without_view_for_a_group(project):
    team = make_team("reviewers")
    assign_perm("api.share_project", team, project)

    assert no_grant_without_view() == [f"group reviewers holds ['share'] on project {project.pk} without view"]


def test_fires_when_the_last_admin_is_deactivated_by_a_raw_write(make_member):
    admin = make_member("admin@example.com", ADMIN, is_staff=True)
    assert an_active_admin_remains() == []

    User.objects.filter(pk=admin.pk).update(is_active=False)

    assert an_active_admin_remains()


def test_fires_when_the_admin_role_was_emptied_and_only_the_event_remembers(make_member, roles):
    admin = make_member("admin@example.com", ADMIN, is_staff=True)
    audit.record(Event.ROLE_CHANGE, target=admin, detail={"before": [ADMIN], "after": []})
    admin.groups.clear()

    assert an_active_admin_remains()


def test_is_quiet_when_there_never_was_an_admin(make_user):
    make_user("root@example.com", is_superuser=True, is_staff=True)

    assert an_active_admin_remains() == []


def test_fires_on_a_superuser_changed_by_a_non_superuser(make_user, make_member):
    root = make_user("root@example.com", is_superuser=True, is_staff=True)
    staff = make_member("admin@example.com", ADMIN, is_staff=True)
    audit.record(Event.ACTIVATION_CHANGE, actor=staff, target=root, detail={"is_active": False})

    assert superusers_changed_only_by_superusers() == [
        "activation_change on superuser root@example.com by non-superuser admin@example.com"
    ]


def test_is_quiet_on_a_superuser_changed_by_a_superuser(make_user):
    root = make_user("root@example.com", is_superuser=True, is_staff=True)
    other = make_user("other@example.com", is_superuser=True, is_staff=True)
    audit.record(Event.ACTIVATION_CHANGE, actor=other, target=root, detail={"is_active": False})

    assert superusers_changed_only_by_superusers() == []


def test_fires_on_a_project_created_without_an_event(owner):
    marker = mark()

    project = Project.objects.create(owner=owner, name="Quiet")

    assert events_match_changes(marker) == [
        f"project {project.pk} created: 0 project_create event(s), expected exactly one"
    ]


def test_fires_on_a_project_deleted_without_an_event(project):
    marker = mark()

    Project.objects.filter(pk=project.pk).delete()

    assert events_match_changes(marker) == [
        f"project {project.pk} deleted: 0 project_delete event(s), expected exactly one"
    ]


def test_fires_on_a_change_audited_twice(project):
    marker = mark()
    pk = project.pk

    services.project_delete(project=project, actor=None)
    project.pk = pk  # Django clears it on delete; the second event names the same project.
    audit.record(Event.PROJECT_DELETE, target=project)

    assert events_match_changes(marker) == [f"project {pk} deleted: 2 project_delete event(s), expected exactly one"]


def test_fires_on_a_role_change_without_an_event(make_member, roles):
    user = make_member("bob@example.com")
    marker = mark()

    user.groups.add(roles[EDITOR])

    assert events_match_changes(marker) == [
        f"user {user.pk} roles [] -> ['editor']: 0 role_change event(s), expected exactly one"
    ]


def test_fires_on_a_deactivation_without_an_event(make_user):
    user = make_user("bob@example.com")
    marker = mark()

    User.objects.filter(pk=user.pk).update(is_active=False)

    assert events_match_changes(marker) == [
        f"user {user.pk} active True -> False: 0 activation_change event(s), expected exactly one"
    ]


def test_fires_on_an_account_created_without_an_event(make_user):
    marker = mark()

    user = make_user("bob@example.com")

    assert events_match_changes(marker) == [f"user {user.pk} created: 0 registration event(s), expected exactly one"]


def test_fires_on_a_grant_without_an_event(project, make_user):
    reader = make_user("reader@example.com")
    marker = mark()

    ProjectUserObjectPermission.objects.create(
        user=reader, content_object=project, permission=Permission.objects.get(codename="view_project")
    )

    assert events_match_changes(marker) == [
        f"user {reader.pk} on project {project.pk}: ['view'] changed, "
        "0 matching permission_grant event(s), expected exactly one"
    ]


def test_fires_on_a_revoke_without_an_event(project, make_user):
    reader = make_user("reader@example.com")
    assign_perm("api.view_project", reader, project)
    marker = mark()

    remove_perm("api.view_project", reader, project)

    assert events_match_changes(marker) == [
        f"user {reader.pk} on project {project.pk}: ['view'] changed, "
        "0 matching permission_revoke event(s), expected exactly one"
    ]
