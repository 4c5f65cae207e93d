"""A sign-in whose password was checked before a password change committed gets no session.

The password check (authenticate) and the session's creation are two steps. A password change
or deactivation between them must win: session_start re-reads the password hash and activation
under a lock on the user's row, which the password change and deactivation take too.
"""

import threading
import time

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts import services
from accounts.models import AuthSession, SecurityEvent
from tests.conftest import PASSWORD
from tests.helpers import TOKEN_URL, assert_problem

NEW_PASSWORD = "a-brand-new-passphrase-42"


def sign_in_response(email: str = "alice@example.com", password: str = PASSWORD):
    return APIClient().post(TOKEN_URL, {"email": email, "password": password})


def between_check_and_session(monkeypatch, change) -> None:
    """Run `change` after the sign-in's password check, just before its session would start."""
    start = services.session_start

    def changed_first(**kwargs):
        change()
        return start(**kwargs)

    monkeypatch.setattr(services, "session_start", changed_first)


@pytest.mark.django_db
def test_can_sign_in_when_nothing_changed_meanwhile(user, monkeypatch):
    between_check_and_session(monkeypatch, lambda: None)

    assert sign_in_response().status_code == 200
    assert AuthSession.objects.filter(user=user).count() == 1


@pytest.mark.django_db
def test_cannot_start_a_session_after_the_password_changed_under_the_check(user, monkeypatch):
    between_check_and_session(monkeypatch, lambda: services.user_change_password(user=user, new_password=NEW_PASSWORD))

    response = sign_in_response()

    assert_problem(response, 401, "no_active_account")
    assert same_refusal(response, sign_in_response(password="wrong-password"))
    assert not AuthSession.objects.filter(user=user).exists()
    assert not SecurityEvent.objects.filter(type=SecurityEvent.Type.SIGN_IN).exists()
    assert SecurityEvent.objects.filter(type=SecurityEvent.Type.SIGN_IN_FAILED).count() == 2


@pytest.mark.django_db
def test_cannot_start_a_session_after_the_account_was_deactivated_under_the_check(user, monkeypatch):
    between_check_and_session(monkeypatch, lambda: services.user_set_active(user=user, is_active=False))

    assert_problem(sign_in_response(), 401, "no_active_account")
    assert not AuthSession.objects.filter(user=user).exists()


def same_refusal(first, second) -> bool:
    """Both answers are the same refusal (status, type, title, detail)."""
    keys = ("type", "title", "status", "detail")
    return first.status_code == second.status_code and all(first.json()[k] == second.json()[k] for k in keys)


# --- the real race, on PostgreSQL -----------------------------------------------------------

SIGN_INS = 6
DEADLINE = 30  # Seconds: only reached if the code under test deadlocks or never blocks.


def waiting_on_locks() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite runs write transactions one at a time (BEGIN IMMEDIATE), so a sign-in cannot interleave "
    "with a password change there, and a blocked writer cannot be observed; run with DATABASE_URL=postgres://...",
)
def test_no_session_opened_with_the_old_password_survives_a_concurrent_change(user, monkeypatch):
    """Sign-ins check the old password; then, while the password change has revoked every session
    but not yet committed, they try to start their sessions. Without the lock they would commit
    sessions the revocation never saw; with it they wait, see the new hash, and are refused."""
    pool = connection.settings_dict.get("OPTIONS", {}).get("pool")
    if pool and pool.get("max_size", 0) < SIGN_INS + 2:
        pytest.skip(
            f"needs {SIGN_INS + 2} connections at once (each sign-in, the change, this thread) and the pool "
            "allows fewer: run with DB_POOL_MAX=10, as .ci/run does"
        )
    checked = threading.Barrier(SIGN_INS + 1)
    changing = threading.Event()
    done = []
    start, record = services.session_start, services.audit.record

    def start_after_the_change_began(**kwargs):
        checked.wait(DEADLINE)  # Every sign-in has passed its password check.
        changing.wait(DEADLINE)
        try:
            return start(**kwargs)
        finally:
            done.append(1)

    def hold_the_change_open(event_type, **kwargs):
        if event_type == SecurityEvent.Type.PASSWORD_CHANGE:  # Sessions revoked, not yet committed.
            changing.set()
            deadline = time.monotonic() + DEADLINE
            while len(done) + waiting_on_locks() < SIGN_INS and time.monotonic() < deadline:
                time.sleep(0.01)  # Polls for a state (blocked or done), not a window of time.
        return record(event_type, **kwargs)

    monkeypatch.setattr(services, "session_start", start_after_the_change_began)
    monkeypatch.setattr(services.audit, "record", hold_the_change_open)
    statuses: list[int] = []

    def sign_in() -> None:
        try:
            statuses.append(sign_in_response().status_code)
        finally:
            connection.close()

    def change_password() -> None:
        try:
            checked.wait(DEADLINE)
            services.user_change_password(user=user, new_password=NEW_PASSWORD)
        finally:
            connection.close()

    threads = [threading.Thread(target=sign_in) for _ in range(SIGN_INS)]
    threads.append(threading.Thread(target=change_password))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEADLINE)

    assert statuses == [401] * SIGN_INS
    assert not AuthSession.objects.filter(user=user).exists()
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
