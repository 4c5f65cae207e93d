"""Brute force: failures per account and per IP lock sign-in out (429), indistinguishably."""

from datetime import timedelta
from io import StringIO

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.utils import timezone

from accounts.models import AuthSession, SecurityEvent
from tests.conftest import PASSWORD
from tests.helpers import TOKEN_URL, assert_problem, without_request_id

pytestmark = pytest.mark.django_db


def attempt(api, email, password="wrong-password-here", **extra):
    return api.post(TOKEN_URL, {"email": email, "password": password}, **extra)


def fail(api, email, times, **extra):
    """`times` wrong passwords: 401 each, but 429 from the one that reaches the limit on."""
    for _ in range(times):
        assert attempt(api, email, **extra).status_code in (401, 429)


def test_the_failure_that_reaches_the_limit_already_answers_429(api, user, settings):
    settings.AXES_FAILURE_LIMIT = 3
    statuses = [attempt(api, user.email).status_code for _ in range(3)]

    assert statuses == [401, 401, 429]


def test_can_sign_in_after_fewer_failures_than_the_limit(api, user, settings):
    settings.AXES_FAILURE_LIMIT = 5
    fail(api, user.email, 4)

    assert attempt(api, user.email, PASSWORD).status_code == 200


def test_cannot_sign_in_once_locked_even_with_the_right_password(api, user, settings):
    settings.AXES_FAILURE_LIMIT = 5
    fail(api, user.email, 5)

    response = attempt(api, user.email, PASSWORD)

    body = assert_problem(response, 429, "throttled")
    assert int(response["Retry-After"]) == 15 * 60
    assert "Too many failed sign-in attempts" in body["detail"]
    assert not AuthSession.objects.filter(user=user).exists()  # No session was started.


def test_locked_account_and_locked_unknown_email_answer_alike(api, user, settings):
    settings.AXES_FAILURE_LIMIT = 3
    fail(api, user.email, 3, REMOTE_ADDR="198.51.100.1")
    fail(api, "nobody@example.com", 3, REMOTE_ADDR="198.51.100.2")

    known = attempt(api, user.email, PASSWORD, REMOTE_ADDR="198.51.100.3")
    unknown = attempt(api, "nobody@example.com", PASSWORD, REMOTE_ADDR="198.51.100.4")

    assert known.status_code == unknown.status_code == 429
    assert without_request_id(known.json()) == without_request_id(unknown.json())
    assert known["Retry-After"] == unknown["Retry-After"]


def test_lockout_counts_one_account_whatever_the_email_case(api, user, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for email in ("Alice@Example.com", "ALICE@example.com", "alice@EXAMPLE.COM"):
        attempt(api, email, REMOTE_ADDR=f"198.51.100.{len(email)}")

    assert_problem(attempt(api, user.email, PASSWORD, REMOTE_ADDR="203.0.113.50"), 429, "throttled")


def test_failures_from_one_ip_lock_that_ip_out_for_every_account(api, make_user, settings):
    settings.AXES_FAILURE_LIMIT = 3
    victim = make_user("victim@example.com")
    for n in range(3):
        attempt(api, f"guess{n}@example.com", REMOTE_ADDR="192.0.2.66")

    assert_problem(attempt(api, victim.email, PASSWORD, REMOTE_ADDR="192.0.2.66"), 429, "throttled")
    assert attempt(api, victim.email, PASSWORD, REMOTE_ADDR="192.0.2.67").status_code == 200


def test_forged_forwarded_for_does_not_escape_the_ip_counter(api, make_user, settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.TRUSTED_PROXY_COUNT = 0
    victim = make_user("victim@example.com")
    for n in range(3):
        attempt(api, f"guess{n}@example.com", REMOTE_ADDR="192.0.2.66", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}")

    response = attempt(api, victim.email, PASSWORD, REMOTE_ADDR="192.0.2.66", HTTP_X_FORWARDED_FOR="10.0.0.99")

    assert_problem(response, 429, "throttled")


def test_lockout_expires_by_itself_after_the_cool_off(api, user, settings):
    settings.AXES_FAILURE_LIMIT = 3
    fail(api, user.email, 3)
    assert attempt(api, user.email, PASSWORD).status_code == 429

    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))

    assert attempt(api, user.email, PASSWORD).status_code == 200


def test_admin_command_clears_a_lockout(api, user, settings):
    settings.AXES_FAILURE_LIMIT = 3
    fail(api, user.email, 3)

    call_command("axes_reset_username", user.email, stdout=StringIO())

    assert attempt(api, user.email, PASSWORD).status_code == 200


def test_failures_and_the_lockout_are_audited_without_the_password(api, user, settings):
    settings.AXES_FAILURE_LIMIT = 2
    fail(api, user.email, 2)
    attempt(api, user.email, PASSWORD)

    failed = SecurityEvent.objects.filter(type="sign_in_failed")
    assert failed.count() == 3
    assert {e.detail["email"] for e in failed} == {user.email}
    assert [e.detail["locked_out"] for e in failed.order_by("created_at")] == [False, True, True]
    # One lockout, one event: the attempt made during it is a sign_in_failed with locked_out, not
    # a second lockout (axes signals it again, as it restarts the cool-off).
    assert SecurityEvent.objects.filter(type="lockout").count() == 1
    for event in SecurityEvent.objects.all():
        assert PASSWORD not in str(event.detail)
        assert "wrong-password-here" not in str(event.detail)


def test_a_successful_sign_in_clears_the_accounts_own_failures(api, user, settings):
    settings.AXES_FAILURE_LIMIT = 3
    fail(api, user.email, 2)
    assert attempt(api, user.email, PASSWORD).status_code == 200

    fail(api, user.email, 2)  # Two more failures: not yet the limit, since the count restarted.

    assert attempt(api, user.email, PASSWORD).status_code == 200


def test_a_successful_sign_in_clears_the_accounts_failures_from_every_ip(api, user, settings):
    settings.AXES_FAILURE_LIMIT = 3
    fail(api, user.email, 2, REMOTE_ADDR="198.51.100.1")
    assert attempt(api, user.email, PASSWORD, REMOTE_ADDR="198.51.100.2").status_code == 200

    fail(api, user.email, 2, REMOTE_ADDR="198.51.100.1")  # The count from .1 restarted too.

    assert attempt(api, user.email, PASSWORD, REMOTE_ADDR="198.51.100.1").status_code == 200


def test_a_successful_sign_in_does_not_clear_another_accounts_failures(api, user, make_user, settings):
    settings.AXES_FAILURE_LIMIT = 3
    carol = make_user("carol@example.com")
    fail(api, user.email, 2, REMOTE_ADDR="192.0.2.66")
    assert attempt(api, carol.email, PASSWORD, REMOTE_ADDR="192.0.2.66").status_code == 200

    fail(api, user.email, 1, REMOTE_ADDR="192.0.2.66")  # Alice's third failure: her limit.

    assert_problem(attempt(api, user.email, PASSWORD, REMOTE_ADDR="203.0.113.50"), 429, "throttled")


def test_cannot_keep_guessing_by_interleaving_sign_ins_to_ones_own_account(api, user, make_user, settings):
    # The bypass: two guesses at alice, then one successful sign-in as the attacker's own carol, from one
    # IP, five times over. With axes' own reset-on-success, each success wiped every failure from the IP.
    settings.AXES_FAILURE_LIMIT = 3
    carol = make_user("carol@example.com")
    answered_as_wrong_password = 0
    for _ in range(5):
        for _ in range(2):
            answered_as_wrong_password += attempt(api, user.email, REMOTE_ADDR="192.0.2.66").status_code == 401
        attempt(api, carol.email, PASSWORD, REMOTE_ADDR="192.0.2.66")

    assert answered_as_wrong_password == 2  # The third guess reached the limit: 429 from then on.
    response = attempt(api, user.email, PASSWORD, REMOTE_ADDR="203.0.113.50")
    assert_problem(response, 429, "throttled")
    assert not AuthSession.objects.filter(user=user).exists()
