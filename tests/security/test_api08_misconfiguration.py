"""OWASP API8:2023 Security Misconfiguration.

An attacker reads what the service says about itself: headers on every kind of page (API, errors,
admin, docs, schema, keys), whether a crash shows a traceback, SQL or a setting, whether another
origin may read answers cross-site, whether TRACE or made-up methods do anything, whether errors are
verbose, and whether a Host header can rewrite the links the API hands out. Every answer carries
the header policy, no error says more than a problem body, CORS is closed unless configured, and
only configured origins are let in.

That production refuses to boot misconfigured (debug on, secrets missing or weak, a JWT key equal to
SECRET_KEY) and passes `check --deploy` with HSTS and secure cookies is shown in
tests/test_settings.py, in fresh processes with a production environment; this module checks the
running configuration and what it answers.
"""

import pytest
from django.conf import settings as django_settings
from django.db import OperationalError
from django.db.backends.utils import CursorWrapper
from rest_framework.test import APIClient

from accounts import views as account_views
from tests.api.conftest import client_for
from tests.helpers import ME_URL, REGISTER_URL, TOKEN_URL, assert_problem
from tests.security.probes import raw_http, split_response

pytestmark = pytest.mark.django_db

SECRET_IN_ERROR = "db-password-s3cr3t"
CSP_MUST_HAVE = ("default-src 'self'", "script-src 'self'", "object-src 'none'", "frame-ancestors 'none'")


def assert_header_policy(response, label: str = "") -> None:
    assert response["X-Content-Type-Options"] == "nosniff", label
    assert response["X-Frame-Options"] == "DENY", label
    assert response["Referrer-Policy"] == "same-origin", label
    csp = response["Content-Security-Policy"]
    assert all(directive in csp for directive in CSP_MUST_HAVE), label
    assert "unsafe-eval" not in csp, label
    assert "X-Powered-By" not in response, label


PAGES = {
    "api-json": (ME_URL, "application/json"),
    "api-root": ("/api/v1/", "application/json"),
    "api-html": (ME_URL, "text/html"),
    "api-404": ("/api/v1/nothing-here/", "application/json"),
    "api-405": (TOKEN_URL, "application/json"),
    "api-406": (ME_URL, "application/xml"),
    "schema": ("/api/v1/schema/", "*/*"),
    "docs": ("/api/v1/docs/", "text/html"),
    "jwks": ("/.well-known/jwks.json", "application/json"),
    "admin": ("/admin/", "text/html"),
    "admin-users": ("/admin/accounts/user/", "text/html"),
    "admin-login": ("/admin/login/", "text/html"),
    "session-login": ("/api-auth/login/", "text/html"),
    "healthz": ("/healthz", "application/json"),
    "html-404": ("/no-such-page/", "text/html"),
}


@pytest.mark.parametrize("page", PAGES)
def test_every_kind_of_page_carries_the_header_policy(page, superuser_client):
    url, accept = PAGES[page]

    response = superuser_client.get(url, HTTP_ACCEPT=accept)

    assert_header_policy(response, page)
    if url.startswith("/api/"):
        assert "no-store" in response["Cache-Control"], page


@pytest.mark.parametrize("url", [ME_URL, "/api/v1/projects/", "/api/v1/auth/sessions/", "/api/v1/nothing/"])
def test_api_answers_are_never_stored_by_caches(url, auth_api):
    assert "no-store" in auth_api.get(url)["Cache-Control"]


def test_debug_is_off_and_nothing_debug_related_is_on():
    assert django_settings.DEBUG is False
    assert getattr(django_settings, "DEBUG_PROPAGATE_EXCEPTIONS", False) is False
    assert "*" not in django_settings.ALLOWED_HOSTS
    assert not getattr(django_settings, "CORS_ALLOW_ALL_ORIGINS", False)
    assert not django_settings.CORS_ALLOW_CREDENTIALS
    assert django_settings.SESSION_COOKIE_HTTPONLY


@pytest.mark.parametrize("accept", ["application/json", "text/html"])
def test_an_unknown_address_shows_no_url_patterns(accept, api):
    for url in ("/api/v1/nothing/", "/nothing/", "/admin/nothing/"):
        text = api.get(url, HTTP_ACCEPT=accept).content.decode()
        assert "URLconf" not in text
        assert "api/v1/auth/" not in text
        assert "Traceback" not in text


# --- crashes -----------------------------------------------------------------------------------------


def assert_says_nothing(response) -> None:
    text = response.content.decode()
    for leak in ("Traceback", "RuntimeError", "OperationalError", "SELECT", 'File "', SECRET_IN_ERROR):
        assert leak not in text, leak
    for secret in (django_settings.SECRET_KEY, django_settings.JWT_SIGNING_KEY):
        assert secret not in text


@pytest.fixture
def crashing_me(monkeypatch):
    def crash(self):
        raise RuntimeError(f"cannot connect with password {SECRET_IN_ERROR}")

    monkeypatch.setattr(account_views.MeView, "get_object", crash)


@pytest.mark.parametrize("accept", ["application/json", "text/html", "*/*"])
def test_a_crash_in_a_view_is_a_bare_500_problem(accept, crashing_me, tokens):
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens.access}")

    response = client.get(ME_URL, HTTP_ACCEPT=accept)

    body = assert_problem(response, 500, "server_error")
    assert set(body) == {"type", "title", "status", "detail", "request_id"}
    assert_says_nothing(response)
    assert_header_policy(response)


def failing_execute(self, sql, params=None):
    raise OperationalError(f'connection to server failed: FATAL: password "{SECRET_IN_ERROR}" refused')


@pytest.mark.parametrize("url", [ME_URL, "/api/v1/projects/", TOKEN_URL, "/admin/"])
def test_a_broken_database_is_a_bare_503(url, tokens, user, monkeypatch):
    """An outage, not a bug: 503 with Retry-After (project/problems.py), and still nothing said."""
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens.access}")
    client.force_login(user)  # The admin loads the session from the database.

    with monkeypatch.context() as patch:
        patch.setattr(CursorWrapper, "execute", failing_execute)
        if url == TOKEN_URL:
            response = client.post(url, {"email": "a@example.com", "password": "x"})
        else:
            response = client.get(url)

    assert response.status_code == 503
    assert response["Retry-After"]
    assert_says_nothing(response)
    if url.startswith("/api/"):
        assert_problem(response, 503, "service_unavailable")


# --- CORS --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "null", "https://app.example.evil.example", "http://app.example"]
)
def test_an_origin_that_is_not_configured_is_not_let_in(origin, api, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example"]

    simple = api.get("/api/v1/", HTTP_ORIGIN=origin)
    preflight = api.options(
        ME_URL,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="PATCH",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization",
    )

    for response in (simple, preflight):
        assert "Access-Control-Allow-Origin" not in response
        assert "Access-Control-Allow-Credentials" not in response


def test_a_configured_origin_is_let_in_without_credentials(api, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example"]

    preflight = api.options(
        ME_URL,
        HTTP_ORIGIN="https://app.example",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="PATCH",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type",
    )
    simple = api.get("/api/v1/", HTTP_ORIGIN="https://app.example")

    assert preflight["Access-Control-Allow-Origin"] == "https://app.example"
    assert "authorization" in preflight["Access-Control-Allow-Headers"]
    assert simple["Access-Control-Allow-Origin"] == "https://app.example"
    assert "Access-Control-Allow-Credentials" not in simple
    assert "retry-after" in simple["Access-Control-Expose-Headers"]


def test_no_origin_is_let_in_by_default_or_outside_the_api(api, settings):
    assert settings.CORS_ALLOWED_ORIGINS == []
    assert "Access-Control-Allow-Origin" not in api.get("/api/v1/", HTTP_ORIGIN="https://app.example")

    settings.CORS_ALLOWED_ORIGINS = ["https://app.example"]
    for url in ("/admin/login/", "/api-auth/login/", "/healthz"):
        assert "Access-Control-Allow-Origin" not in api.get(url, HTTP_ORIGIN="https://app.example"), url


# --- methods and verbose errors ----------------------------------------------------------------------

ODD_METHODS = ["TRACE", "TRACK", "CONNECT", "PROPFIND", "DEBUG", "FOO"]


@pytest.mark.parametrize("method", ODD_METHODS)
def test_trace_and_made_up_methods_are_refused_everywhere(method, owner, project):
    client = client_for(owner)
    client.raise_request_exception = False

    for url in (
        "/api/v1/",
        ME_URL,
        "/api/v1/projects/",
        f"/api/v1/projects/{project.pk}/",
        f"/api/v1/projects/{project.pk}/documents/",
        f"/api/v1/projects/{project.pk}/permissions/",
        "/api/v1/schema/",
        "/api/v1/docs/",
        "/.well-known/jwks.json",
    ):
        assert_problem(client.generic(method, url), 405, "method_not_allowed")
    for url in ("/admin/login/", "/healthz", "/readyz"):
        assert client.generic(method, url).status_code == 405, url


@pytest.mark.django_db(transaction=True)
def test_a_real_server_neither_reflects_trace_nor_names_its_version(server):
    request = (
        "TRACE /api/v1/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer reflected-secret\r\n"
        "Cookie: sessionid=reflected-cookie\r\nConnection: close\r\n\r\n"
    )

    status, headers, body = split_response(raw_http(server, request.encode()))

    assert status in (401, 405)  # The bogus token is refused first, or the method.
    assert headers["content-type"] == "application/problem+json"
    assert b"reflected-secret" not in body
    assert b"reflected-cookie" not in body
    assert headers["server"] == "gunicorn"  # No version to look up exploits for.
    assert "x-powered-by" not in headers


@pytest.mark.parametrize(
    ("url", "method"),
    [("/api/v1/schema/", "post"), ("/api/v1/schema/?format=xml", "get"), ("/api/v1/docs/", "post")],
)
def test_errors_from_the_schema_and_docs_views_are_problems_too(url, method, api):
    # These views render YAML or HTML; their errors used to come out in that format (a YAML body
    # labelled application/problem+json, or a bare HTML page).
    response = getattr(api, method)(url)

    assert response.status_code in (404, 405)
    assert_problem(response, response.status_code)


@pytest.mark.parametrize(
    ("method", "url", "body", "content_type"),
    [
        ("post", REGISTER_URL, "{", "application/json"),
        ("post", REGISTER_URL, '{"email": 1}', "application/json"),
        ("post", REGISTER_URL, "email=x", "application/x-www-form-urlencoded"),
        ("post", TOKEN_URL, '{"email": "x@example.com", "password": "x"}', "application/json"),
        ("get", "/api/v1/projects/00000000-0000-0000-0000-000000000000/", None, None),
    ],
    ids=["parse", "validation", "media-type", "credentials", "not-found"],
)
def test_error_bodies_name_no_internals(method, url, body, content_type, api, settings, auth_api):
    settings.REGISTRATION_OPEN = True
    client = auth_api if url.startswith("/api/v1/projects/") else api

    response = getattr(client, method)(url, body, content_type=content_type) if body else getattr(client, method)(url)

    text = response.content.decode()
    assert response.status_code in (400, 401, 404, 415)
    for internal in (
        "Traceback",
        "rest_framework",
        "django.",
        "accounts.",
        "api.models",
        "serializer",
        ".py",
        "SELECT",
    ):
        assert internal not in text, internal


def test_the_host_header_cannot_rewrite_the_links_the_api_hands_out(api):
    forged = api.get("/api/v1/", HTTP_HOST="attacker.example")
    forwarded = api.get("/api/v1/", HTTP_X_FORWARDED_HOST="attacker.example")

    assert_problem(forged, 400, "bad_request")
    assert forwarded.status_code == 200
    assert "attacker.example" not in forwarded.content.decode()
