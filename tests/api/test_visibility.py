"""What a caller can learn about objects they may not view: nothing, through any list, search,
ordering, page or address."""

import base64
from unittest import mock
from urllib.parse import unquote, urlencode

import pytest
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.models import User
from accounts.roles import EDITOR, VIEWER
from api import services
from api.models import Project
from tests.api.conftest import bulk_projects, client_for, grant
from tests.helpers import NUL, assert_problem, assert_validation_problem, without_request_id

pytestmark = pytest.mark.django_db

PROJECTS = "/api/v1/projects/"
NO_SUCH_ID = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
def reader(make_member) -> User:
    return make_member("reader@example.com", VIEWER)


@pytest.fixture
def scene(owner, make_member, reader):
    """Six projects with names and descriptions that sort differently from creation order,
    owned by users whose passwords and emails sort differently again. The reader sees three:
    two shared with them directly, one through a group; the other three are invisible."""
    other_owner = make_member("aaa-owner@example.com", EDITOR)
    group = Group.objects.create(name="readers")
    reader.groups.add(group)
    specs = [
        # name, description, owner, shared with
        ("Moon visible", "zzz", owner, reader),
        ("Moon hidden", "aaa", other_owner, None),
        ("Apple visible", "mmm", other_owner, group),
        ("Apple hidden", "bbb", owner, None),
        ("Zebra visible", "ccc", owner, reader),
        ("Zebra hidden", "yyy", other_owner, None),
    ]
    projects = {}
    for name, description, project_owner, shared_with in specs:
        project = services.project_create(owner=project_owner, name=name, description=description)
        if shared_with is not None:
            grant(shared_with, project)
        projects[name] = project
    # Passwords that sort the other way round from the owners' emails.
    User.objects.filter(pk=owner.pk).update(password=make_password("a" * 20))
    User.objects.filter(pk=other_owner.pk).update(password=make_password("z" * 20))
    return projects


def names(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["name"] for item in response.json()["results"]]


def cursor(**tokens) -> str:
    return base64.b64encode(urlencode(tokens).encode()).decode()


def walk(client, url: str) -> list[str]:
    """Follow `next` links from `url` to the end; the ids of every page, in order."""
    ids: list[str] = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        ids.extend(item["id"] for item in body["results"])
        url = body["next"]
    return ids


# --- Lists, search and ordering --------------------------------------------------------------------

VISIBLE_BY_CREATION = ["Zebra visible", "Apple visible", "Moon visible"]  # Newest first.


def test_list_shows_only_visible_projects(scene, reader):
    assert names(client_for(reader).get(PROJECTS)) == VISIBLE_BY_CREATION


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("hidden", []),
        ("Moon", ["Moon visible"]),
        ("apple", ["Apple visible"]),
        ("e", VISIBLE_BY_CREATION),
        # Only `name` is searchable: descriptions and owners' emails are not.
        ("aaa", []),
        ("zzz", []),
        ("example.com", []),
    ],
)
def test_search_finds_only_visible_projects(term, expected, scene, reader):
    assert names(client_for(reader).get(PROJECTS, {"search": term})) == expected


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("name", ["Apple visible", "Moon visible", "Zebra visible"]),
        ("-name", ["Zebra visible", "Moon visible", "Apple visible"]),
        ("created_at", ["Moon visible", "Apple visible", "Zebra visible"]),
        ("-created_at", VISIBLE_BY_CREATION),
        ("-updated_at", VISIBLE_BY_CREATION),
    ],
)
def test_ordering_on_declared_fields_orders_only_visible_projects(ordering, expected, scene, reader):
    assert names(client_for(reader).get(PROJECTS, {"ordering": ordering})) == expected


@pytest.mark.parametrize(
    "ordering",
    [
        "owner__password",
        "-owner__password",
        "owner__email",
        "owner",
        "description",
        "-description",
        "id",
        "permissions",
        "name__len",
        "?",
        "-",
        ",",
    ],
)
def test_ordering_on_undeclared_fields_is_refused(ordering, scene, reader):
    # Were any of these applied, the order would differ from the default one: it is a 400 instead.
    assert_validation_problem(client_for(reader).get(PROJECTS, {"ordering": ordering}), ("ordering", "invalid"))


def test_admin_ordering_by_an_owners_password_is_refused_too(scene, admin):
    for ordering in ("owner__password", "-owner__password"):
        response = client_for(admin).get(PROJECTS, {"ordering": ordering})
        assert_validation_problem(response, ("ordering", "invalid"))


@pytest.mark.parametrize("param", ["search", "ordering", "page_size", "cursor"])
def test_list_parameter_with_a_nul_character_is_a_clear_400(param, scene, reader):
    assert_validation_problem(client_for(reader).get(PROJECTS, {param: f"name{NUL}"}), (param, "null_characters"))


@pytest.mark.parametrize("param", ["ordering", "page_size", "cursor"])
def test_empty_list_parameter_is_a_clear_400(param, scene, reader):
    assert_validation_problem(client_for(reader).get(f"{PROJECTS}?{param}="), (param, "blank"))


def test_empty_search_lists_every_visible_project(scene, reader):
    assert names(client_for(reader).get(f"{PROJECTS}?search=")) == VISIBLE_BY_CREATION


def test_undeclared_list_parameter_is_a_clear_400(scene, reader):
    # Filtering by owner (or anything else) is not offered, so it cannot probe invisible rows.
    response = client_for(reader).get(PROJECTS, {"owner": "x", "description__contains": "zzz"})

    assert_validation_problem(response, ("owner", "unknown_parameter"), ("description__contains", "unknown_parameter"))


def test_document_lists_search_and_order_within_their_project_only(owner, project, other_project, reader):
    grant(reader, project)
    for title in ("Beta", "alpha"):
        services.document_create(project=project, created_by=owner, title=title)
    services.document_create(project=other_project, created_by=owner, title="Alpha secret")
    client = client_for(reader)
    url = f"{PROJECTS}{project.pk}/documents/"

    titles = [d["title"] for d in client.get(url, {"search": "alpha", "ordering": "title"}).json()["results"]]
    everything = [d["title"] for d in client.get(url).json()["results"]]

    assert titles == ["alpha"]
    assert everything == ["alpha", "Beta"]  # Newest first.
    assert_validation_problem(client.get(url, {"ordering": "-body"}), ("ordering", "invalid"))  # Not offered.
    assert_problem(client.get(f"{PROJECTS}{other_project.pk}/documents/", {"search": "Alpha"}), 404)


# --- Pages -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("asked", "served"), [("100", 100), ("7", 7), ("1", 1)])
def test_page_size_from_1_to_100_is_served(asked, served, owner, reader):
    bulk_projects(owner, 105, readers=(reader,))

    body = client_for(reader).get(PROJECTS, {"page_size": asked}).json()

    assert len(body["results"]) == served
    assert body["next"]


@pytest.mark.parametrize("asked", ["0", "-1", "abc", "1e3", "null", "101", "1000", "\u0661"])
def test_bad_page_size_is_a_400_not_a_silent_default(asked, owner, reader):
    bulk_projects(owner, 25, readers=(reader,))

    response = client_for(reader).get(PROJECTS, {"page_size": asked})

    assert_validation_problem(response, ("page_size", "invalid"))


@pytest.mark.parametrize("ordering", [None, "name", "-name", "created_at", "-updated_at"])
def test_cursor_pages_walk_every_visible_project_exactly_once(ordering, owner, reader, make_member):
    group = Group.objects.create(name="readers")
    reader.groups.add(group)
    # Many equal names and equal timestamps: the cursor's position alone cannot tell them apart.
    # Twelve created in the same instant (made at creation: no door ever changes created_at).
    with mock.patch("django.utils.timezone.now", return_value=timezone.now()):
        direct = bulk_projects(owner, 12, name="Same name", readers=(reader,))
    direct += bulk_projects(owner, 11, name="Same name", readers=(reader,))
    via_group = bulk_projects(owner, 11, name="Group {i:03}", readers=(group,))
    bulk_projects(owner, 30, name="Same name")  # Invisible to the reader.
    assert len({p.created_at for p in direct[:12]}) == 1
    query = {"page_size": 5, **({"ordering": ordering} if ordering else {})}

    ids = walk(client_for(reader), f"{PROJECTS}?{urlencode(query)}")

    assert len(ids) == len(set(ids)) == 34
    assert set(ids) == {str(p.pk) for p in direct + via_group}


def test_previous_links_walk_back_over_the_same_projects(owner, reader):
    bulk_projects(owner, 12, readers=(reader,))
    bulk_projects(owner, 5)  # Invisible.
    client = client_for(reader)
    forward = walk(client, f"{PROJECTS}?page_size=5")
    last = client.get(f"{PROJECTS}?page_size=5").json()
    while last["next"]:
        last = client.get(last["next"]).json()

    backward: list[str] = [item["id"] for item in last["results"]]
    url = last["previous"]
    while url:
        page = client.get(url).json()
        backward = [item["id"] for item in page["results"]] + backward
        url = page["previous"]

    assert backward == forward
    assert len(forward) == 12


@pytest.mark.parametrize(
    "tampered",
    [
        "not base64!",
        cursor(p="garbage"),
        cursor(p="2026-01-01 00:00:00"),  # Naive: never issued by the API.
        cursor(p=f"2026-01-01 00:00:00+00:00{NUL}"),
        cursor(o="-1"),
        cursor(o="x"),
        cursor(r="x"),
    ],
)
@pytest.mark.parametrize("ordering", ["-created_at", "updated_at"])
def test_tampered_cursor_is_400_not_500(tampered, ordering, scene, reader):
    response = client_for(reader).get(PROJECTS, {"cursor": tampered, "ordering": ordering})

    assert_validation_problem(response, ("cursor", "invalid"))


@pytest.mark.parametrize("url", [PROJECTS + "?ordering=name&", "/api/v1/users/?"])
def test_nul_inside_a_text_cursor_is_400_not_500(url, scene, reader, admin):
    # Base64 hides the NUL from the query-parameter check; PostgreSQL would refuse it.
    response = client_for(admin).get(url + urlencode({"cursor": cursor(p=f"Moon{NUL}")}))

    assert_validation_problem(response, ("cursor", "invalid"))


def test_a_cursor_cannot_step_outside_the_visible_projects(scene, reader):
    # A cursor positioned at a hidden project's name still pages over visible ones only.
    response = client_for(reader).get(PROJECTS, {"cursor": cursor(p="Apple hidden"), "ordering": "name"})

    assert names(response) == ["Apple visible", "Moon visible", "Zebra visible"]


# --- Details ---------------------------------------------------------------------------------------


INVISIBLE_ADDRESSES = [
    ("get", "{project}/"),
    ("put", "{project}/"),
    ("patch", "{project}/"),
    ("delete", "{project}/"),
    ("get", "{project}/documents/"),
    ("post", "{project}/documents/"),
    ("get", "{project}/documents/{document}/"),
    ("patch", "{project}/documents/{document}/"),
    ("delete", "{project}/documents/{document}/"),
    ("get", "{project}/permissions/"),
    ("put", "{project}/permissions/users/{user}/"),
    ("delete", "{project}/permissions/groups/readers/"),
]


@pytest.mark.parametrize(("method", "address"), INVISIBLE_ADDRESSES)
def test_invisible_project_looks_exactly_like_a_missing_one(method, address, owner, project, document, reader):
    Group.objects.create(name="readers")
    client = client_for(reader)
    body = {"name": "x", "title": "x", "permissions": ["view"]}

    def call(project_id: str, document_id: str):
        url = PROJECTS + address.format(project=project_id, document=document_id, user=owner.pk)
        return getattr(client, method)(url, None if method == "get" else body, format="json")

    hidden = call(project.pk, document.pk)
    missing = call(NO_SUCH_ID, NO_SUCH_ID)

    assert without_request_id(assert_problem(hidden, 404)) == without_request_id(assert_problem(missing, 404))
    assert Project.objects.get(pk=project.pk).name == "Apollo"


def test_missing_document_in_a_visible_project_is_404(owner, project):
    response = client_for(owner).get(f"{PROJECTS}{project.pk}/documents/{NO_SUCH_ID}/")

    assert_problem(response, 404, "not_found")


@pytest.mark.parametrize(
    "address",
    [
        "projects/not-a-uuid/",
        "projects/1/",
        "projects/0/",
        "projects/-1/",
        "projects/%00/",
        "projects/..%2F/",
        "projects/" + "a" * 5000 + "/",
        "projects/00000000-0000-0000-0000-00000000000g/",
        "projects/00000000-0000-0000-0000-0000000000000/",
        "projects/{project}x/",
        "projects/{project}/documents/not-a-uuid/",
        "projects/{project}/documents/%00/",
        "projects/not-a-uuid/documents/",
        "projects/not-a-uuid/permissions/",
        "projects/{project}/permissions/users/not-a-uuid/",
        "projects/{project}/permissions/users/%00/",
        "projects/{project}/permissions/groups/%00/",
        "projects/{project}/permissions/groups/" + "g" * 300 + "/",
        "users/not-a-uuid/",
        "users/%00/",
    ],
)
@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_malformed_ids_are_404_never_500(method, address, admin, project, owner):
    # The admin may do anything, so only the malformed address can stop the request.
    url = "/api/v1/" + address.format(project=project.pk)

    body = None if method == "get" else {"permissions": ["view"]}

    response = getattr(client_for(admin), method)(url, body, format="json")

    if NUL in unquote(address):
        assert_problem(response, 400, "bad_request")  # Refused before routing.
    elif method == "get" and "/groups/" not in address:  # A group name is any text: GET is 405 there.
        assert_problem(response, 404, "not_found")
    else:
        # 405 where the pattern matched a route without this method, e.g. PUT users/{id}.
        assert response.status_code in (404, 405), response.content
        assert response["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize("form", [str.upper, lambda pk: pk.replace("-", "")])
def test_other_spellings_of_a_project_id_reach_the_same_project(form, owner, project):
    response = client_for(owner).get(f"{PROJECTS}{form(str(project.pk))}/")

    assert response.status_code == 200
    assert response.json()["id"] == str(project.pk)


def test_unmapped_method_on_documents_is_405_not_500(owner, project):
    response = client_for(owner).generic("TRACE", f"{PROJECTS}{project.pk}/documents/")

    assert_problem(response, 405, "method_not_allowed")


@pytest.mark.parametrize("address", ["{project}/", "{project}/documents/", "{project}/documents/{document}/"])
@pytest.mark.parametrize("method", ["options", "head"])
def test_options_and_head_tell_nothing_about_an_invisible_project(method, address, project, document, reader):
    client = client_for(reader)

    def call(project_id, document_id):
        return getattr(client, method)(PROJECTS + address.format(project=project_id, document=document_id))

    hidden, missing = call(project.pk, document.pk), call(NO_SUCH_ID, NO_SUCH_ID)

    assert hidden.status_code == missing.status_code
    if hidden.content:
        assert without_request_id(hidden.json()) == without_request_id(missing.json())
