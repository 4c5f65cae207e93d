"""Bearer authentication on a protected endpoint: what gets in and what gets a 401."""

import base64
import json
import time
import uuid

import pytest
from django.conf import settings

from accounts import services
from accounts.models import AuthSession
from tests.helpers import ME_URL, access_claims, assert_problem, bearer, claims, forge, sign_in, signed

pytestmark = pytest.mark.django_db


def assert_refused(response) -> None:
    assert_problem(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_can_call_a_protected_endpoint_with_a_live_access_token(tokens):
    response = bearer(tokens.access).get(ME_URL)

    assert response.status_code == 200
    assert response.json()["email"] == "alice@example.com"


def test_can_authenticate_with_a_token_made_by_the_test_helper(user, tokens):
    # The forgeries below differ from this one in one respect each; this one must pass.
    assert bearer(signed(access_claims(user.id, tokens.session.id))).get(ME_URL).status_code == 200


def test_cannot_call_a_protected_endpoint_without_a_token(api):
    response = api.get(ME_URL)

    assert_refused(response)
    assert response.json()["type"].endswith(":not_authenticated")


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer a b", "Bearer not-a-jwt", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.AAAA", "Bearer \u00e9t\u00e9"],
    ids=["no-token", "two-tokens", "garbage", "bad-signature", "non-ascii"],
)
def test_cannot_authenticate_with_a_malformed_token(api, header):
    assert_refused(api.get(ME_URL, HTTP_AUTHORIZATION=header))


def test_cannot_authenticate_with_an_expired_token(user, tokens):
    expired = signed(access_claims(user.id, tokens.session.id, exp=int(time.time()) - 1))

    response = bearer(expired).get(ME_URL)

    assert_refused(response)
    assert response.json()["type"].endswith(":token_expired")


def test_cannot_authenticate_with_a_refresh_token(tokens):
    assert_refused(bearer(tokens.refresh).get(ME_URL))


@pytest.mark.parametrize(
    ("key", "algorithm"),
    [(None, "HS512"), (None, "HS384"), ("SECRET_KEY", "HS256"), ("another-key-entirely-" * 3, "HS256")],
    ids=["HS512", "HS384", "signed-with-SECRET_KEY", "another-key"],
)
def test_cannot_authenticate_with_a_token_signed_another_way(user, tokens, key, algorithm):
    signing_key = {None: settings.JWT_SIGNING_KEY, "SECRET_KEY": settings.SECRET_KEY}.get(key, key)

    forged = forge(access_claims(user.id, tokens.session.id), key=signing_key, algorithm=algorithm)

    assert_refused(bearer(forged).get(ME_URL))


def test_cannot_authenticate_with_an_unsigned_token(user, tokens):
    body = signed(access_claims(user.id, tokens.session.id)).split(".")[1]

    for alg in ("none", "None", "NONE"):
        header = base64.urlsafe_b64encode(json.dumps({"alg": alg, "typ": "JWT"}).encode()).rstrip(b"=").decode()
        assert_refused(bearer(f"{header}.{body}.").get(ME_URL))


def test_cannot_authenticate_with_another_users_session(user, make_user, tokens):
    bob = make_user("bob@example.com")
    bobs = services.session_start(user=bob, ip_address=None, user_agent="")

    # Correctly signed (as if minted by a bug): Alice's user id with Bob's session must not pass.
    forged = signed(access_claims(user.id, bobs.session.id))

    assert_refused(bearer(forged).get(ME_URL))


@pytest.mark.parametrize("claim", ["user_id", "sid"])
@pytest.mark.parametrize("value", [None, 1, "1", "not-a-uuid"])
def test_cannot_authenticate_without_uuid_claims(user, tokens, claim, value):
    payload = access_claims(user.id, tokens.session.id)
    if value is None:
        del payload[claim]
    else:
        payload[claim] = value

    assert_refused(bearer(signed(payload)).get(ME_URL))


def test_cannot_authenticate_with_a_token_of_a_deleted_user(user, tokens):
    user.delete()

    assert_refused(bearer(tokens.access).get(ME_URL))


def test_cannot_authenticate_with_a_token_of_an_unknown_session(user, tokens):
    assert_refused(bearer(signed(access_claims(user.id, uuid.uuid4()))).get(ME_URL))


def test_cannot_authenticate_once_the_session_is_revoked(tokens):
    services.session_revoke(session=tokens.session, reason=AuthSession.RevokeReason.ADMIN)

    assert_refused(bearer(tokens.access).get(ME_URL))


def test_cannot_authenticate_once_the_user_is_deactivated(user, tokens):
    services.user_set_active(user=user, is_active=False)

    assert_refused(bearer(tokens.access).get(ME_URL))


def test_revoking_one_session_leaves_the_others_working(user, tokens):
    other = sign_in()

    services.session_revoke(session=tokens.session, reason=AuthSession.RevokeReason.LOGOUT)

    assert_refused(bearer(tokens.access).get(ME_URL))
    assert bearer(other["access"]).get(ME_URL).status_code == 200
    assert claims(other["access"])["sid"] != str(tokens.session.id)
