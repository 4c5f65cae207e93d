"""The database unavailable is a 503 with Retry-After (an outage), never a 500 (a bug); a
shared cache that fails is skipped by its circuit breaker instead of waited on."""

import logging
import sqlite3
import threading

import pytest
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpRequest
from rest_framework.test import APIClient

from project import problems, throttling
from project.breaker import Breaker, StoreUnavailable, cache_breaker
from tests.helpers import ME_URL, TOKEN_URL, assert_problem

pytestmark = pytest.mark.django_db

ADMIN_URL = "/admin/"


def refused(*args, **kwargs):
    raise OperationalError('connection to server at "10.0.0.7", port 5432 failed: Connection refused')


@pytest.fixture
def database_down(db):
    """Call it: every query from then on fails as when PostgreSQL is stopped (until teardown,
    which comes before the test database's own)."""
    with pytest.MonkeyPatch.context() as patch:
        yield lambda: patch.setattr(connection, "cursor", refused)


# --- 503, not 500, when the database is unavailable -------------------------------------------


def test_api_call_gets_503_with_retry_after_when_the_database_is_down(api, database_down):
    database_down()

    response = api.post(TOKEN_URL, {"email": "alice@example.com", "password": "x"})  # Looks the user up.

    body = assert_problem(response, 503, "service_unavailable")
    assert response["Retry-After"] == str(problems.RETRY_AFTER_SECONDS)
    assert "10.0.0.7" not in body["detail"]


def test_authenticated_call_gets_503_when_the_authentication_query_fails(auth_api, database_down):
    database_down()

    response = auth_api.get(ME_URL)

    assert_problem(response, 503, "service_unavailable")
    assert response["Retry-After"] == str(problems.RETRY_AFTER_SECONDS)


def test_admin_page_gets_503_when_the_database_is_down(superuser_client, database_down):
    database_down()

    response = superuser_client.get(ADMIN_URL)

    assert response.status_code == 503
    assert response["Retry-After"] == str(problems.RETRY_AFTER_SECONDS)
    assert response["Content-Type"].startswith("text/plain")


class ReadsTheUserMiddleware:
    """Stands for any middleware that loads the user before the view runs."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        request.user.is_authenticated  # noqa: B018 - the lookup is the point.
        return self.get_response(request)


def test_database_error_raised_in_a_middleware_gets_503(superuser_client, settings, database_down):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "tests.test_outages.ReadsTheUserMiddleware"]
    superuser_client.raise_request_exception = False  # Let handler500 answer, as in production.
    database_down()

    response = superuser_client.get("/api/v1/projects/", HTTP_ACCEPT="application/json")

    assert_problem(response, 503, "service_unavailable")
    assert response["Retry-After"] == str(problems.RETRY_AFTER_SECONDS)


class BuggyMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        raise ZeroDivisionError


def test_a_bug_is_still_a_500(api, settings):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "tests.test_outages.BuggyMiddleware"]
    api.raise_request_exception = False

    response = api.get("/api/v1/")

    assert_problem(response, 500, "server_error")
    assert "Retry-After" not in response


@pytest.mark.parametrize(
    ("error", "outage"),
    [
        (OperationalError("server closed the connection unexpectedly"), True),
        (InterfaceError("connection already closed"), True),
        (OperationalError("database is locked"), True),
        (ZeroDivisionError(), False),
    ],
)
def test_which_errors_are_outages(error, outage):
    assert problems.database_unavailable(error) is outage


@pytest.mark.parametrize(("message", "outage"), [("database is locked", True), ("no such table: api_project", False)])
def test_on_sqlite_only_a_locked_database_is_an_outage(message, outage):
    error = OperationalError(message)
    error.__cause__ = sqlite3.OperationalError(message)

    assert problems.database_unavailable(error) is outage


def test_server_error_answers_503_for_a_database_error_it_is_handling():
    request = HttpRequest()
    request.path = "/admin/"
    try:
        refused()
    except OperationalError:
        response = problems.server_error(request)

    assert response.status_code == 503
    assert response["Retry-After"] == str(problems.RETRY_AFTER_SECONDS)


# --- The PostgreSQL connection pool ------------------------------------------------------------

needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the connection pool is PostgreSQL's (psycopg_pool); SQLite has none"
)


@needs_postgresql
def test_postgresql_connections_come_from_a_pool():
    assert connection.settings_dict["CONN_MAX_AGE"] == 0  # The pool keeps them; Django must not.
    assert connection.pool is not None
    assert connection.pool.max_size == connection.settings_dict["OPTIONS"]["pool"]["max_size"]


@needs_postgresql
@pytest.mark.django_db(transaction=True)  # The request runs in another thread, on its own connection.
def test_an_exhausted_pool_is_a_503_not_a_500(monkeypatch):
    from psycopg_pool import PoolTimeout

    pool = connection.pool
    monkeypatch.setattr(pool, "timeout", 0.5)  # Seconds a request waits for a free connection.
    held = []
    try:
        while True:  # Take every connection the pool can give, as a burst of slow requests would.
            try:
                held.append(pool.getconn(timeout=0.5))
            except PoolTimeout:
                break
        responses = []

        def request() -> None:
            try:
                responses.append(APIClient().post(TOKEN_URL, {"email": "alice@example.com", "password": "x"}))
            finally:
                connection.close()

        worker = threading.Thread(target=request)
        worker.start()
        worker.join(timeout=30)
    finally:
        for conn in held:
            pool.putconn(conn)

    assert held
    assert_problem(responses[0], 503, "service_unavailable")
    assert responses[0]["Retry-After"] == str(problems.RETRY_AFTER_SECONDS)


# --- The circuit breaker ------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FlakyStore:
    """Counts the calls that reach it; fails while `down`."""

    def __init__(self) -> None:
        self.calls = 0
        self.down = True

    def __call__(self) -> str:
        self.calls += 1
        if self.down:
            raise ConnectionError("Timeout reading from 127.0.0.1:6399")
        return "value"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def breaker(clock) -> Breaker:
    breaker = Breaker("test store")
    breaker.timer = clock
    return breaker


def call_many(breaker: Breaker, store: FlakyStore, times: int) -> int:
    """How many of `times` calls were answered StoreUnavailable."""
    failures = 0
    for _ in range(times):
        try:
            breaker.call(store)
        except StoreUnavailable:
            failures += 1
    return failures


def test_breaker_stops_calling_a_failing_store_after_three_failures(breaker):
    store = FlakyStore()

    assert call_many(breaker, store, 10) == 10
    assert store.calls == 3
    assert breaker.is_open


def test_breaker_does_not_open_on_failures_that_are_not_in_a_row(breaker):
    store = FlakyStore()
    for _ in range(5):
        store.down = True
        call_many(breaker, store, 2)
        store.down = False
        breaker.call(store)

    assert not breaker.is_open
    assert store.calls == 15


def test_breaker_lets_one_probe_through_after_the_cool_down(breaker, clock):
    store = FlakyStore()
    call_many(breaker, store, 3)

    clock.now += breaker.cooldown - 0.1
    call_many(breaker, store, 5)
    assert store.calls == 3  # Still cooling down.

    clock.now += 0.1
    call_many(breaker, store, 5)
    assert store.calls == 4  # One probe; it failed, so the others were skipped.
    assert breaker.is_open


def test_breaker_closes_when_the_probe_succeeds(breaker, clock):
    store = FlakyStore()
    call_many(breaker, store, 3)
    store.down = False
    clock.now += breaker.cooldown

    assert breaker.call(store) == "value"
    assert not breaker.is_open
    assert [breaker.call(store) for _ in range(3)] == ["value"] * 3
    assert store.calls == 7


def test_breaker_logs_once_when_it_opens_and_once_when_it_closes(breaker, clock, caplog):
    store = FlakyStore()
    with caplog.at_level(logging.INFO, logger="project.breaker"):
        call_many(breaker, store, 50)
        clock.now += breaker.cooldown
        call_many(breaker, store, 1)  # A failed probe.
        clock.now += breaker.cooldown
        store.down = False
        breaker.call(store)

    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 2, lines
    assert "unreachable after 3 failures" in lines[0]
    assert "ConnectionError" in lines[0]
    assert "reachable again: 4 calls failed and 47 were skipped" in lines[1]
    assert all(record.exc_info is None for record in caplog.records)


# --- Redis behind the breaker on the request path -------------------------------------------------


@pytest.fixture
def broken_redis(settings, monkeypatch):
    """REDIS_URL set, and every Redis command fails; counts the attempts."""
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    attempts = []

    class BrokenPipeline:
        def incr(self, key) -> None:
            """Queued, as Redis pipelines do: the failure comes at execute()."""

        def expire(self, key, seconds) -> None:
            """Queued, as Redis pipelines do: the failure comes at execute()."""

        def execute(self):
            attempts.append(1)
            raise ConnectionError("Timeout reading from 127.0.0.1:1")

    class BrokenClient:
        def pipeline(self):
            return BrokenPipeline()

    monkeypatch.setattr(throttling, "_redis_client", BrokenClient)
    clock = Clock()
    monkeypatch.setattr(cache_breaker, "timer", clock)
    cache_breaker.reset()
    yield attempts, clock
    cache_breaker.reset()


def test_rate_limits_fail_open_and_stop_touching_redis_after_three_failures(api, broken_redis, settings):
    attempts, _ = broken_redis
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "anon": "1/hour"}

    statuses = [api.get("/api/v1/").status_code for _ in range(10)]

    assert statuses == [200] * 10
    assert len(attempts) == 3


def test_rate_limits_probe_redis_after_the_cool_down_and_recover(api, broken_redis, settings, monkeypatch):
    attempts, clock = broken_redis
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "anon": "1/hour"}
    [api.get("/api/v1/") for _ in range(5)]
    clock.now += cache_breaker.cooldown

    api.get("/api/v1/")
    assert len(attempts) == 4  # The probe.

    clock.now += cache_breaker.cooldown
    monkeypatch.setattr(throttling, "hit", lambda key, period: cache_breaker.call(lambda: (2, 60)))
    refused_again = api.get("/api/v1/")  # The probe succeeds: the limit applies again.

    assert refused_again.status_code == 429
    assert not cache_breaker.is_open
