"""POST /api/v1/auth/logout/: end the session a refresh token belongs to, and only your own."""

import pytest
from rest_framework.test import APIClient

from accounts import services
from accounts.models import AuthSession
from tests.helpers import (
    LOGOUT_URL,
    ME_URL,
    NUL,
    REFRESH_URL,
    assert_problem,
    assert_validation_problem,
    bearer,
    sign_in,
)

pytestmark = pytest.mark.django_db


def test_can_log_out(tokens):
    client = bearer(tokens.access)

    response = client.post(LOGOUT_URL, {"refresh": tokens.refresh})

    assert response.status_code == 204
    assert response.content == b""
    session = AuthSession.objects.get(pk=tokens.session.pk)
    assert session.revoke_reason == AuthSession.RevokeReason.LOGOUT
    assert_problem(APIClient().post(REFRESH_URL, {"refresh": tokens.refresh}), 401, "session_revoked")
    # The access token dies at once, not at its expiry.
    assert_problem(client.get(ME_URL), 401)


def test_logging_out_leaves_the_users_other_sessions_alone(tokens):
    other = sign_in()

    assert bearer(tokens.access).post(LOGOUT_URL, {"refresh": tokens.refresh}).status_code == 204

    assert bearer(other["access"]).get(ME_URL).status_code == 200
    assert APIClient().post(REFRESH_URL, {"refresh": other["refresh"]}).status_code == 200


def test_can_log_out_a_session_with_an_access_token_of_another_own_session(tokens):
    other = sign_in()

    response = bearer(other["access"]).post(LOGOUT_URL, {"refresh": tokens.refresh})

    assert response.status_code == 204
    assert not AuthSession.objects.get(pk=tokens.session.pk).is_active


def test_cannot_log_out_another_users_session(user, make_user, tokens):
    bob = make_user("bob@example.com")
    bobs = services.session_start(user=bob, ip_address=None, user_agent="")

    response = bearer(tokens.access).post(LOGOUT_URL, {"refresh": bobs.refresh})

    assert_validation_problem(response, ("refresh", "token_not_valid"))
    assert AuthSession.objects.get(pk=bobs.session.pk).is_active
    assert bearer(bobs.access).get(ME_URL).status_code == 200
    assert APIClient().post(REFRESH_URL, {"refresh": bobs.refresh}).status_code == 200


def test_cannot_log_out_without_authentication(api, tokens):
    response = api.post(LOGOUT_URL, {"refresh": tokens.refresh})

    assert_problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert AuthSession.objects.get(pk=tokens.session.pk).is_active


def test_cannot_log_out_with_an_access_token_in_place_of_the_refresh_token(tokens):
    response = bearer(tokens.access).post(LOGOUT_URL, {"refresh": tokens.access})

    assert_validation_problem(response, ("refresh", "token_not_valid"))
    assert AuthSession.objects.get(pk=tokens.session.pk).is_active


@pytest.mark.parametrize(
    ("data", "field", "code"),
    [
        ({"refresh": ""}, "refresh", "blank"),
        ({"refresh": "garbage"}, "refresh", "token_not_valid"),
        ({"refresh": "x" * 4097}, "refresh", "max_length"),
        ({"refresh": "x" + NUL}, "refresh", "null_characters_not_allowed"),
        ({"refresh": ["x"]}, "refresh", "invalid"),
        ({"refresh": "x", "everywhere": True}, "everywhere", "unknown_field"),
    ],
    ids=["blank", "garbage", "overlong", "nul", "not-a-string", "unknown-field"],
)
def test_cannot_log_out_with_bad_input(tokens, data, field, code):
    response = bearer(tokens.access).post(LOGOUT_URL, data)

    assert_validation_problem(response, (field, code))
    assert AuthSession.objects.get(pk=tokens.session.pk).is_active


def test_cannot_log_out_with_a_form_body(tokens):
    response = bearer(tokens.access).post(LOGOUT_URL, {"refresh": tokens.refresh}, format="multipart")

    assert_problem(response, 415, "unsupported_media_type")
    assert AuthSession.objects.get(pk=tokens.session.pk).is_active


def test_cannot_get_the_logout_endpoint(tokens):
    assert_problem(bearer(tokens.access).get(LOGOUT_URL), 405, "method_not_allowed")


def test_can_log_out_the_current_session_without_a_refresh_token(user):
    current = sign_in()
    other = sign_in()

    response = bearer(current["access"]).post(LOGOUT_URL, {})

    assert response.status_code == 204
    assert bearer(current["access"]).get(ME_URL).status_code == 401
    assert bearer(other["access"]).get(ME_URL).status_code == 200  # Only this session ended.


def test_cookie_session_must_name_the_refresh_token_to_log_out(client, user):
    client.force_login(user)

    response = client.post(LOGOUT_URL, {}, content_type="application/json")

    # Session-cookie requests need CSRF (403) before anything else; with Django's test client
    # CSRF checks are off, so the missing refresh token is what is refused.
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "refresh"
