"""Every sign-in door is the same door: the API, the browsable API's form and the admin's form
share one email normalisation, one rate limit, one lockout and one audit trail."""

import itertools
import re

import pytest
from django.test import Client

from accounts.models import AuthSession, SecurityEvent
from tests.conftest import PASSWORD
from tests.helpers import ME_URL, TOKEN_URL, assert_problem, use_plain_static_storage

pytestmark = pytest.mark.django_db

API, BROWSABLE, ADMIN = "api", "browsable", "admin"
DOORS = [API, BROWSABLE, ADMIN]
FORM_URLS = {BROWSABLE: "/api-auth/login/", ADMIN: "/admin/login/"}
FULLWIDTH_BOB = "\uff42\uff4f\uff42@example.com"
INVISIBLE_BOB = "bob@example.com\u200b"
WRONG = "wrong-password-here"


@pytest.fixture(autouse=True)
def _html_pages(settings):
    use_plain_static_storage(settings)


@pytest.fixture
def bob(make_user):
    # Staff, so that the right password opens every door, the admin's included.
    return make_user("bob@example.com", is_staff=True)


def attempt(door: str, email: str, password: str = WRONG, client: Client | None = None, **extra):
    client = client or Client()
    if door == API:
        return client.post(TOKEN_URL, {"email": email, "password": password}, content_type="application/json", **extra)
    return client.post(FORM_URLS[door], {"username": email, "password": password}, **extra)


def signed_in(door: str, response) -> bool:
    return response.status_code == (200 if door == API else 302)


def failed(door: str, response) -> bool:
    """Refused as a wrong password is: 401 at the API, the form shown again at the others."""
    return response.status_code == (401 if door == API else 200)


def assert_refused_page(response, retry_after: int | None = None) -> str:
    """The forms' 429: an HTML page with the time left, Retry-After, and nothing the CSP forbids."""
    assert response.status_code == 429
    assert response["Content-Type"].startswith("text/html")
    assert 0 < int(response["Retry-After"]) <= 3600
    if retry_after is not None:
        assert int(response["Retry-After"]) == retry_after
    html = response.content.decode()
    assert re.search(r"Try again in \d+ minutes?\.", html)
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert not re.search(r"<script\b(?![^>]*\bsrc=)", html)
    assert "sessionid" not in response.cookies
    return html


def assert_refused(door: str, response) -> None:
    if door == API:
        assert_problem(response, 429, "throttled")
        assert int(response["Retry-After"]) > 0
    else:
        assert_refused_page(response)


# Normalisation: one spelling per mailbox at every door.


@pytest.mark.parametrize("door", DOORS)
def test_can_sign_in_with_a_fullwidth_email_as_its_account_at_every_door(door, bob):
    client = Client()

    response = attempt(door, FULLWIDTH_BOB, PASSWORD, client=client)

    assert signed_in(door, response), response.content
    if door == API:
        assert AuthSession.objects.filter(user=bob).count() == 1
    else:
        assert client.get(ME_URL).json()["email"] == "bob@example.com"


@pytest.mark.parametrize("door", DOORS)
def test_cannot_sign_in_with_an_invisible_character_in_the_email_at_any_door(door, bob):
    client = Client()

    response = attempt(door, INVISIBLE_BOB, PASSWORD, client=client)

    assert failed(door, response), response.content
    assert not AuthSession.objects.exists()
    assert client.get(ME_URL).status_code == 401
    assert SecurityEvent.objects.filter(type="sign_in").count() == 0
    assert SecurityEvent.objects.get(type="sign_in_failed").detail["email"] == INVISIBLE_BOB


# One rate limit: one counter per client IP across the three doors.


@pytest.mark.parametrize("doors", list(itertools.permutations(DOORS)), ids="-".join)
def test_cannot_exceed_the_sign_in_rate_limit_by_spreading_attempts_over_the_doors(doors, bob, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "sign_in": "4/hour"}
    settings.AXES_FAILURE_LIMIT = 100  # The rate limit, not the lockout, is under test.
    first, second, third = doors
    for door in (first, first, second, second):
        assert failed(door, attempt(door, bob.email))

    response = attempt(third, bob.email, PASSWORD)

    assert_refused(third, response)
    assert not AuthSession.objects.exists()
    assert SecurityEvent.objects.filter(type="sign_in").count() == 0


@pytest.mark.parametrize("door", DOORS)
def test_can_sign_in_at_each_door_within_the_shared_rate_limit(door, bob, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "sign_in": "4/hour"}
    for other in DOORS:
        if other != door:
            attempt(other, bob.email)

    assert signed_in(door, attempt(door, bob.email, PASSWORD))


def test_the_rate_limit_counts_per_client_ip(bob, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "sign_in": "2/hour"}
    attempt(ADMIN, bob.email, REMOTE_ADDR="198.51.100.1")
    attempt(BROWSABLE, bob.email, REMOTE_ADDR="198.51.100.1")

    assert_refused_page(attempt(ADMIN, bob.email, PASSWORD, REMOTE_ADDR="198.51.100.1"))
    assert signed_in(ADMIN, attempt(ADMIN, bob.email, PASSWORD, REMOTE_ADDR="198.51.100.2"))


# One lockout: the same limit, whichever doors the failures and the next attempt use.


@pytest.mark.parametrize(("failed_at", "then_at"), list(itertools.product(DOORS, DOORS)))
def test_cannot_sign_in_at_any_door_once_locked_out_at_another(failed_at, then_at, bob, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for n in range(3):
        attempt(failed_at, bob.email, REMOTE_ADDR=f"198.51.100.{n}")

    response = attempt(then_at, bob.email, PASSWORD, REMOTE_ADDR="203.0.113.9")

    assert_refused(then_at, response)
    if then_at != API:
        assert int(response["Retry-After"]) == 15 * 60
        assert "Try again in 15 minutes." in response.content.decode()
    assert not AuthSession.objects.exists()
    assert SecurityEvent.objects.filter(type="sign_in").count() == 0


@pytest.mark.parametrize(("failed_at", "then_at"), list(itertools.product(DOORS, DOORS)))
def test_can_sign_in_at_any_door_after_fewer_failures_than_the_limit(failed_at, then_at, bob, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for n in range(2):
        assert failed(failed_at, attempt(failed_at, bob.email, REMOTE_ADDR=f"198.51.100.{n}"))

    assert signed_in(then_at, attempt(then_at, bob.email, PASSWORD, REMOTE_ADDR="203.0.113.9"))


def test_a_non_staff_accounts_right_password_at_the_admin_counts_as_a_failure(make_user, settings):
    settings.AXES_FAILURE_LIMIT = 3
    carol = make_user("carol@example.com")
    for n in range(3):
        response = attempt(ADMIN, carol.email, PASSWORD, REMOTE_ADDR=f"198.51.100.{n}")
        assert response.status_code in (200, 429)
        assert "sessionid" not in response.cookies

    assert_problem(attempt(API, carol.email, PASSWORD, REMOTE_ADDR="203.0.113.9"), 429, "throttled")
    at_admin = [e for e in SecurityEvent.objects.filter(type="sign_in_failed") if e.detail.get("via") == ADMIN]
    assert len(at_admin) == 3
    assert SecurityEvent.objects.filter(type="lockout").exists()


def test_a_staff_accounts_right_password_at_the_admin_signs_in(bob, settings):
    settings.AXES_FAILURE_LIMIT = 3

    response = attempt(ADMIN, bob.email, PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == "/admin/"


def test_the_admin_answers_a_non_staff_account_as_it_answers_a_wrong_password(bob, make_user):
    make_user("carol@example.com")

    non_staff = attempt(ADMIN, "carol@example.com", PASSWORD)
    wrong_password = attempt(ADMIN, bob.email, WRONG)

    def error(response) -> str:
        return re.search(r'<p class="errornote">\s*(.*?)\s*</p>', response.content.decode(), re.S).group(1)

    assert non_staff.status_code == wrong_password.status_code == 200
    assert error(non_staff) == error(wrong_password)


# Where the forms land, and what the audit trail records.


def test_the_browsable_api_login_without_next_lands_on_the_api_root(bob):
    response = attempt(BROWSABLE, bob.email, PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == "/api/v1/"


@pytest.mark.parametrize("door", [BROWSABLE, ADMIN])
def test_form_sign_ins_are_audited_with_their_door(door, bob):
    attempt(door, bob.email, WRONG)
    attempt(door, bob.email, PASSWORD)

    failure = SecurityEvent.objects.get(type="sign_in_failed")
    assert failure.detail == {"email": "bob@example.com", "locked_out": False, "via": door}
    success = SecurityEvent.objects.get(type="sign_in")
    assert success.detail == {"via": door}
    assert success.actor == bob
    for event in SecurityEvent.objects.all():
        assert PASSWORD not in str(event.detail)
        assert WRONG not in str(event.detail)


@pytest.mark.parametrize("door", [BROWSABLE, ADMIN])
def test_a_locked_out_form_attempt_is_audited_as_locked_out(door, bob, settings):
    settings.AXES_FAILURE_LIMIT = 2
    attempt(door, bob.email)
    attempt(door, bob.email)
    attempt(door, bob.email, PASSWORD)

    locked = [
        e.detail["locked_out"] for e in SecurityEvent.objects.filter(type="sign_in_failed").order_by("created_at")
    ]
    assert locked == [False, True, True]
