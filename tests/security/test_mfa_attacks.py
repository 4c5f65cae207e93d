"""Attacks on the second factor: each tries the bad thing, is refused, and nothing changed.

Code replay, brute force of codes (the lockout), mfa_token reuse and expiry, one user's mfa_token
with another's codes, recovery-code reuse, step-up bypasses, and every sign-in door without a code.
"""

import time

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.test import Client

from accounts.models import AuthSession, MfaChallenge, SecurityEvent, TOTPDevice
from tests.conftest import PASSWORD
from tests.helpers import (
    PASSWORD_CHANGE_URL,
    REFRESH_URL,
    TOKEN_URL,
    assert_problem,
    bearer,
    sign_in,
    use_plain_static_storage,
)
from tests.mfa import conftest as mfa
from tests.mfa.conftest import DISABLE_URL, MFA_SIGN_IN_URL, RECOVERY_URL, enrol, mfa_token

pytestmark = pytest.mark.django_db

# tests/mfa's fixtures: a frozen clock, and alice enrolled with a real authenticator.
clock, alice, enrolled = mfa.clock, mfa.alice, mfa.enrolled


def second_step(token: str, **factor):
    return bearer("").post(MFA_SIGN_IN_URL, {"mfa_token": token, **factor})


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def sessions_of(user) -> int:
    return AuthSession.objects.filter(user=user).count()


# --- Replay ----------------------------------------------------------------------------------------


def test_a_code_cannot_be_used_twice_within_its_step(enrolled):
    code = enrolled.code()
    assert second_step(mfa_token(), code=code).status_code == 200
    before = sessions_of(enrolled.user)

    replay = second_step(mfa_token(), code=code)

    assert_problem(replay, 401, "mfa_code_invalid")
    assert sessions_of(enrolled.user) == before


def test_an_older_code_is_refused_once_a_newer_one_was_used(enrolled, clock):
    older = enrolled.code()
    clock.shift(30)
    assert second_step(mfa_token(), code=enrolled.code()).status_code == 200

    assert_problem(second_step(mfa_token(), code=older), 401, "mfa_code_invalid")


def test_a_recovery_code_cannot_be_used_twice(enrolled):
    code = enrolled.recovery_codes[0]
    assert second_step(mfa_token(), recovery_code=code).status_code == 200
    before = sessions_of(enrolled.user)

    assert_problem(second_step(mfa_token(), recovery_code=code), 401, "mfa_code_invalid")
    assert_problem(second_step(mfa_token(), recovery_code=code.replace("-", " ")), 401, "mfa_code_invalid")
    assert sessions_of(enrolled.user) == before


# --- mfa_token -------------------------------------------------------------------------------------


def test_an_mfa_token_works_once(enrolled, clock):
    token = mfa_token()
    assert second_step(token, code=enrolled.code()).status_code == 200
    clock.shift(30)
    before = sessions_of(enrolled.user)

    assert_problem(second_step(token, code=enrolled.code()), 401, "mfa_token_invalid")
    assert sessions_of(enrolled.user) == before


def test_an_mfa_token_expires(enrolled, clock):
    token = mfa_token()
    clock.shift(settings.MFA_TOKEN_LIFETIME + 1)
    before = sessions_of(enrolled.user)

    assert_problem(second_step(token, code=enrolled.code()), 401, "mfa_token_invalid")
    assert sessions_of(enrolled.user) == before


def test_an_mfa_token_dies_after_too_many_wrong_codes(enrolled, settings):
    settings.AXES_FAILURE_LIMIT = 100  # The token's own limit, apart from the account's lockout.
    token = mfa_token()
    for _ in range(settings.MFA_TOKEN_MAX_ATTEMPTS):
        assert_problem(second_step(token, code=wrong(enrolled.code())), 401, "mfa_code_invalid")

    assert_problem(second_step(token, code=enrolled.code()), 401, "mfa_token_invalid")
    assert sessions_of(enrolled.user) == 1  # Only the one enrolment signed in with.


def test_an_mfa_token_dies_when_the_password_changes(enrolled):
    token = mfa_token()
    user = enrolled.user
    user.set_password("a-brand-new-passphrase")
    user.save(update_fields=["password"])

    assert_problem(second_step(token, code=enrolled.code()), 401, "mfa_token_invalid")


def test_a_forged_or_guessed_mfa_token_is_refused(enrolled):
    for token in ["", "x" * 43, mfa_token()[:-1] + "A", " " + mfa_token()]:
        response = second_step(token, code=enrolled.code())
        assert response.status_code in (400, 401), token
    assert sessions_of(enrolled.user) == 1


def test_one_users_mfa_token_with_another_users_code_is_refused(enrolled, make_user, clock):
    bob = make_user("bob@example.com")
    bobs = enrol(bearer(sign_in(email=bob.email)["access"]), bob)
    clock.shift(30)
    alices_token = mfa_token()
    before = (sessions_of(enrolled.user), sessions_of(bob))

    assert_problem(second_step(alices_token, code=bobs.code()), 401, "mfa_code_invalid")
    assert_problem(second_step(alices_token, recovery_code=bobs.recovery_codes[0]), 401, "mfa_code_invalid")
    assert (sessions_of(enrolled.user), sessions_of(bob)) == before
    # Bob's codes were not spent by the attempt: his own sign-in still takes them.
    assert second_step(mfa_token(bob.email), code=bobs.code()).status_code == 200


def test_the_mfa_token_is_stored_only_as_a_digest(enrolled):
    token = mfa_token()

    stored = MfaChallenge.objects.get()
    assert token not in (stored.token_digest, stored.password_digest)
    assert enrolled.secret not in TOTPDevice.objects.get().encrypted_secret


# --- Brute force -----------------------------------------------------------------------------------


def test_guessing_codes_locks_the_account_like_guessing_passwords(enrolled, settings):
    limit = settings.AXES_FAILURE_LIMIT
    tokens = [mfa_token() for _ in range(2)]

    statuses = [second_step(tokens[i % 2], code=wrong(enrolled.code())).status_code for i in range(limit)]

    # The failure that reaches the limit is answered as a lockout; then even the right code is refused.
    assert statuses == [401] * (limit - 1) + [429]
    assert_problem(second_step(tokens[0], code=enrolled.code()), 429, "throttled")
    assert_problem(bearer("").post(TOKEN_URL, {"email": enrolled.email, "password": PASSWORD}), 429, "throttled")
    assert sessions_of(enrolled.user) == 1
    assert SecurityEvent.objects.filter(type="mfa_failed", target_id=str(enrolled.user.pk)).count() == limit
    assert SecurityEvent.objects.filter(type="lockout").count() == 1


def test_a_locked_account_gets_429_at_the_second_step_even_with_the_right_code(enrolled, settings):
    token = mfa_token()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        bearer("").post(TOKEN_URL, {"email": enrolled.email, "password": "wrong-password-here"})

    assert_problem(second_step(token, code=enrolled.code()), 429, "throttled")
    assert sessions_of(enrolled.user) == 1
    assert MfaChallenge.objects.get().used_at is None


def test_the_second_step_shares_the_sign_in_rate_limit(enrolled, settings):
    """One counter per client IP across the sign-in doors: spent at the password step, the code step is refused."""
    settings.AXES_FAILURE_LIMIT = 1000
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "sign_in": "3/minute"}
    token = mfa_token()  # 1
    bearer("").post(TOKEN_URL, {"email": "nobody@example.com", "password": "x"})  # 2
    bearer("").post(TOKEN_URL, {"email": "nobody@example.com", "password": "x"})  # 3

    assert_problem(second_step(token, code=enrolled.code()), 429, "throttled")
    assert MfaChallenge.objects.get().used_at is None


# --- Step-up bypasses ------------------------------------------------------------------------------


def stale(clock, pair: dict):
    clock.shift(settings.STEP_UP_MAX_AGE + 1)
    refreshed = bearer("").post(REFRESH_URL, {"refresh": pair["refresh"]}).json()
    return bearer(refreshed["access"])


def test_step_up_cannot_be_bypassed_with_a_forged_auth_time(enrolled, clock):
    from tests.helpers import access_claims, claims, signed

    pair = second_step(mfa_token(), code=enrolled.code()).json()
    client = stale(clock, pair)
    sid = claims(pair["access"])["sid"]
    # A token claiming a recent auth_time but not signed by us is refused before step-up is asked.
    forged = signed({**access_claims(enrolled.user.pk, sid), "auth_time": int(time.time())})
    forged = forged[:-4] + ("AAAA" if not forged.endswith("AAAA") else "BBBB")
    assert bearer(forged).post(PASSWORD_CHANGE_URL, {}).status_code == 401

    response = client.post(PASSWORD_CHANGE_URL, {"old_password": PASSWORD, "new_password": "x-new-passphrase-1"})
    assert_problem(response, 401, "step_up_required")


@pytest.mark.parametrize("header", ["", "000000", "abcdef", "1234567", "123 456"])
def test_step_up_cannot_be_bypassed_with_a_bad_header(enrolled, clock, header):
    client = stale(clock, second_step(mfa_token(), code=enrolled.code()).json())

    response = client.post(
        PASSWORD_CHANGE_URL, {"old_password": PASSWORD, "new_password": "x-new-passphrase-1"}, HTTP_X_MFA_CODE=header
    )

    assert response.status_code == 401
    assert response.json()["type"].rsplit(":", 1)[1] in ("step_up_required", "mfa_code_invalid")
    assert enrolled.user.__class__.objects.get(pk=enrolled.user.pk).check_password(PASSWORD)


def test_step_up_cannot_reuse_the_code_that_signed_in(enrolled, clock):
    code = enrolled.code()
    pair = second_step(mfa_token(), code=code).json()
    clock.shift(settings.STEP_UP_MAX_AGE + 1)
    refreshed = bearer("").post(REFRESH_URL, {"refresh": pair["refresh"]}).json()

    # The same code a step-up later: long expired, and used.
    response = bearer(refreshed["access"]).post("/api/v1/auth/logout-all/", HTTP_X_MFA_CODE=code)

    assert response.status_code == 401
    assert AuthSession.objects.active().filter(user=enrolled.user).count() == 2


def test_disable_cannot_be_done_with_another_users_password(enrolled, make_user):
    make_user("eve@example.com", password="eves-own-passphrase-1")
    client = bearer(second_step(mfa_token(), code=enrolled.code()).json()["access"])

    response = client.post(DISABLE_URL, {"password": "eves-own-passphrase-1"})

    assert response.status_code == 400
    assert TOTPDevice.objects.filter(user=enrolled.user, confirmed_at__isnull=False).exists()


def test_recovery_codes_cannot_be_regenerated_with_a_used_code(enrolled):
    code = enrolled.code()
    client = bearer(second_step(mfa_token(), code=code).json()["access"])

    assert_problem(client.post(RECOVERY_URL, {"code": code}), 401, "mfa_code_invalid")
    assert not SecurityEvent.objects.filter(type="mfa_recovery_codes_regenerated").exists()


# --- The doors -------------------------------------------------------------------------------------


@pytest.mark.parametrize("door", ["/api-auth/login/", "/admin/login/"])
def test_no_form_door_signs_in_an_enrolled_user_with_the_password_alone(enrolled, door, settings):
    use_plain_static_storage(settings)
    enrolled.user.is_staff = True
    enrolled.user.save(update_fields=["is_staff"])
    client = Client()

    client.post(door, {"username": enrolled.email, "password": PASSWORD})
    # Try to skip the code page: the API with the cookie, the admin, the browsable API.
    responses = [client.get("/api/v1/auth/me/"), client.get("/admin/"), client.get("/api/v1/projects/")]

    assert SESSION_KEY not in client.session
    assert [r.status_code for r in responses] == [
        401 if r.request["PATH_INFO"].startswith("/api/") else 302 for r in responses
    ]
