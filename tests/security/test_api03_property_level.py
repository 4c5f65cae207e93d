"""OWASP API3:2023 Broken Object Property Level Authorization.

Writes: on every endpoint that takes a body, Mallory adds the properties she must not set (owner,
created_by, project, ids, timestamps, is_staff, is_superuser, is_active, roles, token claims...) to
an otherwise valid request, under their own names and under look-alike spellings. Each is a 400
naming the property, and nothing is written: no property is silently dropped, none is honoured.

Reads: Mallory, a viewer and an admin each read every endpoint they may. No answer carries a
password or its hash, a refresh-token digest, a signing secret, an internal integer key, or an
email address beyond what the caller was allowed to learn (their own, their project's grantees,
an exact lookup); tokens carry ids, never emails or roles.
"""

import re
from typing import Any

import pytest
from django.conf import settings
from drf_spectacular.generators import SchemaGenerator

from accounts import services as account_services
from accounts.models import RefreshTokenRecord, User
from api import services
from tests.api.conftest import client_for, grant
from tests.conftest import PASSWORD
from tests.helpers import (
    LOGOUT_URL,
    ME_URL,
    PASSWORD_CHANGE_URL,
    REFRESH_URL,
    REGISTER_URL,
    TOKEN_URL,
    VERIFY_URL,
    assert_problem,
    assert_validation_problem,
    claims,
)
from tests.security.probes import pairs, world

pytestmark = pytest.mark.django_db

PROJECTS = "/api/v1/projects/"
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
USER_FIELDS = ["id", "is_staff", "is_superuser", "is_active", "roles", "groups", "user_permissions", "date_joined"]
PROJECT_FIELDS = ["owner", "owner_id", "id", "pk", "created_at", "updated_at", "permissions"]
DOCUMENT_FIELDS = ["project", "project_id", "created_by", "created_by_id", "id", "created_at", "updated_at"]
CLAIMS = ["user_id", "sid", "exp", "token_type", "jti", "is_staff"]

# endpoint: (method, url, a valid body, the properties Mallory must not set through it)
ENDPOINTS = {
    "me": ("patch", ME_URL, {"display_name": "M"}, [*USER_FIELDS, "email", "password", "last_login"]),
    "register": (
        "post",
        REGISTER_URL,
        {"email": "new@example.com", "password": "a-long-unusual-passphrase", "display_name": "New"},
        USER_FIELDS,
    ),
    "sign-in": ("post", TOKEN_URL, {"email": "mallory@example.com", "password": PASSWORD}, CLAIMS),
    "refresh": ("post", REFRESH_URL, {"refresh": "{refresh}"}, CLAIMS),
    "verify": ("post", VERIFY_URL, {"token": "{access}"}, CLAIMS),
    "logout": ("post", LOGOUT_URL, {"refresh": "{refresh}"}, ["user", "user_id", "session", "everywhere"]),
    "password-change": (
        "post",
        PASSWORD_CHANGE_URL,
        {"old_password": PASSWORD, "new_password": "an-entirely-new-passphrase"},
        ["user", "user_id", "email", "id"],
    ),
    "create-project": ("post", PROJECTS, {"name": "Mine"}, PROJECT_FIELDS),
    "replace-project": ("put", PROJECTS + "{project}/", {"name": "Mine"}, PROJECT_FIELDS),
    "update-project": ("patch", PROJECTS + "{project}/", {"name": "Mine"}, PROJECT_FIELDS),
    "create-document": ("post", PROJECTS + "{project}/documents/", {"title": "Mine"}, DOCUMENT_FIELDS),
    "replace-document": ("put", PROJECTS + "{project}/documents/{document}/", {"title": "Mine"}, DOCUMENT_FIELDS),
    "update-document": ("patch", PROJECTS + "{project}/documents/{document}/", {"title": "Mine"}, DOCUMENT_FIELDS),
    "share-with-user": (
        "put",
        PROJECTS + "{project}/permissions/users/{bob}/",
        {"permissions": ["view"]},
        ["user", "user_id", "project", "group", "owner", "is_owner"],
    ),
    "share-with-group": (
        "put",
        PROJECTS + "{project}/permissions/groups/editor/",
        {"permissions": ["view"]},
        ["group", "group_id", "project", "name", "users"],
    ),
}


@pytest.fixture
def scene(mallory, mallorys_project, bob, owner, project, document) -> dict[str, Any]:
    """Mallory's own project and document, shared with Bob; the owner's project out of her reach."""
    mallorys_document = services.document_create(project=mallorys_project, created_by=mallory, title="Notes")
    grant(bob, mallorys_project)
    tokens = account_services.session_start(user=mallory, ip_address="127.0.0.1", user_agent="mallory")
    return {
        "project": mallorys_project.pk,
        "document": mallorys_document.pk,
        "bob": bob.pk,
        "refresh": tokens.refresh,
        "access": tokens.access,
        "tokens": tokens,
    }


def fill(value: Any, scene: dict) -> Any:
    if isinstance(value, str):
        return value.format(**scene)
    if isinstance(value, dict):
        return {key: fill(item, scene) for key, item in value.items()}
    return value


def value_for(field: str, scene: dict, other: User) -> Any:
    """The value Mallory would want: someone else's id, an admin flag, a list of everything."""
    if field in ("is_staff", "is_superuser", "is_active", "is_owner", "everywhere"):
        return True
    if field in ("roles", "groups", "permissions", "users"):
        return ["admin"] if field != "permissions" else ["view", "change", "delete", "share"]
    if field in ("created_at", "updated_at", "date_joined", "last_login"):
        return "2000-01-01T00:00:00Z"
    if field == "exp":
        return 4102444800
    return str(other.pk)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ENDPOINTS.keys())
def test_cannot_set_a_property_the_endpoint_does_not_accept(endpoint, scene, settings, owner):
    settings.REGISTRATION_OPEN = True
    method, url, body, forbidden = ENDPOINTS[endpoint]
    client = client_for(None)
    if endpoint not in ("register", "sign-in", "refresh", "verify"):
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {scene['access']}")
    before = world()

    for field in forbidden:
        response = getattr(client, method)(
            fill(url, scene), {**fill(body, scene), field: value_for(field, scene, owner)}, format="json"
        )
        assert_validation_problem(response, (field, "unknown_field"))

    assert world() == before


@pytest.mark.parametrize(
    "spelling",
    ["IS_STAFF", "is_staff ", " is_staff", "isStaff", "is-staff", "is_staff\u200b", "__proto__", "constructor"],
)
def test_look_alike_spellings_are_unknown_fields_too(spelling, mallory):
    client = client_for(mallory)
    before = world()

    response = client.patch(ME_URL, {"display_name": "M", spelling: True}, format="json")

    assert_validation_problem(response, (spelling, "unknown_field"))
    assert world() == before


def test_nested_objects_do_not_smuggle_properties(mallory, mallorys_project, owner):
    client = client_for(mallory)
    before = world()

    for body in (
        {"name": {"name": "x", "owner": str(owner.pk)}},
        {"name": ["x"], "description": {"owner": str(owner.pk)}},
    ):
        assert_problem(client.patch(f"{PROJECTS}{mallorys_project.pk}/", body, format="json"), 400, "validation_error")

    assert world() == before


@pytest.mark.parametrize("body", [{"roles": ["admin"]}, {"is_active": True}, {"roles": ["admin"], "is_active": True}])
def test_a_non_admin_cannot_set_their_own_role_or_activation(body, mallory):
    client = client_for(mallory)
    before = world()

    response = client.patch(f"/api/v1/users/{mallory.pk}/", body, format="json")

    assert_problem(response, 403, "permission_denied")
    assert world() == before
    assert list(mallory.groups.values_list("name", flat=True)) == ["editor"]


# --- what the answers show ---------------------------------------------------------------------------

FORBIDDEN_KEY_PARTS = ("password", "hash", "secret", "private", "signing", "salt")


def secrets_on_record() -> list[str]:
    """Every value that must never leave the server."""
    values = [settings.SECRET_KEY, settings.JWT_SIGNING_KEY]
    values += list(User.objects.values_list("password", flat=True))
    values += list(RefreshTokenRecord.objects.values_list("token_hash", flat=True))
    return [value for value in values if value]


def assert_reveals_nothing_more(responses: dict[str, Any], allowed_emails: set[str]) -> None:
    hidden = secrets_on_record()
    for label, response in responses.items():
        text = response.content.decode()
        assert not [value for value in hidden if value in text], label
        assert set(EMAIL.findall(text)) <= allowed_emails, label
        if not response["Content-Type"].startswith("application/json"):
            continue
        for key, value in pairs(response.json()):
            assert not any(part in key.lower() for part in FORBIDDEN_KEY_PARTS), (label, key)
            if key in ("id", "pk", "owner", "created_by", "project", "actor", "user") or key.endswith("_id"):
                assert value is None or isinstance(value, str), (label, key, value)
            if key in ("roles", "groups"):
                assert all(isinstance(item, str) for item in value), (label, key, value)


def tour(client, scene: dict, extra: dict[str, str] | None = None) -> dict[str, Any]:
    urls = {
        "root": "/api/v1/",
        "me": ME_URL,
        "sessions": "/api/v1/auth/sessions/",
        "roles": "/api/v1/roles/",
        "projects": PROJECTS,
        "project": f"{PROJECTS}{scene['project']}/",
        "documents": f"{PROJECTS}{scene['project']}/documents/",
        "document": f"{PROJECTS}{scene['project']}/documents/{scene['document']}/",
        "grants": f"{PROJECTS}{scene['project']}/permissions/",
        "jwks": "/.well-known/jwks.json",
        **(extra or {}),
    }
    return {label: client.get(url) for label, url in urls.items()}


def test_the_attacker_sees_her_own_email_and_her_grantees_only(scene, mallory, bob):
    client = client_for(mallory)

    responses = tour(client, scene, {"lookup": "/api/v1/users/lookup/?email=bob@example.com"})
    responses["sign-in"] = client.post(TOKEN_URL, {"email": mallory.email, "password": PASSWORD})
    responses["verify"] = client.post(VERIFY_URL, {"token": scene["access"]})

    assert {label: r.status_code for label, r in responses.items()} == dict.fromkeys(responses, 200)
    assert_reveals_nothing_more(responses, {mallory.email, bob.email})


def test_a_reader_learns_no_one_elses_email_from_what_is_shared_with_him(scene, bob):
    responses = tour(client_for(bob), scene)

    assert responses["project"].status_code == 200
    assert responses["grants"].status_code == 403  # Who else holds what is for sharers only.
    assert_reveals_nothing_more(responses, {bob.email})


def test_an_admin_sees_emails_but_never_a_hash_a_digest_or_an_integer_key(scene, admin, owner):
    client = client_for(admin)
    client_for(owner).post(TOKEN_URL, {"email": owner.email, "password": "wrong-password-here"})  # An event.

    responses = tour(client, scene, {"users": "/api/v1/users/", "user": f"/api/v1/users/{owner.pk}/"})
    responses["events"] = client.get("/api/v1/audit-events/", {"page_size": "100"})

    assert responses["events"].json()["results"]
    assert_reveals_nothing_more(responses, set(User.objects.values_list("email", flat=True)))


def test_tokens_carry_ids_never_emails_or_roles(scene, mallory):
    tokens = scene["tokens"]

    for raw in (tokens.access, tokens.refresh):
        payload = claims(raw)
        # auth_time: when the password was checked (a number), for step-up (accounts/stepup.py).
        assert set(payload) <= {"token_type", "exp", "iat", "jti", "user_id", "sid", "auth_time"}
        assert mallory.email not in raw
        assert not EMAIL.search(str(payload))


def test_no_response_schema_has_a_secret_or_an_integer_id():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    wrong = []
    for name, component in schema["components"]["schemas"].items():
        if name.endswith("Request"):
            continue  # What clients send (a password to register with, say), not what they are shown.
        for prop, spec in component.get("properties", {}).items():
            if spec.get("writeOnly"):
                continue
            if any(part in prop.lower() for part in FORBIDDEN_KEY_PARTS):
                wrong.append(f"{name}.{prop}")
            if (prop == "id" or prop.endswith("_id")) and spec.get("type") == "integer":
                wrong.append(f"{name}.{prop}: integer")

    # The one secret a response must carry: TOTP enrolment hands the new authenticator its secret,
    # once, to the signed-in owner (docs/mfa.md); every other match is a leak.
    assert wrong == ["TotpEnrolment.secret"]
