"""POST token/refresh/ (rotation, replay detection) and POST token/verify/."""

import time

import pytest
from django.conf import settings
from django.utils import timezone

from accounts import services
from accounts.models import AuthSession, RefreshTokenRecord
from accounts.tokens import SessionRefreshToken
from tests.helpers import (
    ME_URL,
    NUL,
    REFRESH_URL,
    VERIFY_URL,
    access_claims,
    assert_problem,
    assert_validation_problem,
    bearer,
    claims,
    forge,
    sign_in,
    signed,
    without_request_id,
)

pytestmark = pytest.mark.django_db


def test_can_refresh_for_a_new_pair_in_the_same_session(api, user, tokens):
    response = api.post(REFRESH_URL, {"refresh": tokens.refresh})

    assert response.status_code == 200
    pair = response.json()
    assert set(pair) == {"access", "refresh"}
    assert pair["refresh"] != tokens.refresh
    assert claims(pair["refresh"])["sid"] == claims(pair["access"])["sid"] == str(tokens.session.id)
    assert bearer(pair["access"]).get(ME_URL).status_code == 200
    assert RefreshTokenRecord.objects.filter(session=tokens.session).count() == 2
    assert RefreshTokenRecord.objects.get(jti=claims(tokens.refresh)["jti"]).used_at is not None


def test_can_keep_refreshing_with_each_new_refresh_token(api, tokens):
    refresh = tokens.refresh
    for _ in range(3):
        response = api.post(REFRESH_URL, {"refresh": refresh})
        assert response.status_code == 200
        refresh = response.json()["refresh"]


def test_cannot_reuse_a_refresh_token_and_the_whole_session_ends(api, tokens, settings):
    settings.REFRESH_GRACE_SECONDS = 0  # No retry window (a later feature): any second use is a replay.
    newer = api.post(REFRESH_URL, {"refresh": tokens.refresh}).json()

    replay = api.post(REFRESH_URL, {"refresh": tokens.refresh})

    assert_problem(replay, 401, "session_revoked")
    assert replay["WWW-Authenticate"].startswith("Bearer")
    session = AuthSession.objects.get(pk=tokens.session.pk)
    assert session.revoked_at is not None
    assert session.revoke_reason == AuthSession.RevokeReason.REFRESH_REUSE
    # Thief and owner both lose the session: the newer refresh and every access token.
    assert_problem(api.post(REFRESH_URL, {"refresh": newer["refresh"]}), 401)
    assert_problem(bearer(newer["access"]).get(ME_URL), 401)
    assert_problem(bearer(tokens.access).get(ME_URL), 401)


def test_cannot_reuse_a_refresh_token_once_its_successor_was_used(api, tokens):
    second = api.post(REFRESH_URL, {"refresh": tokens.refresh}).json()
    third = api.post(REFRESH_URL, {"refresh": second["refresh"]}).json()

    assert_problem(api.post(REFRESH_URL, {"refresh": tokens.refresh}), 401, "session_revoked")

    assert AuthSession.objects.get(pk=tokens.session.pk).revoke_reason == AuthSession.RevokeReason.REFRESH_REUSE
    assert_problem(api.post(REFRESH_URL, {"refresh": third["refresh"]}), 401)
    assert_problem(bearer(third["access"]).get(ME_URL), 401)


def test_reusing_a_refresh_token_leaves_other_sessions_alone(api, user, tokens, settings):
    settings.REFRESH_GRACE_SECONDS = 0
    other = sign_in()
    api.post(REFRESH_URL, {"refresh": tokens.refresh})

    assert_problem(api.post(REFRESH_URL, {"refresh": tokens.refresh}), 401)

    assert bearer(other["access"]).get(ME_URL).status_code == 200
    assert api.post(REFRESH_URL, {"refresh": other["refresh"]}).status_code == 200


def test_cannot_refresh_after_logout(api, tokens):
    services.session_revoke(session=tokens.session, reason=AuthSession.RevokeReason.LOGOUT)

    assert_problem(api.post(REFRESH_URL, {"refresh": tokens.refresh}), 401, "session_revoked")
    assert RefreshTokenRecord.objects.count() == 1


def test_cannot_refresh_for_a_deactivated_user(api, user, tokens):
    user.is_active = False
    user.save()

    assert_problem(api.post(REFRESH_URL, {"refresh": tokens.refresh}), 401, "session_revoked")
    assert RefreshTokenRecord.objects.count() == 1


def test_cannot_refresh_with_an_access_token(api, tokens):
    assert_problem(api.post(REFRESH_URL, {"refresh": tokens.access}), 401, "token_wrong_type")
    assert RefreshTokenRecord.objects.count() == 1


def test_cannot_refresh_with_a_validly_signed_token_that_was_never_issued(api, user, tokens):
    # Signed with the right key, but not recorded as issued: a leaked key must not be enough alone.
    token = SessionRefreshToken.for_user(user)
    token["sid"] = str(tokens.session.id)

    assert_problem(api.post(REFRESH_URL, {"refresh": str(token)}), 401, "session_revoked")
    assert RefreshTokenRecord.objects.count() == 1


def test_cannot_refresh_with_a_token_signed_with_another_key(api, tokens):
    payload = claims(tokens.refresh)

    for key in (settings.SECRET_KEY, "not-the-signing-key-" * 3):
        assert_problem(api.post(REFRESH_URL, {"refresh": forge(payload, key=key)}), 401, "token_bad_signature")
    assert RefreshTokenRecord.objects.count() == 1


def test_cannot_refresh_with_an_expired_token(api, tokens):
    payload = {**claims(tokens.refresh), "exp": int(time.time()) - 10}

    assert_problem(api.post(REFRESH_URL, {"refresh": signed(payload)}), 401, "token_expired")
    assert RefreshTokenRecord.objects.count() == 1


@pytest.mark.parametrize(
    ("garbage", "code"),
    [("garbage", "token_malformed"), ("a.b.c", "token_malformed"), ("eyJhbGciOiJub25lIn0.e30.", "token_bad_signature")],
)
def test_cannot_refresh_with_garbage(api, garbage, code):
    assert_problem(api.post(REFRESH_URL, {"refresh": garbage}), 401, code)


@pytest.mark.parametrize(
    ("data", "field", "code"),
    [
        ({}, "refresh", "required"),
        ({"refresh": ""}, "refresh", "blank"),
        ({"refresh": "x" * 4097}, "refresh", "max_length"),
        ({"refresh": "abc" + NUL}, "refresh", "null_characters_not_allowed"),
        ({"refresh": "x", "access": "y"}, "access", "unknown_field"),
    ],
    ids=["missing", "blank", "overlong", "nul", "unknown-field"],
)
def test_cannot_refresh_with_bad_input(api, tokens, data, field, code):
    assert_validation_problem(api.post(REFRESH_URL, data), (field, code))
    assert RefreshTokenRecord.objects.count() == 1
    assert AuthSession.objects.get(pk=tokens.session.pk).is_active


def test_cannot_refresh_with_a_form_body(api, tokens):
    assert_problem(api.post(REFRESH_URL, {"refresh": tokens.refresh}, format="multipart"), 415)
    assert RefreshTokenRecord.objects.count() == 1


def test_cannot_get_the_refresh_endpoint(api):
    assert_problem(api.get(REFRESH_URL), 405, "method_not_allowed")


# --- verify -------------------------------------------------------------------------------


def test_can_verify_a_live_access_token(api, tokens):
    response = api.post(VERIFY_URL, {"token": tokens.access})

    assert response.status_code == 200


def test_cannot_verify_a_token_of_a_revoked_session(api, tokens):
    services.session_revoke(session=tokens.session, reason=AuthSession.RevokeReason.LOGOUT)

    assert_problem(api.post(VERIFY_URL, {"token": tokens.access}), 401, "session_revoked")


def test_cannot_verify_a_token_of_a_deactivated_user(api, user, tokens):
    services.user_set_active(user=user, is_active=False)

    assert_problem(api.post(VERIFY_URL, {"token": tokens.access}), 401, "session_revoked")


def test_cannot_verify_a_refresh_token_used_or_not(api, tokens):
    """verify/ is no oracle for a refresh token's state: a thief polling it with a stolen copy
    must not learn when the owner rotates (and so when to replay inside the grace window)."""
    unused = api.post(VERIFY_URL, {"token": tokens.refresh})
    assert api.post(REFRESH_URL, {"refresh": tokens.refresh}).status_code == 200
    used = api.post(VERIFY_URL, {"token": tokens.refresh})

    assert_problem(unused, 401, "token_wrong_type")
    assert without_request_id(used.json()) == without_request_id(unused.json())


def test_cannot_verify_an_expired_token(api, user, tokens):
    payload = access_claims(user.id, tokens.session.id, exp=int(time.time()) - 1)

    assert_problem(api.post(VERIFY_URL, {"token": signed(payload)}), 401, "token_expired")


def test_cannot_verify_a_token_of_an_expired_session(api, tokens):
    AuthSession.objects.filter(pk=tokens.session.pk).update(expires_at=timezone.now())

    assert_problem(api.post(VERIFY_URL, {"token": tokens.access}), 401, "session_revoked")


@pytest.mark.parametrize(
    ("garbage", "code"),
    [("garbage", "token_malformed"), ("a.b.c", "token_malformed"), ("eyJhbGciOiJub25lIn0.e30.", "token_bad_signature")],
)
def test_cannot_verify_garbage(api, garbage, code):
    assert_problem(api.post(VERIFY_URL, {"token": garbage}), 401, code)


def test_cannot_verify_a_token_signed_with_another_algorithm(api, user, tokens):
    payload = access_claims(user.id, tokens.session.id)

    forged = forge(payload, key=settings.JWT_SIGNING_KEY, algorithm="HS512")

    assert_problem(api.post(VERIFY_URL, {"token": forged}), 401, "token_bad_signature")


@pytest.mark.parametrize(
    ("data", "field", "code"),
    [
        ({}, "token", "required"),
        ({"token": "x" * 4097}, "token", "max_length"),
        ({"token": NUL}, "token", "null_characters_not_allowed"),
        ({"token": "x", "refresh": "y"}, "refresh", "unknown_field"),
    ],
    ids=["missing", "overlong", "nul", "unknown-field"],
)
def test_cannot_verify_with_bad_input(api, data, field, code):
    assert_validation_problem(api.post(VERIFY_URL, data), (field, code))
