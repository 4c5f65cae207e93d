"""Every grant and revoke is an audit event naming who, on which project, what changed."""

import pytest

from accounts.models import SecurityEvent
from tests.api.conftest import client_for
from tests.helpers import make_team

pytestmark = pytest.mark.django_db


def sharing_events():
    return list(
        SecurityEvent.objects.filter(type__in=["permission_grant", "permission_revoke"]).order_by("created_at", "type")
    )


def test_grant_records_actor_project_grantee_and_permissions(owner, project, outsider):
    client_for(owner).put(
        f"/api/v1/projects/{project.pk}/permissions/users/{outsider.pk}/", {"permissions": ["change"]}
    )

    [event] = sharing_events()
    assert event.type == "permission_grant"
    assert event.actor == owner
    assert (event.target_type, event.target_id) == ("project", str(project.pk))
    assert event.detail == {
        "grantee_type": "user",
        "grantee_id": str(outsider.pk),
        "grantee": outsider.email,
        "now": ["view", "change"],
        "permissions": ["view", "change"],
    }


def test_narrowing_a_grant_records_the_revoke(owner, project, outsider):
    url = f"/api/v1/projects/{project.pk}/permissions/users/{outsider.pk}/"
    client_for(owner).put(url, {"permissions": ["change", "share"]})
    client_for(owner).put(url, {"permissions": ["view"]})
    client_for(owner).delete(url)

    revokes = [e.detail["permissions"] for e in sharing_events() if e.type == "permission_revoke"]
    assert revokes == [["change", "share"], ["view"]]


def test_group_grant_names_the_group(owner, project):
    group = make_team("reviewers")
    client_for(owner).put(f"/api/v1/projects/{project.pk}/permissions/groups/reviewers/", {"permissions": ["view"]})

    [event] = sharing_events()
    assert event.detail["grantee_type"] == "group"
    assert event.detail["grantee"] == group.name


def test_refused_or_no_op_shares_record_nothing(owner, project, outsider):
    url = f"/api/v1/projects/{project.pk}/permissions/users/{outsider.pk}/"
    client_for(outsider).put(url, {"permissions": ["view"]})  # Cannot see the project: 404.
    client_for(owner).put(f"/api/v1/projects/{project.pk}/permissions/users/{owner.pk}/", {"permissions": []})
    client_for(owner).delete(url)  # Nothing to revoke.

    assert sharing_events() == []
