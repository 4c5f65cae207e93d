"""Issue 8, the admin part: each tester finding, attacked through the admin, refused or fixed.

1. bulk actions ignored the superuser guard; 2. the user form and actions bypassed the last-admin
rule, the is_staff sync and the role_change event; 3. guardian's object-permission editor;
4. projects created in the admin had no grants; 5. project updates and deletes were not audited.
"""

import pytest
from django.contrib.auth.models import Group, Permission

from accounts.models import AuthSession, SecurityEvent, User
from accounts.roles import ADMIN, ROLES
from api.models import Project, ShareableGroup
from api.selectors import ProjectAccess
from api.services import project_share_with_user
from tests.admin.conftest import World, admin_db_state, client_as, error_messages, form_errors
from tests.api.conftest import client_for
from tests.invariants import check_invariants

pytestmark = pytest.mark.django_db
Event = SecurityEvent.Type

U = "/admin/accounts/user/"


def events(event_type: str) -> list[SecurityEvent]:
    return list(SecurityEvent.objects.filter(type=event_type).order_by("created_at"))


def give(user: User, *perms: str) -> None:
    """Raw model permissions, as a superuser could hand out: to reach past the role's own."""
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


# 1. The superuser guard on bulk actions


def test_cannot_deactivate_a_superuser_with_the_bulk_action_as_admin_role_staff(world: World):
    before = admin_db_state()

    response = client_as(world.admin).post(U, {"action": "deactivate", "_selected_action": [world.root2.pk]})

    assert response.status_code == 302
    assert "root2@example.com" in error_messages(response)[0]
    assert User.objects.get(pk=world.root2.pk).is_active
    assert admin_db_state() == before  # No event either.


def test_a_bulk_action_with_one_refused_row_changes_no_row(world: World):
    """All or nothing: Bob could be deactivated, the superuser not; neither is, and the message
    names the refused one."""
    before = admin_db_state()

    response = client_as(world.admin).post(
        U, {"action": "deactivate", "_selected_action": [world.bob.pk, world.root2.pk]}
    )

    [message] = error_messages(response)
    assert message.startswith("Nothing was changed.")
    assert "root2@example.com" in message
    assert "bob@example.com" not in message
    assert User.objects.get(pk=world.bob.pk).is_active
    assert AuthSession.objects.get(pk=world.bob_session.pk).is_active
    assert admin_db_state() == before


def test_can_deactivate_a_superuser_with_the_bulk_action_as_a_superuser(world: World):
    response = client_as(world.superuser).post(U, {"action": "deactivate", "_selected_action": [world.root2.pk]})

    assert not error_messages(response)
    assert not User.objects.get(pk=world.root2.pk).is_active
    [event] = events(Event.ACTIVATION_CHANGE)
    assert (event.actor, event.target_id) == (world.superuser, str(world.root2.pk))
    check_invariants()


def test_cannot_activate_a_superuser_with_the_bulk_action_as_admin_role_staff(world: World):
    response = client_as(world.admin).post(U, {"action": "activate", "_selected_action": [world.dora.pk]})

    assert "dora@example.com" in error_messages(response)[0]
    assert not User.objects.get(pk=world.dora.pk).is_active


def test_cannot_revoke_a_superusers_session_as_staff_who_can_see_sessions(world: World):
    give(world.admin, "accounts.view_authsession")
    before = admin_db_state()

    response = client_as(world.admin).post(
        "/admin/accounts/authsession/", {"action": "revoke", "_selected_action": [world.root2_session.pk]}
    )

    assert "Only a superuser" in error_messages(response)[0]
    assert AuthSession.objects.get(pk=world.root2_session.pk).is_active
    assert admin_db_state() == before


def test_can_revoke_a_normal_users_session_as_staff_who_can_see_sessions(world: World):
    give(world.admin, "accounts.view_authsession")

    response = client_as(world.admin).post(
        "/admin/accounts/authsession/", {"action": "revoke", "_selected_action": [world.bob_session.pk]}
    )

    assert not error_messages(response)
    assert not AuthSession.objects.get(pk=world.bob_session.pk).is_active
    assert events(Event.SESSION_REVOKED)[0].actor == world.admin


def test_users_and_sessions_cannot_be_deleted_in_the_admin(world: World):
    client = client_as(world.superuser)

    assert client.get(f"{U}{world.bob.pk}/delete/").status_code == 403
    assert client.post(U, {"action": "delete_selected", "_selected_action": [world.bob.pk], "post": "yes"})
    assert User.objects.filter(pk=world.bob.pk).exists()


def test_cannot_reset_a_superusers_password_as_admin_role_staff(world: World):
    response = client_as(world.admin).post(
        f"{U}{world.root2.pk}/password/", {"password1": "a-new-passphrase-123", "password2": "a-new-passphrase-123"}
    )

    assert response.status_code == 403
    assert not User.objects.get(pk=world.root2.pk).check_password("a-new-passphrase-123")


def test_a_password_reset_in_the_admin_is_audited_with_the_admin_as_actor(world: World):
    response = client_as(world.admin).post(
        f"{U}{world.bob.pk}/password/", {"password1": "a-new-passphrase-123", "password2": "a-new-passphrase-123"}
    )

    assert response.status_code == 302
    [event] = events(Event.PASSWORD_CHANGE)
    assert (event.actor, event.target_id) == (world.admin, str(world.bob.pk))
    assert not AuthSession.objects.get(pk=world.bob_session.pk).is_active


# 2. The last-admin rule, is_staff and role_change on the user form and actions


def change_user(client, user: User, **fields) -> object:
    data = {"display_name": user.display_name, "is_active": "on" if user.is_active else ""}
    data["roles"] = list(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
    return client.post(f"{U}{user.pk}/change/", {**data, **fields})


def test_cannot_remove_the_last_admin_through_the_user_form(world: World):
    before = admin_db_state()

    response = change_user(client_as(world.superuser), world.admin, roles=["viewer"])

    assert "last active admin" in error_messages(response)[0]
    assert world.admin.groups.filter(name=ADMIN).exists()
    assert User.objects.get(pk=world.admin.pk).is_staff
    assert admin_db_state() == before


def test_cannot_remove_your_own_admin_role_when_you_are_the_last_admin(world: World):
    response = change_user(client_as(world.admin), world.admin, roles=[])

    assert "last active admin" in error_messages(response)[0]
    assert world.admin.groups.filter(name=ADMIN).exists()


def test_cannot_deactivate_the_last_admin_with_the_bulk_action(world: World):
    response = client_as(world.superuser).post(U, {"action": "deactivate", "_selected_action": [world.admin.pk]})

    assert "last active admin" in error_messages(response)[0]
    assert User.objects.get(pk=world.admin.pk).is_active


def test_granting_the_admin_role_in_the_user_form_sets_is_staff_and_is_audited(world: World):
    response = change_user(client_as(world.admin), world.bob, roles=["admin", "viewer"])

    assert response.status_code == 302
    bob = User.objects.get(pk=world.bob.pk)
    assert bob.is_staff
    [event] = events(Event.ROLE_CHANGE)
    assert (event.actor, event.target_type, event.target_id) == (world.admin, "user", str(bob.pk))
    assert event.detail == {"before": ["viewer"], "after": ["admin", "viewer"]}
    check_invariants()


def test_removing_the_admin_role_in_the_user_form_clears_is_staff(world: World, make_member):
    other = make_member("other-admin@example.com", ADMIN, is_staff=True)

    change_user(client_as(world.admin), other, roles=["editor"])

    assert not User.objects.get(pk=other.pk).is_staff


def test_cannot_tick_is_staff_or_is_superuser_as_admin_role_staff(world: World):
    change_user(client_as(world.admin), world.bob, is_staff="on", is_superuser="on")

    bob = User.objects.get(pk=world.bob.pk)
    assert not bob.is_staff
    assert not bob.is_superuser


def test_can_make_a_superuser_as_a_superuser_and_it_is_audited(world: World):
    change_user(client_as(world.superuser), world.bob, is_superuser="on")

    bob = User.objects.get(pk=world.bob.pk)
    assert bob.is_superuser
    assert bob.is_staff
    [event] = events(Event.ROLE_CHANGE)
    assert event.detail["is_superuser"] == [False, True]


def test_cannot_change_the_email_in_the_user_form(world: World):
    change_user(client_as(world.superuser), world.bob, email="mallory@example.com")

    assert User.objects.get(pk=world.bob.pk).email == "bob@example.com"


def test_adding_a_user_in_the_admin_normalises_the_email_sets_roles_and_is_audited(world: World):
    response = client_as(world.superuser).post(
        f"{U}add/",
        {
            "email": " Erin@Example.COM ",
            "display_name": "Erin",
            "roles": ["admin"],
            "password1": "a-long-unusual-passphrase",
            "password2": "a-long-unusual-passphrase",
        },
    )

    assert response.status_code == 302, form_errors(response)
    erin = User.objects.get(email="erin@example.com")
    assert erin.is_staff
    assert list(erin.groups.values_list("name", flat=True)) == ["admin"]
    [event] = events(Event.REGISTRATION)
    assert (event.actor, event.target_id) == (world.superuser, str(erin.pk))
    assert event.detail["roles"] == ["admin"]
    assert response["Location"] == f"{U}{erin.pk}/change/"


def test_cannot_add_a_user_with_a_weak_password_in_the_admin(world: World):
    before = admin_db_state()

    response = client_as(world.superuser).post(
        f"{U}add/", {"email": "erin@example.com", "password1": "short", "password2": "short"}
    )

    assert response.status_code == 200
    assert "password2" in form_errors(response)
    assert admin_db_state() == before


# Role groups and teams


def test_cannot_rename_or_delete_a_role_group_without_being_a_superuser(world: World):
    give(world.admin, "auth.change_group", "auth.delete_group")
    viewer = world.roles["viewer"]
    client = client_as(world.admin)
    before = admin_db_state()

    renamed = client.post(f"/admin/auth/group/{viewer.pk}/change/", {"name": "viewers", "permissions": []})
    deleted = client.post(f"/admin/auth/group/{viewer.pk}/delete/", {"post": "yes"})
    bulk = client.post(
        "/admin/auth/group/", {"action": "delete_selected", "_selected_action": [viewer.pk], "post": "yes"}
    )

    assert renamed.status_code == 403
    assert deleted.status_code == 403
    assert bulk.status_code == 403  # Django's delete_selected asks has_delete_permission(obj) per row.
    assert admin_db_state() == before


def test_can_mark_a_group_shareable_and_it_is_audited(world: World):
    group = Group.objects.create(name="writers")

    response = client_as(world.superuser).post(
        f"/admin/auth/group/{group.pk}/change/", {"name": "writers", "permissions": [], "shareable": "on"}
    )

    assert response.status_code == 302
    assert ShareableGroup.objects.filter(group=group).exists()
    event = SecurityEvent.objects.get(type=Event.ADMIN_ACTION, target_type="group")
    assert event.detail == {"action": "group_set_shareable", "shareable": True}


def test_cannot_mark_a_role_shareable(world: World):
    editor = world.roles["editor"]

    response = client_as(world.superuser).post(
        f"/admin/auth/group/{editor.pk}/change/", {"name": "editor", "permissions": [], "shareable": "on"}
    )

    assert "A role cannot be a sharing target" in error_messages(response)[0]
    assert not ShareableGroup.objects.filter(group=editor).exists()


def test_cannot_delete_a_team_that_still_holds_grants(world: World):
    sharing = f"/admin/api/project/{world.project.pk}/sharing/"
    client = client_as(world.superuser)
    client.post(sharing, {"group": "reviewers", "permissions": ["view"]})

    response = client.post(f"/admin/auth/group/{world.team.pk}/delete/", {"post": "yes"})

    assert "still holds permissions" in error_messages(response)[0]
    assert Group.objects.filter(pk=world.team.pk).exists()


# 3. The sharing page in place of guardian's object-permission editor


def sharing_url(world: World) -> str:
    return f"/admin/api/project/{world.project.pk}/sharing/"


def test_granting_change_on_the_sharing_page_adds_view(world: World):
    response = client_as(world.admin).post(sharing_url(world), {"email": "BOB@example.com", "permissions": ["change"]})

    assert response.status_code == 302
    assert ProjectAccess(world.bob).flags(world.project) == {"view", "change"}
    [event] = events(Event.PERMISSION_GRANT)
    assert event.actor == world.admin
    assert event.detail["permissions"] == ["view", "change"]
    check_invariants()


def test_can_revoke_on_the_sharing_page(world: World):
    client = client_as(world.admin)
    client.post(sharing_url(world), {"email": "bob@example.com", "permissions": ["change"]})

    client.post(sharing_url(world), {"email": "bob@example.com"})

    assert ProjectAccess(world.bob).flags(world.project) == frozenset()
    assert events(Event.PERMISSION_REVOKE)[0].detail["permissions"] == ["view", "change"]


def test_the_sharing_page_lists_who_holds_what_and_offers_no_add_permission(world: World):
    client_as(world.admin).post(sharing_url(world), {"group": "reviewers", "permissions": ["view"]})

    response = client_as(world.admin).get(sharing_url(world))

    assert response.status_code == 200
    content = response.content.decode()
    assert "owner@example.com" in content
    assert "reviewers" in content
    assert "add" not in dict(response.context["form"].fields["permissions"].choices)
    assert 'name="csrfmiddlewaretoken"' in content
    assert "<script>" not in content  # Strict CSP: no inline script.


def test_cannot_share_with_a_role_on_the_sharing_page(world: World):
    before = admin_db_state()

    response = client_as(world.admin).post(sharing_url(world), {"group": "editor", "permissions": ["view"]})

    assert response.status_code == 200
    assert "group" in form_errors(response)
    assert admin_db_state() == before


def test_cannot_change_the_owners_permissions_on_the_sharing_page(world: World):
    before = admin_db_state()

    response = client_as(world.admin).post(sharing_url(world), {"email": "owner@example.com", "permissions": []})

    assert "permissions" in form_errors(response)
    assert admin_db_state() == before


def test_cannot_grant_on_the_sharing_page_what_you_do_not_hold(world: World, make_user):
    """Staff outside the admin role hold only their object permissions: sharing grants no more."""
    sharer = make_user("sharer@example.com", is_staff=True)
    give(sharer, "api.view_project")
    project_share_with_user(
        access=ProjectAccess(world.owner), project=world.project, user=sharer, permissions={"share"}
    )
    before = admin_db_state()

    response = client_as(sharer).post(sharing_url(world), {"email": "bob@example.com", "permissions": ["change"]})

    assert "do not hold: change" in str(form_errors(response))
    assert admin_db_state() == before


def test_can_grant_on_the_sharing_page_what_you_hold(world: World, make_user):
    sharer = make_user("sharer@example.com", is_staff=True)
    give(sharer, "api.view_project")
    project_share_with_user(
        access=ProjectAccess(world.owner), project=world.project, user=sharer, permissions={"share"}
    )

    response = client_as(sharer).post(sharing_url(world), {"email": "bob@example.com", "permissions": ["view"]})

    assert response.status_code == 302
    assert ProjectAccess(world.bob).flags(world.project) == {"view"}


def test_guardians_object_permission_editor_is_gone(world: World):
    response = client_as(world.superuser).get(f"/admin/api/project/{world.project.pk}/permissions/")

    assert b"Object permissions" not in response.content
    assert response.status_code in (302, 404)


# 4. and 5. Projects through the services


def test_a_project_created_in_the_admin_is_visible_to_its_owner_through_the_api(world: World):
    response = client_as(world.admin).post(
        "/admin/api/project/add/",
        {
            "name": "Made in the admin",
            "description": "",
            "owner": world.bob.pk,
            "documents-TOTAL_FORMS": 0,
            "documents-INITIAL_FORMS": 0,
        },
    )

    assert response.status_code == 302
    project = Project.objects.get(name="Made in the admin")
    answer = client_for(world.bob).get(f"/api/v1/projects/{project.pk}/")
    assert answer.status_code == 200
    assert answer.json()["permissions"] == ["view", "change", "delete", "share"]
    [event] = events(Event.PROJECT_CREATE)[-1:]
    assert (event.actor, event.detail) == (world.admin, {"owner": "bob@example.com"})


def test_a_project_changed_in_the_admin_is_audited(world: World):
    client_as(world.admin).post(
        f"/admin/api/project/{world.project.pk}/change/",
        {
            "name": "Renamed",
            "description": "The first project.",
            "documents-TOTAL_FORMS": 1,
            "documents-INITIAL_FORMS": 1,
            "documents-0-id": world.document.pk,
            "documents-0-project": world.project.pk,
        },
    )

    [event] = events(Event.PROJECT_UPDATE)
    assert event.actor == world.admin
    assert event.detail == {"changes": {"name": ["Apollo", "Renamed"]}}


@pytest.mark.parametrize("how", ["delete view", "bulk action"])
def test_a_project_deleted_in_the_admin_lists_the_grants_it_removed(world: World, how):
    client = client_as(world.admin)
    client.post(sharing_url(world), {"email": "bob@example.com", "permissions": ["change"]})

    if how == "delete view":
        client.post(f"/admin/api/project/{world.project.pk}/delete/", {"post": "yes"})
    else:
        client.post(
            "/admin/api/project/",
            {"action": "delete_selected", "_selected_action": [world.project.pk], "post": "yes"},
        )

    assert not Project.objects.exists()
    [event] = events(Event.PROJECT_DELETE)
    assert event.actor == world.admin
    assert event.detail["grants_removed"]["users"] == [
        {"email": "bob@example.com", "permissions": ["view", "change"]},
        {"email": "owner@example.com", "permissions": ["view", "change", "delete", "share"]},
    ]
