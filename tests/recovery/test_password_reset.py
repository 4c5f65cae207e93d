"""Password reset end to end: the mail arrives at a real SMTP server, its link resets the password over HTTP."""

import pytest

from accounts.models import AuthSession, SecurityEvent, User
from tests.conftest import PASSWORD
from tests.helpers import REFRESH_URL, TOKEN_URL, assert_problem, assert_validation_problem, sign_in
from tests.recovery.conftest import html_of, text_of, token_of

pytestmark = pytest.mark.django_db

RESET_URL = "/api/v1/auth/password/reset/"
CONFIRM_URL = "/api/v1/auth/password/reset/confirm/"
NEW_PASSWORD = "a-brand-new-passphrase-42"


@pytest.fixture
def alice(make_user) -> User:
    return make_user("alice@example.com")


def test_can_reset_a_forgotten_password_with_the_mailed_link(api, post, mailbox, alice):
    response = post(RESET_URL, {"email": "Alice@Example.com"})

    assert response.status_code == 202
    message = mailbox.only_one_to("alice@example.com")
    assert message["Subject"] == "Reset your Acme Identity password"
    assert message["From"] == "Acme Identity <no-reply@example.com>"
    assert "https://app.example.com/reset-password#token=" in text_of(message)
    assert "Acme Identity" in html_of(message)
    assert "30 minutes" in text_of(message)

    response = post(CONFIRM_URL, {"token": token_of(message), "new_password": NEW_PASSWORD})

    assert response.status_code == 204
    assert api.post(TOKEN_URL, {"email": "alice@example.com", "password": NEW_PASSWORD}).status_code == 200
    assert_problem(api.post(TOKEN_URL, {"email": "alice@example.com", "password": PASSWORD}), 401)


def test_a_reset_ends_every_session_of_the_account(post, mailbox, alice, client):
    tokens = sign_in(email="alice@example.com")
    client.force_login(alice)  # A browser (cookie) session too.
    post(RESET_URL, {"email": "alice@example.com"})

    post(CONFIRM_URL, {"token": token_of(mailbox.only_one_to("alice@example.com")), "new_password": NEW_PASSWORD})

    assert not AuthSession.objects.active().filter(user=alice).exists()
    assert_problem(post(REFRESH_URL, {"refresh": tokens["refresh"]}), 401, "session_revoked")
    assert client.get("/api/v1/auth/me/").status_code in (401, 403)


def test_request_and_completion_are_audited(post, mailbox, alice):
    post(RESET_URL, {"email": "alice@example.com"})
    post(CONFIRM_URL, {"token": token_of(mailbox.only_one_to("alice@example.com")), "new_password": NEW_PASSWORD})

    requested = SecurityEvent.objects.get(type=SecurityEvent.Type.PASSWORD_RESET_REQUEST)
    assert requested.target_id == str(alice.pk)
    assert requested.detail == {"email": "alice@example.com", "sent": True}
    reset = SecurityEvent.objects.get(type=SecurityEvent.Type.PASSWORD_RESET)
    assert reset.target_id == str(alice.pk)
    assert SecurityEvent.objects.filter(type=SecurityEvent.Type.PASSWORD_CHANGE, target_id=str(alice.pk)).exists()


def test_an_unknown_email_gets_the_same_answer_and_no_mail(post, mailbox, alice):
    known = post(RESET_URL, {"email": "alice@example.com"})
    unknown = post(RESET_URL, {"email": "nobody@example.com"})

    assert unknown.status_code == known.status_code == 202
    assert unknown.json() == known.json()
    assert [m["X-Envelope-To"] for m in mailbox.received()] == ["alice@example.com"]
    event = SecurityEvent.objects.get(type=SecurityEvent.Type.PASSWORD_RESET_REQUEST, detail__sent=False)
    assert event.target_id == ""


def test_the_new_password_must_pass_the_validators_and_the_link_survives(post, mailbox, alice):
    post(RESET_URL, {"email": "alice@example.com"})
    token = token_of(mailbox.only_one_to("alice@example.com"))

    response = post(CONFIRM_URL, {"token": token, "new_password": "short"})

    assert_validation_problem(response, ("new_password", "password_too_short"))
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)
    assert post(CONFIRM_URL, {"token": token, "new_password": NEW_PASSWORD}).status_code == 204


def test_the_new_password_may_not_look_like_the_email(post, mailbox, alice):
    post(RESET_URL, {"email": "alice@example.com"})
    token = token_of(mailbox.only_one_to("alice@example.com"))

    response = post(CONFIRM_URL, {"token": token, "new_password": "alice@example.com"})

    assert_validation_problem(response, ("new_password", "password_too_similar"))


def test_no_mail_for_a_deactivated_account_or_one_without_a_password(post, mailbox, make_user):
    make_user("gone@example.com", is_active=False)
    make_user("nopass@example.com", password=None)

    assert post(RESET_URL, {"email": "gone@example.com"}).status_code == 202
    assert post(RESET_URL, {"email": "nopass@example.com"}).status_code == 202

    assert mailbox.received() == []


def test_cannot_reset_when_password_reset_is_turned_off(post, mailbox, alice, settings):
    settings.PASSWORD_RESET_ENABLED = False

    assert_problem(post(RESET_URL, {"email": "alice@example.com"}), 403, "permission_denied")
    assert_problem(post(CONFIRM_URL, {"token": "x", "new_password": NEW_PASSWORD}), 403, "permission_denied")
    assert mailbox.received() == []


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({}, "email", "required"),
        ({"email": "not-an-email"}, "email", "invalid"),
        ({"email": 5}, "email", "invalid"),
        ({"email": "a@example.com", "extra": 1}, "extra", "unknown_field"),
    ],
)
def test_a_bad_request_body_is_a_clear_400_and_sends_nothing(post, mailbox, body, field, code):
    assert_validation_problem(post(RESET_URL, body), (field, code))
    assert mailbox.received() == []
    assert not SecurityEvent.objects.exists()


def test_a_reset_verifies_an_unverified_email(post, mailbox, make_user, settings, api):
    settings.REGISTRATION_REQUIRES_VERIFICATION = True
    carol = make_user("carol@example.com", email_verified=False)
    post(RESET_URL, {"email": "carol@example.com"})

    post(CONFIRM_URL, {"token": token_of(mailbox.only_one_to("carol@example.com")), "new_password": NEW_PASSWORD})

    carol.refresh_from_db()
    assert carol.email_verified  # The link reached the mailbox: that proves it is hers.
    assert api.post(TOKEN_URL, {"email": "carol@example.com", "password": NEW_PASSWORD}).status_code == 200
