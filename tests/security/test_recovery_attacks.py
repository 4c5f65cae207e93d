"""Attacks on password reset, email verification and email change (docs/recovery.md).

Each test tries the bad thing through HTTP, with the link read from a real SMTP server, and
checks that it was refused with the one `link_invalid` answer (or the documented refusal) and
that nothing changed.
"""

import re
from datetime import timedelta

import pytest
import time_machine
from axes.models import AccessAttempt
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import services
from accounts.models import SecurityEvent, User
from tests.conftest import PASSWORD
from tests.helpers import (
    PASSWORD_CHANGE_URL,
    TOKEN_URL,
    assert_problem,
    assert_validation_problem,
    bearer,
    sign_in,
    without_request_id,
)
from tests.recovery.conftest import mailbox_fixture, post_fixture, token_of  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db

RESET_URL = "/api/v1/auth/password/reset/"
RESET_CONFIRM_URL = "/api/v1/auth/password/reset/confirm/"
VERIFY_URL = "/api/v1/auth/email/verify/"
RESEND_URL = "/api/v1/auth/email/verify/resend/"
CHANGE_URL = "/api/v1/auth/email/change/"
CHANGE_CONFIRM_URL = "/api/v1/auth/email/change/confirm/"
NEW_PASSWORD = "a-brand-new-passphrase-42"
OTHER_PASSWORD = "another-new-passphrase-77"


@pytest.fixture
def alice(make_user) -> User:
    return make_user("alice@example.com")


@pytest.fixture
def reset_token(post, mailbox, alice) -> str:
    assert post(RESET_URL, {"email": "alice@example.com"}).status_code == 202
    return token_of(mailbox.only_one_to("alice@example.com"))


def refused_link(response) -> dict:
    """The one answer for every bad link, whatever the reason."""
    body = assert_validation_problem(response, ("token", "link_invalid"))
    return without_request_id(body)


def password_unchanged(user: User, password: str = PASSWORD) -> bool:
    user.refresh_from_db()
    return user.check_password(password)


# --- password reset links ---------------------------------------------------------------------


def test_a_reset_link_works_once(post, alice, reset_token):
    assert post(RESET_CONFIRM_URL, {"token": reset_token, "new_password": NEW_PASSWORD}).status_code == 204

    refused_link(post(RESET_CONFIRM_URL, {"token": reset_token, "new_password": OTHER_PASSWORD}))

    assert password_unchanged(alice, NEW_PASSWORD)
    assert SecurityEvent.objects.filter(type=SecurityEvent.Type.PASSWORD_RESET).count() == 1


def test_a_reset_link_expires_after_thirty_minutes(post, alice, reset_token):
    with time_machine.travel(timezone.now() + timedelta(minutes=31), tick=False):
        refused_link(post(RESET_CONFIRM_URL, {"token": reset_token, "new_password": NEW_PASSWORD}))

    assert password_unchanged(alice)


def test_a_reset_link_works_until_it_expires(post, alice, reset_token):
    with time_machine.travel(timezone.now() + timedelta(minutes=29), tick=False):
        assert post(RESET_CONFIRM_URL, {"token": reset_token, "new_password": NEW_PASSWORD}).status_code == 204


def test_the_expiry_is_configurable(post, alice, reset_token, settings):
    settings.PASSWORD_RESET_TIMEOUT = 60

    with time_machine.travel(timezone.now() + timedelta(minutes=2), tick=False):
        refused_link(post(RESET_CONFIRM_URL, {"token": reset_token, "new_password": NEW_PASSWORD}))


def test_a_password_change_ends_the_reset_link(post, alice, reset_token):
    client = bearer(sign_in(email="alice@example.com")["access"])
    changed = client.post(PASSWORD_CHANGE_URL, {"old_password": PASSWORD, "new_password": OTHER_PASSWORD})
    assert changed.status_code == 204

    refused_link(post(RESET_CONFIRM_URL, {"token": reset_token, "new_password": NEW_PASSWORD}))

    assert password_unchanged(alice, OTHER_PASSWORD)


def test_a_sign_in_after_the_request_ends_the_reset_link(post, alice, reset_token):
    sign_in(email="alice@example.com")  # She remembered it: the link is no longer needed.

    refused_link(post(RESET_CONFIRM_URL, {"token": reset_token, "new_password": NEW_PASSWORD}))

    assert password_unchanged(alice)


def test_a_deactivated_account_gets_the_same_answer_as_a_forged_link(post, alice, reset_token):
    services.user_set_active(user=alice, is_active=False)

    deactivated = refused_link(post(RESET_CONFIRM_URL, {"token": reset_token, "new_password": NEW_PASSWORD}))
    forged = refused_link(post(RESET_CONFIRM_URL, {"token": "forged:token", "new_password": NEW_PASSWORD}))

    assert deactivated == forged
    assert password_unchanged(alice)


def test_a_deleted_account_gets_the_same_answer_as_a_forged_link(post, alice, reset_token):
    alice.delete()

    deleted = refused_link(post(RESET_CONFIRM_URL, {"token": reset_token, "new_password": NEW_PASSWORD}))

    assert deleted == refused_link(post(RESET_CONFIRM_URL, {"token": "x", "new_password": NEW_PASSWORD}))


@pytest.mark.parametrize(
    "tamper",
    [
        lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),  # The signature.
        lambda token: "x" + token,  # The payload.
        lambda token: token + " ",
        lambda token: "",
    ],
)
def test_a_tampered_reset_link_is_refused(post, alice, reset_token, tamper):
    response = post(RESET_CONFIRM_URL, {"token": tamper(reset_token), "new_password": NEW_PASSWORD})

    assert response.status_code == 400
    assert password_unchanged(alice)


def test_a_link_made_for_another_purpose_does_not_reset(post, mailbox, alice, settings):
    settings.REGISTRATION_OPEN = True
    post("/api/v1/auth/register/", {"email": "carol@example.com", "password": "a-long-unusual-passphrase"})
    verification = token_of(mailbox.only_one_to("carol@example.com"))

    refused_link(post(RESET_CONFIRM_URL, {"token": verification, "new_password": NEW_PASSWORD}))
    refused_link(post(CHANGE_CONFIRM_URL, {"token": verification}))

    assert User.objects.get(email="carol@example.com").check_password("a-long-unusual-passphrase")


def test_a_reset_leaves_the_lockout_as_it_was(post, api, alice, reset_token):
    for _ in range(2):
        api.post(TOKEN_URL, {"email": "alice@example.com", "password": "wrong-password-here"})
    failures = list(AccessAttempt.objects.values_list("username", "failures_since_start"))

    assert post(RESET_CONFIRM_URL, {"token": reset_token, "new_password": NEW_PASSWORD}).status_code == 204

    assert list(AccessAttempt.objects.values_list("username", "failures_since_start")) == failures


# --- enumeration ----------------------------------------------------------------------------------


def statement_shapes(queries: list[dict]) -> list[str]:
    """Each statement with its values taken out: what was done, not to which row."""
    values = r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b|\bNULL\b|\"s\d+_x\d+\""  # Savepoint names count up.
    return [re.sub(values, "?", query["sql"]) for query in queries]


@pytest.mark.parametrize(
    "other",
    ["nobody@example.com", "gone@example.com", "nopass@example.com"],
    ids=["unknown", "inactive", "no_password"],
)
@pytest.mark.parametrize("url", [RESET_URL, RESEND_URL])
def test_asking_for_a_link_does_the_same_work_and_answers_alike_for_any_email(post, mailbox, make_user, url, other):
    make_user("alice@example.com", email_verified=False)  # Unverified, so that resend mails her too.
    make_user("gone@example.com", is_active=False)
    make_user("nopass@example.com", password=None)
    answers, shapes = [], []
    for email in ("alice@example.com", other):
        with CaptureQueriesContext(connection) as queries:
            answers.append(post(url, {"email": email}))
        shapes.append(statement_shapes(queries.captured_queries))

    known, unknown = answers
    assert known.status_code == unknown.status_code == 202
    assert known.content == unknown.content
    assert {name: value for name, value in known.items() if name.lower() != "x-request-id"} == {
        name: value for name, value in unknown.items() if name.lower() != "x-request-id"
    }
    assert shapes[0] == shapes[1]  # No extra read or write for an account that exists.
    assert [m["X-Envelope-To"] for m in mailbox.received()] == ["alice@example.com"]


# --- rate limits ----------------------------------------------------------------------------------


def test_reset_requests_are_limited_per_email_from_any_address(post, mailbox, alice, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "recovery_email": "2/hour"}
    for index in range(2):
        assert post(RESET_URL, {"email": "alice@example.com"}, REMOTE_ADDR=f"198.51.100.{index}").status_code == 202

    refused = post(RESET_URL, {"email": "ALICE@example.com"}, REMOTE_ADDR="198.51.100.9")

    assert_problem(refused, 429, "throttled")
    assert len(mailbox.to("alice@example.com")) == 2
    # An unknown email is limited alike: the 429 does not tell accounts apart either.
    for _ in range(2):
        post(RESET_URL, {"email": "nobody@example.com"}, REMOTE_ADDR="203.0.113.5")
    assert_problem(post(RESET_URL, {"email": "nobody@example.com"}, REMOTE_ADDR="203.0.113.6"), 429, "throttled")


def test_recovery_is_limited_per_client_address_across_emails_and_endpoints(post, mailbox, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "recovery": "3/hour"}
    post(RESET_URL, {"email": "a@example.com"})
    post(RESEND_URL, {"email": "b@example.com"})
    post(RESET_CONFIRM_URL, {"token": "guess", "new_password": NEW_PASSWORD})

    assert_problem(post(RESET_URL, {"email": "c@example.com"}), 429, "throttled")
    assert_problem(post(VERIFY_URL, {"token": "guess"}), 429, "throttled")
    assert_problem(post(CHANGE_CONFIRM_URL, {"token": "guess"}), 429, "throttled")
    assert post(RESET_URL, {"email": "c@example.com"}, REMOTE_ADDR="192.0.2.50").status_code == 202


# --- verification links -----------------------------------------------------------------------------


def test_a_verification_link_expires(post, mailbox, settings):
    settings.REGISTRATION_OPEN = True
    post("/api/v1/auth/register/", {"email": "carol@example.com", "password": "a-long-unusual-passphrase"})
    token = token_of(mailbox.only_one_to("carol@example.com"))

    with time_machine.travel(timezone.now() + timedelta(hours=25), tick=False):
        refused_link(post(VERIFY_URL, {"token": token}))

    assert not User.objects.get(email="carol@example.com").email_verified


# --- email change ---------------------------------------------------------------------------------


def ask_for_email_change(post, mailbox, new_email: str) -> str:
    client = bearer(sign_in(email="alice@example.com")["access"])
    assert post(CHANGE_URL, {"new_email": new_email, "password": PASSWORD}, client=client).status_code == 202
    return token_of(mailbox.only_one_to(new_email))


@pytest.mark.parametrize(
    ("taken_by", "code"),
    [("mike@example.com", "unique"), ("m\u0131ke@example.com", "confusable")],
    ids=["same", "look-alike"],
)
def test_an_address_taken_before_confirmation_is_refused_then(post, mailbox, alice, make_user, taken_by, code):
    token = ask_for_email_change(post, mailbox, "mike@example.com")
    make_user(taken_by)  # Someone else got it (or a look-alike of it) in the meantime.

    response = post(CHANGE_CONFIRM_URL, {"token": token})

    assert_validation_problem(response, ("token", code))
    alice.refresh_from_db()
    assert alice.email == "alice@example.com"
    assert not SecurityEvent.objects.filter(type=SecurityEvent.Type.EMAIL_CHANGE).exists()


def test_an_email_change_link_works_once(post, mailbox, alice):
    token = ask_for_email_change(post, mailbox, "alice.new@example.com")
    assert post(CHANGE_CONFIRM_URL, {"token": token}).status_code == 204

    refused_link(post(CHANGE_CONFIRM_URL, {"token": token}))

    assert User.objects.get(pk=alice.pk).email == "alice.new@example.com"


def test_a_password_reset_cancels_a_pending_email_change(post, mailbox, alice):
    # The owner, warned by the notice, resets her password: the thief's pending change dies.
    token = ask_for_email_change(post, mailbox, "thief@example.net")
    post(RESET_URL, {"email": "alice@example.com"})
    reset = next(m for m in mailbox.to("alice@example.com") if "Reset" in m["Subject"])
    assert post(RESET_CONFIRM_URL, {"token": token_of(reset), "new_password": NEW_PASSWORD}).status_code == 204

    refused_link(post(CHANGE_CONFIRM_URL, {"token": token}))

    assert User.objects.get(pk=alice.pk).email == "alice@example.com"


def test_an_email_change_link_for_a_deactivated_account_is_refused(post, mailbox, alice):
    token = ask_for_email_change(post, mailbox, "alice.new@example.com")
    services.user_set_active(user=alice, is_active=False)

    refused_link(post(CHANGE_CONFIRM_URL, {"token": token}))

    assert User.objects.get(pk=alice.pk).email == "alice@example.com"


def test_a_changed_email_ends_the_old_addresses_reset_link(post, mailbox, alice, reset_token):
    token = ask_for_email_change(post, mailbox, "alice.new@example.com")
    assert post(CHANGE_CONFIRM_URL, {"token": token}).status_code == 204

    refused_link(post(RESET_CONFIRM_URL, {"token": reset_token, "new_password": NEW_PASSWORD}))
