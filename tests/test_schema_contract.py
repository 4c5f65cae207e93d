"""The schema and the server say the same thing: every query parameter and body field the schema
declares carries the bounds its validator enforces, the server accepts what the schema allows and
refuses what it does not, operations are named by one rule, and routes keep the method and
trailing-slash rules the schema's description states."""

import re

import django_filters
import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework import serializers

from accounts import roles

# Refuses a malformed address with sign-in's one 401, not a 400: still a refusal, as `format` says.
from accounts.serializers import SignInEmailField
from api import services
from api.filters import SafeOrderingFilter
from project.query_params import EMPTY_ALLOWED, QUERY_VALUE_MAX, accepted_query_params
from project.schema import NAME_PARAMETERS, OPERATION_IDS, VERBS
from project.serializers import StrictFieldsMixin
from tests.api.conftest import client_for
from tests.helpers import TOKEN_URL, assert_problem

pytestmark = pytest.mark.django_db

METHODS = {"get", "post", "put", "patch", "delete"}
# DRF's renderer override (`?format=json`), accepted everywhere and left out of the schema on
# purpose: clients choose the media type with Accept.
UNDOCUMENTED_QUERY = {"format"}
FILTER_FORMATS = {django_filters.UUIDFilter: "uuid", django_filters.IsoDateTimeFilter: "date-time"}


@pytest.fixture(scope="module")
def generated() -> tuple[SchemaGenerator, dict]:
    generator = SchemaGenerator()
    return generator, generator.get_schema(request=None, public=True)


@pytest.fixture(scope="module")
def schema(generated) -> dict:
    return generated[1]


def operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def views(schema: dict):
    """(path, method, view) of every documented operation, as the schema generator sees them."""
    generator = SchemaGenerator()
    generator._initialise_endpoints()
    for path, _, method, view in generator._get_paths_and_endpoints():
        if method.lower() in schema["paths"].get(path, {}):
            yield path, method.lower(), view


def query_parameters(operation: dict) -> dict[str, dict]:
    return {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "query"}


def resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


# --- Names and descriptions ------------------------------------------------------------------------


def test_operation_ids_are_unique_camel_case_verbs(schema):
    ids = [operation["operationId"] for _, _, operation in operations(schema)]
    verbs = ("list", "get", *VERBS.values())
    named = {*OPERATION_IDS.values(), "getSigningKeys"}

    assert len(ids) == len(set(ids))
    assert [i for i in ids if not re.fullmatch(r"[a-z]+(?:[A-Z][a-z]*)+|register", i)] == []
    assert [i for i in ids if i not in named and not re.match(rf"({'|'.join(verbs)})[A-Z]", i)] == []


def test_can_name_the_obvious_operations_by_the_rule(schema):
    ids = {(method, path): operation["operationId"] for path, method, operation in operations(schema)}

    assert ids[("get", "/api/v1/projects/")] == "listProjects"
    assert ids[("get", "/api/v1/projects/{id}/")] == "getProject"
    assert ids[("put", "/api/v1/projects/{id}/")] == "updateProject"
    assert ids[("patch", "/api/v1/projects/{id}/")] == "partialUpdateProject"
    assert ids[("patch", "/api/v1/auth/me/")] == "updateMe"  # No PUT: the partial update is the update.
    assert ids[("get", "/api/v1/audit-events/")] == "listAuditEvents"
    assert ids[("post", "/api/v1/auth/token/")] == "signIn"


def test_every_operation_has_a_tag_and_a_description(schema):
    missing = [
        f"{method.upper()} {path}"
        for path, method, operation in operations(schema)
        if not operation.get("tags") or not operation.get("description", "").strip()
    ]

    assert missing == []


def test_enums_have_names_and_none_is_generic(schema):
    names = [name for name, component in schema["components"]["schemas"].items() if "enum" in component]

    assert names
    assert [name for name in names if name.endswith("Enum")] == []


# --- Path parameters -------------------------------------------------------------------------------


def test_every_path_id_is_a_uuid_and_every_name_is_bounded(schema):
    wrong = []
    for path, method, operation in operations(schema):
        for parameter in operation.get("parameters", []):
            if parameter["in"] != "path":
                continue
            expected = (
                {"type": "string", "minLength": 1, "maxLength": NAME_PARAMETERS[parameter["name"]]}
                if parameter["name"] in NAME_PARAMETERS
                else {"type": "string", "format": "uuid"}
            )
            if parameter["schema"] != expected:
                wrong.append(f"{method.upper()} {path} {parameter['name']}: {parameter['schema']}")

    assert wrong == []


# --- Query parameters ------------------------------------------------------------------------------


def test_the_schema_declares_exactly_the_query_parameters_the_server_accepts(schema):
    mismatched = []
    for path, method, view in views(schema):
        declared = set(query_parameters(schema["paths"][path][method]))
        accepted = accepted_query_params(type(view), getattr(view, "action", None)) - UNDOCUMENTED_QUERY
        if declared != accepted:
            mismatched.append(f"{method.upper()} {path}: schema {sorted(declared)}, server {sorted(accepted)}")

    assert mismatched == []


def test_query_parameters_carry_their_validators_bounds(schema):
    wrong = []
    for path, method, view in views(schema):
        parameters = query_parameters(schema["paths"][path][method])
        paginator = getattr(view, "pagination_class", None)
        filterset = getattr(view, "filterset_class", None)
        for name, parameter in parameters.items():
            bounds = parameter["schema"]
            expected: dict = {}
            if paginator and name == paginator.page_size_query_param:
                expected = {"type": "integer", "minimum": 1, "maximum": paginator.max_page_size}
            elif name == SafeOrderingFilter.ordering_param and SafeOrderingFilter in view.filter_backends:
                expected = {"type": "string", "enum": SafeOrderingFilter().choices(view)}
            elif filterset and name in filterset.base_filters:
                declared = filterset.base_filters[name]
                if isinstance(declared, django_filters.MultipleChoiceFilter):
                    expected = {
                        "type": "array",
                        "items": {"type": "string", "enum": sorted(value for value, _ in declared.extra["choices"])},
                    }
                    bounds = {**bounds, "items": {**bounds["items"], "enum": sorted(bounds["items"]["enum"])}}
                elif isinstance(declared, tuple(FILTER_FORMATS)):
                    formats = [f for kind, f in FILTER_FORMATS.items() if isinstance(declared, kind)]
                    expected = {"type": "string", "format": formats[0]}
                else:
                    expected = {"type": "string", "minLength": 1, "maxLength": declared.extra["max_length"]}
            else:
                expected = {
                    "type": "string",
                    **({} if name in EMPTY_ALLOWED else {"minLength": 1}),
                    "maxLength": min(bounds.get("maxLength", QUERY_VALUE_MAX), QUERY_VALUE_MAX),
                }
            if {key: bounds.get(key) for key in expected} != expected:
                wrong.append(f"{method.upper()} {path} {name}: schema {bounds}, expected {expected}")

    assert wrong == []


@pytest.fixture
def lists(make_user) -> tuple:
    """Every list operation's URL, signed in as an admin who owns a project."""
    admin = make_user("admin@example.com")
    admin.groups.add(roles.role_groups()[roles.ADMIN])
    project = services.project_create(owner=admin, name="Apollo")
    return client_for(admin), project


def list_urls(schema: dict, project) -> dict[str, dict]:
    return {
        path.replace("{project_pk}", str(project.pk)): query_parameters(item["get"])
        for path, item in schema["paths"].items()
        if "get" in item and "{id}" not in path and "page_size" in query_parameters(item["get"])
    }


def test_can_use_every_bound_the_schema_allows(schema, lists):
    client, project = lists
    refused = []
    for url, parameters in list_urls(schema, project).items():
        maximum = parameters["page_size"]["schema"]["maximum"]
        tries = [{"page_size": 1}, {"page_size": maximum}, {"cursor": "bz0x"}]
        if "ordering" in parameters:
            tries += [{"ordering": choice} for choice in parameters["ordering"]["schema"]["enum"]]
        if "search" in parameters:
            tries += [{"search": ""}, {"search": "x" * parameters["search"]["schema"]["maxLength"]}]
        for query in tries:
            if client.get(url, query).status_code != 200:
                refused.append(f"{url} {query}")

    assert refused == []


def test_cannot_go_past_any_bound_the_schema_sets(schema, lists):
    client, project = lists
    accepted = []
    for url, parameters in list_urls(schema, project).items():
        maximum = parameters["page_size"]["schema"]["maximum"]
        tries = [{"page_size": 0}, {"page_size": maximum + 1}, {"cursor": ""}]
        if "ordering" in parameters:
            tries += [{"ordering": "id"}, {"ordering": "name,created_at"}, {"ordering": ""}]
        if "search" in parameters:
            tries += [{"search": "x" * (parameters["search"]["schema"]["maxLength"] + 1)}]
        for query in tries:
            if client.get(url, query).status_code != 400:
                accepted.append(f"{url} {query}")

    assert accepted == []


# --- Request bodies --------------------------------------------------------------------------------


def field_expectations(field: serializers.Field) -> dict:
    """What the schema must say of a writable serializer field, from the field's own validation."""
    if isinstance(field, serializers.ChoiceField):
        return {"enum": sorted(str(choice) for choice in field.choices)}
    if isinstance(field, serializers.ListField):
        return {"type": "array", "maxItems": field.max_length, "items": field_expectations(field.child)}
    if isinstance(field, serializers.BooleanField):
        return {"type": "boolean"}
    if isinstance(field, serializers.IntegerField):
        return {"type": "integer", "minimum": field.min_value, "maximum": field.max_value}
    if isinstance(field, serializers.UUIDField):
        return {"type": "string", "format": "uuid"}
    if isinstance(field, serializers.CharField):
        expected = {"type": "string", "maxLength": field.max_length}
        if isinstance(field, serializers.EmailField | SignInEmailField):
            expected["format"] = "email"
        if field.min_length or not field.allow_blank:
            expected["minLength"] = field.min_length or 1
        return expected
    raise AssertionError(f"no rule for {type(field).__name__}: add one")


def described(schema: dict, node: dict) -> dict:
    node = resolve(schema, node)
    if "allOf" in node:
        node = resolve(schema, node["allOf"][0])
    said = {key: node.get(key) for key in ("type", "format", "minLength", "maxLength", "minimum", "maximum")}
    if "enum" in node:
        said["enum"] = sorted(str(value) for value in node["enum"])
    if node.get("type") == "array":
        said["maxItems"] = node.get("maxItems")
        said["items"] = described(schema, node["items"])
    return said


def narrowed(said: dict, expected: dict) -> dict:
    """What the schema says, on the keys the serializer has something to say about."""
    return {
        key: narrowed(said.get(key) or {}, value) if key == "items" else said.get(key)
        for key, value in expected.items()
    }


def test_request_body_fields_carry_their_serializers_bounds(generated):
    generator, schema = generated
    wrong = []
    for (name, kind), component in generator.registry._components.items():
        if kind != "schemas" or not name.endswith("Request"):
            continue
        serializer = component.object
        body = schema["components"]["schemas"][name]
        if (body.get("additionalProperties") is False) != isinstance(serializer, StrictFieldsMixin):
            wrong.append(f"{name}: additionalProperties {body.get('additionalProperties')}")
        if not name.startswith("Patched"):
            required = {field_name for field_name, field in serializer.fields.items() if field.required}
            if set(body.get("required", [])) != required:
                wrong.append(f"{name}: required {body.get('required')}, serializer {sorted(required)}")
        for field_name, field in serializer.fields.items():
            if field.read_only:
                continue
            expected = field_expectations(field)
            said = narrowed(described(schema, body["properties"][field_name]), expected)
            if said != expected:
                wrong.append(f"{name}.{field_name}: schema {said}, serializer {expected}")

    assert wrong == []


# --- Methods and slashes ---------------------------------------------------------------------------


def test_an_undeclared_method_is_a_405_whatever_the_query(lists):
    client, project = lists

    for url in ("/api/v1/projects/?cursor=", "/api/v1/projects/?nope=1", f"/api/v1/projects/{project.pk}/?page_size=0"):
        response = client.generic("TRACE", url)
        assert_problem(response, 405, "method_not_allowed")


def test_a_declared_method_still_has_its_query_judged(lists):
    client, _ = lists

    assert_problem(client.get("/api/v1/projects/?cursor="), 400, "validation_error")


def test_cannot_post_to_a_route_without_its_slash_and_have_it_turned_into_a_get(api, user):
    response = api.post(TOKEN_URL.rstrip("/"), {"email": "alice@example.com", "password": "x"}, format="json")

    body = assert_problem(response, 404, "not_found")
    assert TOKEN_URL in body["detail"]
    assert "Location" not in response


def test_a_get_without_the_slash_names_the_url_with_it_and_keeps_the_query(api):
    response = api.get("/api/v1/projects?search=x")

    body = assert_problem(response, 404, "not_found")
    assert "/api/v1/projects/?search=x" in body["detail"]


def test_can_still_reach_the_admin_without_its_slash(client):
    # Outside /api/ Django's APPEND_SLASH redirect is kept: browsers follow it with GET anyway.
    response = client.get("/admin")

    assert response.status_code == 301
    assert response["Location"] == "/admin/"


def test_an_unknown_address_without_a_slash_is_a_plain_404(api):
    body = assert_problem(api.get("/api/v1/nothing-here"), 404, "not_found")

    assert body["detail"] == "There is nothing at this address."


def test_no_component_has_a_property_named_like_itself(schema):
    # openapi-python-client names a model's local variable after the model (`recovery_codes` for
    # RecoveryCodes): a property of that name shadows it and the generated client fails to type-check.
    clashes = []
    for name, component in schema["components"]["schemas"].items():
        own = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
        if own in component.get("properties", {}):
            clashes.append(f"{name}.{own}")

    assert clashes == []
