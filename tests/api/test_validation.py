"""Every bad body gets a 400 problem naming the field and the reason, and writes nothing."""

import pytest

from tests.api.conftest import client_for, db_state
from tests.helpers import NUL, assert_problem, assert_validation_problem

pytestmark = pytest.mark.django_db

PROJECTS = "/api/v1/projects/"

NAME_CASES = [
    pytest.param({"name": ""}, "name", "blank", id="name empty"),
    pytest.param({"name": "   "}, "name", "blank", id="name only spaces"),
    pytest.param({"name": "n" * 121}, "name", "max_length", id="name 121 chars"),
    pytest.param({"name": None}, "name", "null", id="name null"),
    pytest.param({"name": ["Apollo"]}, "name", "invalid", id="name a list"),
    pytest.param({"name": True}, "name", "invalid", id="name a boolean"),
    pytest.param({"name": f"Apo{NUL}llo"}, "name", "null_characters_not_allowed", id="name NUL"),
    pytest.param({"name": "ok", "description": "d" * 5001}, "description", "max_length", id="description 5001"),
    pytest.param(
        {"name": "ok", "description": f"a{NUL}b"}, "description", "null_characters_not_allowed", id="desc NUL"
    ),
    pytest.param({"name": "ok", "colour": "red"}, "colour", "unknown_field", id="unknown field"),
    pytest.param({"name": "ok", "Name": "twin"}, "Name", "unknown_field", id="field names are case-sensitive"),
]

TITLE_CASES = [
    pytest.param({"title": ""}, "title", "blank", id="title empty"),
    pytest.param({"title": "t" * 201}, "title", "max_length", id="title 201 chars"),
    pytest.param({"title": None}, "title", "null", id="title null"),
    pytest.param({"title": f"a{NUL}b"}, "title", "null_characters_not_allowed", id="title NUL"),
    pytest.param({"title": "ok", "body": "b" * 100_001}, "body", "max_length", id="body 100001 chars"),
    pytest.param({"title": "ok", "body": f"a{NUL}b"}, "body", "null_characters_not_allowed", id="body NUL"),
    pytest.param({"title": "ok", "body": {"html": "<p>"}}, "body", "invalid", id="body an object"),
    pytest.param({"title": "ok", "tags": ["x"]}, "tags", "unknown_field", id="unknown field"),
]


@pytest.mark.parametrize(("body", "field", "code"), NAME_CASES)
@pytest.mark.parametrize("method", ["post", "put", "patch"])
def test_bad_project_body_is_refused(method, body, field, code, owner, project):
    client = client_for(owner)
    url = PROJECTS if method == "post" else f"{PROJECTS}{project.pk}/"
    before = db_state()

    response = getattr(client, method)(url, body, format="json")

    assert_validation_problem(response, (field, code))
    assert db_state() == before


@pytest.mark.parametrize("method", ["post", "put"])
def test_project_name_is_required(method, owner, project):
    client = client_for(owner)
    url = PROJECTS if method == "post" else f"{PROJECTS}{project.pk}/"
    before = db_state()

    response = getattr(client, method)(url, {"description": "No name."}, format="json")

    assert_validation_problem(response, ("name", "required"))
    assert db_state() == before


@pytest.mark.parametrize(("name", "description"), [("n", ""), ("n" * 120, "d" * 5000), ("Ünïcødé ✓", "Line\nbreak")])
def test_project_limits_are_inclusive(name, description, owner):
    response = client_for(owner).post(PROJECTS, {"name": name, "description": description})

    assert response.status_code == 201, response.content
    assert response.json()["name"] == name
    assert response.json()["description"] == description


@pytest.mark.parametrize(("body", "field", "code"), TITLE_CASES)
@pytest.mark.parametrize("method", ["post", "put", "patch"])
def test_bad_document_body_is_refused(method, body, field, code, owner, project, document):
    client = client_for(owner)
    url = f"{PROJECTS}{project.pk}/documents/"
    if method != "post":
        url += f"{document.pk}/"
    before = db_state()

    response = getattr(client, method)(url, body, format="json")

    assert_validation_problem(response, (field, code))
    assert db_state() == before


def test_document_limits_are_inclusive(owner, project):
    response = client_for(owner).post(f"{PROJECTS}{project.pk}/documents/", {"title": "t" * 200, "body": "b" * 100_000})

    assert response.status_code == 201, response.content
    assert len(response.json()["body"]) == 100_000


PERMISSION_CASES = [
    pytest.param({"permissions": ["admin"]}, "permissions.0", "invalid_choice", id="unknown name"),
    pytest.param({"permissions": ["view", "VIEW"]}, "permissions.1", "invalid_choice", id="names are lower case"),
    pytest.param({"permissions": ["view_project"]}, "permissions.0", "invalid_choice", id="codename"),
    pytest.param({"permissions": ["view", "view"]}, "permissions", "duplicate", id="duplicates"),
    pytest.param({"permissions": ["view", "change", "delete", "share", "view"]}, "permissions", "max_length", id="5"),
    pytest.param({"permissions": ["view"] * 1000}, "permissions", "max_length", id="1000 items"),
    pytest.param({"permissions": "view"}, "permissions", "not_a_list", id="a string"),
    pytest.param({"permissions": {"view": True}}, "permissions", "not_a_list", id="an object"),
    pytest.param({"permissions": None}, "permissions", "null", id="null"),
    pytest.param({"permissions": [None]}, "permissions.0", "null", id="null item"),
    pytest.param({"permissions": [["view"]]}, "permissions.0", "invalid_choice", id="nested list"),
    pytest.param({"permissions": [f"view{NUL}"]}, "permissions.0", "invalid_choice", id="NUL"),
    pytest.param({}, "permissions", "required", id="missing"),
    pytest.param({"permissions": ["view"], "user": "someone"}, "user", "unknown_field", id="unknown field"),
]


@pytest.mark.parametrize(("body", "field", "code"), PERMISSION_CASES)
@pytest.mark.parametrize("target", ["user", "group"])
def test_bad_permission_set_is_refused(target, body, field, code, owner, project, grantee, team):
    grantee_path = f"users/{grantee.pk}/" if target == "user" else "groups/reviewers/"
    before = db_state()

    response = client_for(owner).put(f"{PROJECTS}{project.pk}/permissions/{grantee_path}", body, format="json")

    assert_validation_problem(response, (field, code))
    assert db_state() == before


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("post", ""),
        ("patch", "{project}/"),
        ("post", "{project}/documents/"),
        ("put", "{project}/permissions/users/{grantee}/"),
    ],
)
@pytest.mark.parametrize(
    ("raw", "content_type", "status", "code"),
    [
        ('{"name": "x",', "application/json", 400, "parse_error"),
        ("[]", "application/json", 400, "validation_error"),
        ('"just a string"', "application/json", 400, "validation_error"),
        ("name=x", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        ("<name>x</name>", "application/xml", 415, "unsupported_media_type"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_refused(
    method, url, raw, content_type, status, code, owner, project, grantee
):
    url = PROJECTS + url.format(project=project.pk, grantee=grantee.pk)
    before = db_state()

    response = getattr(client_for(owner), method)(url, raw, content_type=content_type)

    assert_problem(response, status, code)
    assert db_state() == before
