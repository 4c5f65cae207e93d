"""The user directory: roles, admin-only user management, exact-email lookup, and the role a
self-registered user gets."""

import time

import pytest
from django.contrib.auth.models import Group

from accounts import roles
from accounts.models import User
from accounts.roles import ADMIN, EDITOR, VIEWER
from tests.api.conftest import client_for
from tests.helpers import NUL, REGISTER_URL, assert_problem, assert_validation_problem, without_request_id

pytestmark = pytest.mark.django_db

ROLES_URL = "/api/v1/roles/"
USERS_URL = "/api/v1/users/"
LOOKUP_URL = "/api/v1/users/lookup/"


@pytest.fixture
def member(make_member):
    return make_member


@pytest.fixture
def admin(member) -> User:
    return member("admin@example.com", ADMIN, is_staff=True)


@pytest.fixture
def people(member) -> dict[str, User]:
    return {
        "alice": member("alice@example.com", EDITOR, display_name="Alice"),
        "bob": member("bob@example.com", VIEWER, display_name="Bob"),
        "carol": member("carol@sub.example.org", display_name="Carol"),
        "gone": member("gone@example.com", VIEWER, is_active=False),
    }


# --- Roles -----------------------------------------------------------------------------------------


def test_roles_list_each_role_with_what_it_allows(people):
    response = client_for(people["bob"]).get(ROLES_URL)

    assert response.status_code == 200
    assert response.json() == [
        {
            "name": "viewer",
            "description": "Sees only what is shared with them; cannot create projects.",
            "permissions": [],
        },
        {
            "name": "editor",
            "description": "Creates projects (and so owns them); sees what they own or is shared with them.",
            "permissions": ["api.add_project"],
        },
        {
            "name": "admin",
            "description": "Staff: sees and manages every project, document, user and role.",
            "permissions": roles.ROLE_PERMISSIONS[ADMIN],
        },
    ]


@pytest.mark.parametrize("name", roles.ROLES)
def test_role_groups_hold_exactly_the_permissions_the_roles_list_shows(name):
    # The data migration keeps its own copy of the table; the two must not drift apart.
    group = Group.objects.get(name=name)
    held = sorted(f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all())

    assert held == sorted(roles.ROLE_PERMISSIONS[name])


def test_roles_need_authentication(api):
    assert_problem(api.get(ROLES_URL), 401)


# --- Users: admin only -----------------------------------------------------------------------------


def test_admin_lists_users_without_secrets(admin, people):
    response = client_for(admin).get(USERS_URL)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"next", "previous", "results"}
    assert [u["email"] for u in body["results"]] == sorted(
        ["admin@example.com", "alice@example.com", "bob@example.com", "carol@sub.example.org", "gone@example.com"]
    )
    alice = next(u for u in body["results"] if u["email"] == "alice@example.com")
    assert set(alice) == {"id", "email", "display_name", "roles", "is_active", "date_joined", "last_login"}
    assert alice["roles"] == ["editor"]
    assert "password" not in response.content.decode()


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("alice", ["alice@example.com"]),
        ("ALICE@EXAMPLE", ["alice@example.com"]),
        ("example.org", ["carol@sub.example.org"]),
        ("gone", ["gone@example.com"]),
        ("nobody", []),
        # Search is by email only, not by display name or role.
        ("Carol", ["carol@sub.example.org"]),
        ("Bob", ["bob@example.com"]),
        ("editor", []),
    ],
)
def test_admin_searches_users_by_email(term, expected, admin, people):
    response = client_for(admin).get(USERS_URL, {"search": term})

    assert [u["email"] for u in response.json()["results"]] == expected


def test_display_names_are_not_searched(admin, people):
    User.objects.filter(pk=people["bob"].pk).update(display_name="Zed")

    assert client_for(admin).get(USERS_URL, {"search": "Zed"}).json()["results"] == []


def test_user_list_pages_are_capped_and_walk_everyone_once(admin, make_user):
    for i in range(120):
        make_user(f"user{i:03}@example.com")
    client = client_for(admin)

    first = client.get(USERS_URL, {"page_size": 100}).json()
    seen = []
    url = f"{USERS_URL}?page_size=50"
    while url:
        body = client.get(url).json()
        seen += [u["email"] for u in body["results"]]
        url = body["next"]

    assert len(first["results"]) == 100
    assert len(seen) == len(set(seen)) == 121


@pytest.mark.parametrize("role", [None, VIEWER, EDITOR])
@pytest.mark.parametrize(
    ("method", "path"),
    [("get", ""), ("get", "?search=alice"), ("get", "{alice}/"), ("patch", "{alice}/")],
)
def test_only_admins_manage_users(role, method, path, member, people):
    caller = member("caller@example.com", *([role] if role else []))
    url = USERS_URL + path.format(alice=people["alice"].pk)
    body = {"roles": ["admin"]} if method == "patch" else None

    response = getattr(client_for(caller), method)(url, body, format="json")

    assert_problem(response, 403, "permission_denied")
    assert list(people["alice"].groups.values_list("name", flat=True)) == ["editor"]


def test_admin_sets_roles_and_activation(admin, people):
    bob = people["bob"]

    response = client_for(admin).patch(f"{USERS_URL}{bob.pk}/", {"roles": ["editor", "viewer"], "is_active": False})

    assert response.status_code == 200, response.content
    assert sorted(response.json()["roles"]) == ["editor", "viewer"]
    assert response.json()["is_active"] is False
    bob.refresh_from_db()
    assert sorted(bob.groups.values_list("name", flat=True)) == ["editor", "viewer"]
    assert not bob.is_active


def test_setting_roles_keeps_other_groups(admin, people):
    bob = people["bob"]
    team = Group.objects.create(name="reviewers")
    bob.groups.add(team)

    client_for(admin).patch(f"{USERS_URL}{bob.pk}/", {"roles": ["editor"]})

    assert sorted(bob.groups.values_list("name", flat=True)) == ["editor", "reviewers"]


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"roles": ["superuser"]}, "roles.0", "invalid_choice"),
        ({"roles": [f"admin{NUL}"]}, "roles.0", "invalid_choice"),  # Never reaches PostgreSQL.
        ({"roles": ["x" * 10_000]}, "roles.0", "invalid_choice"),
        ({"roles": ["viewer", "editor", "admin", "viewer"]}, "roles", "max_length"),
        ({"roles": None}, "roles", "null"),
        ({"roles": "admin"}, "roles", "not_a_list"),
        ({"is_active": "maybe"}, "is_active", "invalid"),
        # JSON booleans only: DRF alone would read 0, "false" or "off" as False.
        ({"is_active": 0}, "is_active", "invalid"),
        ({"is_active": "false"}, "is_active", "invalid"),
        ({"email": "new@example.com"}, "email", "unknown_field"),
        ({"is_staff": True}, "is_staff", "unknown_field"),
    ],
)
def test_admin_gets_a_clear_error_for_a_bad_user_update(body, field, code, admin, people):
    bob = people["bob"]

    response = client_for(admin).patch(f"{USERS_URL}{bob.pk}/", body, format="json")

    assert_validation_problem(response, (field, code))
    bob.refresh_from_db()
    assert bob.email == "bob@example.com"
    assert bob.is_active
    assert not bob.is_staff
    assert list(bob.groups.values_list("name", flat=True)) == ["viewer"]


def test_users_cannot_be_replaced_or_deleted_through_the_api(admin, people):
    client = client_for(admin)
    url = f"{USERS_URL}{people['bob'].pk}/"

    assert_problem(client.put(url, {"roles": []}), 405)
    assert_problem(client.delete(url), 405)
    assert_problem(client.post(USERS_URL, {"email": "new@example.com"}), 405)
    assert User.objects.filter(pk=people["bob"].pk).exists()


# --- Lookup by exact email -------------------------------------------------------------------------


@pytest.mark.parametrize("email", ["bob@example.com", "Bob@Example.COM", " bob@example.com "])
def test_lookup_finds_a_user_by_exact_email_in_any_case(email, people):
    response = client_for(people["alice"]).get(LOOKUP_URL, {"email": email})

    assert response.status_code == 200, response.content
    assert response.json() == {"id": str(people["bob"].pk), "email": "bob@example.com", "display_name": "Bob"}


@pytest.mark.parametrize(
    "email",
    [
        "bob",
        "bob@example",
        "ob@example.com",
        "bob@example.co",
        "%@example.com",
        "_ob@example.com",
        "*",
        "bob@example.com,alice@example.com",
        "gone@example.com",  # Deactivated: not offered for sharing.
        "nobody@example.com",
    ],
)
def test_lookup_finds_nothing_but_an_exact_match(email, people):
    client = client_for(people["alice"])

    response = client.get(LOOKUP_URL, {"email": email})
    unknown = client.get(LOOKUP_URL, {"email": "nobody@example.com"})

    # The same answer as for an address nobody has: a partial match tells nothing.
    assert without_request_id(assert_problem(response, 404, "not_found")) == without_request_id(unknown.json())


@pytest.mark.parametrize(
    ("query", "code"),
    [({}, "invalid"), ({"email": ""}, "blank"), ({"email": "a" * 243 + "@example.com"}, "invalid")],
)
def test_lookup_needs_one_email_of_sane_length(query, code, people):
    response = client_for(people["alice"]).get(LOOKUP_URL, query)

    assert_validation_problem(response, ("email", code))


@pytest.mark.parametrize("query", [{"email": f"bob@example.com{NUL}"}, {"email": "a" * 2000}])
def test_lookup_refuses_nul_and_huge_values_before_the_view(query, people):
    assert_problem(client_for(people["alice"]).get(LOOKUP_URL, query), 400, "validation_error")


def test_lookup_accepts_no_other_query_parameter(people):
    response = client_for(people["alice"]).get(LOOKUP_URL, {"email": "bob@example.com", "search": "b"})

    assert_validation_problem(response, ("search", "unknown_parameter"))


def test_lookup_needs_authentication(api, people):
    assert_problem(api.get(LOOKUP_URL, {"email": "bob@example.com"}), 401)


@pytest.fixture
def inside_one_rate_window():
    # Rate limits count in fixed windows (a minute here): start a test's burst well inside one,
    # so that a window ending halfway through cannot reset the count.
    seconds_left = 60 - time.time() % 60
    if seconds_left < 5:
        time.sleep(seconds_left)


@pytest.mark.usefixtures("inside_one_rate_window")
def test_lookup_is_rate_limited_per_user(settings, people):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "lookup": "3/minute"}
    alice = client_for(people["alice"])
    # Misses count too: probing for addresses is what the limit is for.
    answers = [alice.get(LOOKUP_URL, {"email": e}).status_code for e in ("bob@example.com", "x@y.z", "q@r.s")]

    throttled = alice.get(LOOKUP_URL, {"email": "bob@example.com"})

    assert answers == [200, 404, 404]
    body = assert_problem(throttled, 429, "throttled")
    assert int(throttled["Retry-After"]) > 0
    assert "bob@example.com" not in str(body)
    # Each user has their own allowance.
    assert client_for(people["bob"]).get(LOOKUP_URL, {"email": "alice@example.com"}).status_code == 200


@pytest.mark.usefixtures("inside_one_rate_window")
def test_lookup_is_rate_limited_at_the_configured_rate_by_default(settings, people):
    limit = int(settings.RATE_LIMITS["lookup"].split("/")[0])
    alice = client_for(people["alice"])

    statuses = [alice.get(LOOKUP_URL, {"email": "bob@example.com"}).status_code for _ in range(limit + 1)]

    assert statuses == [200] * limit + [429]


# --- Registration ----------------------------------------------------------------------------------

REGISTRATION = {"email": "dora@example.com", "password": "a-long-unusual-passphrase"}


@pytest.fixture
def registration_open(settings):
    settings.REGISTRATION_OPEN = True
    return settings


def test_registered_users_get_the_editor_role_by_default(registration_open, api):
    assert registration_open.REGISTRATION_ROLE == EDITOR

    response = api.post(REGISTER_URL, REGISTRATION)

    assert response.status_code == 201, response.content
    assert response.json()["roles"] == ["editor"]
    user = User.objects.get(email="dora@example.com")
    assert list(user.groups.values_list("name", flat=True)) == ["editor"]
    assert not user.is_staff
    assert client_for(user).post("/api/v1/projects/", {"name": "Mine"}).status_code == 201


@pytest.mark.parametrize(("role", "expected"), [(VIEWER, ["viewer"]), ("", [])])
def test_registration_role_is_configurable(role, expected, registration_open, api):
    registration_open.REGISTRATION_ROLE = role

    response = api.post(REGISTER_URL, REGISTRATION)

    assert response.status_code == 201, response.content
    assert response.json()["roles"] == expected
    user = User.objects.get(email="dora@example.com")
    assert_problem(client_for(user).post("/api/v1/projects/", {"name": "Mine"}), 403)
