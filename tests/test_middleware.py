"""Cross-cutting HTTP policy: security headers, CSP, caching, request ids, body limit, CORS."""

import logging
import re

import pytest
from django.http import JsonResponse
from django.urls import include, path

from accounts.models import User
from tests.helpers import ME_URL, REGISTER_URL, TOKEN_URL, assert_problem, use_plain_static_storage

pytestmark = pytest.mark.django_db

HEX_ID = re.compile(r"^[0-9a-f]{32}$")


def logging_view(request):
    logging.getLogger("gatehouse.test").warning("inside the view")
    return JsonResponse({})


# This module doubles as a URLconf (pytest.mark.urls) adding a view that logs.
urlpatterns = [path("api/v1/test-logging/", logging_view), path("", include("project.urls"))]


def assert_security_headers(response) -> None:
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    csp = response["Content-Security-Policy"]
    for directive in ("default-src 'self'", "script-src 'self'", "object-src 'none'", "frame-ancestors 'none'"):
        assert directive in csp
    assert "unsafe-eval" not in csp
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]


# --- security headers ----------------------------------------------------------------------


def test_api_answers_carry_the_security_headers(auth_api):
    assert_security_headers(auth_api.get(ME_URL))


@pytest.mark.parametrize(
    "request_kwargs",
    [
        {"path": "/api/v1/nothing/"},
        {"path": ME_URL, "HTTP_HOST": "evil.example"},
        {"path": ME_URL, "HTTP_ACCEPT": "application/xml"},
    ],
    ids=["404", "disallowed-host", "406"],
)
def test_error_answers_carry_the_security_headers(api, request_kwargs):
    assert_security_headers(api.get(**request_kwargs))


def test_a_body_refused_as_too_large_carries_the_security_headers(api, settings):
    settings.API_MAX_BODY_BYTES = 10

    response = api.post(TOKEN_URL, {"email": "alice@example.com", "password": "x" * 20})

    assert_problem(response, 413, "payload_too_large")
    assert_security_headers(response)
    assert "no-store" in response["Cache-Control"]


def test_no_hsts_outside_production(api):
    # HSTS in production is checked by `check --deploy` in test_settings.
    assert "Strict-Transport-Security" not in api.get("/api/v1/", secure=True)


# --- Cache-Control --------------------------------------------------------------------------


@pytest.mark.parametrize("url", [ME_URL, "/api/v1/"])
def test_api_answers_are_never_stored(auth_api, url):
    assert "no-store" in auth_api.get(url)["Cache-Control"]


def test_token_answers_are_never_stored(api, user):
    response = api.post(TOKEN_URL, {"email": "alice@example.com", "password": "correct-horse-battery-staple"})

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


# --- CSP lets the HTML pages work -----------------------------------------------------------


def inline_scripts(html: str) -> list[str]:
    """<script> elements that would execute inline code (blocked by script-src 'self')."""
    found = []
    for attrs in re.findall(r"<script\b([^>]*)>", html, flags=re.IGNORECASE):
        if "src=" in attrs or re.search(r'type="application/(ld\+)?json"', attrs):
            continue
        found.append(attrs)
    return found


def external_sources(html: str) -> list[str]:
    """Scripts, styles and links loaded from another origin (a CDN, say)."""
    urls = re.findall(r'(?:src|href)="((?:https?:)?//[^"]+)"', html)
    return [url for url in urls if not re.match(r"^(https?:)?//testserver/", url)]


@pytest.mark.parametrize(
    ("url", "accept"),
    [
        ("/admin/", "text/html"),
        ("/admin/accounts/user/", "text/html"),
        ("/api-auth/login/", "text/html"),
        (ME_URL, "text/html"),
        ("/api/v1/", "text/html"),
        ("/api/v1/docs/", "text/html"),
    ],
)
def test_html_pages_need_nothing_the_csp_forbids(superuser_client, url, accept):
    response = superuser_client.get(url, HTTP_ACCEPT=accept)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert_security_headers(response)
    html = response.content.decode()
    assert inline_scripts(html) == []
    assert external_sources(html) == []


def test_the_login_pages_need_nothing_the_csp_forbids(settings, api):
    use_plain_static_storage(settings)

    for url in ("/admin/login/", "/api-auth/login/"):
        response = api.get(url)
        assert response.status_code == 200
        assert_security_headers(response)
        assert inline_scripts(response.content.decode()) == []


def test_the_docs_script_is_served_from_this_origin(superuser_client):
    response = superuser_client.get("/api/v1/docs/?script=")

    assert response.status_code == 200
    assert "javascript" in response["Content-Type"]
    assert b"SwaggerUIBundle" in response.content


# --- X-Request-ID ---------------------------------------------------------------------------


@pytest.mark.parametrize("supplied", ["abc-123", "7f1c0b6e-9a5d-4c3e-8f2a-1b2c3d4e5f60", "lb.1:req_2"])
def test_a_well_formed_request_id_is_echoed(api, supplied):
    response = api.get("/api/v1/", HTTP_X_REQUEST_ID=supplied)

    assert response["X-Request-ID"] == supplied


@pytest.mark.parametrize(
    "supplied",
    ["has spaces", "x" * 200, "line\nINFO forged log line", "-leading-dash", "semi;colon", "\u00e9t\u00e9", ""],
    ids=["spaces", "200-chars", "newline", "leading-dash", "semicolon", "non-ascii", "empty"],
)
def test_a_malformed_request_id_is_replaced(api, supplied):
    response = api.get("/api/v1/", HTTP_X_REQUEST_ID=supplied)

    assert HEX_ID.match(response["X-Request-ID"])


def test_a_request_id_is_generated_when_none_is_sent(api):
    first, second = api.get("/api/v1/")["X-Request-ID"], api.get("/api/v1/")["X-Request-ID"]

    assert HEX_ID.match(first)
    assert first != second


def test_the_request_id_is_in_problem_bodies(api):
    response = api.get("/api/v1/nothing/", HTTP_X_REQUEST_ID="trace-me-1")

    assert assert_problem(response, 404)["request_id"] == "trace-me-1"


def test_the_request_id_is_in_every_log_line_of_the_request(api, user, caplog):
    caplog.set_level(logging.INFO)

    api.get("/api/v1/nothing/", HTTP_X_REQUEST_ID="trace-me-2")
    api.post(TOKEN_URL, {"email": "alice@example.com", "password": "wrong"}, HTTP_X_REQUEST_ID="trace-me-3")

    by_request = {record.getMessage(): getattr(record, "request_id", None) for record in caplog.records}
    assert by_request["Not Found: /api/v1/nothing/"] == "trace-me-2"
    assert by_request["Unauthorized: /api/v1/auth/token/"] == "trace-me-3"


@pytest.mark.urls(__name__)
def test_the_request_id_is_in_log_lines_written_by_our_code_during_the_request(api, caplog):
    caplog.set_level(logging.INFO)

    api.get("/api/v1/test-logging/", HTTP_X_REQUEST_ID="trace-me-4")

    [record] = [r for r in caplog.records if r.name == "gatehouse.test"]
    assert record.request_id == "trace-me-4"


def test_log_lines_outside_a_request_do_not_inherit_the_last_request_id(api, caplog):
    api.get("/api/v1/", HTTP_X_REQUEST_ID="trace-me-5")
    caplog.set_level(logging.INFO)

    logging.getLogger("gatehouse.test").warning("between requests")

    [record] = [r for r in caplog.records if r.name == "gatehouse.test"]
    assert record.request_id == "-"


# --- body size limit ------------------------------------------------------------------------


def test_a_body_at_the_limit_is_accepted(api, settings):
    settings.REGISTRATION_OPEN = True
    body = '{"email": "carol@example.com", "password": "a-long-unusual-passphrase"}'
    settings.API_MAX_BODY_BYTES = len(body)

    assert api.post(REGISTER_URL, body, content_type="application/json").status_code == 201


def test_a_body_over_the_limit_is_a_413_and_nothing_is_written(api, settings):
    settings.REGISTRATION_OPEN = True
    body = '{"email": "carol@example.com", "password": "a-long-unusual-passphrase"}'
    settings.API_MAX_BODY_BYTES = len(body) - 1

    response = api.post(REGISTER_URL, body, content_type="application/json")

    assert_problem(response, 413, "payload_too_large")
    assert not User.objects.exists()


def test_the_body_limit_applies_outside_the_api_too(api, settings):
    settings.API_MAX_BODY_BYTES = 10

    response = api.post("/api-auth/login/", {"username": "a" * 20}, format="multipart")

    assert_problem(response, 413, "payload_too_large")


@pytest.mark.parametrize("length", ["abc", "-1", "1e3"])
def test_a_bad_content_length_is_a_400(api, length):
    response = api.post(REGISTER_URL, "{}", content_type="application/json", CONTENT_LENGTH=length)

    assert_problem(response, 400, "bad_request")
    assert_security_headers(response)
    assert not User.objects.exists()


# --- CORS -----------------------------------------------------------------------------------


def test_no_origin_is_allowed_by_default(api):
    response = api.get("/api/v1/", HTTP_ORIGIN="https://evil.example")

    assert "Access-Control-Allow-Origin" not in response


def test_a_configured_origin_is_allowed_without_credentials(api, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example"]

    allowed = api.get("/api/v1/", HTTP_ORIGIN="https://app.example")
    other = api.get("/api/v1/", HTTP_ORIGIN="https://evil.example")

    assert allowed["Access-Control-Allow-Origin"] == "https://app.example"
    assert "Access-Control-Allow-Credentials" not in allowed
    assert "Access-Control-Allow-Origin" not in other
