"""OWASP API10:2023 Unsafe Consumption of APIs.

The service consumes no third-party API: a whole user journey, from registration to logging out
everywhere, makes no name lookup and opens no connection to anything but this host's database and
cache (a guard on the socket layer, urllib and requests records every attempt). What it does take in
from elsewhere it does not trust: a forwarded-for address is ignored unless proxies are configured,
and the text users hand over (names, titles, bodies with HTML, script and template syntax) comes
back exactly as sent, as JSON data labelled application/json with nosniff and a CSP, never as markup
the API renders; the browsable API, for a person who asks for HTML, shows it escaped.
"""

import pytest
from rest_framework.test import APIClient

from accounts.models import AuthSession
from tests.api.conftest import client_for
from tests.conftest import PASSWORD
from tests.helpers import (
    LOGOUT_URL,
    ME_URL,
    PASSWORD_CHANGE_URL,
    REFRESH_URL,
    REGISTER_URL,
    TOKEN_URL,
    VERIFY_URL,
    assert_problem,
    bearer,
    use_plain_static_storage,
)

pytestmark = pytest.mark.django_db

PAYLOADS = {
    "script": "<script>alert(document.cookie)</script>",
    "img-onerror": '"><img src=x onerror=alert(1)>',
    "svg-onload": "<svg/onload=alert(1)>",
    "javascript-url": "javascript:alert(1)",
    "closing-script": "</script><script>alert(1)</script>",
    "html-comment": "<!-- --><b>bold</b>",
    "django-template": "{{ settings.SECRET_KEY }}{% debug %}",
    "jinja": "{{7*7}}${7*7}#{7*7}",
    "json-breakout": '", "is_staff": true, "x": "',
    "right-to-left": "\u202egnp.exe",
    "entity": "&lt;script&gt;&amp;",
}


def test_a_whole_user_journey_calls_no_one_outside(outbound, settings, make_user):
    settings.REGISTRATION_OPEN = True
    admin = make_user("admin@example.com", is_staff=True, is_superuser=True)
    make_user("bob@example.com")
    api = APIClient()
    statuses = {}

    statuses["register"] = api.post(
        REGISTER_URL, {"email": "dora@example.com", "password": PASSWORD, "display_name": "Dora"}
    ).status_code
    pair = api.post(TOKEN_URL, {"email": "dora@example.com", "password": PASSWORD}).json()
    dora = bearer(pair["access"])
    statuses["me"] = dora.patch(ME_URL, {"display_name": "Dora E."}).status_code
    project = dora.post("/api/v1/projects/", {"name": "Journey", "description": "See https://example.org/x"}).json()
    statuses["document"] = dora.post(
        f"/api/v1/projects/{project['id']}/documents/", {"title": "Links", "body": "http://169.254.169.254/latest"}
    ).status_code
    bob = dora.get("/api/v1/users/lookup/", {"email": "bob@example.com"}).json()
    statuses["share"] = dora.put(
        f"/api/v1/projects/{project['id']}/permissions/users/{bob['id']}/", {"permissions": ["view"]}
    ).status_code
    statuses["grants"] = dora.get(f"/api/v1/projects/{project['id']}/permissions/").status_code
    statuses["search"] = dora.get("/api/v1/projects/", {"search": "Journey", "ordering": "-name"}).status_code
    statuses["verify"] = api.post(VERIFY_URL, {"token": pair["access"]}).status_code
    pair = api.post(REFRESH_URL, {"refresh": pair["refresh"]}).json()
    dora = bearer(pair["access"])
    statuses["sessions"] = dora.get("/api/v1/auth/sessions/").status_code
    statuses["jwks"] = api.get("/.well-known/jwks.json").status_code
    statuses["schema"] = api.get("/api/v1/schema/").status_code
    statuses["admin-users"] = client_for(admin).get("/api/v1/users/").status_code
    statuses["audit"] = client_for(admin).get("/api/v1/audit-events/").status_code
    statuses["health"] = api.get("/readyz").status_code
    statuses["password"] = dora.post(
        PASSWORD_CHANGE_URL, {"old_password": PASSWORD, "new_password": "an-entirely-new-passphrase"}
    ).status_code
    pair = api.post(TOKEN_URL, {"email": "dora@example.com", "password": "an-entirely-new-passphrase"}).json()
    statuses["logout"] = bearer(pair["access"]).post(LOGOUT_URL, {"refresh": pair["refresh"]}).status_code
    statuses["logout-all"] = (
        bearer(
            api.post(TOKEN_URL, {"email": "dora@example.com", "password": "an-entirely-new-passphrase"}).json()[
                "access"
            ]
        )
        .post("/api/v1/auth/logout-all/")
        .status_code
    )

    assert statuses == {
        "register": 201,
        "me": 200,
        "document": 201,
        "share": 200,
        "grants": 200,
        "search": 200,
        "verify": 200,
        "sessions": 200,
        "jwks": 200,
        "schema": 200,
        "admin-users": 200,
        "audit": 200,
        "health": 200,
        "password": 204,
        "logout": 204,
        "logout-all": 204,
    }
    assert outbound == []


@pytest.mark.parametrize("forwarded", ["203.0.113.9", "203.0.113.9, 10.0.0.1", "not-an-address", "127.0.0.1"])
def test_a_forwarded_for_header_is_not_believed_without_configured_proxies(forwarded, api, user, settings):
    settings.TRUSTED_PROXY_COUNT = 0

    response = api.post(
        TOKEN_URL,
        {"email": user.email, "password": PASSWORD},
        REMOTE_ADDR="198.51.100.20",
        HTTP_X_FORWARDED_FOR=forwarded,
    )

    assert response.status_code == 200
    assert AuthSession.objects.get(user=user).ip_address == "198.51.100.20"


def test_behind_a_configured_proxy_only_the_proxys_own_entry_is_believed(api, user, settings):
    settings.TRUSTED_PROXY_COUNT = 1

    api.post(
        TOKEN_URL,
        {"email": user.email, "password": PASSWORD},
        REMOTE_ADDR="10.0.0.2",  # The proxy.
        HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.21",  # The client's forgery, then what the proxy saw.
    )

    assert AuthSession.objects.get(user=user).ip_address == "198.51.100.21"


@pytest.fixture
def echoed(owner, project) -> dict:
    """Each payload stored as a display name, a project name and description, a document title and body."""
    client = client_for(owner)
    stored = {}
    for name, payload in PAYLOADS.items():
        stored[name] = {
            "me": client.patch(ME_URL, {"display_name": payload[:150]}),
            "project": client.post("/api/v1/projects/", {"name": payload[:120], "description": payload}),
            "document": client.post(f"/api/v1/projects/{project.pk}/documents/", {"title": payload, "body": payload}),
        }
    return {"client": client, "stored": stored, "project": project}


def test_text_comes_back_exactly_as_sent_as_json_data(echoed):
    fields = {"me": ["display_name"], "project": ["name", "description"], "document": ["title", "body"]}

    for name, payload in PAYLOADS.items():
        for kind, response in echoed["stored"][name].items():
            assert response.status_code in (200, 201), (name, kind, response.content)
            assert response["Content-Type"] == "application/json", (name, kind)
            assert response["X-Content-Type-Options"] == "nosniff", (name, kind)
            assert "script-src 'self'" in response["Content-Security-Policy"], (name, kind)
            body = response.json()
            for field in fields[kind]:
                assert payload.startswith(body[field]), (name, kind, field)  # Verbatim (names cut to their limit).
        assert "is_staff" not in echoed["stored"][name]["me"].json()


def test_lists_of_stored_payloads_are_json_whatever_the_client_accepts(echoed):
    for accept in ("*/*", "application/json", "text/html;q=0.1, application/json", "application/*"):
        response = echoed["client"].get(f"/api/v1/projects/{echoed['project'].pk}/documents/", HTTP_ACCEPT=accept)

        assert response.status_code == 200
        assert response["Content-Type"] == "application/json", accept
        assert {item["title"] for item in response.json()["results"]} == set(PAYLOADS.values())


def test_the_browsable_api_shows_stored_payloads_escaped(echoed, settings):
    use_plain_static_storage(settings)

    response = echoed["client"].get(f"/api/v1/projects/{echoed['project'].pk}/documents/", HTTP_ACCEPT="text/html")

    html = response.content.decode()
    assert response["Content-Type"].startswith("text/html")
    for payload in PAYLOADS.values():
        if "<" in payload:
            assert payload not in html
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert(document.cookie)&lt;/script&gt;" in html


def test_payloads_echoed_in_errors_stay_data(api):
    response = api.post(TOKEN_URL, {"email": "a@example.com", "password": "x", PAYLOADS["script"]: 1})
    html = api.post(
        TOKEN_URL, {"email": "a@example.com", "password": "x", PAYLOADS["img-onerror"]: 1}, HTTP_ACCEPT="text/html"
    )

    assert_problem(response, 400, "validation_error")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert html.status_code == 400
    assert PAYLOADS["img-onerror"] not in html.content.decode()
