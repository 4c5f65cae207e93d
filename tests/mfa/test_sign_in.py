"""Signing in with a second factor at the API: password, then `mfa_required` and its mfa_token, then a code."""

import time

import pytest

from accounts.models import AuthSession, MfaChallenge, SecurityEvent
from tests.helpers import ME_URL, assert_problem, bearer, claims
from tests.mfa.conftest import MFA_SIGN_IN_URL, STATUS_URL, mfa_token, password_step

pytestmark = pytest.mark.django_db


def test_a_right_password_answers_mfa_required_with_an_mfa_token_and_no_tokens(enrolled):
    sessions = AuthSession.objects.count()

    response = password_step()

    body = assert_problem(response, 401, "mfa_required")
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert len(body["mfa_token"]) >= 40
    assert body["mfa_token_expires_in"] == 300
    assert "access" not in body
    assert "refresh" not in body
    assert AuthSession.objects.count() == sessions
    assert body["mfa_token"] not in str(list(MfaChallenge.objects.values_list("token_digest", flat=True)))


def test_a_wrong_password_still_answers_no_active_account_and_no_mfa_token(enrolled):
    body = assert_problem(password_step(password="wrong-password-here"), 401, "no_active_account")

    assert "mfa_token" not in body
    assert not MfaChallenge.objects.exists()


def test_can_finish_with_a_real_code_and_get_the_token_pair(enrolled):
    response = bearer("").post(MFA_SIGN_IN_URL, {"mfa_token": mfa_token(), "code": enrolled.code()})

    assert response.status_code == 200, response.content
    pair = response.json()
    assert set(pair) == {"access", "refresh"}
    assert claims(pair["access"])["user_id"] == str(enrolled.user.pk)
    assert bearer(pair["access"]).get(ME_URL).status_code == 200


def test_can_finish_with_a_recovery_code_once(enrolled):
    code = enrolled.recovery_codes[3]

    first = bearer("").post(MFA_SIGN_IN_URL, {"mfa_token": mfa_token(), "recovery_code": code.upper()})

    assert first.status_code == 200, first.content
    assert bearer(first.json()["access"]).get(STATUS_URL).json()["recovery_codes_left"] == 9
    assert SecurityEvent.objects.filter(type="mfa_recovery_code_used", target_id=str(enrolled.user.pk)).exists()
    again = bearer("").post(MFA_SIGN_IN_URL, {"mfa_token": mfa_token(), "recovery_code": code})
    assert_problem(again, 401, "mfa_code_invalid")


def test_a_wrong_code_is_refused_and_audited(enrolled, clock):
    wrong = f"{(int(enrolled.code()) + 1) % 1_000_000:06d}"

    response = bearer("").post(MFA_SIGN_IN_URL, {"mfa_token": mfa_token(), "code": wrong})

    assert_problem(response, 401, "mfa_code_invalid")
    assert SecurityEvent.objects.filter(type="mfa_failed", target_id=str(enrolled.user.pk)).count() == 1
    assert AuthSession.objects.filter(user=enrolled.user).count() == 1  # The one enrolment signed in with.


@pytest.mark.parametrize("drift", [-30, 30])
def test_a_code_of_the_next_or_previous_step_is_accepted_for_clock_drift(enrolled, clock, drift):
    clock.shift(30)  # Enrolment used the step before the previous one: the previous one is unused.
    token = mfa_token()
    previous = enrolled.totp.at(time.time() + drift)

    response = bearer("").post(MFA_SIGN_IN_URL, {"mfa_token": token, "code": previous})

    assert response.status_code == 200, response.content


def test_a_code_two_steps_old_is_refused(enrolled, clock):
    old = enrolled.totp.at(time.time() - 60)

    response = bearer("").post(MFA_SIGN_IN_URL, {"mfa_token": mfa_token(), "code": old})

    assert_problem(response, 401, "mfa_code_invalid")


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"mfa_token": "x" * 43, "code": "123456"}, 401),
        ({"code": "123456"}, 400),
        ({"mfa_token": "x", "code": "123456", "extra": 1}, 400),
    ],
)
def test_bad_second_step_bodies(enrolled, body, status):
    assert_problem(bearer("").post(MFA_SIGN_IN_URL, body), status)


def test_both_or_neither_code_is_a_400_for_a_live_token(enrolled):
    token = mfa_token()

    assert_problem(bearer("").post(MFA_SIGN_IN_URL, {"mfa_token": token}), 400, "validation_error")
    both = {"mfa_token": token, "code": enrolled.code(), "recovery_code": enrolled.recovery_codes[0]}
    assert_problem(bearer("").post(MFA_SIGN_IN_URL, both), 400, "validation_error")
    # The token is still good: a 400 was not an attempt.
    assert bearer("").post(MFA_SIGN_IN_URL, {"mfa_token": token, "code": enrolled.code()}).status_code == 200


def test_a_user_without_mfa_signs_in_as_before(make_user):
    make_user("carol@example.com")

    response = password_step("carol@example.com")

    assert response.status_code == 200
    assert "auth_time" in claims(response.json()["access"])
