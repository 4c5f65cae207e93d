"""The admin permission matrix: every admin page and action that writes, for each kind of caller.

Callers (tests/admin/conftest.py): a superuser; staff through the admin role (not a superuser);
an editor (not staff). Outcomes:

- `ok`: allowed. A GET answers 200 and writes nothing; a POST answers 200 or 302 without an
  error, the intended change happened (`DONE`) and the database changed.
- `no`: refused. A 403, or the page again (302 or 200) with an error message or form errors;
  the database, audit trail included, is exactly as before.
- `login`: not staff, sent to the admin's sign-in page; nothing written.

After every case the invariants of tests/invariants.py hold, including "each change has exactly
one audit event".
"""

from collections.abc import Callable

import pytest

from accounts.models import AuthSession, User
from accounts.roles import ROLES
from api.models import Document, Project
from tests.admin.conftest import CALLERS, World, admin_db_state, client_as, error_messages, form_errors
from tests.invariants import check_invariants, mark

pytestmark = pytest.mark.django_db

U = "/admin/accounts/user/"
P = "/admin/api/project/"
D = "/admin/api/document/"
G = "/admin/auth/group/"
S = "/admin/accounts/authsession/"
NEW_PASSWORD = "an-admin-chosen-passphrase"


def documents_inline(w: World, count: int) -> dict:
    """The management form of the project's read-only documents inline."""
    data = {
        "documents-TOTAL_FORMS": count,
        "documents-INITIAL_FORMS": count,
        "documents-MIN_NUM_FORMS": 0,
        "documents-MAX_NUM_FORMS": 1000,
    }
    if count:
        data |= {"documents-0-id": w.document.pk, "documents-0-project": w.project.pk}
    return data


def roles_of(user: User) -> list[str]:
    return sorted(user.groups.filter(name__in=ROLES).values_list("name", flat=True))


def fresh(user: User) -> User:
    return User.objects.get(pk=user.pk)


# What each case sends: (method, url, POST data). Valid, and a real change, so that only the
# caller decides the outcome.
REQUESTS: dict[str, tuple[str, Callable[[World], str], Callable[[World], dict] | None]] = {
    "user changelist": ("GET", lambda w: U, None),
    "user change, normal user": ("GET", lambda w: f"{U}{w.bob.pk}/change/", None),
    "user change POST, normal user": (
        "POST",
        lambda w: f"{U}{w.bob.pk}/change/",
        lambda w: {"display_name": "Bob", "is_active": "on", "roles": ["editor"]},
    ),
    "user change, superuser": ("GET", lambda w: f"{U}{w.root2.pk}/change/", None),
    "user change POST, superuser": (
        "POST",
        lambda w: f"{U}{w.root2.pk}/change/",
        lambda w: {"display_name": "Renamed", "is_active": "on", "is_superuser": "on"},
    ),
    "user add": ("GET", lambda w: f"{U}add/", None),
    "user add POST": (
        "POST",
        lambda w: f"{U}add/",
        lambda w: {
            "email": "New@Example.com",
            "display_name": "New",
            "roles": ["viewer"],
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
    ),
    "deactivate a normal user": (
        "POST",
        lambda w: U,
        lambda w: {"action": "deactivate", "_selected_action": [w.bob.pk]},
    ),
    "deactivate a superuser": (
        "POST",
        lambda w: U,
        lambda w: {"action": "deactivate", "_selected_action": [w.root2.pk]},
    ),
    "activate a normal user": ("POST", lambda w: U, lambda w: {"action": "activate", "_selected_action": [w.carl.pk]}),
    "activate a superuser": ("POST", lambda w: U, lambda w: {"action": "activate", "_selected_action": [w.dora.pk]}),
    "password form of a superuser": ("GET", lambda w: f"{U}{w.root2.pk}/password/", None),
    "password reset of a superuser": (
        "POST",
        lambda w: f"{U}{w.root2.pk}/password/",
        lambda w: {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    ),
    "role group change": ("GET", lambda w: f"{G}{w.roles['viewer'].pk}/change/", None),
    "role group change POST": (
        "POST",
        lambda w: f"{G}{w.roles['viewer'].pk}/change/",
        lambda w: {"name": "viewer", "permissions": [w.add_project.pk]},
    ),
    "project add POST": (
        "POST",
        lambda w: f"{P}add/",
        lambda w: {"name": "New", "description": "", "owner": w.bob.pk, **documents_inline(w, 0)},
    ),
    "project change POST": (
        "POST",
        lambda w: f"{P}{w.project.pk}/change/",
        lambda w: {"name": "Renamed", "description": "", **documents_inline(w, 1)},
    ),
    "project delete": ("POST", lambda w: f"{P}{w.project.pk}/delete/", lambda w: {"post": "yes"}),
    "project bulk delete": (
        "POST",
        lambda w: P,
        lambda w: {"action": "delete_selected", "_selected_action": [w.project.pk], "post": "yes"},
    ),
    "project sharing page": ("GET", lambda w: f"{P}{w.project.pk}/sharing/", None),
    "project sharing POST": (
        "POST",
        lambda w: f"{P}{w.project.pk}/sharing/",
        lambda w: {"email": "bob@example.com", "permissions": ["change"]},
    ),
    "document add POST": ("POST", lambda w: f"{D}add/", lambda w: {"project": w.project.pk, "title": "New"}),
    "document change POST": ("POST", lambda w: f"{D}{w.document.pk}/change/", lambda w: {"title": "Renamed"}),
    "document delete": ("POST", lambda w: f"{D}{w.document.pk}/delete/", lambda w: {"post": "yes"}),
    "revoke a superuser's session": (
        "POST",
        lambda w: S,
        lambda w: {"action": "revoke", "_selected_action": [w.root2_session.pk]},
    ),
}

# fmt: off
MATRIX = {
    #                                  super  admin  editor
    "user changelist":                "ok     ok     login",
    "user change, normal user":       "ok     ok     login",
    "user change POST, normal user":  "ok     ok     login",
    "user change, superuser":         "ok     ok     login",  # Read-only for the admin role.
    "user change POST, superuser":    "ok     no     login",
    "user add":                       "ok     no     login",  # The admin role has no add_user.
    "user add POST":                  "ok     no     login",
    "deactivate a normal user":       "ok     ok     login",
    "deactivate a superuser":         "ok     no     login",
    "activate a normal user":         "ok     ok     login",
    "activate a superuser":           "ok     no     login",
    "password form of a superuser":   "ok     no     login",
    "password reset of a superuser":  "ok     no     login",
    "role group change":              "ok     ok     login",  # Read-only for the admin role.
    "role group change POST":         "ok     no     login",
    "project add POST":               "ok     ok     login",
    "project change POST":            "ok     ok     login",
    "project delete":                 "ok     ok     login",
    "project bulk delete":            "ok     ok     login",
    "project sharing page":           "ok     ok     login",
    "project sharing POST":           "ok     ok     login",
    "document add POST":              "ok     ok     login",
    "document change POST":           "ok     ok     login",
    "document delete":                "ok     ok     login",
    "revoke a superuser's session":   "ok     no     login",  # The admin role cannot see sessions.
}
# fmt: on

# The change each allowed write must have made, beyond "the database changed".
DONE: dict[str, Callable[[World], bool]] = {
    "user change POST, normal user": lambda w: roles_of(w.bob) == ["editor"],
    "user change POST, superuser": lambda w: fresh(w.root2).display_name == "Renamed" and fresh(w.root2).is_superuser,
    "user add POST": lambda w: roles_of(User.objects.get(email="new@example.com")) == ["viewer"],
    "deactivate a normal user": lambda w: not fresh(w.bob).is_active,
    "deactivate a superuser": lambda w: not fresh(w.root2).is_active,
    "activate a normal user": lambda w: fresh(w.carl).is_active,
    "activate a superuser": lambda w: fresh(w.dora).is_active,
    "password reset of a superuser": lambda w: fresh(w.root2).check_password(NEW_PASSWORD),
    "role group change POST": lambda w: list(w.roles["viewer"].permissions.all()) == [w.add_project],
    "project add POST": lambda w: Project.objects.filter(name="New", owner=w.bob).exists(),
    "project change POST": lambda w: Project.objects.get(pk=w.project.pk).name == "Renamed",
    "project delete": lambda w: not Project.objects.filter(pk=w.project.pk).exists(),
    "project bulk delete": lambda w: not Project.objects.filter(pk=w.project.pk).exists(),
    "project sharing POST": lambda w: (
        w.bob.has_perm("api.change_project", w.project) and w.bob.has_perm("api.view_project", w.project)
    ),
    "document add POST": lambda w: Document.objects.filter(title="New", created_by__isnull=False).exists(),
    "document change POST": lambda w: Document.objects.get(pk=w.document.pk).title == "Renamed",
    "document delete": lambda w: not Document.objects.filter(pk=w.document.pk).exists(),
    "revoke a superuser's session": lambda w: not AuthSession.objects.get(pk=w.root2_session.pk).is_active,
}

CASES = [
    pytest.param(name, caller, outcome, id=f"{name} as {caller}")
    for name, row in MATRIX.items()
    for caller, outcome in zip(CALLERS, row.split(), strict=True)
]


@pytest.fixture
def w(world) -> World:
    return world


def test_every_write_has_its_done_check():
    assert set(REQUESTS) == set(MATRIX)
    assert {name for name, (method, *_) in REQUESTS.items() if method == "POST"} == set(DONE)


@pytest.mark.parametrize(("name", "caller", "outcome"), CASES)
def test_admin_permission_matrix(name, caller, outcome, w):
    method, url, data = REQUESTS[name]
    client = client_as(getattr(w, caller))
    before = admin_db_state()
    marker = mark()

    response = client.post(url(w), data(w)) if method == "POST" else client.get(url(w))

    after = admin_db_state()
    if outcome == "login":
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")
        assert after == before, "a refused request wrote to the database"
    elif outcome == "no":
        refused = response.status_code == 403 or error_messages(response) or form_errors(response)
        assert refused, (response.status_code, response.content[:500])
        assert after == before, "a refused request wrote to the database"
    else:
        assert response.status_code in (200, 302), response.status_code
        assert not error_messages(response), error_messages(response)
        assert not form_errors(response), form_errors(response)
        if method == "GET":
            assert response.status_code == 200
            assert after == before, "a GET wrote to the database"
        else:
            assert DONE[name](w), "the allowed change did not happen"
            assert after != before
    check_invariants(since=marker)
