"""Permission rows die with what they name: a deleted project, group or user leaves no grant behind
for a later one to inherit."""

import pytest
from django.contrib.auth.models import Group
from guardian.models import GroupObjectPermission, UserObjectPermission

from accounts.models import User
from api.models import Document, Project, ProjectGroupObjectPermission, ProjectUserObjectPermission
from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db


def rows_for(project_id) -> int:
    return (
        ProjectUserObjectPermission.objects.filter(content_object_id=project_id).count()
        + ProjectGroupObjectPermission.objects.filter(content_object_id=project_id).count()
    )


@pytest.fixture
def shared(project, document, grantee, team, holder):
    """The project shared every way there is: users with each permission and a group."""
    holder("change", "delete", "share")
    assert rows_for(project.pk) == 4 + 1 + 4 + 1  # owner, grantee, holder, team
    return project


def test_grants_live_in_the_direct_foreign_key_tables_only(shared):
    # guardian's generic tables match on a text object_pk, which a later object could reuse.
    assert not UserObjectPermission.objects.exists()
    assert not GroupObjectPermission.objects.exists()


def test_deleting_a_project_through_the_api_deletes_its_permission_rows(shared, other_project, owner):
    kept = rows_for(other_project.pk)

    response = client_for(owner).delete(f"/api/v1/projects/{shared.pk}/")

    assert response.status_code == 204
    assert rows_for(shared.pk) == 0
    assert not Document.objects.filter(project_id=shared.pk).exists()
    assert rows_for(other_project.pk) == kept == 4


def test_deleting_projects_in_bulk_deletes_their_permission_rows(shared, other_project):
    # As the Django admin's "delete selected" does: a queryset delete, no per-object hooks.
    Project.objects.filter(pk__in=[shared.pk, other_project.pk]).delete()

    assert not ProjectUserObjectPermission.objects.exists()
    assert not ProjectGroupObjectPermission.objects.exists()


def test_a_later_project_inherits_nothing_even_with_the_same_id(shared, owner, grantee):
    old_id = shared.pk
    member = User.objects.get(email="reviewer@example.com")
    client_for(owner).delete(f"/api/v1/projects/{old_id}/")

    reborn = Project.objects.create(pk=old_id, owner=owner, name="Reborn")

    assert rows_for(reborn.pk) == 0
    for user in (grantee, member, owner):
        client = client_for(user)
        assert client.get(f"/api/v1/projects/{old_id}/").status_code == 404
        assert client.get("/api/v1/projects/").json()["results"] == []


def test_a_later_project_created_through_the_api_holds_only_its_owners_grants(shared, owner):
    client = client_for(owner)
    client.delete(f"/api/v1/projects/{shared.pk}/")

    created = client.post("/api/v1/projects/", {"name": "Next"})

    assert created.status_code == 201
    grants = client.get(f"/api/v1/projects/{created.json()['id']}/permissions/").json()
    assert grants == {
        "users": [{"id": str(owner.pk), "email": owner.email, "permissions": ["view", "change", "delete", "share"]}],
        "groups": [],
    }


def test_a_deleted_group_leaves_no_grant_for_a_new_group_of_the_same_name(shared, team):
    # Sharing addresses groups by name, so a recreated name must start from nothing.
    team.delete()
    assert not ProjectGroupObjectPermission.objects.exists()

    reborn = Group.objects.create(name="reviewers")
    newcomer = User.objects.create_user(email="newcomer@example.com", password="x" * 20)
    newcomer.groups.add(reborn)

    assert client_for(newcomer).get(f"/api/v1/projects/{shared.pk}/").status_code == 404


def test_a_deleted_user_leaves_no_grant_behind(shared, grantee):
    grantee.delete()

    assert not ProjectUserObjectPermission.objects.filter(user_id=grantee.pk).exists()


def test_a_refused_delete_keeps_the_project_and_every_permission_row(shared, grantee):
    before = rows_for(shared.pk)
    client = client_for(grantee)

    response = client.delete(f"/api/v1/projects/{shared.pk}/")

    assert response.status_code == 403
    assert rows_for(shared.pk) == before
    assert client.get(f"/api/v1/projects/{shared.pk}/").status_code == 200
