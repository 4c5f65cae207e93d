"""Pinned SQL query counts on the hot paths: a constant per request, whatever the page size and
however many projects the caller can see. A new query per row fails here.

Counts are taken inside the test's transaction, so `transaction.atomic` shows up as SAVEPOINT and
RELEASE SAVEPOINT (in production it is BEGIN and COMMIT, which Django does not log as queries).

Rate limits are on, as production runs: their counters live in Redis or in a file of their own
(project/counterfile.py), never in the main database, so the counts are the same on every stack
and a read writes nothing.
"""

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from accounts.roles import VIEWER
from api.models import Document, Project
from tests.api.conftest import bulk_projects, client_for, grant

pytestmark = pytest.mark.django_db

# Projects the member can see: enough for several full pages at every page size pinned.
DIRECT, VIA_GROUP = 100, 50


@pytest.fixture
def member(make_member, owner, project, document) -> User:
    """A viewer who sees 150 projects (100 shared directly, 50 through a group) and holds change
    and share on `project`, which has 150 documents; plus projects they cannot see."""
    user = make_member("member@example.com", VIEWER)
    group = Group.objects.create(name="readers")
    user.groups.add(group)
    bulk_projects(owner, DIRECT - 1, readers=(user,))
    bulk_projects(owner, VIA_GROUP, readers=(group,))
    bulk_projects(owner, 60)  # Invisible to the member.
    grant(user, project, "change", "share")
    Document.objects.bulk_create(Document(project=project, created_by=owner, title=f"Document {i}") for i in range(149))
    return user


@pytest.fixture
def caller(request, member, admin) -> tuple[str, User]:
    return request.param, {"member": member, "admin": admin}[request.param]


both_callers = pytest.mark.parametrize("caller", ["member", "admin"], indirect=True)


@pytest.mark.parametrize("method", ["get", "head", "options"])
@pytest.mark.parametrize("target", ["me", "list", "detail"])
def test_a_read_writes_nothing_to_the_database(method, target, member, project):
    url = {"me": "/api/v1/auth/me/", "list": "/api/v1/projects/", "detail": f"/api/v1/projects/{project.pk}/"}[target]
    client = client_for(member)

    with CaptureQueriesContext(connection) as queries:
        response = getattr(client, method)(url)

    assert response.status_code == 200
    assert response["RateLimit-Remaining"]  # Counted: the limits are on.
    assert [query["sql"] for query in queries if not query["sql"].lstrip("(").startswith("SELECT")] == []


ME_QUERIES = 1  # The user, their live session and their group names (roles, and the admin check).


def test_me(member, django_assert_num_queries):
    client = client_for(member)

    with django_assert_num_queries(ME_QUERIES):
        response = client.get("/api/v1/auth/me/")

    assert response.json()["roles"] == ["viewer", "readers"]


# For the member: the admin role sees everything, so it needs no visibility subquery and no flags.
LIST_QUERIES = {
    # 1. the user, their live session and their group names, so whether they hold the admin role
    #    (authentication);
    # 2. their group ids (once per request: as literals they let the planner use the index);
    # 3. one page of projects: WHERE id IN (their direct grants UNION their groups' grants);
    # 4. their permission flags for the whole page, direct and through groups, in one UNION.
    "member": 4,
    # 1. authentication; 2. one page of projects. Flags are all four, without a query.
    "admin": 2,
}


@both_callers
@pytest.mark.parametrize("page_size", [1, 20, 100])
def test_project_list_costs_the_same_at_every_page_size(page_size, caller, django_assert_num_queries):
    name, user = caller
    client = client_for(user)

    with django_assert_num_queries(LIST_QUERIES[name]):
        response = client.get("/api/v1/projects/", {"page_size": page_size})

    assert len(response.json()["results"]) == page_size


@both_callers
def test_project_list_deep_page_costs_the_same_as_the_first(caller, django_assert_num_queries):
    name, user = caller
    client = client_for(user)
    next_url = client.get("/api/v1/projects/", {"page_size": 100}).json()["next"]

    with django_assert_num_queries(LIST_QUERIES[name]):
        response = client.get(next_url)

    assert response.status_code == 200
    assert response.json()["results"]


def test_member_sees_exactly_the_projects_the_pins_assume(member):
    ids = set()
    url = "/api/v1/projects/?page_size=100"
    client = client_for(member)
    while url:
        body = client.get(url).json()
        ids |= {item["id"] for item in body["results"]}
        url = body["next"]
    assert len(ids) == DIRECT + VIA_GROUP < Project.objects.count()


DETAIL_QUERIES = {
    # 1. authentication; 2. group ids; 3. the project, if in the visible subquery; 4. the member's
    # flags on it.
    "member": 4,
    # 1. authentication; 2. the project.
    "admin": 2,
}


@both_callers
def test_project_detail(caller, project, django_assert_num_queries):
    name, user = caller
    client = client_for(user)

    with django_assert_num_queries(DETAIL_QUERIES[name]):
        response = client.get(f"/api/v1/projects/{project.pk}/")

    assert response.status_code == 200


UPDATE_QUERIES = {
    # 1. authentication; 2. group ids; 3. the visible project; 4. flags (the permission check,
    # reused by the response's `permissions`); 5. SAVEPOINT (the service's transaction);
    # 6. UPDATE; 7. the project_update audit event; 8. RELEASE SAVEPOINT.
    "member": 8,
    # 1. authentication; 2. the project; 3. SAVEPOINT; 4. UPDATE; 5. audit; 6. RELEASE.
    "admin": 6,
}


@both_callers
def test_project_patch(caller, project, django_assert_num_queries):
    name, user = caller
    client = client_for(user)

    with django_assert_num_queries(UPDATE_QUERIES[name]):
        response = client.patch(f"/api/v1/projects/{project.pk}/", {"name": "Renamed"})

    assert response.status_code == 200
    assert response.json()["permissions"] == (
        ["view", "change", "share"] if name == "member" else ["view", "change", "delete", "share"]
    )


DOCUMENT_LIST_QUERIES = {
    # 1. authentication; 2. group ids; 3. the visible project; 4. flags (view reads documents);
    # 5. one page.
    "member": 5,
    # 1. authentication; 2. the project; 3. one page.
    "admin": 3,
}


@both_callers
@pytest.mark.parametrize("page_size", [1, 100])
def test_document_list(page_size, caller, project, django_assert_num_queries):
    name, user = caller
    client = client_for(user)

    with django_assert_num_queries(DOCUMENT_LIST_QUERIES[name]):
        response = client.get(f"/api/v1/projects/{project.pk}/documents/", {"page_size": page_size})

    assert len(response.json()["results"]) == page_size


GRANTS_QUERIES = {
    # 1. authentication; 2. group ids; 3. the visible project; 4. flags (share); 5. every user
    # grant with its user's email; 6. every group grant with its group's name.
    "member": 6,
    # 1. authentication; 2. the project; 3. user grants; 4. group grants.
    "admin": 4,
}


@both_callers
def test_sharing_get(caller, project, make_member, django_assert_num_queries):
    name, user = caller
    for i in range(20):  # Many grantees cost nothing more.
        grant(make_member(f"grantee{i}@example.com"), project, "change")
    for i in range(5):
        grant(Group.objects.create(name=f"team{i}"), project)
    client = client_for(user)

    with django_assert_num_queries(GRANTS_QUERIES[name]):
        response = client.get(f"/api/v1/projects/{project.pk}/permissions/")

    assert len(response.json()["users"]) == 22  # The owner, the member and 20 grantees.
    assert len(response.json()["groups"]) == 5


SHARE_QUERIES = {
    # 1. authentication; 2. group ids; 3. the visible project; 4. flags (the share check);
    # 5. the grantee; 6. SAVEPOINT; 7. the project row, locked (FOR UPDATE: every change to its
    # grants queues here); 8. the grantee's current rows; 9. the sharer's flags again, as
    # committed under the lock (what they may grant); 10. DELETE the rows no longer wanted;
    # 11. the Permission rows to add; 12. one bulk INSERT; 13. the audit event
    # (permission_grant; a PUT that also removes adds a permission_revoke); 14. RELEASE SAVEPOINT.
    "member": 14,
    # The same without 2, 4 and 9: an admin holds everything.
    "admin": 11,
}


@both_callers
def test_sharing_put(caller, project, outsider, django_assert_num_queries):
    name, user = caller
    client = client_for(user)

    with django_assert_num_queries(SHARE_QUERIES[name]):
        response = client.put(
            f"/api/v1/projects/{project.pk}/permissions/users/{outsider.pk}/", {"permissions": ["view", "share"]}
        )

    assert response.json() == {"permissions": ["view", "share"]}
