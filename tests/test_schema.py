"""The OpenAPI schema, the Swagger UI docs and the API root."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from drf_spectacular.generators import SchemaGenerator

from project.settings import BASE_DIR
from tests.helpers import ME_URL, TOKEN_URL, bearer, use_plain_static_storage

pytestmark = pytest.mark.django_db

AUTH_PATHS = [
    "/api/v1/auth/token/",
    "/api/v1/auth/token/refresh/",
    "/api/v1/auth/token/verify/",
    "/api/v1/auth/logout/",
    "/api/v1/auth/me/",
    "/api/v1/auth/register/",
    "/api/v1/auth/password/change/",
]
# Strings whose length is bounded by their format or by an enum.
BOUNDED_FORMATS = {"uuid", "date-time", "date", "time", "uri", "email", "ipv4", "ipv6"}


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                yield path, method, operation


def strings_without_max_length(schema: dict, node: dict, where: str) -> list[str]:
    node = resolve(schema, node)
    found = []
    for key in ("allOf", "oneOf", "anyOf"):
        for index, part in enumerate(node.get(key, [])):
            found += strings_without_max_length(schema, part, f"{where}.{key}[{index}]")
    bounded = "maxLength" in node or "enum" in node or node.get("format") in BOUNDED_FORMATS
    if node.get("type") == "string" and not bounded:
        found.append(where)
    for name, prop in node.get("properties", {}).items():
        if not prop.get("readOnly"):
            found += strings_without_max_length(schema, prop, f"{where}.{name}")
    if "items" in node:
        found += strings_without_max_length(schema, node["items"], f"{where}[]")
    if isinstance(node.get("additionalProperties"), dict):
        found += strings_without_max_length(schema, node["additionalProperties"], f"{where}{{}}")
    return found


def test_the_schema_generates_and_validates_without_warnings(tmp_path):
    output = tmp_path / "schema.yaml"

    result = subprocess.run(
        [sys.executable, "manage.py", "spectacular", "--validate", "--fail-on-warn", "--file", str(output)],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr
    assert yaml.safe_load(output.read_text())["openapi"].startswith("3.")


def test_the_schema_describes_every_auth_endpoint(schema):
    assert set(AUTH_PATHS) <= set(schema["paths"])


def unbounded_request_strings(schema: dict, path_prefix: str) -> list[str]:
    unbounded = []
    for path, method, operation in operations(schema):
        if not path.startswith(path_prefix):
            continue
        for media_type, content in operation.get("requestBody", {}).get("content", {}).items():
            unbounded += strings_without_max_length(schema, content["schema"], f"{method.upper()} {path} {media_type}")
    return unbounded


def test_every_auth_request_body_string_has_a_max_length(schema):
    assert unbounded_request_strings(schema, "/api/v1/auth/") == []


def test_every_request_body_string_has_a_max_length(schema):
    assert unbounded_request_strings(schema, "/") == []


def test_request_bodies_are_json_only(schema):
    media_types = {
        media_type
        for _, _, operation in operations(schema)
        for media_type in operation.get("requestBody", {}).get("content", {})
    }

    assert media_types <= {"application/json"}


def test_every_error_response_is_documented_as_problem_details(schema):
    wrong = []
    for path, method, operation in operations(schema):
        errors = {code: response for code, response in operation["responses"].items() if int(code) >= 400}
        if not errors:
            wrong.append(f"{method.upper()} {path}: no error responses")
        for code, response in errors.items():
            content = response.get("content", {})
            body = resolve(schema, content.get("application/problem+json", {}).get("schema", {}))
            if set(content) != {"application/problem+json"} or not {"type", "title", "status", "detail"} <= set(
                body.get("properties", {})
            ):
                wrong.append(f"{method.upper()} {path} {code}")

    assert wrong == []


def test_validation_errors_are_documented_with_their_field_list(schema):
    operation = schema["paths"]["/api/v1/auth/register/"]["post"]

    body = resolve(schema, operation["responses"]["400"]["content"]["application/problem+json"]["schema"])

    errors = resolve(schema, body["properties"]["errors"]["items"])
    assert set(errors["properties"]) == {"field", "code", "message"}


@pytest.mark.parametrize("path", AUTH_PATHS)
def test_auth_endpoints_document_401(schema, path):
    for method, operation in schema["paths"][path].items():
        if path in ("/api/v1/auth/register/",):
            continue
        assert "401" in operation["responses"], method


def test_the_bearer_scheme_is_documented_and_required_where_it_applies(schema):
    schemes = schema["components"]["securitySchemes"]
    [name] = [name for name, scheme in schemes.items() if scheme.get("scheme") == "bearer"]

    assert schemes[name] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert {name: []} in schema["paths"]["/api/v1/auth/me/"]["get"]["security"]
    sign_in_security = schema["paths"]["/api/v1/auth/token/"]["post"].get("security", [{}])
    assert all(requirement == {} for requirement in sign_in_security)


def test_no_response_schema_exposes_a_password(schema):
    exposed = []
    for path, method, operation in operations(schema):
        for code, response in operation["responses"].items():
            for content in response.get("content", {}).values():
                body = resolve(schema, content["schema"])
                if any("password" in name for name in body.get("properties", {})):
                    exposed.append(f"{method.upper()} {path} {code}")

    assert exposed == []


@pytest.mark.parametrize(
    "component", ["LogoutRequest", "PasswordChangeRequest", "PatchedUserRequest", "TokenRefreshRequest"]
)
def test_serializers_without_a_docstring_are_not_described_by_their_base_class(schema, component):
    # None of these serializers has a docstring; a description would be a base class's, meant for developers.
    assert "description" not in schema["components"]["schemas"][component]


def test_register_documents_its_403_when_registration_is_closed(schema):
    responses = schema["paths"]["/api/v1/auth/register/"]["post"]["responses"]

    assert "application/problem+json" in responses["403"]["content"]


def test_can_fetch_the_schema_over_http(api):
    response = api.get("/api/v1/schema/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    assert set(AUTH_PATHS) <= set(yaml.safe_load(response.content)["paths"])


def test_can_fetch_the_schema_as_json(api):
    response = api.get("/api/v1/schema/", {"format": "json"})

    assert response.status_code == 200
    assert "/api/v1/auth/me/" in response.json()["paths"]


def test_a_browser_reads_the_schema_in_the_page_as_text(api):
    response = api.get("/api/v1/schema/", HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Content-Disposition"].startswith("inline")
    assert "/api/v1/auth/me/" in yaml.safe_load(response.content)["paths"]


def test_a_client_asking_for_anything_still_gets_the_openapi_media_type(api):
    response = api.get("/api/v1/schema/", HTTP_ACCEPT="*/*")

    assert response["Content-Type"].startswith("application/vnd.oai.openapi")


def test_can_open_redoc_without_a_cdn(api, settings):
    use_plain_static_storage(settings)

    response = api.get("/api/v1/redoc/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "/api/v1/redoc/redoc.standalone.js" in html
    assert "googleapis" not in html
    assert "worker-src 'self' blob:" in response["Content-Security-Policy"]


def test_the_redoc_bundle_is_served_without_its_remote_logo(api):
    response = api.get("/api/v1/redoc/redoc.standalone.js")

    assert response.status_code == 200
    assert b"cdn.redoc.ly" not in response.content
    assert b"Redoc" in response.content


def test_only_the_redoc_page_may_start_a_worker(api):
    assert "worker-src" not in api.get("/api/v1/docs/")["Content-Security-Policy"]
    assert "worker-src" not in api.get("/api/v1/")["Content-Security-Policy"]


def test_can_open_the_swagger_ui_without_a_cdn(api, settings):
    use_plain_static_storage(settings)

    response = api.get("/api/v1/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert "cdn." not in html
    assert "unpkg" not in html


def test_the_swagger_ui_sidecar_assets_exist():
    import drf_spectacular_sidecar

    dist = Path(drf_spectacular_sidecar.__file__).parent / "static" / "drf_spectacular_sidecar" / "swagger-ui-dist"
    assert (dist / "swagger-ui-bundle.js").exists()


def test_can_open_the_api_root_anonymously(api):
    response = api.get("/api/v1/")

    assert response.status_code == 200
    links = response.json()
    assert links["sign_in"].endswith(TOKEN_URL)
    assert links["reference"].endswith("/api/v1/redoc/")
    assert "me" not in links  # Only what an anonymous caller may use (tests/accounts/test_browsable_api.py).


def test_a_token_from_sign_in_authorizes_a_documented_operation(api, user):
    # What "Authorize" in Swagger UI does: send the access token as a bearer credential.
    access = api.post(TOKEN_URL, {"email": "alice@example.com", "password": "correct-horse-battery-staple"}).json()[
        "access"
    ]

    assert bearer(access).get(ME_URL).status_code == 200
