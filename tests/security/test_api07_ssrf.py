"""OWASP API7:2023 Server Side Request Forgery.

The service fetches nothing on a client's behalf, so there is no request to forge. This module keeps
it so: no operation in the OpenAPI schema takes a URL (by format or by name) in its body or its
query; the places where a client hands over something that could point elsewhere (token headers
`jku`, `x5u`, `jwk`, `x5c`, a `kid` that is a URL, email addresses at an attacker's domain, a
Host or X-Forwarded-Host header) never lead to a name lookup or a connection to anything but this
host's database and cache. A guard on the socket layer records any attempt.

test_forged_tokens.py shows these token headers are refused on me/ and refresh/; here they are sent
to every other endpoint that reads a token (verify/, logout/) with every outbound path guarded.
"""

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from accounts import services
from tests.helpers import LOGOUT_URL, REGISTER_URL, TOKEN_URL, VERIFY_URL, assert_problem, bearer
from tests.security.probes import world
from tests.security.test_forged_tokens import ATTACKS, key_file, scene_for  # noqa: F401 (key_file: fixture)

pytestmark = pytest.mark.django_db

URL_FORMATS = {"uri", "url", "iri", "uri-reference", "iri-reference", "uri-template", "hostname", "idn-hostname"}
URL_NAMES = (
    "url",
    "uri",
    "href",
    "link",
    "callback",
    "webhook",
    "redirect",
    "return_to",
    "next",
    "avatar",
    "image",
    "icon",
    "host",
    "endpoint",
    "domain",
    "jku",
    "x5u",
    "source",
    "feed",
)
POINTING_ELSEWHERE = [
    name for name in ATTACKS if name.startswith(("jku", "x5u", "jwk", "x5c", "kid-url", "our-key-with-jku"))
]


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def properties(schema: dict, node: dict, where: str, seen: frozenset = frozenset()):
    """(path, name, spec) of every property a client can send, however deeply nested."""
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[1]
        if name not in seen:
            yield from properties(schema, schema["components"]["schemas"][name], where, seen | {name})
        return
    for name, spec in node.get("properties", {}).items():
        if not spec.get("readOnly"):
            yield f"{where}.{name}", name, spec
            yield from properties(schema, spec, f"{where}.{name}", seen)
    for key in ("allOf", "oneOf", "anyOf"):
        for part in node.get(key, []):
            yield from properties(schema, part, where, seen)
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            yield from properties(schema, node[key], f"{where}[]", seen)


def looks_like_a_url(name: str, spec: dict) -> bool:
    words = name.lower().replace("-", "_").split("_")
    return spec.get("format") in URL_FORMATS or any(word in URL_NAMES for word in words)


def test_no_operation_accepts_a_url_in_its_body(schema):
    accepted = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            for content in operation.get("requestBody", {}).get("content", {}).values():
                for where, name, spec in properties(schema, content["schema"], f"{method.upper()} {path}"):
                    if looks_like_a_url(name, spec) or spec.get("format") == "binary":
                        accepted.append(where)

    assert accepted == []


def test_no_operation_accepts_a_url_in_its_query_or_path(schema):
    accepted = [
        f"{method.upper()} {path} {parameter['name']}"
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict)
        for parameter in operation.get("parameters", [])
        if looks_like_a_url(parameter["name"], parameter.get("schema", {}))
    ]

    assert accepted == []


def test_the_guard_sees_an_outbound_connection(outbound):
    # The control: the guard below would notice a fetch if one happened.
    import urllib.request

    with pytest.raises(OSError):
        urllib.request.urlopen("https://attacker.example/jwks.json")

    assert outbound == [("urlopen", "https://attacker.example/jwks.json")]


@pytest.fixture
def victim(key_file, make_user) -> services.IssuedTokens:  # noqa: F811 (key_file: the fixture imported above)
    make_user("mallory@example.com")
    return services.session_start(user=make_user("alice@example.com"), ip_address=None, user_agent="pytest")


@pytest.mark.parametrize("attack", POINTING_ELSEWHERE)
def test_token_headers_that_point_elsewhere_are_never_fetched(attack, victim, outbound):
    forged_access = ATTACKS[attack](scene_for(victim.access))
    forged_refresh = ATTACKS[attack](scene_for(victim.refresh))
    before = world()

    verified = APIClient().post(VERIFY_URL, {"token": forged_access})
    verified_refresh = APIClient().post(VERIFY_URL, {"token": forged_refresh})
    logged_out = bearer(victim.access).post(LOGOUT_URL, {"refresh": forged_refresh})
    used = bearer(forged_access).get("/api/v1/projects/")

    assert_problem(verified, 401, "token_bad_signature")
    assert_problem(verified_refresh, 401, "token_bad_signature")
    assert_problem(logged_out, 400, "validation_error")
    assert_problem(used, 401, "token_bad_signature")
    assert outbound == []
    assert world() == before


def test_addresses_at_an_attackers_domain_are_stored_not_visited(api, settings, outbound):
    settings.REGISTRATION_OPEN = True
    email = "victim@attacker.example"

    registered = api.post(
        REGISTER_URL,
        {"email": email, "password": "a-long-unusual-passphrase", "display_name": "http://169.254.169.254/latest/"},
    )
    signed_in = api.post(TOKEN_URL, {"email": email, "password": "a-long-unusual-passphrase"})
    looked_up = bearer(signed_in.json()["access"]).get("/api/v1/users/lookup/", {"email": "x@169.254.169.254"})

    assert registered.status_code == 201
    assert looked_up.status_code in (400, 404)
    assert outbound == []


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_X_FORWARDED_HOST": "attacker.example"},
        {"HTTP_FORWARDED": "host=attacker.example"},
        {"HTTP_X_ORIGINAL_URL": "http://attacker.example/"},
        {"HTTP_REFERER": "http://169.254.169.254/latest/meta-data/"},
    ],
    ids=["x-forwarded-host", "forwarded", "x-original-url", "referer"],
)
def test_headers_naming_another_host_are_neither_followed_nor_echoed(headers, api, outbound):
    response = api.get("/api/v1/", **headers)

    assert response.status_code == 200
    assert "attacker.example" not in response.content.decode()
    assert "169.254" not in response.content.decode()
    assert outbound == []
