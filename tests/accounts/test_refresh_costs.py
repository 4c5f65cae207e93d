"""What a refresh costs, with rate limiting on as production runs: the SQL pinned statement by
statement, for a rotation and for the grace window's retry. The grace answer is written by the
rotation's own UPDATE of the session (no cache round trip), and nothing is logged at INFO.

Counts are taken inside the test's transaction: `transaction.atomic` shows up as SAVEPOINT and
RELEASE SAVEPOINT (BEGIN and COMMIT in production; the counts are the same).
"""

import logging

import pytest
from rest_framework.test import APIClient

from accounts.models import AuthSession
from tests.accounts.costs import captured, empty_transactions, without_rate_limits
from tests.helpers import REFRESH_URL, sign_in

pytestmark = pytest.mark.django_db

# After its two rate limits (anonymous and refresh, per IP):
ROTATION = [
    ("SAVEPOINT", ""),
    ("SELECT", "accounts_refreshtokenrecord"),  # the token's record and session, locked; the account joined
    ("UPDATE", "accounts_refreshtokenrecord"),  # spent
    ("INSERT", "accounts_refreshtokenrecord"),  # the new refresh token (a digest)
    ("UPDATE", "accounts_authsession"),  # last use, client, expiry and the sealed grace answer
    ("INSERT", "accounts_securityevent"),  # the audit event
    ("RELEASE", ""),
]
GRACE_RETRY = [
    ("SAVEPOINT", ""),
    ("SELECT", "accounts_refreshtokenrecord"),  # the spent token's record and session, locked
    ("SELECT", "accounts_refreshtokenrecord"),  # the pair it answered with is still unused
    ("UPDATE", "accounts_refreshtokenrecord"),  # its one retry is taken
    ("INSERT", "accounts_securityevent"),  # refresh_grace
    ("RELEASE", ""),
]


@pytest.fixture(autouse=True)
def _grace_window(settings):
    settings.REFRESH_GRACE_SECONDS = 30


def refresh(client: APIClient, raw: str):
    return client.post(REFRESH_URL, {"refresh": raw})


def test_a_rotation_runs_the_pinned_queries(user):
    client = APIClient()
    raw = refresh(client, sign_in(client)["refresh"]).json()["refresh"]  # Warm, as a worker is.

    response, statements = captured(lambda: refresh(client, raw))

    assert response.status_code == 200
    assert without_rate_limits(statements) == ROTATION
    assert len(statements) == len(ROTATION)
    assert empty_transactions(statements) == []
    assert AuthSession.objects.get().grace_answer


def test_a_grace_retry_runs_the_pinned_queries(user):
    client = APIClient()
    raw = sign_in(client)["refresh"]
    lost = refresh(client, raw)

    response, statements = captured(lambda: refresh(client, raw))

    assert response.json() == lost.json()
    assert without_rate_limits(statements) == GRACE_RETRY
    assert len(statements) == len(GRACE_RETRY)


def test_a_rotation_logs_nothing_at_info(user, caplog):
    client = APIClient()
    raw = sign_in(client)["refresh"]
    caplog.clear()

    with caplog.at_level(logging.INFO):
        response = refresh(client, raw)

    assert response.status_code == 200
    assert [record.getMessage() for record in caplog.records if record.levelno >= logging.INFO] == []
