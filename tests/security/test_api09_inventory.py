"""OWASP API9:2023 Improper Inventory Management.

An attacker looks for the API nobody remembers: an older or newer version, an unversioned alias,
a route that works but is not documented, a debug or profiling tool left installed, source or
configuration files served by mistake. The inventory is exactly what is documented: one version
(/api/v1/) is live; every route Django would dispatch under it (found by walking the URL resolver,
not the schema) is in the OpenAPI schema with the same methods, and every schema path resolves to a
live view; the public signing keys (/.well-known/jwks.json) are documented too; nothing else is
served but the admin, the browsable API's sign-in and the health probes.
"""

import re
import uuid

import pytest
from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from drf_spectacular.generators import SchemaGenerator

from tests.helpers import assert_problem, use_plain_static_storage

pytestmark = pytest.mark.django_db

# Routes under /api/v1/ that are not operations of the API: the link index, the schema itself and
# the page that renders it. Each is reachable and documented in the README.
NOT_OPERATIONS = {"/api/v1/", "/api/v1/schema/", "/api/v1/docs/", "/api/v1/redoc/", "/api/v1/redoc/redoc.standalone.js"}
# Everything Django serves, by first path segment.
TOP_LEVEL = {"api/v1/", "api-auth/", ".well-known/jwks.json", "admin/", "healthz", "readyz", "favicon.ico"}
SKIPPED_METHODS = {"head", "options", "trace"}


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def routes(patterns=None, prefix: str = ""):
    """(route, pattern) of every URL Django dispatches, with nested includes flattened."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            yield from routes(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern


def normalized(route: str) -> str:
    """'api/v1/^projects/(?P<pk>...)/$' and '/api/v1/projects/{id}/' both become '/api/v1/projects/{}/'."""
    route = re.sub(r"\(\?P<\w+>[^)]*\)", "{}", route)
    route = re.sub(r"<(?:\w+:)?\w+>", "{}", route)
    route = re.sub(r"\{\w+\}", "{}", route)
    return "/" + route.replace("^", "").replace("$", "").lstrip("/")


def live_methods(pattern: URLPattern) -> set[str]:
    view = pattern.callback.cls
    allowed = set(view.http_method_names) - SKIPPED_METHODS
    actions = getattr(pattern.callback, "actions", None)
    if actions is not None:
        return set(actions) & allowed
    return {method for method in allowed if hasattr(view, method)}


def documented(schema: dict) -> dict[str, set[str]]:
    return {
        normalized(path): {method for method in item if method in {"get", "post", "put", "patch", "delete"}}
        for path, item in schema["paths"].items()
    }


def test_every_live_api_route_is_documented_with_its_methods(schema):
    in_schema = documented(schema)
    undocumented, checked = {}, 0
    for route, pattern in routes():
        path = normalized(route)
        if not (path.startswith("/api/") or path.startswith("/.well-known/")) or path in NOT_OPERATIONS:
            continue
        checked += 1
        missing = live_methods(pattern) - in_schema.get(path, set())
        if missing:
            undocumented[path] = sorted(missing)

    assert checked >= 20  # The walk found the API.
    assert undocumented == {}


def sample(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: "editor" if m.group(1) == "group_name" else str(uuid.uuid4()), path)


def test_every_documented_path_is_live_with_its_methods(schema):
    dead = {}
    for path, item in schema["paths"].items():
        match = resolve(sample(path))
        documented_methods = {method for method in item if method in {"get", "post", "put", "patch", "delete"}}
        pattern = URLPattern(match.route, match.func)
        missing = documented_methods - live_methods(pattern)
        if missing:
            dead[path] = sorted(missing)

    assert dead == {}


def test_nothing_is_served_outside_the_known_inventory():
    unknown = sorted(
        route for route, _ in routes() if not any(route.startswith(known) for known in TOP_LEVEL) and route != ""
    )

    assert unknown == []


def test_the_public_signing_keys_are_documented_and_need_no_token(schema):
    operation = schema["paths"]["/.well-known/jwks.json"]["get"]

    assert set(schema["paths"]["/.well-known/jwks.json"]) == {"get"}
    assert operation.get("security", [{}]) in ([{}], [])
    assert "200" in operation["responses"]


@pytest.mark.parametrize(
    "url",
    [
        "/api/",
        "/api/v0/",
        "/api/v0/auth/token/",
        "/api/v2/",
        "/api/v2/projects/",
        "/api/v1.1/projects/",
        "/api/latest/projects/",
        "/api/beta/projects/",
        "/api/internal/users/",
        "/v1/projects/",
        "/api/projects/",
        "/api/auth/token/",
        "/api/V1/projects/",
        "/api/v1/projects.json",
        "/api/v1/users.json",
    ],
)
@pytest.mark.parametrize("method", ["get", "post"])
def test_no_other_version_or_alias_is_live(url, method, api):
    response = getattr(api, method)(url)

    assert response.status_code == 404
    if url.startswith("/api/"):
        assert_problem(response, 404, "not_found")


DEBUG_TOOLS = [
    "/__debug__/",
    "/__debug__/render_panel/",
    "/silk/",
    "/debug/",
    "/_debug/",
    "/api/v1/debug/",
    "/admin/doc/",
    "/__reload__/events/",
    "/graphql",
    "/api/graphql/",
    "/metrics",
    "/actuator/health",
    "/server-status",
    "/console/",
    "/shell/",
    "/swagger.json",
    "/openapi.json",
    "/api/schema/",
    "/redoc/",
    "/.env",
    "/.git/config",
    "/var/db.sqlite3",
    "/var/jwt_keys.json",
    "/static/../project/settings.py",
    "/static/../var/jwt_keys.json",
    "/static/%2e%2e/var/jwt_keys.json",
    "/media/",
]


def test_no_debug_tool_or_file_is_served(api, settings_with_static, make_user):
    superuser = make_user("root@example.com", is_staff=True, is_superuser=True)
    for client_user in (None, superuser):
        if client_user is not None:
            api.force_login(client_user)
        for url in DEBUG_TOOLS:
            response = api.get(url)
            if client_user is None and url.startswith("/admin/"):
                # The admin sends strangers to its sign-in page for any address under it, real or not.
                assert response["Location"].startswith("/admin/login/"), url
                continue
            assert response.status_code == 404, (url, response.status_code)
            assert b"SECRET_KEY" not in response.content
            assert b'"keys"' not in response.content


@pytest.fixture
def settings_with_static(settings):
    use_plain_static_storage(settings)
    return settings


def test_no_debug_or_profiling_app_is_installed():
    installed = {app.split(".")[0] for app in settings.INSTALLED_APPS}
    middleware = " ".join(settings.MIDDLEWARE)

    assert not installed & {"debug_toolbar", "silk", "django_extensions", "django_browser_reload", "nplusone"}
    assert "django.contrib.admindocs" not in settings.INSTALLED_APPS
    assert "debug_toolbar" not in middleware
    assert "silk" not in middleware
