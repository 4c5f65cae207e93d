"""OWASP API1:2023 Broken Object Level Authorization.

Mallory is an ordinary editor with a project of her own. She takes every object id she can come by
(the owner's project, document and session, other users' ids, ids of deleted objects, ids she
guesses) and tries each on every verb of every route that takes an id. Each attempt must be refused
with the same 404 problem as an id that never existed, so that she cannot even learn what exists,
and must change nothing. Lists, search, ordering and cursors must never show her anything she
cannot open.
"""

import base64
import uuid
from urllib.parse import parse_qs, urlencode, urlparse

import pytest

from accounts import services as account_services
from accounts.models import AuthSession
from api import services
from api.models import Document, Project
from tests.api.conftest import bulk_projects, client_for, grant
from tests.helpers import assert_problem, assert_validation_problem, without_request_id
from tests.security.probes import NO_SUCH_ID, world

pytestmark = pytest.mark.django_db

PROJECTS = "/api/v1/projects/"
BODY = {"name": "Mallory was here", "title": "Mallory was here", "body": "x", "permissions": ["view", "share"]}

# Every route that takes a project id, with each verb, as Mallory would address the owner's objects.
# {project}, {document}, {user} are the victim's; {me} is Mallory herself.
OBJECT_ROUTES = [
    ("get", "{project}/"),
    ("head", "{project}/"),
    ("put", "{project}/"),
    ("patch", "{project}/"),
    ("delete", "{project}/"),
    ("get", "{project}/documents/"),
    ("post", "{project}/documents/"),
    ("get", "{project}/documents/{document}/"),
    ("head", "{project}/documents/{document}/"),
    ("put", "{project}/documents/{document}/"),
    ("patch", "{project}/documents/{document}/"),
    ("delete", "{project}/documents/{document}/"),
    ("options", "{project}/documents/{document}/"),
    ("get", "{project}/permissions/"),
    ("put", "{project}/permissions/users/{me}/"),  # Sharing the project with herself.
    ("put", "{project}/permissions/users/{user}/"),
    ("delete", "{project}/permissions/users/{user}/"),
    ("put", "{project}/permissions/groups/editor/"),
    ("delete", "{project}/permissions/groups/editor/"),
]


def send(client, method: str, url: str):
    if method in ("get", "head", "options", "delete"):
        return getattr(client, method)(url)
    return getattr(client, method)(url, BODY, format="json")


def address(route: str, *, project, document, user, me) -> str:
    return PROJECTS + route.format(project=project, document=document, user=user, me=me)


def assert_hidden(response, missing) -> None:
    """The answer for a real object equals the answer for an id that does not exist (but the request id):
    a 404 problem, or for OPTIONS on a project she can see, the same description and no more."""
    method = response.request["REQUEST_METHOD"]
    assert response.status_code == missing.status_code, response.content
    if method == "HEAD":
        return
    if not (method == "OPTIONS" and response.status_code == 200):
        assert_problem(response, 404, "not_found")
    assert without_request_id(response.json()) == without_request_id(missing.json())


@pytest.fixture
def victim(owner, project, document, make_member):
    """The owner's project shared with a colleague, so that there is a grant to steal or revoke."""
    colleague = make_member("colleague@example.com", "viewer")
    grant(colleague, project, "change")
    return colleague


@pytest.mark.parametrize(("method", "route"), OBJECT_ROUTES, ids=[f"{m}-{r}" for m, r in OBJECT_ROUTES])
def test_cannot_reach_another_users_objects_by_their_ids(method, route, victim, project, document, mallory):
    client = client_for(mallory)
    before = world()

    response = send(
        client, method, address(route, project=project.pk, document=document.pk, user=victim.pk, me=mallory.pk)
    )
    missing = send(
        client, method, address(route, project=NO_SUCH_ID, document=NO_SUCH_ID, user=victim.pk, me=mallory.pk)
    )

    assert_hidden(response, missing)
    assert world() == before


DOCUMENT_ROUTES = [(method, route) for method, route in OBJECT_ROUTES if "{document}" in route]


@pytest.mark.parametrize(("method", "route"), DOCUMENT_ROUTES, ids=[f"{m}-{r}" for m, r in DOCUMENT_ROUTES])
def test_cannot_reach_another_users_document_through_a_project_of_her_own(
    method, route, victim, project, document, mallory, mallorys_project
):
    # Parent-child confusion: her own project in the URL, where she holds every permission, and the
    # owner's document after it. A document exists only under its own project.
    client = client_for(mallory)
    before = world()

    response = send(
        client, method, address(route, project=mallorys_project.pk, document=document.pk, user=victim.pk, me=mallory.pk)
    )
    missing = send(
        client, method, address(route, project=mallorys_project.pk, document=NO_SUCH_ID, user=victim.pk, me=mallory.pk)
    )

    assert_hidden(response, missing)
    assert world() == before


def guessed_ids(project: Project) -> dict[str, str]:
    neighbour = f"{project.pk.hex[:-1]}{(int(project.pk.hex[-1], 16) + 1) % 16:x}"
    return {
        "random-uuid4": str(uuid.uuid4()),
        "nil-uuid": NO_SUCH_ID,
        "max-uuid": "ffffffff-ffff-ffff-ffff-ffffffffffff",
        "sequential-1": "00000000-0000-0000-0000-000000000001",
        "sequential-2": "00000000-0000-0000-0000-000000000002",
        "neighbour-of-a-real-id": str(uuid.UUID(neighbour)),
        "uuid1-now": str(uuid.uuid1()),
    }


@pytest.mark.parametrize(
    "guess",
    ["random-uuid4", "nil-uuid", "max-uuid", "sequential-1", "sequential-2", "neighbour-of-a-real-id", "uuid1-now"],
)
def test_guessed_ids_find_nothing(guess, project, document, mallory, mallorys_project):
    client = client_for(mallory)
    guessed = guessed_ids(project)[guess]
    before = world()

    for method in ("get", "patch", "delete"):
        for url in (
            f"{PROJECTS}{guessed}/",
            f"{PROJECTS}{guessed}/documents/",
            f"{PROJECTS}{mallorys_project.pk}/documents/{guessed}/",
        ):
            assert_problem(send(client, method, url), 404, "not_found")

    assert world() == before


@pytest.mark.parametrize("guess", ["1", "0", "-1", "2147483648", "1.0", "null", "%00", "..", "*"])
def test_integer_and_junk_ids_are_refused_like_missing_ones(guess, mallory):
    client = client_for(mallory)

    for url in (f"{PROJECTS}{guess}/", f"{PROJECTS}{guess}/documents/", f"/api/v1/auth/sessions/{guess}/"):
        response = client.get(url)
        assert response.status_code in (400, 404), url
        assert_problem(response, response.status_code)


def test_ids_of_deleted_objects_stay_gone_for_everyone(owner, project, document, victim, mallory, admin):
    # The owner deletes a document, then the project; its former readers, the owner, an admin and
    # Mallory all find nothing at the old addresses, and the old grants do not come back.
    assert client_for(owner).delete(f"{PROJECTS}{project.pk}/documents/{document.pk}/").status_code == 204
    assert client_for(owner).delete(f"{PROJECTS}{project.pk}/").status_code == 204

    for caller in (owner, victim, admin, mallory):
        client = client_for(caller)
        for method in ("get", "put", "patch", "delete"):
            assert_problem(send(client, method, f"{PROJECTS}{project.pk}/"), 404, "not_found")
            assert_problem(send(client, method, f"{PROJECTS}{project.pk}/documents/{document.pk}/"), 404, "not_found")
        assert_problem(client.put(f"{PROJECTS}{project.pk}/permissions/users/{mallory.pk}/", BODY), 404, "not_found")
    assert not Project.objects.filter(pk=project.pk).exists()
    assert not Document.objects.filter(pk=document.pk).exists()


def test_a_deleted_users_id_cannot_be_shared_with(owner, project, make_member):
    gone = make_member("gone@example.com", "viewer")
    gone_id = gone.pk
    gone.delete()
    client = client_for(owner)
    before = world()

    response = client.put(f"{PROJECTS}{project.pk}/permissions/users/{gone_id}/", {"permissions": ["view"]})

    assert_problem(response, 404, "not_found")
    assert world() == before


# --- sessions and users ------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["delete", "get", "put", "patch"])
def test_cannot_touch_another_users_session(method, owner, mallory):
    victims = account_services.session_start(user=owner, ip_address="192.0.2.1", user_agent="victim")
    client = client_for(mallory)
    before = world()

    response = send(client, method, f"/api/v1/auth/sessions/{victims.session.pk}/")
    missing = send(client, method, f"/api/v1/auth/sessions/{NO_SUCH_ID}/")

    if method == "delete":
        assert_hidden(response, missing)
    else:  # Sessions are listed and revoked, never read or written one by one.
        assert_problem(response, 405, "method_not_allowed")
    assert world() == before
    assert AuthSession.objects.get(pk=victims.session.pk).is_active


def test_session_list_shows_only_the_callers_sessions(owner, mallory):
    account_services.session_start(user=owner, ip_address="192.0.2.1", user_agent="victim")
    client = client_for(mallory)

    sessions = client.get("/api/v1/auth/sessions/").json()

    assert {s["id"] for s in sessions} == {
        str(s) for s in AuthSession.objects.filter(user=mallory).values_list("pk", flat=True)
    }
    assert "192.0.2.1" not in str(sessions)


@pytest.mark.parametrize("method", ["get", "patch"])
def test_user_records_are_not_addressable_by_id_for_non_admins(method, owner, mallory):
    # Existence is not an oracle either: a real id and a made-up one get the same 403.
    client = client_for(mallory)
    before = world()

    real = send(client, method, f"/api/v1/users/{owner.pk}/")
    made_up = send(client, method, f"/api/v1/users/{NO_SUCH_ID}/")

    assert without_request_id(assert_problem(real, 403, "permission_denied")) == without_request_id(
        assert_problem(made_up, 403, "permission_denied")
    )
    assert world() == before


def test_options_does_not_tell_a_hidden_project_from_a_missing_one(project, mallory):
    client = client_for(mallory)

    hidden, missing = client.options(f"{PROJECTS}{project.pk}/"), client.options(f"{PROJECTS}{NO_SUCH_ID}/")

    assert hidden.status_code == missing.status_code
    assert hidden.json() == missing.json()
    assert "actions" not in hidden.json()


# --- lists, search, ordering and cursors --------------------------------------------------------------


@pytest.fixture
def crowd(owner, project, document, mallory, mallorys_project):
    """Many of the owner's projects and documents, all named to match what Mallory searches for."""
    hidden = bulk_projects(owner, 30, name="Apollo secret {i:03}", readers=(owner,))
    services.document_create(project=project, created_by=owner, title="Apollo secret plan")
    services.document_create(project=mallorys_project, created_by=mallory, title="Mallory's notes")
    return hidden


def listed(client, url: str, **params) -> list[dict]:
    response = client.get(url, params)
    assert response.status_code == 200, response.content
    return response.json()["results"]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"search": "Apollo"},
        {"search": "secret"},
        {"search": "a"},
        {"search": ""},
        {"ordering": "name"},
        {"ordering": "-name"},
        {"ordering": "created_at"},
        {"ordering": "-updated_at"},
        {"page_size": "100"},
        {"search": "Apollo", "ordering": "-name", "page_size": "100"},
    ],
    ids=lambda params: urlencode(params) or "plain",
)
def test_project_list_shows_only_her_own_whatever_she_asks(params, crowd, mallory, mallorys_project):
    results = listed(client_for(mallory), PROJECTS, **params)

    assert {item["id"] for item in results} <= {str(mallorys_project.pk)}
    assert "Apollo" not in str(results)


@pytest.mark.parametrize("ordering", ["owner", "owner__email", "owner__password", "-id", "description"])
def test_ordering_by_a_field_that_is_not_offered_is_refused(ordering, crowd, mallory):
    # Ordering by a field is a way to read it a bit at a time (binary search over sort positions).
    response = client_for(mallory).get(PROJECTS, {"ordering": ordering})

    assert_validation_problem(response, ("ordering", "invalid"))


@pytest.mark.parametrize("params", [{}, {"search": "Apollo"}, {"search": "secret plan"}, {"ordering": "title"}])
def test_document_list_of_her_project_shows_only_its_documents(params, crowd, mallory, mallorys_project):
    results = listed(client_for(mallory), f"{PROJECTS}{mallorys_project.pk}/documents/", **params)

    assert {item["project"] for item in results} <= {str(mallorys_project.pk)}
    assert "Apollo" not in str(results)


def test_a_cursor_taken_from_the_owners_list_shows_mallory_only_her_own(crowd, owner, mallory, mallorys_project):
    # A cursor is a position, not a capability: replaying the owner's next link (or one that
    # points at the owner's newest project) shows Mallory her own projects only.
    owners_next = client_for(owner).get(PROJECTS, {"page_size": "5"}).json()["next"]
    cursor = parse_qs(urlparse(owners_next).query)["cursor"][0]
    newest = Project.objects.filter(owner__email="owner@example.com").order_by("-created_at").first()
    crafted = base64.b64encode(urlencode({"p": newest.created_at.isoformat(), "r": "1"}).encode()).decode()
    client = client_for(mallory)

    for replayed in (cursor, crafted):
        for page in (
            listed(client, PROJECTS, cursor=replayed),
            listed(client, PROJECTS, cursor=replayed, page_size="100"),
        ):
            assert {item["id"] for item in page} <= {str(mallorys_project.pk)}


def test_sharing_list_of_her_own_project_shows_only_its_own_grantees(victim, mallory, mallorys_project):
    grants = client_for(mallory).get(f"{PROJECTS}{mallorys_project.pk}/permissions/").json()

    assert [u["email"] for u in grants["users"]] == ["mallory@example.com"]
    assert "colleague@example.com" not in str(grants)
