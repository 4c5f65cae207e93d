"""Email change end to end: a confirmation to the new address, a notice to the old one, the change on confirmation."""

import pytest

from accounts.models import SecurityEvent, User
from tests.conftest import PASSWORD
from tests.helpers import TOKEN_URL, assert_problem, assert_validation_problem, bearer, sign_in
from tests.recovery.conftest import text_of, token_of

pytestmark = pytest.mark.django_db

CHANGE_URL = "/api/v1/auth/email/change/"
CONFIRM_URL = "/api/v1/auth/email/change/confirm/"


@pytest.fixture
def alice(make_user) -> User:
    return make_user("alice@example.com")


@pytest.fixture
def alice_api(alice):
    return bearer(sign_in(email="alice@example.com")["access"])


def test_can_change_email_through_the_link_sent_to_the_new_address(api, post, mailbox, alice, alice_api):
    response = post(CHANGE_URL, {"new_email": "Alice.New@Example.com", "password": PASSWORD}, client=alice_api)

    assert response.status_code == 202
    alice.refresh_from_db()
    assert alice.email == "alice@example.com"  # Not before confirmation.
    notice = mailbox.only_one_to("alice@example.com")
    assert "alice.new@example.com" in text_of(notice)
    assert "#token=" not in text_of(notice)  # The old address gets no link.
    confirmation = mailbox.only_one_to("alice.new@example.com")
    assert "https://app.example.com/confirm-email-change#token=" in text_of(confirmation)

    assert post(CONFIRM_URL, {"token": token_of(confirmation)}).status_code == 204

    alice.refresh_from_db()
    assert alice.email == "alice.new@example.com"
    assert alice.email_verified
    assert api.post(TOKEN_URL, {"email": "alice.new@example.com", "password": PASSWORD}).status_code == 200
    assert_problem(api.post(TOKEN_URL, {"email": "alice@example.com", "password": PASSWORD}), 401)
    event = SecurityEvent.objects.get(type=SecurityEvent.Type.EMAIL_CHANGE)
    assert event.detail == {"old_email": "alice@example.com", "new_email": "alice.new@example.com"}
    assert SecurityEvent.objects.filter(type=SecurityEvent.Type.EMAIL_CHANGE_REQUEST).exists()


def test_a_wrong_password_sends_nothing(post, mailbox, alice, alice_api):
    response = post(CHANGE_URL, {"new_email": "new@example.com", "password": "wrong-password-here"}, client=alice_api)

    assert_validation_problem(response, ("password", "wrong_password"))
    assert mailbox.received() == []
    assert not SecurityEvent.objects.filter(type=SecurityEvent.Type.EMAIL_CHANGE_REQUEST).exists()


@pytest.mark.parametrize(
    ("new_email", "code"),
    [("bob@example.com", "unique"), ("BOB@example.com", "unique"), ("alice@example.com", "same_email")],
)
def test_cannot_ask_for_a_taken_or_the_same_email(post, mailbox, alice, alice_api, make_user, new_email, code):
    make_user("bob@example.com")

    response = post(CHANGE_URL, {"new_email": new_email, "password": PASSWORD}, client=alice_api)

    assert response.status_code == 400
    assert code in {error["code"] for error in response.json()["errors"]}
    assert mailbox.received() == []


def test_must_be_signed_in_to_ask(post, mailbox, alice):
    assert_problem(post(CHANGE_URL, {"new_email": "new@example.com", "password": PASSWORD}), 401)
    assert mailbox.received() == []


def test_cannot_change_email_when_turned_off(post, mailbox, alice, alice_api, settings):
    settings.EMAIL_CHANGE_ENABLED = False

    response = post(CHANGE_URL, {"new_email": "new@example.com", "password": PASSWORD}, client=alice_api)

    assert_problem(response, 403, "permission_denied")
    assert mailbox.received() == []
