"""What one sign-in costs, at each of the three doors, with rate limiting on as production runs:
one password hash, the SQL pinned statement by statement, no empty write transaction, and no
log line at INFO (the access log's line is the one a sign-in gets).

Counts are taken inside the test's transaction, so `transaction.atomic` shows up as SAVEPOINT and
RELEASE SAVEPOINT (in production BEGIN and COMMIT, which Django logs as queries too: the counts
are the same).
"""

import logging

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.hashers import Argon2PasswordHasher
from django.test import Client

from tests.accounts.costs import captured, empty_transactions, without_rate_limits
from tests.conftest import PASSWORD
from tests.helpers import TOKEN_URL, use_plain_static_storage

pytestmark = pytest.mark.django_db

FORM_URLS = {"browsable": "/api-auth/login/", "admin": "/admin/login/"}
DOORS = ["api", *FORM_URLS]

# The API's sign-in, after its two rate limits (anonymous and sign-in, per IP; in the database on
# the embedded default, in Redis in production):
API_SIGN_IN = [
    ("SELECT", "axes_accessattempt"),  # the lockout: failures per account and per IP, one query
    ("SELECT", "accounts_user"),  # the account by its normalised email (authenticate)
    ("SAVEPOINT", ""),  # session_start's transaction
    ("SELECT", "accounts_user"),  # the row lock, re-reading the password hash and is_active (issue 9)
    ("INSERT", "accounts_authsession"),  # the session, with the refresh token's expiry
    ("INSERT", "accounts_refreshtokenrecord"),  # its first refresh token (a digest)
    ("INSERT", "accounts_securityevent"),  # the audit event
    ("RELEASE", ""),
    ("UPDATE", "accounts_user"),  # last_login, by Django's user_logged_in receiver once committed
]
# A form's sign-in, after its one rate limit: the same check, then Django's cookie session.
FORM_SIGN_IN = [
    ("SELECT", "axes_accessattempt"),
    ("SELECT", "accounts_user"),
    ("SAVEPOINT", ""),  # SignInView.form_valid's transaction
    ("SELECT", "django_session"),  # login(): a new session key, checked unused
    ("SAVEPOINT", ""),
    ("INSERT", "django_session"),
    ("RELEASE", ""),
    ("UPDATE", "accounts_user"),  # last_login (user_logged_in)
    ("INSERT", "accounts_securityevent"),
    ("RELEASE", ""),
    ("SAVEPOINT", ""),  # SessionMiddleware saves the signed-in session
    ("UPDATE", "django_session"),
    ("RELEASE", ""),
]


@pytest.fixture(autouse=True)
def _html_pages(settings):
    use_plain_static_storage(settings)


@pytest.fixture
def bob(make_user):
    return make_user("bob@example.com", is_staff=True)  # Staff: the right password opens every door.


def attempt(door: str, email: str = "bob@example.com", password: str = PASSWORD):
    if door == "api":
        return Client().post(TOKEN_URL, {"email": email, "password": password}, content_type="application/json")
    return Client().post(FORM_URLS[door], {"username": email, "password": password})


def signed_in(door: str, response) -> bool:
    return response.status_code == (200 if door == "api" else 302)


def test_api_sign_in_runs_the_pinned_queries(bob):
    attempt("api")  # Warm: per-process caches (content types, the key ring) are filled once.

    response, statements = captured(lambda: attempt("api"))

    assert response.status_code == 200
    assert without_rate_limits(statements) == API_SIGN_IN
    assert len(statements) == len(API_SIGN_IN)


@pytest.mark.parametrize("door", FORM_URLS)
def test_form_sign_in_runs_the_pinned_queries(door, bob):
    attempt(door)

    response, statements = captured(lambda: attempt(door))

    assert response.status_code == 302
    assert without_rate_limits(statements) == FORM_SIGN_IN
    assert len(statements) == len(FORM_SIGN_IN)


@pytest.mark.parametrize("door", DOORS)
def test_a_sign_in_opens_no_empty_write_transaction(door, bob):
    attempt(door)

    response, statements = captured(lambda: attempt(door))

    assert signed_in(door, response)
    assert "SAVEPOINT" in {verb for verb, _ in statements}  # The check below has something to look at.
    assert empty_transactions(statements) == []


@pytest.mark.parametrize("door", DOORS)
def test_a_sign_in_after_failures_clears_them_without_an_empty_transaction(door, bob):
    attempt(door, password="wrong-password-here")

    response, statements = captured(lambda: attempt(door))

    assert signed_in(door, response)
    assert ("DELETE", "axes_accessattempt") in statements
    assert empty_transactions(statements) == []
    assert not AccessAttempt.objects.filter(username="bob@example.com").exists()


@pytest.mark.parametrize("door", DOORS)
def test_a_sign_in_logs_nothing_at_info(door, bob, caplog):
    attempt(door)
    caplog.clear()

    with caplog.at_level(logging.INFO):
        response = attempt(door)

    assert signed_in(door, response)
    # gunicorn's access log writes the one line a sign-in gets; the audit trail holds the event.
    assert [(record.name, record.getMessage()) for record in caplog.records if record.levelno >= logging.INFO] == []


class CountingArgon2(Argon2PasswordHasher):
    calls = 0

    def verify(self, password: str, encoded: str) -> bool:
        type(self).calls += 1
        return super().verify(password, encoded)

    def encode(self, password: str, salt: str) -> str:
        type(self).calls += 1
        return super().encode(password, salt)


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize(
    ("email", "password"),
    [("bob@example.com", PASSWORD), ("bob@example.com", "wrong-password-here"), ("nobody@example.com", PASSWORD)],
    ids=["right", "wrong_password", "unknown_email"],
)
def test_a_sign_in_hashes_the_password_exactly_once(door, email, password, settings, make_user):
    """One Argon2 run per attempt, whatever the outcome: the cost of a sign-in, and its timing,
    tell nothing about whether the email has an account."""
    settings.PASSWORD_HASHERS = [f"{__name__}.CountingArgon2"]
    make_user("bob@example.com", is_staff=True)  # Hashed with Argon2 now.
    CountingArgon2.calls = 0

    attempt(door, email, password)

    assert CountingArgon2.calls == 1
