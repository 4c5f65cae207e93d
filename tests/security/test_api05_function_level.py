"""OWASP API5:2023 Broken Function Level Authorization.

Every function meant for admins (user management, the audit trail, the Django admin) is called by
each caller who must not use it: anonymous, a viewer, an editor, a deactivated user and, for the
superuser-only corners of the Django admin, an admin who is not a superuser. Each gets 401, 403
or the admin's login redirect, and nothing changes. Methods an endpoint does not offer are 405
(not a fallback to another handler), and method-override headers and parameters are ignored.
"""

import pytest
from django.test import Client

from accounts import services as account_services
from accounts.models import SecurityEvent, User
from tests.api.conftest import client_for
from tests.helpers import ME_URL, TOKEN_URL, assert_problem, use_plain_static_storage
from tests.security.probes import world

pytestmark = pytest.mark.django_db

CALLERS = ["anonymous", "viewer", "editor", "deactivated"]

# (method, url, body): {me} is the caller, {other} someone else, {event} an audit event.
ADMIN_FUNCTIONS = [
    ("get", "/api/v1/users/", None),
    ("get", "/api/v1/users/?search=example", None),
    ("head", "/api/v1/users/", None),
    ("options", "/api/v1/users/", None),
    ("get", "/api/v1/users/{other}/", None),
    ("get", "/api/v1/users/{me}/", None),
    ("patch", "/api/v1/users/{me}/", {"roles": ["admin"]}),  # Promoting oneself.
    ("patch", "/api/v1/users/{other}/", {"is_active": False}),  # Locking someone out.
    ("patch", "/api/v1/users/{other}/", {"roles": []}),
    ("get", "/api/v1/audit-events/", None),
    ("get", "/api/v1/audit-events/?type=sign_in", None),
    ("get", "/api/v1/audit-events/{event}/", None),
    ("options", "/api/v1/audit-events/", None),
]


@pytest.fixture
def cast(make_member, admin) -> dict:
    other = make_member("other@example.com", "editor")
    deactivated = make_member("deactivated@example.com", "editor")
    callers = {
        "anonymous": client_for(None),
        "viewer": client_for(make_member("viewer@example.com", "viewer")),
        "editor": client_for(make_member("editor@example.com", "editor")),
        "deactivated": client_for(deactivated),  # Signed in first, deactivated afterwards.
    }
    account_services.user_set_active(user=deactivated, is_active=False)
    event = SecurityEvent.objects.create(type="sign_in", actor=admin, actor_email=admin.email)
    return {"clients": callers, "other": other, "event": event}


def caller_id(cast: dict, caller: str) -> str:
    email = {"viewer": "viewer@example.com", "editor": "editor@example.com", "deactivated": "deactivated@example.com"}
    user = User.objects.filter(email=email.get(caller, "")).first()
    return str(user.pk) if user else str(cast["other"].pk)


@pytest.mark.parametrize("caller", CALLERS)
def test_cannot_call_an_admin_function_without_the_admin_role(caller, cast):
    client = cast["clients"][caller]
    expected = 401 if caller in ("anonymous", "deactivated") else 403
    before = world()

    for method, url, body in ADMIN_FUNCTIONS:
        address = url.format(me=caller_id(cast, caller), other=cast["other"].pk, event=cast["event"].pk)
        response = getattr(client, method)(address, body, format="json") if body else getattr(client, method)(address)
        assert response.status_code == expected, (method, address, response.content)
        if method != "head":
            assert_problem(response, expected)

    assert world() == before


def test_control_an_admin_can_call_them(cast, admin):
    client = client_for(admin)

    for method, url, _ in ADMIN_FUNCTIONS:
        if method in ("get", "head", "options"):
            address = url.format(me=admin.pk, other=cast["other"].pk, event=cast["event"].pk)
            assert getattr(client, method)(address).status_code == 200, address


# --- the Django admin --------------------------------------------------------------------------------

ADMIN_PAGES = [
    "/admin/",
    "/admin/accounts/user/",
    "/admin/accounts/user/{other}/change/",
    "/admin/accounts/user/{other}/password/",
    "/admin/accounts/securityevent/",
    "/admin/accounts/authsession/",
    "/admin/api/project/",
    "/admin/auth/group/",
    "/admin/axes/accessattempt/",
]


@pytest.fixture
def browsers(settings, make_member) -> dict[str, Client]:
    use_plain_static_storage(settings)
    deactivated_staff = make_member("former-staff@example.com", "admin", is_staff=True)
    signed_in = {
        "viewer": make_member("viewer@example.com", "viewer"),
        "editor": make_member("editor@example.com", "editor"),
        "deactivated-staff": deactivated_staff,
    }
    clients = {"anonymous": Client()}
    for name, user in signed_in.items():
        clients[name] = Client()
        clients[name].force_login(user)
    account_services.user_set_active(user=deactivated_staff, is_active=False)
    # A bearer token is no key to the admin, which knows only its own session sign-in.
    clients["editor-with-a-token"] = Client(HTTP_AUTHORIZATION=f"Bearer {client_for_token(signed_in['editor'])}")
    return clients


def client_for_token(user: User) -> str:
    return account_services.session_start(user=user, ip_address=None, user_agent="").access


@pytest.mark.parametrize("caller", ["anonymous", "viewer", "editor", "deactivated-staff", "editor-with-a-token"])
def test_cannot_open_the_django_admin_without_being_active_staff(caller, browsers, make_member):
    other = make_member("other@example.com", "editor")

    for page in ADMIN_PAGES:
        response = browsers[caller].get(page.format(other=other.pk))
        assert response.status_code == 302, (page, response.status_code)
        assert response["Location"].startswith("/admin/login/")


def test_cannot_change_a_user_through_the_admin_without_being_staff(browsers, make_member):
    target = make_member("target@example.com", "viewer")
    before = world()

    for caller in ("anonymous", "viewer", "editor", "deactivated-staff"):
        response = browsers[caller].post(
            f"/admin/accounts/user/{target.pk}/change/",
            {"email": target.email, "is_active": "on", "is_staff": "on", "is_superuser": "on"},
        )
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")

    assert world() == before


@pytest.fixture
def staff_admin(settings, admin) -> Client:
    """An admin-role user in the Django admin: staff, not a superuser."""
    use_plain_static_storage(settings)
    assert admin.is_staff
    assert not admin.is_superuser
    browser = Client()
    browser.force_login(admin)
    return browser


def change_form(user: User, **fields) -> dict:
    data = {
        "email": user.email,
        "display_name": user.display_name,
        "is_active": "on",
        "groups": [str(pk) for pk in user.groups.values_list("pk", flat=True)],
    }
    if user.is_staff:
        data["is_staff"] = "on"
    data.update(fields)
    return data


def test_an_admin_cannot_make_themselves_superuser_in_the_django_admin(staff_admin, admin):
    from django.contrib.auth.models import Permission

    every_permission = [str(pk) for pk in Permission.objects.values_list("pk", flat=True)]

    response = staff_admin.post(
        f"/admin/accounts/user/{admin.pk}/change/",
        change_form(admin, is_superuser="on", user_permissions=every_permission),
    )

    assert response.status_code in (200, 302)
    admin.refresh_from_db()
    assert not admin.is_superuser
    assert not admin.user_permissions.exists()


def test_an_admin_can_still_manage_ordinary_users_in_the_django_admin(staff_admin, make_member):
    # The control: the admin role keeps what it is for.
    target = make_member("target@example.com", "viewer", display_name="Before")

    response = staff_admin.post(f"/admin/accounts/user/{target.pk}/change/", change_form(target, display_name="After"))

    assert response.status_code == 302, response.content
    target.refresh_from_db()
    assert target.display_name == "After"
    assert not target.is_superuser


@pytest.mark.parametrize("page", ["change", "password"])
def test_an_admin_cannot_take_over_a_superuser_in_the_django_admin(page, staff_admin, make_user):
    root = make_user("root@example.com", is_staff=True, is_superuser=True)
    before = world()

    shown = staff_admin.get(f"/admin/accounts/user/{root.pk}/{page}/")
    posted = staff_admin.post(
        f"/admin/accounts/user/{root.pk}/password/",
        {"password1": "taken-over-passphrase-1", "password2": "taken-over-passphrase-1", "usable_password": "true"},
    )

    assert posted.status_code == 403
    assert shown.status_code in (200, 403)  # The change page may be shown read-only, never the password form.
    if page == "password":
        assert shown.status_code == 403
    assert world() == before  # The password hash among the rest.


# --- methods -----------------------------------------------------------------------------------------

# (url, methods the endpoint does not offer), called as an admin so that no permission check answers first.
READ_ONLY = [
    ("/api/v1/roles/", ["post", "put", "patch", "delete"]),
    ("/api/v1/users/", ["post", "put", "patch", "delete"]),
    ("/api/v1/users/{user}/", ["post", "put", "delete"]),
    ("/api/v1/users/lookup/?email=bob@example.com", ["post", "put", "patch", "delete"]),
    ("/api/v1/audit-events/", ["post", "put", "patch", "delete"]),
    ("/api/v1/audit-events/{event}/", ["post", "put", "patch", "delete"]),
    (ME_URL, ["post", "put", "delete"]),
    ("/api/v1/auth/sessions/", ["post", "put", "patch", "delete"]),
    ("/api/v1/auth/sessions/{session}/", ["get", "post", "put", "patch"]),
    (TOKEN_URL, ["get", "put", "patch", "delete"]),
    ("/api/v1/auth/logout-all/", ["get", "put", "patch", "delete"]),
    ("/.well-known/jwks.json", ["post", "put", "patch", "delete"]),
    ("/api/v1/schema/", ["post", "put", "patch", "delete"]),
    ("/api/v1/projects/", ["put", "patch", "delete"]),
    ("/api/v1/projects/{project}/", ["post"]),
    ("/api/v1/projects/{project}/permissions/", ["post", "put", "patch", "delete"]),
]


@pytest.mark.parametrize(("url", "methods"), READ_ONLY, ids=[url for url, _ in READ_ONLY])
def test_a_method_an_endpoint_does_not_offer_is_405_and_changes_nothing(url, methods, admin, bob, project):
    client = client_for(admin)
    session = account_services.session_start(user=admin, ip_address=None, user_agent="").session
    event = SecurityEvent.objects.create(type="sign_in")
    address = url.format(user=bob.pk, event=event.pk, session=session.pk, project=project.pk)
    before = world()

    for method in methods:
        body = None if method == "get" else {"roles": ["admin"], "name": "x"}
        response = getattr(client, method)(address, body, format="json")
        assert_problem(response, 405, "method_not_allowed")
        assert method.upper() not in response["Allow"]

    assert world() == before


OVERRIDE_HEADERS = ["HTTP_X_HTTP_METHOD_OVERRIDE", "HTTP_X_HTTP_METHOD", "HTTP_X_METHOD_OVERRIDE"]


@pytest.mark.parametrize("header", OVERRIDE_HEADERS)
@pytest.mark.parametrize("overridden", ["DELETE", "PUT", "PATCH"])
def test_method_override_headers_are_ignored(header, overridden, owner, project, document):
    client = client_for(owner)
    before = world()

    posted = client.post(
        f"/api/v1/projects/{project.pk}/", {"name": "Overridden"}, format="json", **{header: overridden}
    )
    fetched = client.get(f"/api/v1/projects/{project.pk}/", **{header: overridden})
    document_posted = client.post(
        f"/api/v1/projects/{project.pk}/documents/{document.pk}/", {"title": "x"}, format="json", **{header: overridden}
    )

    assert_problem(posted, 405, "method_not_allowed")
    assert fetched.status_code == 200
    assert_problem(document_posted, 405, "method_not_allowed")
    assert world() == before


def test_method_override_parameters_are_refused(owner, project):
    client = client_for(owner)
    before = world()

    in_query = client.post(f"/api/v1/projects/{project.pk}/?_method=DELETE", {"name": "x"}, format="json")
    in_body = client.patch(f"/api/v1/projects/{project.pk}/", {"name": "x", "_method": "DELETE"}, format="json")
    as_a_form = client.post(f"/api/v1/projects/{project.pk}/", {"_method": "DELETE"}, format="multipart")

    assert_problem(in_query, 405, "method_not_allowed")  # The method is judged before the query.
    assert_problem(in_body, 400, "validation_error")
    assert as_a_form.status_code in (405, 415)
    assert world() == before
