"""MFA fixtures: a frozen clock (time-machine), and a user enrolled over HTTP with a real authenticator."""

import datetime as dt
from dataclasses import dataclass

import pyotp
import pytest
from rest_framework.test import APIClient

from accounts.models import User
from tests.conftest import PASSWORD
from tests.helpers import TOKEN_URL, bearer, sign_in

MFA_SIGN_IN_URL = "/api/v1/auth/token/mfa/"
STATUS_URL = "/api/v1/auth/mfa/"
ENROL_URL = "/api/v1/auth/mfa/totp/"
CONFIRM_URL = "/api/v1/auth/mfa/totp/confirm/"
DISABLE_URL = "/api/v1/auth/mfa/totp/disable/"
RECOVERY_URL = "/api/v1/auth/mfa/recovery-codes/"
# The middle of a 30-second step, so that a shift of a few seconds stays inside it.
START = dt.datetime(2026, 6, 1, 12, 0, 15, tzinfo=dt.UTC)


@pytest.fixture
def clock(time_machine):
    """Time frozen at START; `clock.shift(seconds)` moves it."""
    time_machine.move_to(START, tick=False)
    return time_machine


@dataclass
class Enrolled:
    user: User
    secret: str
    recovery_codes: list[str]
    email: str
    password: str = PASSWORD

    @property
    def totp(self) -> pyotp.TOTP:
        return pyotp.TOTP(self.secret)

    def code(self) -> str:
        """The code the authenticator shows now."""
        return self.totp.now()


def enrol(client: APIClient, user: User) -> Enrolled:
    """Enrol over HTTP as the app would: start, read the secret, confirm a code, keep the recovery codes."""
    started = client.post(ENROL_URL)
    assert started.status_code == 201, started.content
    secret = started.json()["secret"]
    confirmed = client.post(CONFIRM_URL, {"code": pyotp.TOTP(secret).now()})
    assert confirmed.status_code == 200, confirmed.content
    return Enrolled(user=user, secret=secret, recovery_codes=confirmed.json()["recovery_codes"], email=user.email)


@pytest.fixture
def alice(make_user) -> User:
    return make_user("alice@example.com")


@pytest.fixture
def enrolled(clock, alice) -> Enrolled:
    """alice, enrolled; the clock then moves to the next step, so her next code is a new one."""
    person = enrol(bearer(sign_in()["access"]), alice)
    clock.shift(30)
    return person


def password_step(email: str = "alice@example.com", password: str = PASSWORD, client: APIClient | None = None):
    return (client or APIClient()).post(TOKEN_URL, {"email": email, "password": password})


def mfa_token(email: str = "alice@example.com") -> str:
    response = password_step(email)
    assert response.status_code == 401, response.content
    return response.json()["mfa_token"]
