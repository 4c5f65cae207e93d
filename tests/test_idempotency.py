"""Idempotency-Key on POST: a retry gets the first answer instead of making the change twice."""

import threading
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import services
from accounts.models import AuthSession, IdempotencyRecord, User
from accounts.roles import EDITOR
from api.models import Project
from project import idempotency
from tests.api.conftest import client_for
from tests.conftest import PASSWORD
from tests.helpers import REGISTER_URL, TOKEN_URL, assert_problem

pytestmark = pytest.mark.django_db

PROJECTS_URL = "/api/v1/projects/"
KEY = "3f1c9b2e-5a7d-4e8f-9c0b-1d2e3f4a5b6c"


@pytest.fixture
def editor(make_member) -> User:
    return make_member("editor@example.com", EDITOR)


def post(client, body: dict, key: str | None = KEY, url: str = PROJECTS_URL):
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    return client.post(url, body, **headers)


def test_can_replay_a_keyed_post_and_get_the_first_answer(editor):
    client = client_for(editor)
    first = post(client, {"name": "Mine"})

    again = post(client, {"name": "Mine"})

    assert first.status_code == 201, first.content
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again["Content-Type"] == first["Content-Type"]
    assert again[idempotency.REPLAYED_HEADER] == "true"
    assert idempotency.REPLAYED_HEADER not in first
    assert Project.objects.count() == 1


def test_cannot_reuse_a_key_for_another_body(editor):
    client = client_for(editor)
    post(client, {"name": "Mine"})

    response = post(client, {"name": "Another"})

    assert_problem(response, 422, "idempotency_key_reused")
    assert list(Project.objects.values_list("name", flat=True)) == ["Mine"]


def test_cannot_reuse_a_key_for_another_endpoint(editor):
    client = client_for(editor)
    project = post(client, {"name": "Mine"}).json()

    response = post(client, {"title": "Doc", "body": ""}, url=f"{PROJECTS_URL}{project['id']}/documents/")

    assert_problem(response, 422, "idempotency_key_reused")
    assert not Project.objects.get().documents.exists()


@pytest.mark.parametrize(
    "key",
    ["", "x" * 256, "clé", "tab\there", "bell\x07"],
    ids=["empty", "too-long", "non-ascii", "tab", "control"],
)
def test_cannot_send_a_malformed_key(editor, key):
    response = post(client_for(editor), {"name": "Mine"}, key=key)

    assert_problem(response, 400, "invalid_idempotency_key")
    assert not Project.objects.exists()
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.parametrize("key", ["a", "~" * 255, "order 42: retry #1"], ids=["one", "max", "spaces"])
def test_can_send_any_printable_ascii_key(editor, key):
    assert post(client_for(editor), {"name": "Mine"}, key=key).status_code == 201
    assert IdempotencyRecord.objects.get().key == key


def test_keys_are_scoped_to_the_caller(editor, make_member):
    other = make_member("other@example.com", EDITOR)
    mine = post(client_for(editor), {"name": "Mine"})

    theirs = post(client_for(other), {"name": "Mine"})

    assert theirs.status_code == 201
    assert theirs.json()["id"] != mine.json()["id"]
    assert sorted(Project.objects.values_list("owner__email", flat=True)) == [
        "editor@example.com",
        "other@example.com",
    ]


def test_an_expired_key_is_new_again(editor):
    client = client_for(editor)
    post(client, {"name": "Mine"})
    IdempotencyRecord.objects.update(expires_at=timezone.now() - timedelta(seconds=1))  # 24 hours on.

    response = post(client, {"name": "Another"})

    assert response.status_code == 201
    assert Project.objects.count() == 2
    assert IdempotencyRecord.objects.get().expires_at > timezone.now() + timedelta(hours=23)


def test_cannot_run_a_key_that_is_still_in_flight(editor):
    client = client_for(editor)
    held = idempotency._claim(f"user:{editor.pk}", KEY)  # A first request with the key is running.

    response = post(client, {"name": "Mine"})
    idempotency._release(held)

    assert_problem(response, 409, "idempotency_key_in_use")
    assert not Project.objects.exists()
    assert post(client, {"name": "Mine"}).status_code == 201  # Once it has finished, the key works.


def test_change_and_its_record_are_written_together(editor, monkeypatch):
    """If the answer cannot be recorded (a concurrent request stored the key first, unseen by the
    cache), the change is rolled back with it: never a change without its record."""
    client = client_for(editor)
    post(client, {"name": "Mine"})
    monkeypatch.setattr(idempotency, "_stored", lambda scope, key: None)

    response = post(client, {"name": "Mine"})

    assert_problem(response, 409, "idempotency_key_in_use")
    assert Project.objects.count() == 1
    assert IdempotencyRecord.objects.count() == 1


def test_a_refused_request_is_not_recorded(make_member):
    viewer = make_member("viewer@example.com", "viewer")

    response = post(client_for(viewer), {"name": "Mine"})

    assert_problem(response, 403, "permission_denied")
    assert not IdempotencyRecord.objects.exists()


def test_anonymous_keys_are_scoped_to_the_client_address(api, settings):
    settings.REGISTRATION_OPEN = True
    body = {"email": "new@example.com", "password": PASSWORD}
    first = post(api, body, url=REGISTER_URL)

    again = post(api, body, url=REGISTER_URL)

    assert first.status_code == 201, first.content
    assert again.json() == first.json()
    assert User.objects.filter(email="new@example.com").count() == 1
    assert IdempotencyRecord.objects.get().scope == "anon:127.0.0.1"


def test_sign_in_takes_no_key(api, user):
    """A stored sign-in answer would be a live token pair kept in the database and handed to
    whoever replays the key: sign-in and the token endpoints ignore the header."""
    body = {"email": "alice@example.com", "password": PASSWORD}

    first = post(api, body, url=TOKEN_URL)
    second = post(api, body, url=TOKEN_URL)

    assert first.status_code == second.status_code == 200
    assert first.json() != second.json()
    assert AuthSession.objects.count() == 2
    assert not IdempotencyRecord.objects.exists()


def test_a_post_without_the_header_costs_no_query(editor, settings):
    client = client_for(editor)
    with CaptureQueriesContext(connection) as with_middleware:
        assert post(client, {"name": "One"}, key=None).status_code == 201
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != "project.idempotency.IdempotencyMiddleware"]
    with CaptureQueriesContext(connection) as without_middleware:
        assert post(client, {"name": "Two"}, key=None).status_code == 201

    assert len(with_middleware) == len(without_middleware)
    assert not any("idempotency" in query["sql"] for query in with_middleware.captured_queries)
    assert not IdempotencyRecord.objects.exists()


def test_prune_tokens_deletes_expired_records_only(editor):
    client = client_for(editor)
    post(client, {"name": "Old"}, key="old")
    post(client, {"name": "Live"}, key="live")
    IdempotencyRecord.objects.filter(key="old").update(expires_at=timezone.now() - timedelta(seconds=1))

    call_command("prune_tokens", stdout=StringIO())

    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["live"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_make_one_change(make_user):
    """Two copies of one request racing: one runs, the other is told it is in flight (409) or,
    if the first has already finished, gets its answer. Never two projects."""
    # A superuser, not an editor: the roles are rows of a data migration, which the flush after an
    # earlier transactional test has removed.
    creator = make_user("root@example.com", is_superuser=True)
    contenders = 2
    barrier = threading.Barrier(contenders)
    access = services.session_start(user=creator, ip_address="127.0.0.1", user_agent="pytest").access
    responses: list = [None] * contenders

    def attempt(index: int) -> None:
        client = APIClient(HTTP_AUTHORIZATION=f"Bearer {access}")
        try:
            barrier.wait(timeout=30)
            responses[index] = post(client, {"name": "Mine"})
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    statuses = sorted(response.status_code for response in responses)
    assert statuses in ([201, 201], [201, 409]), statuses
    created = [response.json() for response in responses if response.status_code == 201]
    assert all(body == created[0] for body in created)
    assert Project.objects.count() == 1
    assert IdempotencyRecord.objects.count() == 1


def test_a_key_without_credentials_is_a_401_whatever_the_body(api):
    # Schemathesis found 422 idempotency_key_reused answered to a caller with no credentials: a
    # view that wants a signed-in caller must say so first, and no anonymous record is kept for it.
    first = post(api, {"name": "Mine"})
    second = post(api, {"name": "Another"})

    assert_problem(first, 401)
    assert_problem(second, 401)
    assert not IdempotencyRecord.objects.exists()
    assert not Project.objects.exists()
