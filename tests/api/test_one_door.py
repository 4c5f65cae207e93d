"""The project services are the one door: every write through the API is atomic, audited and
answered from what its transaction returned; refusals come from the services themselves."""

import pytest
from django.test import Client

from accounts.models import SecurityEvent, User
from accounts.roles import ADMIN, EDITOR
from api import services
from api.models import Project, ProjectUserObjectPermission
from api.selectors import ProjectAccess
from tests.api.conftest import client_for, db_state, grant
from tests.helpers import assert_problem, make_team, use_plain_static_storage, without_request_id

pytestmark = pytest.mark.django_db


def events(kind: str) -> list[SecurityEvent]:
    return list(SecurityEvent.objects.filter(type=kind).order_by("created_at"))


def test_creating_a_project_records_one_project_create_event(owner):
    response = client_for(owner).post("/api/v1/projects/", {"name": "Mercury"})

    assert response.status_code == 201
    [event] = events("project_create")
    assert (event.actor, event.target_id, event.detail["owner"]) == (owner, response.json()["id"], owner.email)


def test_updating_a_project_records_each_field_before_and_after(owner, project):
    response = client_for(owner).patch(f"/api/v1/projects/{project.pk}/", {"name": "Apollo 11"})

    assert response.status_code == 200
    [event] = events("project_update")
    assert event.actor == owner
    assert event.detail == {"changes": {"name": ["Apollo", "Apollo 11"]}}


def test_an_update_that_changes_nothing_records_nothing(owner, project):
    response = client_for(owner).patch(f"/api/v1/projects/{project.pk}/", {"name": "Apollo"})

    assert response.status_code == 200
    assert events("project_update") == []


def test_deleting_a_project_records_the_grants_it_removed(owner, project, holder):
    holder("change")
    team = make_team("reviewers")
    grant(team, project)

    response = client_for(owner).delete(f"/api/v1/projects/{project.pk}/")

    assert response.status_code == 204
    assert not Project.objects.filter(pk=project.pk).exists()
    assert not ProjectUserObjectPermission.objects.filter(content_object_id=project.pk).exists()
    [event] = events("project_delete")
    assert event.target_id == str(project.pk)
    assert event.detail["grants_removed"] == {
        "users": [
            {"email": "change@example.com", "permissions": ["view", "change"]},
            {"email": "owner@example.com", "permissions": ["view", "change", "delete", "share"]},
        ],
        "groups": [{"name": "reviewers", "permissions": ["view"]}],
    }


def test_a_refused_delete_records_nothing(project, holder):
    client = client_for(holder("change"))
    before = db_state()

    assert_problem(client.delete(f"/api/v1/projects/{project.pk}/"), 403)

    assert db_state() == before
    assert events("project_delete") == []


def test_the_create_answer_is_built_from_the_transaction_not_read_back(owner, monkeypatch):
    # After the commit nothing may be queried: a failure there would answer 500 for a project
    # that exists, and the client's retry would create a duplicate.
    def no_reads_after_commit(self, project_ids, *, fresh=False):
        raise AssertionError("flags were read back after the create committed")

    monkeypatch.setattr(ProjectAccess, "load", no_reads_after_commit)

    response = client_for(owner).post("/api/v1/projects/", {"name": "Mercury"})

    assert response.status_code == 201, response.content
    assert response.json()["permissions"] == ["view", "change", "delete", "share"]


def test_can_create_a_project_from_the_browsable_api(settings, owner):
    # The page renders forms for the new object; an unmapped method used to raise KeyError: 'POST'.
    use_plain_static_storage(settings)
    client = Client()
    client.force_login(owner)

    response = client.post(
        "/api/v1/projects/", '{"name": "From the browser"}', content_type="application/json", HTTP_ACCEPT="text/html"
    )

    assert response.status_code == 201
    assert Project.objects.filter(name="From the browser", owner=owner).exists()


@pytest.mark.parametrize(
    "path", ["projects/{project}/", "projects/{project}/documents/", "projects/{project}/permissions/"]
)
def test_an_unmapped_method_is_a_405_on_every_project_view(path, owner, project):
    response = client_for(owner).generic("TRACE", "/api/v1/" + path.format(project=project.pk))

    assert_problem(response, 405)


def test_cannot_share_with_a_role_or_a_group_that_is_not_shareable(owner, project, roles):
    from django.contrib.auth.models import Group

    Group.objects.create(name="internal")
    client = client_for(owner)
    before = db_state()
    answers = {
        name: client.put(f"/api/v1/projects/{project.pk}/permissions/groups/{name}/", {"permissions": ["view"]})
        for name in ["editor", "viewer", "admin", "internal", "no-such-group"]
    }

    bodies = {name: without_request_id(assert_problem(response, 404)) for name, response in answers.items()}
    assert len({str(sorted(body.items())) for body in bodies.values()}) == 1, "the answers tell groups apart"
    assert db_state() == before


def test_the_sharing_service_refuses_a_group_that_is_not_shareable_on_every_surface(owner, project, roles):
    before = db_state()

    with pytest.raises(services.SharingInvalid):
        services.project_share_with_group(
            access=ProjectAccess(owner), project=project, group=roles[EDITOR], permissions={"view"}
        )

    assert db_state() == before


def test_a_sharer_whose_share_was_revoked_meanwhile_cannot_grant(owner, project, holder, outsider):
    # The sharer's flags were read (cached for the request) before the owner took `share` away;
    # the grant is decided on what is committed under the project lock, not on that cache.
    sharer = holder("change", "share")
    access = ProjectAccess(sharer)
    assert "share" in access.flags(project)
    services.project_share_with_user(
        access=ProjectAccess(owner), project=project, user=sharer, permissions={"view", "change"}
    )
    before = db_state()

    with pytest.raises(services.SharingRefused):
        services.project_share_with_user(access=access, project=project, user=outsider, permissions={"change"})

    assert db_state() == before


def test_a_sharer_cannot_grant_what_was_revoked_from_them_meanwhile(owner, project, holder, outsider):
    sharer = holder("change", "share")
    access = ProjectAccess(sharer)
    assert "change" in access.flags(project)
    services.project_share_with_user(access=ProjectAccess(owner), project=project, user=sharer, permissions={"share"})
    before = db_state()

    with pytest.raises(services.SharingRefused):
        services.project_share_with_user(access=access, project=project, user=outsider, permissions={"change"})

    assert db_state() == before


@pytest.fixture
def superuser(make_user) -> User:
    return make_user("root@example.com", is_staff=True, is_superuser=True)


@pytest.mark.parametrize("body", [{"is_active": False}, {"roles": ["viewer"]}, {"roles": ["admin"]}])
def test_an_admin_role_user_cannot_change_a_superuser(body, admin, superuser):
    before = db_state()

    response = client_for(admin).patch(f"/api/v1/users/{superuser.pk}/", body)

    assert_problem(response, 403, "superuser_protected")
    assert db_state() == before


@pytest.mark.parametrize("body", [{"is_active": False}, {"roles": ["viewer"]}])
def test_a_superuser_can_change_a_superuser(body, roles, make_user, superuser):
    other = make_user("other-root@example.com", is_staff=True, is_superuser=True)

    response = client_for(superuser).patch(f"/api/v1/users/{other.pk}/", body)

    assert response.status_code == 200, response.content


def test_is_staff_follows_the_admin_role(admin, make_member):
    carol = make_member("carol@example.com", EDITOR)
    client = client_for(admin)

    client.patch(f"/api/v1/users/{carol.pk}/", {"roles": [ADMIN]})
    promoted = User.objects.get(pk=carol.pk).is_staff
    client.patch(f"/api/v1/users/{carol.pk}/", {"roles": [EDITOR]})
    demoted = User.objects.get(pk=carol.pk).is_staff

    assert (promoted, demoted) == (True, False)
