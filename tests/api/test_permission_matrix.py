"""The permission matrix: every endpoint and method, for every kind of caller, and the status each gets.

Columns are the callers of tests/api/conftest.py: anonymous; the project's owner (editor role);
viewer-role users holding view only, or change, delete or share (each with the view it implies);
a user with no role and no grant; a viewer, an editor and an admin with no grant; and a user who
held change, delete and share but was deactivated after signing in.

Each case also checks the database: a refused request and every GET wrote nothing; an allowed
write did change something; and the invariants of tests/invariants.py hold afterwards (each
change has exactly one audit event, no grant without view, ...).
"""

import pytest

from accounts.models import User
from tests.api.conftest import CALLERS, client_for, db_state
from tests.helpers import assert_problem
from tests.invariants import check_invariants, mark

pytestmark = pytest.mark.django_db

P = "projects/{project}"
D = "projects/{project}/documents/{document}/"

# fmt: off
MATRIX = {
    #                                                        anon own  view chg  del  shr  none vwr  edt  adm  deact
    ("GET",    "projects/"):                                "401  200  200  200  200  200  200  200  200  200  401",
    ("POST",   "projects/"):                                "401  201  403  403  403  403  403  403  201  201  401",
    ("GET",    f"{P}/"):                                    "401  200  200  200  200  200  404  404  404  200  401",
    ("PUT",    f"{P}/"):                                    "401  200  403  200  403  403  404  404  404  200  401",
    ("PATCH",  f"{P}/"):                                    "401  200  403  200  403  403  404  404  404  200  401",
    ("DELETE", f"{P}/"):                                    "401  204  403  403  204  403  404  404  404  204  401",
    ("GET",    f"{P}/documents/"):                          "401  200  200  200  200  200  404  404  404  200  401",
    ("POST",   f"{P}/documents/"):                          "401  201  403  201  403  403  404  404  404  201  401",
    ("GET",    D):                                          "401  200  200  200  200  200  404  404  404  200  401",
    ("PUT",    D):                                          "401  200  403  200  403  403  404  404  404  200  401",
    ("PATCH",  D):                                          "401  200  403  200  403  403  404  404  404  200  401",
    ("DELETE", D):                                          "401  204  403  204  403  403  404  404  404  204  401",
    ("GET",    f"{P}/permissions/"):                        "401  200  403  403  403  200  404  404  404  200  401",
    ("PUT",    f"{P}/permissions/users/{{outsider}}/"):     "401  200  403  403  403  200  404  404  404  200  401",
    ("DELETE", f"{P}/permissions/users/{{grantee}}/"):      "401  204  403  403  403  204  404  404  404  204  401",
    ("PUT",    f"{P}/permissions/groups/auditors/"):        "401  200  403  403  403  200  404  404  404  200  401",
    ("DELETE", f"{P}/permissions/groups/reviewers/"):       "401  204  403  403  403  204  404  404  404  204  401",
    ("GET",    "roles/"):                                   "401  200  200  200  200  200  200  200  200  200  401",
    ("GET",    "users/"):                                   "401  403  403  403  403  403  403  403  403  200  401",
    ("GET",    "users/{outsider}/"):                        "401  403  403  403  403  403  403  403  403  200  401",
    ("PATCH",  "users/{outsider}/"):                        "401  403  403  403  403  403  403  403  403  200  401",
    ("GET",    "users/lookup/?email=outsider@example.com"): "401  200  200  200  200  200  200  200  200  200  401",
}
# fmt: on

# What each write sends: valid, and a real change, so that only the caller decides the outcome.
BODIES = {
    ("POST", "projects/"): {"name": "New project"},
    ("PUT", f"{P}/"): {"name": "Renamed", "description": "Rewritten."},
    ("PATCH", f"{P}/"): {"name": "Renamed"},
    ("POST", f"{P}/documents/"): {"title": "New document"},
    ("PUT", D): {"title": "Renamed", "body": "Rewritten."},
    ("PATCH", D): {"title": "Renamed"},
    ("PUT", f"{P}/permissions/users/{{outsider}}/"): {"permissions": ["view"]},
    ("PUT", f"{P}/permissions/groups/auditors/"): {"permissions": ["view"]},
    ("PATCH", "users/{outsider}/"): {"roles": ["editor"]},
}

CASES = [
    pytest.param(method, path, caller, int(status), id=f"{method} {path} as {caller}")
    for (method, path), row in MATRIX.items()
    for caller, status in zip(CALLERS, row.split(), strict=True)
]


@pytest.mark.parametrize(("method", "path", "caller", "expected"), CASES)
def test_permission_matrix(
    method, path, caller, expected, callers, project, document, grantee, outsider, team, auditors
):
    user = callers[caller]
    client = client_for(user)
    if caller == "deactivated":
        # A raw update, not the service: the flag alone must shut the user out, even if no
        # session was revoked (deactivation through PATCH users/{id} is in test_escalation).
        User.objects.filter(pk=user.pk).update(is_active=False)
    url = "/api/v1/" + path.format(project=project.pk, document=document.pk, outsider=outsider.pk, grantee=grantee.pk)
    before = db_state()
    marker = mark()

    response = getattr(client, method.lower())(url, BODIES.get((method, path)), format="json")

    after = db_state()
    if expected >= 400:
        assert_problem(response, expected)
        assert after == before, "a refused request wrote to the database"
    else:
        assert response.status_code == expected, response.content
        if method == "GET":
            assert after == before, "a GET wrote to the database"
        else:
            assert after != before, "an allowed write changed nothing"
    check_invariants(since=marker)


@pytest.mark.parametrize(
    ("caller", "sees"),
    [
        (c, c in {"owner", "view", "change", "delete", "share", "admin"})
        for c in CALLERS
        if c not in {"anonymous", "deactivated"}
    ],
)
def test_project_list_shows_the_project_exactly_to_those_who_may_view_it(caller, sees, callers, project, document):
    response = client_for(callers[caller]).get("/api/v1/projects/")

    assert response.status_code == 200
    ids = [item["id"] for item in response.json()["results"]]
    assert ids == ([str(project.pk)] if sees else [])


@pytest.mark.parametrize(
    ("caller", "flags"),
    [
        ("owner", ["view", "change", "delete", "share"]),
        ("view", ["view"]),
        ("change", ["view", "change"]),
        ("delete", ["view", "delete"]),
        ("share", ["view", "share"]),
        ("admin", ["view", "change", "delete", "share"]),
    ],
)
def test_each_project_lists_the_callers_own_permissions(caller, flags, callers, project):
    client = client_for(callers[caller])

    assert client.get("/api/v1/projects/").json()["results"][0]["permissions"] == flags
    assert client.get(f"/api/v1/projects/{project.pk}/").json()["permissions"] == flags
