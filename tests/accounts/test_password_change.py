"""POST /api/v1/auth/password/change/: a new password ends every session of the user."""

import pytest
from rest_framework.test import APIClient

from accounts.models import AuthSession, User
from tests.conftest import PASSWORD
from tests.helpers import (
    ME_URL,
    NUL,
    PASSWORD_CHANGE_URL,
    REFRESH_URL,
    TOKEN_URL,
    assert_problem,
    assert_validation_problem,
    bearer,
    sign_in,
)

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "an-entirely-new-passphrase"


def change(access: str, old: str = PASSWORD, new: str = NEW_PASSWORD, **extra):
    return bearer(access).post(PASSWORD_CHANGE_URL, {"old_password": old, "new_password": new, **extra})


def password_hash(user: User) -> str:
    return User.objects.values_list("password", flat=True).get(pk=user.pk)


def test_can_change_my_password(user, tokens):
    response = change(tokens.access)

    assert response.status_code == 204
    assert response.content == b""
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert not user.check_password(PASSWORD)


def test_changing_my_password_ends_every_session(user, tokens):
    other = sign_in()

    assert change(tokens.access).status_code == 204

    assert not AuthSession.objects.active().filter(user=user).exists()
    assert set(AuthSession.objects.values_list("revoke_reason", flat=True)) == {"password_change"}
    anonymous = APIClient()
    for pair in ({"access": tokens.access, "refresh": tokens.refresh}, other):
        assert_problem(anonymous.post(REFRESH_URL, {"refresh": pair["refresh"]}), 401)
        assert_problem(bearer(pair["access"]).get(ME_URL), 401)


def test_changing_my_password_leaves_other_users_signed_in(make_user, tokens):
    make_user("bob@example.com")
    bobs = sign_in(email="bob@example.com")

    assert change(tokens.access).status_code == 204

    assert bearer(bobs["access"]).get(ME_URL).status_code == 200


def test_can_sign_in_with_the_new_password_only(api, user, tokens):
    change(tokens.access)

    assert api.post(TOKEN_URL, {"email": "alice@example.com", "password": NEW_PASSWORD}).status_code == 200
    assert_problem(api.post(TOKEN_URL, {"email": "alice@example.com", "password": PASSWORD}), 401)


def test_cannot_change_my_password_with_a_wrong_old_password(user, tokens):
    before = password_hash(user)

    response = change(tokens.access, old="not-my-password-at-all")

    assert_validation_problem(response, ("old_password", "wrong_password"))
    assert password_hash(user) == before
    assert AuthSession.objects.get(pk=tokens.session.pk).is_active


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("short-pw", "password_too_short"),
        ("password1234", "password_too_common"),
        ("839274619283746", "password_entirely_numeric"),
        ("alice@example.com", "password_too_similar"),
    ],
)
def test_cannot_change_to_a_weak_password(user, tokens, password, code):
    before = password_hash(user)

    response = change(tokens.access, new=password)

    assert_validation_problem(response, ("new_password", code))
    assert password_hash(user) == before
    assert AuthSession.objects.get(pk=tokens.session.pk).is_active


@pytest.mark.parametrize(
    ("data", "field", "code"),
    [
        ({"old_password": PASSWORD}, "new_password", "required"),
        ({"new_password": NEW_PASSWORD}, "old_password", "required"),
        ({"old_password": PASSWORD, "new_password": "p" * 257}, "new_password", "max_length"),
        ({"old_password": "p" * 257, "new_password": NEW_PASSWORD}, "old_password", "max_length"),
        (
            {"old_password": PASSWORD, "new_password": "an-entirely" + NUL + "-new-pass"},
            "new_password",
            "null_characters_not_allowed",
        ),
        ({"old_password": PASSWORD + NUL, "new_password": NEW_PASSWORD}, "old_password", "null_characters_not_allowed"),
        ({"old_password": PASSWORD, "new_password": NEW_PASSWORD, "email": "x@example.com"}, "email", "unknown_field"),
    ],
    ids=["no-new", "no-old", "overlong-new", "overlong-old", "nul-new", "nul-old", "unknown-field"],
)
def test_cannot_change_my_password_with_bad_input(user, tokens, data, field, code):
    before = password_hash(user)

    response = bearer(tokens.access).post(PASSWORD_CHANGE_URL, data)

    assert_validation_problem(response, (field, code))
    assert password_hash(user) == before
    assert User.objects.get(pk=user.pk).email == "alice@example.com"
    assert AuthSession.objects.get(pk=tokens.session.pk).is_active


def test_cannot_change_a_password_without_a_token(api, user):
    before = password_hash(user)

    response = api.post(PASSWORD_CHANGE_URL, {"old_password": PASSWORD, "new_password": NEW_PASSWORD})

    assert_problem(response, 401, "not_authenticated")
    assert password_hash(user) == before


def test_cannot_change_my_password_with_a_form_body(user, tokens):
    before = password_hash(user)

    response = bearer(tokens.access).post(
        PASSWORD_CHANGE_URL, {"old_password": PASSWORD, "new_password": NEW_PASSWORD}, format="multipart"
    )

    assert_problem(response, 415, "unsupported_media_type")
    assert password_hash(user) == before


def test_cannot_get_the_password_change_endpoint(tokens):
    assert_problem(bearer(tokens.access).get(PASSWORD_CHANGE_URL), 405, "method_not_allowed")
