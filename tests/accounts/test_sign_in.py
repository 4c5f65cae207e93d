"""POST /api/v1/auth/token/: email and password in, a new session's token pair out."""

import uuid

import pytest
from django.contrib.auth.signals import user_logged_in
from django.db import DatabaseError
from rest_framework.test import APIClient

from accounts.models import AuthSession, RefreshTokenRecord, SecurityEvent
from tests.conftest import PASSWORD
from tests.helpers import (
    ME_URL,
    NUL,
    TOKEN_URL,
    assert_problem,
    assert_validation_problem,
    bearer,
    claims,
    without_request_id,
)

pytestmark = pytest.mark.django_db


def test_can_sign_in_with_email_and_password(api, user):
    response = api.post(TOKEN_URL, {"email": "alice@example.com", "password": PASSWORD})

    assert response.status_code == 200
    assert set(response.json()) == {"access", "refresh"}
    session = AuthSession.objects.get(user=user)
    assert session.is_active
    assert session.ip_address == "127.0.0.1"
    assert RefreshTokenRecord.objects.filter(session=session).count() == 1
    user.refresh_from_db()
    assert user.last_login is not None
    assert bearer(response.json()["access"]).get(ME_URL).status_code == 200


def test_can_sign_in_with_differently_cased_and_padded_email(api, user):
    response = api.post(TOKEN_URL, {"email": "  Alice@EXAMPLE.com ", "password": PASSWORD})

    assert response.status_code == 200
    assert AuthSession.objects.filter(user=user).count() == 1


def test_each_sign_in_starts_its_own_session(api, user):
    first = api.post(TOKEN_URL, {"email": "alice@example.com", "password": PASSWORD}).json()
    second = api.post(TOKEN_URL, {"email": "alice@example.com", "password": PASSWORD}).json()

    assert claims(first["access"])["sid"] != claims(second["access"])["sid"]
    assert AuthSession.objects.filter(user=user).count() == 2


def test_tokens_carry_uuids_never_integer_ids(api, user):
    pair = api.post(TOKEN_URL, {"email": "alice@example.com", "password": PASSWORD}).json()

    for raw in pair.values():
        payload = claims(raw)
        assert uuid.UUID(payload["user_id"]) == user.id
        assert uuid.UUID(payload["sid"]) == AuthSession.objects.get(user=user).id
        assert not any(
            isinstance(value, int) for key, value in payload.items() if key not in ("exp", "iat", "auth_time")
        )


def test_token_lifetimes_default_to_five_minutes_and_one_day(api, user):
    pair = api.post(TOKEN_URL, {"email": "alice@example.com", "password": PASSWORD}).json()

    access, refresh = claims(pair["access"]), claims(pair["refresh"])
    assert access["token_type"] == "access"
    assert access["exp"] - access["iat"] == 5 * 60
    assert refresh["token_type"] == "refresh"
    assert refresh["exp"] - refresh["iat"] == 24 * 60 * 60


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("alice@example.com", "wrong-password-entirely"),
        ("nobody@example.com", PASSWORD),
        ("inactive@example.com", PASSWORD),
    ],
    ids=["wrong-password", "unknown-email", "inactive-account"],
)
def test_cannot_sign_in_with_bad_credentials(api, user, make_user, email, password):
    make_user("inactive@example.com", is_active=False)

    response = api.post(TOKEN_URL, {"email": email, "password": password})

    assert_problem(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert AuthSession.objects.count() == 0
    assert RefreshTokenRecord.objects.count() == 0


def test_bad_credentials_all_get_the_same_401_body(api, user, make_user):
    make_user("inactive@example.com", is_active=False)
    attempts = [
        {"email": "alice@example.com", "password": "wrong-password-entirely"},
        {"email": "nobody@example.com", "password": PASSWORD},
        {"email": "inactive@example.com", "password": PASSWORD},
    ]

    bodies = [without_request_id(assert_problem(api.post(TOKEN_URL, data), 401)) for data in attempts]

    assert bodies[0] == bodies[1] == bodies[2]
    assert bodies[0]["title"] == "Authentication failed."


def test_cannot_sign_in_with_an_unknown_field(api, user):
    response = api.post(TOKEN_URL, {"email": "alice@example.com", "password": PASSWORD, "is_staff": True})

    assert_validation_problem(response, ("is_staff", "unknown_field"))
    assert AuthSession.objects.count() == 0


def test_cannot_sign_in_without_email_or_password(api, user):
    response = api.post(TOKEN_URL, {})

    assert_validation_problem(response, ("email", "required"), ("password", "required"))
    assert AuthSession.objects.count() == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [("email", "a" * 250 + "@example.com"), ("password", "p" * 257)],
)
def test_cannot_sign_in_with_overlong_strings(api, user, field, value):
    data = {"email": "alice@example.com", "password": PASSWORD, field: value}

    assert_validation_problem(api.post(TOKEN_URL, data), (field, "max_length"))
    assert AuthSession.objects.count() == 0


@pytest.mark.parametrize("field", ["email", "password"])
def test_cannot_sign_in_with_a_nul_character(api, user, field):
    data = {"email": "alice@example.com", "password": PASSWORD}
    data[field] = data[field][:3] + NUL + data[field][3:]

    assert_validation_problem(api.post(TOKEN_URL, data), (field, "null_characters_not_allowed"))
    assert AuthSession.objects.count() == 0


def test_cannot_sign_in_with_a_form_body(api, user):
    response = api.post(TOKEN_URL, {"email": "alice@example.com", "password": PASSWORD}, format="multipart")

    assert_problem(response, 415, "unsupported_media_type")
    assert AuthSession.objects.count() == 0


def test_cannot_sign_in_with_malformed_json(api, user):
    response = api.post(TOKEN_URL, '{"email": "alice@example.com", "password": ', content_type="application/json")

    assert_problem(response, 400, "parse_error")
    assert AuthSession.objects.count() == 0


@pytest.mark.parametrize("body", ["[]", '"alice@example.com"', "null", "42"])
def test_cannot_sign_in_with_a_json_body_that_is_not_an_object(api, user, body):
    response = api.post(TOKEN_URL, body, content_type="application/json")

    assert_validation_problem(response)
    assert AuthSession.objects.count() == 0


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_cannot_use_other_methods_on_sign_in(api, method):
    response = getattr(api, method)(TOKEN_URL)

    assert_problem(response, 405, "method_not_allowed")


def test_cannot_sign_in_asking_for_xml(user):
    client = APIClient()

    response = client.post(
        TOKEN_URL, {"email": "alice@example.com", "password": PASSWORD}, HTTP_ACCEPT="application/xml"
    )

    assert_problem(response, 406, "not_acceptable")
    assert AuthSession.objects.count() == 0


@pytest.fixture
def failing_sign_in_receiver():
    """A user_logged_in receiver that breaks (a database error saving last_login, say)."""

    def fail(**kwargs):
        raise DatabaseError("last_login could not be saved")

    user_logged_in.connect(fail, dispatch_uid="test-failing-receiver")
    yield
    user_logged_in.disconnect(dispatch_uid="test-failing-receiver")


def test_sign_in_answers_with_working_tokens_when_a_sign_in_receiver_fails(api, user, failing_sign_in_receiver, caplog):
    """The session is committed before the signal runs: a 500 now would leave a live session
    that nobody holds, and a sign_in event for a request the client saw fail."""
    response = api.post(TOKEN_URL, {"email": "alice@example.com", "password": PASSWORD})

    assert response.status_code == 200
    assert bearer(response.json()["access"]).get(ME_URL).status_code == 200
    assert AuthSession.objects.filter(user=user).count() == 1
    assert SecurityEvent.objects.filter(type=SecurityEvent.Type.SIGN_IN).count() == 1
    assert "user_logged_in receiver" in caplog.text
    user.refresh_from_db()
    assert user.last_login is not None  # The other receivers still ran (send_robust).
