"""Email verification end to end: registration mails a link; unverified accounts are refused at every sign-in door."""

import html

import pytest
from django.test import Client

from accounts.models import AuthSession, SecurityEvent, User
from tests.conftest import PASSWORD
from tests.helpers import REGISTER_URL, TOKEN_URL, assert_problem, assert_validation_problem, use_plain_static_storage
from tests.recovery.conftest import text_of, token_of

pytestmark = pytest.mark.django_db

VERIFY_URL = "/api/v1/auth/email/verify/"
RESEND_URL = "/api/v1/auth/email/verify/resend/"
FORM_URLS = {"browsable": "/api-auth/login/", "admin": "/admin/login/"}
CAROL = {"email": "carol@example.com", "password": "a-long-unusual-passphrase"}


@pytest.fixture(autouse=True)
def _verification_required(settings):
    settings.REGISTRATION_OPEN = True
    settings.REGISTRATION_REQUIRES_VERIFICATION = True
    use_plain_static_storage(settings)


def register(post, **extra) -> User:
    assert post(REGISTER_URL, {**CAROL, **extra}).status_code == 201
    return User.objects.get(email=CAROL["email"])


def test_registration_mails_a_link_that_verifies_the_email(api, post, mailbox):
    carol = register(post)
    assert not carol.email_verified
    message = mailbox.only_one_to("carol@example.com")
    assert message["Subject"] == "Confirm your email for Acme Identity"
    assert "https://app.example.com/verify-email#token=" in text_of(message)

    assert post(VERIFY_URL, {"token": token_of(message)}).status_code == 204

    carol.refresh_from_db()
    assert carol.email_verified
    assert SecurityEvent.objects.filter(type=SecurityEvent.Type.EMAIL_VERIFIED, target_id=str(carol.pk)).exists()
    assert api.post(TOKEN_URL, CAROL).status_code == 200


def test_an_unverified_account_cannot_sign_in_at_the_api(api, post, mailbox):
    carol = register(post)

    body = assert_problem(api.post(TOKEN_URL, CAROL), 403, "email_unverified")

    assert "verify/resend/" in body["detail"]
    assert not AuthSession.objects.filter(user=carol).exists()
    failure = SecurityEvent.objects.get(type=SecurityEvent.Type.SIGN_IN_FAILED)
    assert failure.detail["reason"] == "email_unverified"


@pytest.mark.parametrize("door", ["browsable", "admin"])
def test_an_unverified_account_cannot_sign_in_at_the_forms(post, mailbox, door):
    carol = register(post)
    User.objects.filter(pk=carol.pk).update(is_staff=True)  # So that the admin's door would open for her.
    client = Client()

    response = client.post(FORM_URLS[door], {"username": CAROL["email"], "password": CAROL["password"]})

    assert response.status_code == 200  # The form again, with the reason.
    assert "Confirm your email address first" in html.unescape(response.content.decode())
    assert "_auth_user_id" not in client.session
    event = SecurityEvent.objects.get(type=SecurityEvent.Type.SIGN_IN_FAILED)
    assert event.detail["via"] == door


@pytest.mark.parametrize("door", ["browsable", "admin"])
def test_a_verified_account_signs_in_at_the_forms(post, mailbox, door):
    carol = register(post)
    User.objects.filter(pk=carol.pk).update(is_staff=True)
    post(VERIFY_URL, {"token": token_of(mailbox.only_one_to("carol@example.com"))})
    client = Client()

    response = client.post(FORM_URLS[door], {"username": CAROL["email"], "password": CAROL["password"]})

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(carol.pk)


def test_a_wrong_password_is_still_the_plain_401_for_an_unverified_account(api, post, mailbox):
    register(post)

    assert_problem(api.post(TOKEN_URL, {**CAROL, "password": "wrong-password-here"}), 401, "no_active_account")


def test_without_the_setting_an_unverified_account_signs_in(api, post, mailbox, settings):
    settings.REGISTRATION_REQUIRES_VERIFICATION = False
    register(post)

    assert api.post(TOKEN_URL, CAROL).status_code == 200
    assert "You can sign in once" not in text_of(mailbox.only_one_to("carol@example.com"))


def test_accounts_made_otherwise_count_as_verified(api, make_user):
    # Operator-made accounts and those that existed before verification (the column's default).
    make_user("old@example.com")

    assert User.objects.get(email="old@example.com").email_verified
    assert api.post(TOKEN_URL, {"email": "old@example.com", "password": PASSWORD}).status_code == 200


def test_resend_mails_a_new_link_to_an_unverified_account(post, mailbox):
    register(post)

    response = post(RESEND_URL, {"email": "Carol@Example.com"})

    assert response.status_code == 202
    first, second = mailbox.to("carol@example.com")
    assert post(VERIFY_URL, {"token": token_of(second)}).status_code == 204
    # Verified: the first link is spent too (both were bound to the unverified state).
    assert_validation_problem(post(VERIFY_URL, {"token": token_of(first)}), ("token", "link_invalid"))


def test_resend_answers_alike_for_verified_unknown_and_unverified_emails(post, mailbox, make_user):
    register(post)
    make_user("verified@example.com")
    mailbox.received()
    before = len(mailbox.messages)
    emails = ("carol@example.com", "verified@example.com", "no@example.com")

    answers = [post(RESEND_URL, {"email": email}) for email in emails]

    assert {response.status_code for response in answers} == {202}
    assert len({response.content for response in answers}) == 1
    assert [m["X-Envelope-To"] for m in mailbox.received()[before:]] == ["carol@example.com"]
