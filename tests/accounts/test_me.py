"""GET and PATCH /api/v1/auth/me/: the caller's own account, where only display_name changes."""

import uuid

import pytest
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from accounts.models import User
from accounts.serializers import UserSerializer
from tests.helpers import ME_URL, NUL, assert_problem, assert_validation_problem

pytestmark = pytest.mark.django_db


def test_can_read_my_account(auth_api, user):
    user.groups.add(Group.objects.create(name="testers"))

    response = auth_api.get(ME_URL)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"id", "email", "display_name", "roles", "date_joined"}
    assert uuid.UUID(body["id"]) == user.id
    assert body["email"] == "alice@example.com"
    assert body["display_name"] == "Alice"
    assert body["roles"] == ["testers"]
    assert body["date_joined"].startswith(str(user.date_joined.date()))
    assert not any(isinstance(value, int) for value in body.values())


def test_my_account_never_shows_the_password_hash(auth_api, user):
    response = auth_api.get(ME_URL)

    content = response.content.decode()
    assert "password" not in content
    assert user.password not in content
    assert user.password.split("$")[0] + "$" not in content


def test_reading_my_account_costs_one_query(auth_api, django_assert_num_queries):
    # The user joined with the token's live session (authentication, revocation included), with
    # their group names for `roles`. A second query here is a regression on the hot path. The
    # rate-limit counter is in Redis or its own file, never in the main database.
    with django_assert_num_queries(1):
        response = auth_api.get(ME_URL)
    assert response.status_code == 200


def test_reading_my_account_is_never_cached(auth_api):
    response = auth_api.get(ME_URL)

    assert "no-store" in response["Cache-Control"]


def test_cannot_read_my_account_without_a_token(api):
    response = api.get(ME_URL)

    assert_problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_can_change_my_display_name(auth_api, user):
    response = auth_api.patch(ME_URL, {"display_name": "Alice Liddell"})

    assert response.status_code == 200
    assert response.json()["display_name"] == "Alice Liddell"
    user.refresh_from_db()
    assert user.display_name == "Alice Liddell"


def test_can_clear_my_display_name(auth_api, user):
    assert auth_api.patch(ME_URL, {"display_name": ""}).status_code == 200

    user.refresh_from_db()
    assert user.display_name == ""


@pytest.mark.parametrize(
    "field_value",
    [
        ("email", "mallory@example.com"),
        ("id", str(uuid.uuid4())),
        ("roles", ["admin"]),
        ("date_joined", "2000-01-01T00:00:00Z"),
        ("is_staff", True),
        ("is_superuser", True),
        ("is_active", False),
        ("password", "a-new-password-here"),
        ("groups", [1]),
    ],
    ids=lambda pair: pair[0],
)
def test_cannot_change_anything_but_my_display_name(auth_api, user, field_value):
    field, value = field_value
    before = User.objects.values().get(pk=user.pk)

    response = auth_api.patch(ME_URL, {field: value, "display_name": "Changed"})

    assert_validation_problem(response, (field, "unknown_field"))
    assert User.objects.values().get(pk=user.pk) == before
    assert not user.groups.exists()


@pytest.mark.parametrize(
    ("value", "code"),
    [("x" * 151, "max_length"), ("Al" + NUL + "ice", "null_characters_not_allowed"), (None, "null")],
    ids=["overlong", "nul", "null"],
)
def test_cannot_set_a_bad_display_name(auth_api, user, value, code):
    response = auth_api.patch(ME_URL, {"display_name": value})

    assert_validation_problem(response, ("display_name", code))
    user.refresh_from_db()
    assert user.display_name == "Alice"


def test_cannot_patch_with_a_form_body(auth_api, user):
    response = auth_api.patch(ME_URL, {"display_name": "Form"}, format="multipart")

    assert_problem(response, 415, "unsupported_media_type")
    user.refresh_from_db()
    assert user.display_name == "Alice"


def test_cannot_patch_with_malformed_json(auth_api, user):
    response = auth_api.patch(ME_URL, '{"display_name": "Broken', content_type="application/json")

    assert_problem(response, 400, "parse_error")
    user.refresh_from_db()
    assert user.display_name == "Alice"


@pytest.mark.parametrize("method", ["put", "post", "delete"])
def test_cannot_replace_create_or_delete_my_account_here(auth_api, user, method):
    response = getattr(auth_api, method)(ME_URL, {"display_name": "X", "email": "alice@example.com"})

    assert_problem(response, 405, "method_not_allowed")
    assert User.objects.filter(pk=user.pk, display_name="Alice").exists()


def test_cannot_change_my_display_name_without_a_token(api, user):
    assert_problem(api.patch(ME_URL, {"display_name": "Anonymous"}), 401)

    user.refresh_from_db()
    assert user.display_name == "Alice"


def test_changing_my_display_name_does_not_undo_a_concurrent_deactivation(user):
    # The request loaded the user before an admin deactivated it; saving the new display name
    # must write only that column, not the stale is_active (or password) it still holds.
    stale = User.objects.get(pk=user.pk)
    User.objects.filter(pk=user.pk).update(is_active=False, password="changed-elsewhere")

    serializer = UserSerializer(stale, data={"display_name": "New"}, partial=True)
    assert serializer.is_valid(), serializer.errors
    serializer.save()

    fresh = User.objects.get(pk=user.pk)
    assert fresh.display_name == "New"
    assert fresh.is_active is False
    assert fresh.password == "changed-elsewhere"


def test_can_read_my_account_with_a_browser_session(user):
    client = APIClient()
    client.force_login(user)

    response = client.get(ME_URL)

    assert response.status_code == 200
    assert response.json()["email"] == "alice@example.com"
