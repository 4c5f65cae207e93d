"""Privilege escalation: every way a caller might gain or hand out more than they hold is refused,
and a refusal writes nothing."""

import pytest
from guardian.shortcuts import assign_perm

from accounts.models import User
from accounts.roles import ADMIN, EDITOR, VIEWER
from api import services
from api.models import Document, Project, ProjectGroupObjectPermission, ProjectUserObjectPermission
from tests.api.conftest import client_for, db_state, grant
from tests.helpers import assert_problem, assert_validation_problem

pytestmark = pytest.mark.django_db


def project_url(project: Project) -> str:
    return f"/api/v1/projects/{project.pk}/"


def document_url(project: Project, document: Document) -> str:
    return f"/api/v1/projects/{project.pk}/documents/{document.pk}/"


def user_share_url(project: Project, user: User) -> str:
    return f"/api/v1/projects/{project.pk}/permissions/users/{user.pk}/"


def group_share_url(project: Project, name: str) -> str:
    return f"/api/v1/projects/{project.pk}/permissions/groups/{name}/"


def held(project: Project, user: User) -> set[str]:
    rows = ProjectUserObjectPermission.objects.filter(content_object=project, user=user)
    return {codename.removesuffix("_project") for codename in rows.values_list("permission__codename", flat=True)}


def group_held(project: Project, name: str) -> set[str]:
    rows = ProjectGroupObjectPermission.objects.filter(content_object=project, group__name=name)
    return {codename.removesuffix("_project") for codename in rows.values_list("permission__codename", flat=True)}


# --- Sharing what you do not hold ----------------------------------------------------------------


@pytest.mark.parametrize("asked", [["change"], ["delete"], ["view", "change", "share"], ["view", "delete"]])
def test_sharer_cannot_grant_a_permission_they_lack(asked, holder, project, outsider):
    sharer = client_for(holder("share"))
    before = db_state()

    response = sharer.put(user_share_url(project, outsider), {"permissions": asked})

    assert_problem(response, 403, "permission_denied")
    assert db_state() == before


def test_sharer_can_grant_what_they_hold(holder, project, outsider):
    response = client_for(holder("share")).put(user_share_url(project, outsider), {"permissions": ["share"]})

    assert response.status_code == 200, response.content
    assert response.json() == {"permissions": ["view", "share"]}
    assert held(project, outsider) == {"view", "share"}


def test_sharer_cannot_take_away_a_permission_they_lack(holder, owner, project, outsider):
    grant(outsider, project, "change")
    sharer = client_for(holder("share"))
    before = db_state()

    narrowed = sharer.put(user_share_url(project, outsider), {"permissions": ["view"]})
    revoked = sharer.delete(user_share_url(project, outsider))

    assert_problem(narrowed, 403, "permission_denied")
    assert_problem(revoked, 403, "permission_denied")
    assert db_state() == before


def test_sharer_cannot_grant_a_permission_they_lack_to_a_group_they_belong_to(holder, project, auditors):
    sharer = holder("share")
    sharer.groups.add(auditors)
    before = db_state()

    response = client_for(sharer).put(group_share_url(project, "auditors"), {"permissions": ["view", "change"]})

    assert_problem(response, 403, "permission_denied")
    assert db_state() == before


# --- Granting to yourself --------------------------------------------------------------------------


@pytest.mark.parametrize("asked", [["view", "share", "change"], ["view", "share"], ["view"]])
def test_sharer_cannot_set_their_own_permissions(asked, holder, project):
    sharer = holder("share")
    before = db_state()

    response = client_for(sharer).put(user_share_url(project, sharer), {"permissions": asked})

    assert_problem(response, 403, "permission_denied")
    assert db_state() == before


def test_sharer_cannot_revoke_their_own_permissions(holder, project):
    sharer = holder("share")
    before = db_state()

    response = client_for(sharer).delete(user_share_url(project, sharer))

    assert_problem(response, 403, "permission_denied")
    assert db_state() == before


def test_admin_cannot_grant_themselves_object_permissions(admin, project):
    before = db_state()

    response = client_for(admin).put(user_share_url(project, admin), {"permissions": ["view"]})

    assert_problem(response, 403, "permission_denied")
    assert db_state() == before


# --- The owner's permissions -----------------------------------------------------------------------


@pytest.mark.parametrize("caller", ["owner", "sharer", "admin"])
@pytest.mark.parametrize("method", ["put", "delete"])
def test_nobody_can_change_the_owners_permissions(caller, method, owner, holder, admin, project):
    user = {"owner": owner, "sharer": holder("share"), "admin": admin}[caller]
    before = db_state()

    response = getattr(client_for(user), method)(user_share_url(project, owner), {"permissions": ["view"]})

    assert_validation_problem(response, ("permissions", "invalid"))
    assert db_state() == before
    assert held(project, owner) == {"view", "change", "delete", "share"}


# --- Read-only fields ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("owner", "{other}"),
        ("id", "{other_id}"),
        ("created_at", "2000-01-01T00:00:00Z"),
        ("updated_at", "2000-01-01T00:00:00Z"),
        ("permissions", ["view", "change", "delete", "share"]),
    ],
)
@pytest.mark.parametrize("method", ["patch", "put"])
def test_project_read_only_fields_cannot_be_written(method, field, value, holder, make_member, project, other_project):
    other = make_member("other@example.com", EDITOR)
    if isinstance(value, str):
        value = value.format(other=other.pk, other_id=other_project.pk)
    client = client_for(holder("change"))
    before = db_state()

    response = getattr(client, method)(project_url(project), {"name": "Renamed", field: value}, format="json")

    assert_validation_problem(response, (field, "unknown_field"))
    assert db_state() == before


def test_project_cannot_be_created_for_someone_else(owner, make_member):
    other = make_member("other@example.com", EDITOR)
    before = db_state()

    response = client_for(owner).post("/api/v1/projects/", {"name": "Theirs", "owner": str(other.pk)})

    assert_validation_problem(response, ("owner", "unknown_field"))
    assert db_state() == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("project", "{other_project}"),
        ("created_by", "{other}"),
        ("id", "{other_document}"),
        ("created_at", "2000-01-01T00:00:00Z"),
        ("updated_at", "2000-01-01T00:00:00Z"),
    ],
)
def test_document_read_only_fields_cannot_be_written(
    field, value, owner, make_member, project, document, other_document
):
    other = make_member("other@example.com", EDITOR)
    value = value.format(other_project=other_document.project_id, other=other.pk, other_document=other_document.pk)
    before = db_state()

    response = client_for(owner).patch(document_url(project, document), {field: value})

    assert_validation_problem(response, (field, "unknown_field"))
    assert db_state() == before


def test_document_cannot_be_moved_to_another_project(owner, project, document, other_project):
    # The owner holds change on both projects, so only the rule itself stands in the way.
    before = db_state()

    response = client_for(owner).patch(document_url(project, document), {"project": str(other_project.pk)})

    assert_validation_problem(response, ("project", "unknown_field"))
    assert db_state() == before
    assert Document.objects.get(pk=document.pk).project_id == project.pk


def test_document_cannot_be_created_in_another_project(owner, project, other_project):
    before = db_state()

    response = client_for(owner).post(
        f"/api/v1/projects/{project.pk}/documents/", {"title": "Smuggled", "project": str(other_project.pk)}
    )

    assert_validation_problem(response, ("project", "unknown_field"))
    assert db_state() == before


# --- A document lives only under its own project ---------------------------------------------------


@pytest.mark.parametrize("caller", ["owner", "admin"])
@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_document_is_not_reachable_under_another_project(caller, method, owner, admin, project, other_document):
    # The caller can see and change both projects.
    client = client_for({"owner": owner, "admin": admin}[caller])
    before = db_state()

    wrong = getattr(client, method)(document_url(project, other_document), None if method == "get" else {"title": "x"})
    missing = client.get(f"/api/v1/projects/{project.pk}/documents/00000000-0000-0000-0000-000000000000/")

    body = assert_problem(wrong, 404, "not_found")
    assert {k: v for k, v in body.items() if k != "request_id"} == {
        k: v for k, v in missing.json().items() if k != "request_id"
    }
    assert db_state() == before


# --- Roles -----------------------------------------------------------------------------------------


def test_viewer_cannot_create_a_project(make_member):
    viewer = make_member("viewer@example.com", VIEWER)

    response = client_for(viewer).post("/api/v1/projects/", {"name": "Mine"})

    assert_problem(response, 403, "permission_denied")
    assert not Project.objects.exists()


def test_editor_can_create_a_project_and_holds_every_permission_on_it(make_member):
    editor = make_member("editor@example.com", EDITOR)

    response = client_for(editor).post("/api/v1/projects/", {"name": "Mine"})

    assert response.status_code == 201, response.content
    project = Project.objects.get()
    assert project.owner == editor
    assert response.json()["permissions"] == ["view", "change", "delete", "share"]
    assert held(project, editor) == {"view", "change", "delete", "share"}


def test_user_with_a_grant_but_no_role_cannot_create_a_project(holder):
    # Holding object permissions on someone's project does not make you an editor.
    response = client_for(holder("change", "delete", "share")).post("/api/v1/projects/", {"name": "Mine"})

    assert_problem(response, 403, "permission_denied")
    assert Project.objects.count() == 1


# --- The last admin --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [({"roles": ["editor"]}, "roles"), ({"roles": []}, "roles"), ({"is_active": False}, "is_active")],
)
def test_admin_cannot_remove_the_last_admin(body, field, admin):
    before = db_state()

    response = client_for(admin).patch(f"/api/v1/users/{admin.pk}/", body)

    assert_validation_problem(response, (field, "last_admin"))
    assert db_state() == before
    assert client_for(admin).get("/api/v1/users/").status_code == 200


def test_a_deactivated_admin_does_not_count_as_another_admin(admin, make_member):
    make_member("former-admin@example.com", ADMIN, is_active=False)
    before = db_state()

    response = client_for(admin).patch(f"/api/v1/users/{admin.pk}/", {"roles": ["editor"]})

    assert_validation_problem(response, ("roles", "last_admin"))
    assert db_state() == before


def test_admin_can_step_down_when_another_admin_remains(admin, make_member):
    make_member("second-admin@example.com", ADMIN)
    client = client_for(admin)

    response = client.patch(f"/api/v1/users/{admin.pk}/", {"roles": ["editor"]})

    assert response.status_code == 200, response.content
    assert response.json()["roles"] == ["editor"]
    admin.refresh_from_db()
    assert not admin.is_staff
    # The same token loses admin powers on its next request.
    assert_problem(client.get("/api/v1/users/"), 403, "permission_denied")


def test_promoting_a_user_to_admin_grants_admin_powers(admin, outsider, project):
    outsider_client = client_for(outsider)
    assert_problem(outsider_client.get(project_url(project)), 404)

    response = client_for(admin).patch(f"/api/v1/users/{outsider.pk}/", {"roles": ["admin"]})

    assert response.status_code == 200, response.content
    outsider.refresh_from_db()
    assert outsider.is_staff
    assert outsider_client.get(project_url(project)).status_code == 200


def test_roles_must_be_role_names(admin, outsider, team):
    before = db_state()

    response = client_for(admin).patch(f"/api/v1/users/{outsider.pk}/", {"roles": ["reviewers"]})

    assert_validation_problem(response, ("roles.0", "invalid_choice"))
    assert db_state() == before


@pytest.mark.parametrize("field", ["email", "id", "is_staff", "is_superuser", "password", "groups"])
def test_admin_cannot_write_undeclared_user_fields(field, admin, outsider):
    before = db_state()

    response = client_for(admin).patch(f"/api/v1/users/{outsider.pk}/", {field: "x"})

    assert_validation_problem(response, (field, "unknown_field"))
    assert db_state() == before


def test_deactivation_cuts_off_an_existing_access_token_at_once(admin, holder, project):
    victim = holder("change")
    victim_client = client_for(victim)
    assert victim_client.get(project_url(project)).status_code == 200

    response = client_for(admin).patch(f"/api/v1/users/{victim.pk}/", {"is_active": False})

    assert response.status_code == 200, response.content
    assert response.json()["is_active"] is False
    assert_problem(victim_client.get(project_url(project)), 401)
    assert_problem(victim_client.patch(project_url(project), {"name": "Too late"}), 401)
    assert Project.objects.get(pk=project.pk).name == "Apollo"


def test_reactivation_does_not_revive_old_tokens(admin, holder, project):
    victim = holder("change")
    victim_client = client_for(victim)
    admin_client = client_for(admin)
    admin_client.patch(f"/api/v1/users/{victim.pk}/", {"is_active": False})

    admin_client.patch(f"/api/v1/users/{victim.pk}/", {"is_active": True})

    assert_problem(victim_client.get(project_url(project)), 401)
    assert client_for(victim).get(project_url(project)).status_code == 200


# --- What a grant means ----------------------------------------------------------------------------


@pytest.mark.parametrize("permission", ["change", "delete", "share"])
def test_every_permission_implies_view(permission, owner, project, outsider):
    response = client_for(owner).put(user_share_url(project, outsider), {"permissions": [permission]})

    assert response.status_code == 200, response.content
    assert response.json() == {"permissions": ["view", permission]}
    assert held(project, outsider) == {"view", permission}
    assert client_for(outsider).get(project_url(project)).json()["permissions"] == ["view", permission]


@pytest.mark.parametrize("permission", ["change", "delete", "share"])
def test_every_permission_implies_view_for_groups_too(permission, owner, project, auditors):
    response = client_for(owner).put(group_share_url(project, "auditors"), {"permissions": [permission]})

    assert response.status_code == 200, response.content
    assert group_held(project, "auditors") == {"view", permission}


def test_put_sets_exactly_the_given_permissions(owner, project, outsider):
    grant(outsider, project, "change", "share")

    response = client_for(owner).put(user_share_url(project, outsider), {"permissions": ["view", "delete"]})

    assert response.status_code == 200, response.content
    assert response.json() == {"permissions": ["view", "delete"]}
    assert held(project, outsider) == {"view", "delete"}


def test_put_with_no_permissions_revokes_them_all(owner, project, grantee):
    response = client_for(owner).put(user_share_url(project, grantee), {"permissions": []})

    assert response.status_code == 200, response.content
    assert response.json() == {"permissions": []}
    assert held(project, grantee) == set()


def test_delete_revokes_every_permission_and_access_with_it(owner, project, outsider):
    grant(outsider, project, "change", "delete", "share")
    outsider_client = client_for(outsider)
    assert outsider_client.get(project_url(project)).status_code == 200

    response = client_for(owner).delete(user_share_url(project, outsider))

    assert response.status_code == 204
    assert held(project, outsider) == set()
    assert_problem(outsider_client.get(project_url(project)), 404)
    assert outsider_client.get("/api/v1/projects/").json()["results"] == []


def test_revoking_one_project_leaves_the_others(owner, project, other_project, outsider):
    grant(outsider, project, "change")
    grant(outsider, other_project, "change")

    client_for(owner).delete(user_share_url(project, outsider))

    assert held(project, outsider) == set()
    assert held(other_project, outsider) == {"view", "change"}


def test_a_group_grant_gives_access_to_members_until_it_is_revoked(owner, project, document, team):
    member = client_for(User.objects.get(email="reviewer@example.com"))
    assert member.get(project_url(project)).json()["permissions"] == ["view"]
    assert [p["id"] for p in member.get("/api/v1/projects/").json()["results"]] == [str(project.pk)]
    assert member.get(document_url(project, document)).status_code == 200
    assert_problem(member.patch(project_url(project), {"name": "Renamed"}), 403)

    widened = client_for(owner).put(group_share_url(project, "reviewers"), {"permissions": ["change"]})

    assert widened.status_code == 200, widened.content
    assert member.patch(project_url(project), {"name": "Renamed"}).status_code == 200

    revoked = client_for(owner).delete(group_share_url(project, "reviewers"))

    assert revoked.status_code == 204
    assert group_held(project, "reviewers") == set()
    assert_problem(member.get(project_url(project)), 404)
    assert_problem(member.get(document_url(project, document)), 404)
    assert member.get("/api/v1/projects/").json()["results"] == []


def test_leaving_a_group_takes_its_access_away(project, team):
    member = User.objects.get(email="reviewer@example.com")
    client = client_for(member)
    assert client.get(project_url(project)).status_code == 200

    member.groups.remove(team)

    assert_problem(client.get(project_url(project)), 404)


def test_permissions_without_view_grant_nothing(make_member, project):
    # Only guardian's own API can store such a row; the API must still treat it as no access.
    user = make_member("half@example.com", VIEWER)
    assign_perm("delete_project", user, project)
    assign_perm("share_project", user, project)
    client = client_for(user)
    before = db_state()

    assert_problem(client.get(project_url(project)), 404)
    assert_problem(client.delete(project_url(project)), 404)
    assert_problem(client.get(f"/api/v1/projects/{project.pk}/permissions/"), 404)
    assert client.get("/api/v1/projects/").json()["results"] == []
    assert db_state() == before


@pytest.mark.parametrize("target", ["user", "group"])
def test_sharing_with_someone_who_does_not_exist_is_404_and_writes_nothing(target, owner, project):
    url = (
        user_share_url(project, User(pk="00000000-0000-0000-0000-000000000000"))
        if target == "user"
        else group_share_url(project, "nobody")
    )
    before = db_state()

    response = client_for(owner).put(url, {"permissions": ["view"]})

    assert_problem(response, 404, "not_found")
    assert db_state() == before


# --- Each sharing call is atomic -------------------------------------------------------------------


def test_a_failed_share_leaves_the_previous_grants_intact(owner, project, outsider, monkeypatch):
    grant(outsider, project, "change")
    client = client_for(owner)
    client.raise_request_exception = False
    before = db_state()

    def fail(*args, **kwargs):
        raise RuntimeError("the database went away mid-write")

    # The old rows are deleted first; failing on the insert must bring them back.
    monkeypatch.setattr(ProjectUserObjectPermission.objects, "bulk_create", fail)
    response = client.put(user_share_url(project, outsider), {"permissions": ["view", "delete"]})

    assert response.status_code == 500
    assert db_state() == before


@pytest.mark.parametrize("target", ["user", "group"])
def test_a_concurrent_identical_grant_does_not_fail_the_share(target, owner, project, outsider, auditors, monkeypatch):
    # Simulates a second request granting the same permission between this one's read of the
    # current rows and its insert: the unique constraint must not turn that into a 500.
    url = user_share_url(project, outsider) if target == "user" else group_share_url(project, "auditors")
    real_permissions = services._permissions

    def permissions_after_a_concurrent_grant(names):
        assign_perm("view_project", outsider if target == "user" else auditors, project)
        return real_permissions(names)

    monkeypatch.setattr(services, "_permissions", permissions_after_a_concurrent_grant)
    response = client_for(owner).put(url, {"permissions": ["view"]})

    assert response.status_code == 200, response.content
    assert (held(project, outsider) if target == "user" else group_held(project, "auditors")) == {"view"}
