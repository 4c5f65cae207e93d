"""POST /api/v1/auth/register/: open or closed by REGISTRATION_OPEN; one account per mailbox."""

import uuid

import pytest

from accounts.models import SecurityEvent, User
from tests.helpers import NUL, REGISTER_URL, TOKEN_URL, assert_problem, assert_validation_problem

pytestmark = pytest.mark.django_db

GOOD = {"email": "Carol@Example.com", "password": "a-long-unusual-passphrase", "display_name": "Carol"}


@pytest.fixture(autouse=True)
def _registration_open(settings):
    settings.REGISTRATION_OPEN = True


def test_can_register(api):
    response = api.post(REGISTER_URL, GOOD)

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "email", "display_name", "roles", "date_joined"}
    assert body["email"] == "carol@example.com"
    user = User.objects.get()
    assert uuid.UUID(body["id"]) == user.id
    assert user.email == "carol@example.com"
    assert user.display_name == "Carol"
    assert user.is_active
    assert not user.is_staff
    assert not user.is_superuser
    assert user.password != GOOD["password"]
    assert user.check_password(GOOD["password"])
    assert "password" not in response.content.decode()


def test_can_register_without_a_display_name_and_then_sign_in(api):
    data = {"email": "dave@example.com", "password": GOOD["password"]}

    assert api.post(REGISTER_URL, data).status_code == 201

    assert User.objects.get().display_name == ""
    assert api.post(TOKEN_URL, data).status_code == 200


def test_cannot_register_when_registration_is_closed(api, settings):
    settings.REGISTRATION_OPEN = False

    response = api.post(REGISTER_URL, GOOD)

    assert_problem(response, 403, "permission_denied")
    assert not User.objects.exists()


@pytest.mark.parametrize(
    "email", ["alice@example.com", "Alice@Example.com", "ALICE@EXAMPLE.COM", " alice@example.com "]
)
def test_cannot_register_an_email_that_is_taken_in_any_case(api, user, email):
    response = api.post(REGISTER_URL, {**GOOD, "email": email})

    assert_validation_problem(response, ("email", "unique"))
    assert User.objects.count() == 1
    user.refresh_from_db()
    assert user.display_name == "Alice"


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("short-pw", "password_too_short"),
        ("password1234", "password_too_common"),
        ("839274619283746", "password_entirely_numeric"),
        ("carol@example.com", "password_too_similar"),
    ],
)
def test_cannot_register_with_a_weak_password(api, password, code):
    response = api.post(REGISTER_URL, {**GOOD, "password": password})

    assert_validation_problem(response, ("password", code))
    assert not User.objects.exists()


@pytest.mark.parametrize("field", ["is_staff", "is_superuser", "is_active", "id", "roles", "groups", "date_joined"])
def test_cannot_register_with_a_field_the_endpoint_does_not_accept(api, field):
    response = api.post(REGISTER_URL, {**GOOD, field: True})

    assert_validation_problem(response, (field, "unknown_field"))
    assert not User.objects.exists()


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("email", "c" * 243 + "@example.com", "max_length"),
        ("display_name", "d" * 151, "max_length"),
        ("password", "p" * 257, "max_length"),
        ("email", "carol@exa" + NUL + "mple.com", "null_characters_not_allowed"),
        ("display_name", "Ca" + NUL + "rol", "null_characters_not_allowed"),
        ("password", "a-long-unusual" + NUL + "passphrase", "null_characters_not_allowed"),
        ("email", "not-an-email", "invalid"),
        ("email", "", "blank"),
        ("password", "", "blank"),
        ("email", None, "null"),
        ("display_name", ["Carol"], "invalid"),
    ],
)
def test_cannot_register_with_a_bad_value(api, field, value, code):
    response = api.post(REGISTER_URL, {**GOOD, field: value})

    assert_validation_problem(response, (field, code))
    assert not User.objects.exists()


def test_cannot_register_without_email_and_password(api):
    response = api.post(REGISTER_URL, {"display_name": "Nobody"})

    assert_validation_problem(response, ("email", "required"), ("password", "required"))
    assert not User.objects.exists()


def test_cannot_register_with_a_form_body(api):
    assert_problem(api.post(REGISTER_URL, GOOD, format="multipart"), 415, "unsupported_media_type")
    assert not User.objects.exists()


def test_cannot_register_with_malformed_json(api):
    assert_problem(api.post(REGISTER_URL, '{"email": ', content_type="application/json"), 400, "parse_error")
    assert not User.objects.exists()


def test_cannot_register_with_a_body_over_the_limit(api, settings):
    settings.API_MAX_BODY_BYTES = 64

    response = api.post(REGISTER_URL, {**GOOD, "display_name": "C" * 100})

    assert_problem(response, 413, "payload_too_large")
    assert not User.objects.exists()


def test_cannot_get_the_register_endpoint(api):
    assert_problem(api.get(REGISTER_URL), 405, "method_not_allowed")


# Look-alikes: no account may be registered that displays as an existing one.

LOOK_ALIKES = {
    "zero-width-space": ("alice@example.com\u200b", "invisible_characters"),
    "cyrillic-a": ("alice@ex\u0430mple.com", "mixed_scripts"),
    "dotless-i": ("al\u0131ce@example.com", "confusable"),
    "fullwidth-domain": ("alice@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.\uff43\uff4f\uff4d", "unique"),
}


@pytest.mark.parametrize(("email", "code"), LOOK_ALIKES.values(), ids=LOOK_ALIKES.keys())
def test_cannot_register_a_look_alike_of_an_existing_account(api, user, email, code):
    users, events = User.objects.count(), SecurityEvent.objects.count()

    response = api.post(REGISTER_URL, {**GOOD, "email": email})

    body = assert_validation_problem(response, ("email", code))
    assert "alice@example.com" not in str(body["errors"])  # Never names the account it looks like.
    assert User.objects.count() == users
    assert SecurityEvent.objects.count() == events


@pytest.mark.parametrize(
    ("email", "code"),
    [
        ("carol@example.com\ufeff", "invisible_characters"),
        ("carol@exa\u200dmple.com", "invisible_characters"),
        ("carol@example.com\u202e", "invisible_characters"),
        ("carol@\u0435xample.com", "mixed_scripts"),
    ],
)
def test_cannot_register_an_email_with_invisible_or_mixed_script_characters(api, email, code):
    response = api.post(REGISTER_URL, {**GOOD, "email": email})

    assert_validation_problem(response, ("email", code))
    assert not User.objects.exists()
    assert not SecurityEvent.objects.exists()


@pytest.mark.parametrize(
    ("email", "stored"),
    [
        ("\uff43\uff41\uff52\uff4f\uff4c@example.com", "carol@example.com"),
        ("carol@b\u00fccher.de", "carol@b\u00fccher.de"),
        (
            "carol@\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444",
            "carol@\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444",
        ),
    ],
)
def test_can_register_an_email_in_one_script_and_it_is_stored_normalised(api, email, stored):
    response = api.post(REGISTER_URL, {**GOOD, "email": email})

    assert response.status_code == 201, response.content
    assert User.objects.get().email == stored
    assert api.post(TOKEN_URL, {"email": email, "password": GOOD["password"]}).status_code == 200
