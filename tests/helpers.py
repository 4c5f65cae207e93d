"""Assertions and token helpers shared by the test modules."""

import time
import uuid
from typing import Any

import jwt
from django.http import HttpResponse
from rest_framework.test import APIClient

from accounts.tokens import SessionAccessToken
from tests.conftest import PASSWORD

PROBLEM = "application/problem+json"
TYPE_PREFIX = "urn:gatehouse:problem:"
NUL = "\u0000"

TOKEN_URL = "/api/v1/auth/token/"
REFRESH_URL = "/api/v1/auth/token/refresh/"
VERIFY_URL = "/api/v1/auth/token/verify/"
LOGOUT_URL = "/api/v1/auth/logout/"
ME_URL = "/api/v1/auth/me/"
REGISTER_URL = "/api/v1/auth/register/"
PASSWORD_CHANGE_URL = "/api/v1/auth/password/change/"


def assert_problem(response: HttpResponse, status: int, code: str | None = None) -> dict[str, Any]:
    """An RFC 9457 body with our fields, quoting the request id the response carries."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert body["type"].startswith(TYPE_PREFIX)
    if code is not None:
        assert body["type"] == TYPE_PREFIX + code
    assert isinstance(body["title"], str)
    assert body["title"]
    assert body["title"] != "Error."
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert body["request_id"] == response["X-Request-ID"]
    return body


def assert_validation_problem(response: HttpResponse, *expected: tuple[str | None, str]) -> dict[str, Any]:
    """A 400 whose `errors` hold each expected (field, code) pair."""
    body = assert_problem(response, 400, "validation_error")
    assert body["errors"]
    for error in body["errors"]:
        assert set(error) == {"field", "code", "message"}
        assert error["message"]
    found = {(error["field"], error["code"]) for error in body["errors"]}
    for pair in expected:
        assert pair in found, body["errors"]
    return body


def without_request_id(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key != "request_id"}


def sign_in(client: APIClient | None = None, email: str = "alice@example.com", password: str = PASSWORD) -> dict:
    client = client or APIClient()
    response = client.post(TOKEN_URL, {"email": email, "password": password})
    assert response.status_code == 200, response.content
    return response.json()


def bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def claims(raw: str) -> dict[str, Any]:
    return jwt.decode(raw, options={"verify_signature": False})


def signed(payload: dict[str, Any]) -> str:
    """A JWT with exactly these claims, signed the way the API signs its own tokens."""
    token = SessionAccessToken()
    token.payload = dict(payload)
    return str(token)


def forge(payload: dict[str, Any], *, key: str, algorithm: str = "HS256") -> str:
    """A JWT signed with a key the API does not sign with, under the API's own key id."""
    kid = jwt.get_unverified_header(signed(payload)).get("kid")
    return jwt.encode(payload, key, algorithm=algorithm, headers={"kid": kid} if kid else None)


def access_claims(user_id: Any, session_id: Any, **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "token_type": "access",
        "exp": now + 300,
        "iat": now,
        "jti": uuid.uuid4().hex,
        "user_id": str(user_id),
        "sid": str(session_id),
        **extra,
    }


def use_plain_static_storage(settings) -> None:
    """HTML pages use {% static %}: the manifest storage needs collectstatic, which tests skip."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def make_team(name: str):
    """A group projects may be shared with (a shareable group)."""
    from django.contrib.auth.models import Group

    from api.models import ShareableGroup

    group = Group.objects.create(name=name)
    ShareableGroup.objects.create(group=group)
    return group
