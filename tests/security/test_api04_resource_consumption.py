"""OWASP API4:2023 Unrestricted Resource Consumption.

An attacker makes each request as expensive as the API lets it be: bodies too large, too deep, with
too-long strings, too many list items or too many unknown keys; bodies whose size the headers lie
about; page sizes in the millions; query parameters the views never declared, or too many, or too
long; searches made of hundreds of terms or of LIKE wildcards; and simply too many requests. Each
is refused cheaply (413, 400 or 429 with a small problem body, before the expensive part runs) and
changes nothing. Two of these were real: a list of a million invalid items and a body of 100,000
unknown keys used to cost seconds of CPU and tens of megabytes of answer each.
"""

import json
import time

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework import serializers

from accounts import audit
from accounts.models import SecurityEvent, User
from api import services
from api.models import Document, Project
from tests.api.conftest import bulk_projects, client_for
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
    assert_validation_problem,
)
from tests.security.probes import raw_http, split_response, world

pytestmark = pytest.mark.django_db

PROJECTS = "/api/v1/projects/"
SMALL_ANSWER = 4096  # Bytes: a refusal is a short problem, whatever the request.

# (method, url, a valid body, whether it needs a signed-in caller)
WRITES = {
    "sign-in": ("post", TOKEN_URL, {"email": "mallory@example.com", "password": PASSWORD}, False),
    "refresh": ("post", REFRESH_URL, {"refresh": "x"}, False),
    "verify": ("post", VERIFY_URL, {"token": "x"}, False),
    "register": ("post", REGISTER_URL, {"email": "new@example.com", "password": "a-long-unusual-passphrase"}, False),
    "me": ("patch", ME_URL, {"display_name": "M"}, True),
    "logout": ("post", LOGOUT_URL, {"refresh": "x"}, True),
    "password-change": ("post", PASSWORD_CHANGE_URL, {"old_password": PASSWORD, "new_password": "x" * 20}, True),
    "create-project": ("post", PROJECTS, {"name": "P"}, True),
    "update-project": ("patch", PROJECTS + "{project}/", {"name": "P"}, True),
    "replace-project": ("put", PROJECTS + "{project}/", {"name": "P"}, True),
    "create-document": ("post", PROJECTS + "{project}/documents/", {"title": "D"}, True),
    "update-document": ("patch", PROJECTS + "{project}/documents/{document}/", {"title": "D"}, True),
    "share": ("put", PROJECTS + "{project}/permissions/users/{bob}/", {"permissions": ["view"]}, True),
}


@pytest.fixture
def scene(mallory, mallorys_project, bob, settings) -> dict:
    settings.REGISTRATION_OPEN = True
    document = Document.objects.create(project=mallorys_project, created_by=mallory, title="Notes")
    return {"project": mallorys_project.pk, "document": document.pk, "bob": bob.pk, "client": client_for(mallory)}


def send(scene: dict, endpoint: str, body, **extra):
    method, url, _, signed_in = WRITES[endpoint]
    client = scene["client"] if signed_in else client_for(None)
    content = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return getattr(client, method)(url.format(**scene), content, content_type="application/json", **extra)


def assert_cheap_refusal(response, status: int, code: str) -> dict:
    assert len(response.content) < SMALL_ANSWER, len(response.content)
    return assert_problem(response, status, code)


# --- bodies ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", WRITES)
def test_a_body_over_the_limit_is_413_before_it_is_read(endpoint, scene, settings):
    settings.API_MAX_BODY_BYTES = 64
    _, _, body, _ = WRITES[endpoint]
    padded = {**body, "padding": "x" * 100}  # Unknown too, but the size is refused first.
    before = world()

    response = send(scene, endpoint, padded)

    assert_cheap_refusal(response, 413, "payload_too_large")
    assert world() == before


def test_the_default_limit_refuses_a_body_of_two_mebibytes_and_one_byte(scene):
    body = '{"email": "' + "a" * (2 * 1024 * 1024 - 12) + '"}'
    assert len(body) == 2 * 1024 * 1024 + 1

    assert_cheap_refusal(send(scene, "sign-in", body), 413, "payload_too_large")


@pytest.mark.parametrize("endpoint", ["register", "create-project", "share"])
@pytest.mark.parametrize("depth", [21, 100_000])
def test_json_nested_deeper_than_the_limit_is_400(endpoint, depth, scene):
    before = world()

    response = send(scene, endpoint, '{"name": ' + "[" * depth + "]" * depth + "}")

    assert_cheap_refusal(response, 400, "parse_error")
    assert world() == before


@pytest.mark.parametrize("endpoint", ["sign-in", "register", "me", "create-project"])
def test_a_hundred_thousand_unknown_keys_get_a_short_answer(endpoint, scene):
    _, _, body, _ = WRITES[endpoint]
    flood = {**body, **{f"k{n:06}": 0 for n in range(100_000)}}
    before = world()

    response = send(scene, endpoint, flood)

    # Bounded work, not a timed test: at most 20 errors are built, whatever the number of keys
    # (the time it takes is a benchmark's business; machines here drift up to 2x).
    errors = assert_validation_problem(response, ("k000000", "unknown_field"))["errors"]
    assert len(errors) <= 20
    assert len(response.content) < SMALL_ANSWER
    assert world() == before


@pytest.mark.parametrize(
    ("endpoint", "body"),
    [
        ("sign-in", '{"email": "a@example.com", "password": "x", "\\ud800": 1}'),
        ("register", '{"\\udfff\\ud800": 1}'),
        ("share", '{"permissions": ["\\ud800"]}'),
        ("create-project", '{"name": "ok", "description": "half a pair: \\ud83d"}'),
        ("me", '{"display_name": {"\\udc00": "x"}}'),
    ],
    ids=["unknown-key", "reversed-pair-key", "choice", "string", "nested-key"],
)
def test_text_that_utf8_cannot_hold_is_400_not_500(endpoint, body, scene):
    # JSON may spell half a surrogate pair on its own; an error quoting it back (an unknown key, an
    # invalid choice) could not be encoded, and answered 500 before the parser refused such text.
    scene["client"].raise_request_exception = False
    before = world()

    response = send(scene, endpoint, body)

    assert_cheap_refusal(response, 400, "parse_error")
    assert world() == before


@pytest.mark.parametrize(
    ("endpoint", "field", "limit"),
    [
        ("sign-in", "email", 254),
        ("sign-in", "password", 256),
        ("refresh", "refresh", 4096),
        ("verify", "token", 4096),
        ("register", "email", 254),
        ("register", "password", 256),
        ("register", "display_name", 150),
        ("me", "display_name", 150),
        ("logout", "refresh", 4096),
        ("password-change", "old_password", 256),
        ("password-change", "new_password", 256),
        ("create-project", "name", 120),
        ("update-project", "description", 5_000),
        ("create-document", "title", 200),
        ("update-document", "body", 100_000),
    ],
)
def test_every_string_has_a_maximum_length(endpoint, field, limit, scene):
    _, _, body, _ = WRITES[endpoint]
    before = world()

    response = send(scene, endpoint, {**body, field: "x" * (limit + 1)})

    assert_validation_problem(response, (field, "max_length"))
    assert world() == before


@pytest.mark.parametrize("items", [5, 250_000], ids=["one-too-many", "a-quarter-million"])
@pytest.mark.parametrize("item", ["view", 0], ids=["valid-items", "invalid-items"])
def test_a_permission_list_is_capped_before_its_items_are_checked(items, item, scene, monkeypatch):
    before = world()
    checked = []
    real_check = serializers.ChoiceField.to_internal_value

    def counted_check(field, data):
        checked.append(data)
        return real_check(field, data)

    monkeypatch.setattr(serializers.ChoiceField, "to_internal_value", counted_check)

    response = send(scene, "share", {"permissions": [item] * items})

    assert assert_validation_problem(response, ("permissions", "max_length"))["errors"] == [
        {"field": "permissions", "code": "max_length", "message": "Ensure this field has no more than 4 elements."}
    ]
    assert len(response.content) < SMALL_ANSWER
    assert checked == [], "items were checked before the list's length"
    assert world() == before


def test_a_role_list_is_capped_before_its_items_are_checked(admin, bob):
    client = client_for(admin)
    before = world()

    response = client.patch(f"/api/v1/users/{bob.pk}/", {"roles": [0] * 690_000}, format="json")

    assert_validation_problem(response, ("roles", "max_length"))
    assert len(response.content) < SMALL_ANSWER
    assert world() == before


def array_paths(schema: dict, node: dict, where: str, seen: frozenset = frozenset()) -> list[tuple[str, dict]]:
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[1]
        if name in seen:
            return []
        return array_paths(schema, schema["components"]["schemas"][name], where, seen | {name})
    found = [(where, node)] if node.get("type") == "array" else []
    for name, prop in node.get("properties", {}).items():
        if not prop.get("readOnly"):
            found += array_paths(schema, prop, f"{where}.{name}", seen)
    for key in ("allOf", "oneOf", "anyOf"):
        for part in node.get(key, []):
            found += array_paths(schema, part, where, seen)
    if "items" in node:
        found += array_paths(schema, node["items"], f"{where}[]", seen)
    return found


def test_every_list_a_client_can_send_has_a_maximum_number_of_items():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    unbounded = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            for content in operation.get("requestBody", {}).get("content", {}).values():
                for where, node in array_paths(schema, content["schema"], f"{method.upper()} {path}"):
                    if "maxItems" not in node:
                        unbounded.append(where)

    assert unbounded == []


# --- bodies whose size the headers lie about (a real server) ----------------------------------------


def post_raw(server: str, headers: str, body: bytes) -> tuple[int, dict, bytes]:
    head = f"POST {REGISTER_URL} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{headers}"
    return split_response(raw_http(server, f"{head}Connection: close\r\n\r\n".encode() + body))


REGISTRATION = b'{"email": "smuggled@example.com", "password": "a-long-unusual-passphrase"}'


@pytest.mark.django_db(transaction=True)
def test_a_real_server_never_reads_more_than_the_limit(server):
    chunked = f"{len(REGISTRATION):x}\r\n".encode() + REGISTRATION + b"\r\n0\r\n\r\n"
    started = time.perf_counter()

    # A Content-Length over the limit is refused from the headers, without waiting for the body.
    status, headers, _ = post_raw(server, "Content-Length: 3000000\r\n", b'{"email": ')
    assert (status, headers["content-type"]) == (413, "application/problem+json")
    assert time.perf_counter() - started < 5
    # A body longer than its Content-Length is cut there: not valid JSON.
    status, headers, _ = post_raw(server, "Content-Length: 10\r\n", REGISTRATION)
    assert (status, headers["content-type"]) == (400, "application/problem+json")
    # A chunked body has no Content-Length to check, so it is not read at all.
    status, headers, _ = post_raw(server, "Transfer-Encoding: chunked\r\n", chunked)
    assert (status, headers["content-type"]) == (400, "application/problem+json")
    # Both at once is how requests are smuggled past a proxy: refused outright.
    status, _, _ = post_raw(server, "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", chunked)
    assert status == 400

    assert not User.objects.filter(email="smuggled@example.com").exists()


# --- lists and query parameters ----------------------------------------------------------------------


@pytest.fixture
def crowd(admin, mallory, mallorys_project) -> dict[str, str]:
    """More than a page of everything, as each list's reader sees it."""
    bulk_projects(mallory, 120, readers=(mallory,))
    Document.objects.bulk_create(
        Document(project=mallorys_project, created_by=mallory, title=f"Doc {n}") for n in range(120)
    )
    User.objects.bulk_create(User(email=f"user{n}@example.com", password="!") for n in range(120))
    SecurityEvent.objects.bulk_create(SecurityEvent(type="sign_in", detail={}) for _ in range(120))
    return {
        PROJECTS: "mallory",
        f"{PROJECTS}{mallorys_project.pk}/documents/": "mallory",
        "/api/v1/users/": "admin",
        "/api/v1/audit-events/": "admin",
    }


def test_can_ask_for_100_results_on_every_list(crowd, mallory, admin):
    callers = {"mallory": client_for(mallory), "admin": client_for(admin)}

    for url, caller in crowd.items():
        response = callers[caller].get(url, {"page_size": "100"})
        assert response.status_code == 200, (url, response.content)
        assert len(response.json()["results"]) == 100, url


@pytest.mark.parametrize("page_size", ["101", "1000000", "9" * 1000])
def test_cannot_ask_for_more_than_100_results_on_any_list(page_size, crowd, mallory, admin):
    # A 400, as the schema's `maximum: 100` says, not a silently smaller page.
    callers = {"mallory": client_for(mallory), "admin": client_for(admin)}

    for url, caller in crowd.items():
        response = callers[caller].get(url, {"page_size": page_size})
        assert response.status_code == 400, (url, response.content)
        assert response.json()["errors"][0]["field"] == "page_size", url


UNDECLARED = ["owner__email", "password", "owner__password__startswith", "id__gt", "limit", "offset", "page", "_method"]


@pytest.fixture
def readable(admin, mallory, mallorys_project, bob) -> dict[str, str]:
    document = Document.objects.create(project=mallorys_project, created_by=mallory, title="Notes")
    event = audit.record(SecurityEvent.Type.SIGN_IN, actor=mallory, target=mallory)
    return {
        "/api/v1/": "admin",
        ME_URL: "admin",
        "/api/v1/auth/sessions/": "admin",
        "/api/v1/roles/": "admin",
        PROJECTS: "mallory",
        f"{PROJECTS}{mallorys_project.pk}/": "mallory",
        f"{PROJECTS}{mallorys_project.pk}/documents/": "mallory",
        f"{PROJECTS}{mallorys_project.pk}/documents/{document.pk}/": "mallory",
        f"{PROJECTS}{mallorys_project.pk}/permissions/": "mallory",
        "/api/v1/users/": "admin",
        f"/api/v1/users/{bob.pk}/": "admin",
        "/api/v1/users/lookup/?email=bob@example.com": "mallory",
        "/api/v1/audit-events/": "admin",
        f"/api/v1/audit-events/{event.pk}/": "admin",
        "/.well-known/jwks.json": "admin",
    }


@pytest.mark.parametrize("param", UNDECLARED)
def test_a_query_parameter_a_view_does_not_declare_is_refused(param, readable, mallory, admin):
    callers = {"mallory": client_for(mallory), "admin": client_for(admin)}

    for url, caller in readable.items():
        joiner = "&" if "?" in url else "?"
        response = callers[caller].get(f"{url}{joiner}{param}=1")
        assert_validation_problem(response, (param, "unknown_parameter"))


@pytest.mark.parametrize("param", ["search", "ordering", "cursor", "page_size"])
def test_a_query_value_over_1000_characters_is_refused_before_the_view(param, readable, mallory):
    response = client_for(mallory).get(PROJECTS, {param: "a" * 1001})

    assert_validation_problem(response, (param, "max_length"))


def test_too_many_query_parameters_are_refused(mallory):
    query = "&".join(f"search={n}" for n in range(300))

    assert_cheap_refusal(client_for(mallory).get(f"{PROJECTS}?{query}"), 400, "bad_request")


# --- search ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("x" * 1000, []),
        ("Apollo " * 142, ["Apollo 1"]),  # 142 terms, every one of which matches.
        (" ".join(f"t{n}" for n in range(8)), []),  # As many distinct terms as a search may have.
        (",".join("Apollo" for _ in range(142)), ["Apollo 1"]),
        ("%", ["100% done"]),
        ("_", ["snake_case"]),
        ("%%%%", []),
        ("\\", ["back\\slash"]),
        ("'; DROP TABLE api_project; --", []),
    ],
    ids=[
        "one-long-term",
        "142-matching-terms",
        "8-terms",
        "comma-separated",
        "percent",
        "underscore",
        "wildcards",
        "backslash",
        "sql",
    ],
)
def test_searching_with_long_or_odd_strings_is_bounded_and_literal(search, expected, mallory):
    for name in ("Apollo 1", "100% done", "snake_case", "back\\slash"):
        services.project_create(owner=mallory, name=name)

    response = client_for(mallory).get(PROJECTS, {"search": search})

    assert response.status_code == 200, response.content
    assert sorted(item["name"] for item in response.json()["results"]) == expected
    assert Project.objects.count() == 4


def test_a_search_of_more_distinct_terms_than_the_bound_is_refused(mallory):
    # Each term is a LIKE over every visible row: the work is bounded by the terms, not the length.
    response = client_for(mallory).get(PROJECTS, {"search": " ".join(f"t{n}" for n in range(200))})

    assert_validation_problem(response, ("search", "max_terms"))


# --- rate limits -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "signed_in", "method", "url"),
    [
        ("anon", False, "get", "/api/v1/"),
        ("user", True, "get", ME_URL),
        ("writes", True, "patch", ME_URL),
    ],
)
def test_too_many_requests_get_429_with_the_rate_limit_headers_and_change_nothing(
    scope, signed_in, method, url, mallory, settings
):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, scope: "3/hour"}
    client = client_for(mallory if signed_in else None)
    body = {"display_name": "Try"} if method == "patch" else None
    allowed = [getattr(client, method)(url, body, format="json") for _ in range(3)]
    before = world()

    refused = getattr(client, method)(url, body, format="json")

    assert [r.status_code for r in allowed] == [200, 200, 200]
    assert [r["RateLimit-Remaining"] for r in allowed] == ["2", "1", "0"]
    assert_cheap_refusal(refused, 429, "throttled")
    assert refused["RateLimit-Limit"] == "3"
    assert refused["RateLimit-Remaining"] == "0"
    assert 0 < int(refused["Retry-After"]) <= 3600
    assert 0 < int(refused["RateLimit-Reset"]) <= 3600
    assert world() == before
