"""Token refusals a client can act on: each kind of bad token gets its own problem code and the RFC 6750
challenge, at every endpoint that takes a token (auth/me/, token/refresh/, token/verify/).

The table is (kind x endpoint) -> problem code and the `error` of `WWW-Authenticate`. Every refusal is
a 401 and writes nothing.
"""

import base64
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import jwt
import pytest
from django.conf import settings
from rest_framework.test import APIClient

from accounts import services
from accounts.models import AuthSession, RefreshTokenRecord, User
from tests.conftest import PASSWORD
from tests.helpers import (
    LOGOUT_URL,
    ME_URL,
    PASSWORD_CHANGE_URL,
    REFRESH_URL,
    VERIFY_URL,
    assert_problem,
    bearer,
    claims,
    signed,
)

pytestmark = pytest.mark.django_db

LOGOUT_ALL_URL = "/api/v1/auth/logout-all/"
NEW_PASSWORD = "an-entirely-new-passphrase"
INVALID = "invalid_token"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def our_kid(raw: str) -> str:
    return jwt.get_unverified_header(raw)["kid"]


def with_our_key(payload: bytes, kid: str) -> str:
    """Signed with our real key and kid, whatever the payload bytes are (JSON or not)."""
    return jwt.api_jws.encode(payload, settings.JWT_SIGNING_KEY, algorithm="HS256", headers={"kid": kid})


def changed(raw: str, **claims_: object) -> str:
    """The same token re-signed with our key, with these claims changed (None drops one)."""
    payload = {**claims(raw), **claims_}
    return signed({name: value for name, value in payload.items() if value is not None})


# Kinds of bad token, each made from a live token of the type the endpoint takes (access at me/ and
# verify/, refresh at refresh/).
BAD_TOKENS: dict[str, tuple[Callable[[str], str], str]] = {
    "expired": (lambda t: changed(t, exp=int(time.time()) - 1), "token_expired"),
    "not-a-jwt": (lambda t: "not-a-jwt", "token_malformed"),
    "bad-base64": (lambda t: "!!!!.@@@@.####", "token_malformed"),
    "header-not-json": (lambda t: f"{b64(b'{not json')}.{t.split('.')[1]}.{t.split('.')[2]}", "token_malformed"),
    "payload-not-json": (lambda t: with_our_key(b"{not json", our_kid(t)), "token_malformed"),
    "missing-exp": (lambda t: changed(t, exp=None), "token_malformed"),
    "missing-jti": (lambda t: changed(t, jti=None), "token_malformed"),
    "missing-type": (lambda t: changed(t, token_type=None), "token_malformed"),
    "bad-signature": (
        lambda t: jwt.encode(claims(t), "not-our-key-but-long-enough-32-bytes", "HS256", {"kid": our_kid(t)}),
        "token_bad_signature",
    ),
    "signature-tampered": (lambda t: t[:-4] + ("AAAA" if not t.endswith("AAAA") else "BBBB"), "token_bad_signature"),
    "unknown-kid": (
        lambda t: jwt.encode(claims(t), settings.JWT_SIGNING_KEY, "HS256", {"kid": "no-such-key"}),
        "token_bad_signature",
    ),
    "no-kid": (lambda t: jwt.encode(claims(t), settings.JWT_SIGNING_KEY, "HS256"), "token_bad_signature"),
    "alg-none": (
        lambda t: f"{b64(json.dumps({'alg': 'none', 'kid': our_kid(t)}).encode())}.{t.split('.')[1]}.",
        "token_bad_signature",
    ),
    "alg-hs512": (
        lambda t: jwt.encode(claims(t), settings.JWT_SIGNING_KEY, "HS512", {"kid": our_kid(t)}),
        "token_bad_signature",
    ),
}


@dataclass(frozen=True)
class Endpoint:
    takes: str  # "access" or "refresh": the token type it wants.
    call: Callable[[str], object]


ENDPOINTS = {
    "me": Endpoint("access", lambda raw: bearer(raw).get(ME_URL)),
    "refresh": Endpoint("refresh", lambda raw: APIClient().post(REFRESH_URL, {"refresh": raw})),
    "verify": Endpoint("access", lambda raw: APIClient().post(VERIFY_URL, {"token": raw})),
}


def challenge(response) -> dict[str, str]:
    """The parameters of the one Bearer challenge in WWW-Authenticate."""
    header = response["WWW-Authenticate"]
    assert header.startswith("Bearer "), header
    params = dict(re.findall(r'(\w+)="([^"\\]*)"', header))
    assert header == "Bearer " + ", ".join(f'{name}="{value}"' for name, value in params.items())
    return params


def world() -> tuple:
    return (
        list(User.objects.order_by("pk").values_list("pk", "display_name", "is_active", "password")),
        list(AuthSession.objects.order_by("pk").values()),
        list(RefreshTokenRecord.objects.order_by("pk").values()),
    )


def assert_token_refused(response, code: str, error: str | None = INVALID) -> dict:
    body = assert_problem(response, 401, code)
    params = challenge(response)
    assert params["realm"] == "api"
    assert params.get("error") == error
    if error is None:
        assert set(params) == {"realm"}
    else:
        assert params["error_description"] == body["detail"]
    return body


def test_can_use_each_endpoint_with_a_live_token(tokens):
    assert ENDPOINTS["me"].call(tokens.access).status_code == 200
    assert ENDPOINTS["verify"].call(tokens.access).status_code == 200
    assert ENDPOINTS["refresh"].call(tokens.refresh).status_code == 200


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("kind", BAD_TOKENS)
def test_cannot_use_a_bad_token(tokens, kind, endpoint):
    make, code = BAD_TOKENS[kind]
    target = ENDPOINTS[endpoint]
    bad = make(tokens.access if target.takes == "access" else tokens.refresh)
    before = world()

    assert_token_refused(target.call(bad), code)

    assert world() == before


@pytest.mark.parametrize("endpoint", ["verify", "refresh"])
def test_cannot_use_a_token_of_spaces_and_it_is_a_bad_token_not_a_blank_field(tokens, endpoint):
    # The schema allows any non-empty string, so spaces are a token that does not verify (401),
    # not a field DRF would trim to blank (400).
    before = world()

    assert_token_refused(ENDPOINTS[endpoint].call("   "), "token_malformed")

    assert world() == before


# --- ended sessions: one code whatever ended them ---------------------------------------------------


def logged_out(user, tokens) -> None:
    assert bearer(tokens.access).post(LOGOUT_URL, {"refresh": tokens.refresh}).status_code == 204


def logged_out_everywhere(user, tokens) -> None:
    assert bearer(tokens.access).post(LOGOUT_ALL_URL).status_code == 204


def password_changed(user, tokens) -> None:
    response = bearer(tokens.access).post(PASSWORD_CHANGE_URL, {"old_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert response.status_code == 204, response.content


def deactivated(user, tokens) -> None:
    services.user_set_active(user=user, is_active=False)


def revoked_by_an_admin(user, tokens) -> None:
    services.session_revoke_by_admin(session=tokens.session, actor=user)


def deleted(user, tokens) -> None:
    user.delete()


def refresh_reused(user, tokens) -> None:
    client = APIClient()
    assert client.post(REFRESH_URL, {"refresh": tokens.refresh}).status_code == 200
    assert client.post(REFRESH_URL, {"refresh": tokens.refresh}).status_code == 401  # The replay ends it.


ENDINGS = {
    "logout": logged_out,
    "logout-all": logged_out_everywhere,
    "password-change": password_changed,
    "deactivation": deactivated,
    "admin-revocation": revoked_by_an_admin,
    "deleted-account": deleted,
    "refresh-reuse": refresh_reused,
}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("ending", ENDINGS)
def test_cannot_use_a_token_of_an_ended_session(settings, user, tokens, ending, endpoint):
    settings.REFRESH_GRACE_SECONDS = 0  # A second use is a replay at once.
    ENDINGS[ending](user, tokens)
    target = ENDPOINTS[endpoint]
    before = world()

    assert_token_refused(target.call(tokens.access if target.takes == "access" else tokens.refresh), "session_revoked")

    assert world() == before


def test_cannot_reuse_a_refresh_token_and_the_answer_says_why(settings, tokens):
    settings.REFRESH_GRACE_SECONDS = 0
    assert ENDPOINTS["refresh"].call(tokens.refresh).status_code == 200

    body = assert_token_refused(ENDPOINTS["refresh"].call(tokens.refresh), "session_revoked")

    assert "already used" in body["detail"]
    assert AuthSession.objects.get().revoke_reason == AuthSession.RevokeReason.REFRESH_REUSE


def test_a_deleted_account_and_a_revoked_session_get_the_same_answer(make_user):
    gone = services.session_start(user=make_user("gone@example.com"), ip_address=None, user_agent="")
    revoked = services.session_start(user=make_user("revoked@example.com"), ip_address=None, user_agent="")
    User.objects.filter(email="gone@example.com").delete()
    services.session_revoke(session=revoked.session, reason=AuthSession.RevokeReason.ADMIN)

    for endpoint in ("me", "verify"):
        answers = [ENDPOINTS[endpoint].call(t.access) for t in (gone, revoked)]
        bodies = [assert_token_refused(answer, "session_revoked") for answer in answers]
        assert bodies[0]["detail"] == bodies[1]["detail"]
        assert answers[0]["WWW-Authenticate"] == answers[1]["WWW-Authenticate"]


# --- the other type -----------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_cannot_use_a_token_of_the_other_type(tokens, endpoint):
    target = ENDPOINTS[endpoint]
    other = tokens.refresh if target.takes == "access" else tokens.access
    before = world()

    body = assert_token_refused(target.call(other), "token_wrong_type")

    assert "wrong type" in body["detail"]
    assert world() == before


# --- the Authorization header ---------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["Token", "JWT", "Basic", "bearer"])
def test_cannot_authenticate_with_another_scheme(tokens, scheme):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{scheme} {tokens.access}")

    # RFC 6750 3.1: an unsupported method gets the challenge without an error code.
    body = assert_token_refused(client.get(ME_URL), "unsupported_auth_scheme", error=None)

    assert "Authorization: Bearer <access token>" in body["detail"]


def test_cannot_authenticate_without_a_header(api):
    assert_token_refused(api.get(ME_URL), "not_authenticated", error=None)


@pytest.mark.parametrize("header", ["Bearer", "Bearer a b"], ids=["no-token", "two-tokens"])
def test_cannot_authenticate_with_a_bearer_header_that_does_not_split(api, header):
    assert_token_refused(api.get(ME_URL, HTTP_AUTHORIZATION=header), "token_malformed")


def test_can_still_reach_public_endpoints_with_an_empty_header(api):
    assert api.get("/healthz", HTTP_AUTHORIZATION="").status_code == 200
