"""GET /healthz (alive, touches nothing) and GET /readyz (the database answers, else 503; the
cache is a soft dependency, reported "degraded" with a 200)."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.db.utils import OperationalError

from project.breaker import cache_breaker

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _closed_breaker():
    cache_breaker.reset()
    yield
    cache_breaker.reset()


def test_can_check_liveness_without_touching_the_database(api, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = api.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_can_check_liveness_even_with_a_bad_token(api):
    response = api.get("/healthz", HTTP_AUTHORIZATION="Bearer garbage")

    assert response.status_code == 200


def test_can_check_readiness_when_database_and_cache_answer(api):
    response = api.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "cache": "ok"}}


def test_readiness_is_503_when_the_database_is_down(api, monkeypatch):
    def broken_cursor(*args, **kwargs):
        raise OperationalError("could not connect to server at 10.0.0.7: password authentication failed")

    with monkeypatch.context() as patch:
        patch.setattr(connection, "cursor", broken_cursor)
        response = api.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "unavailable"
    assert b"10.0.0.7" not in response.content
    assert b"password" not in response.content


def test_readiness_stays_200_and_reports_the_cache_degraded_when_it_is_down(api, monkeypatch):
    def broken_set(*args, **kwargs):
        raise ConnectionError("redis://:hunter2@10.0.0.8:6379 refused")

    monkeypatch.setattr(cache, "set", broken_set)

    response = api.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "cache": "degraded"}}
    assert b"hunter2" not in response.content


def test_readiness_reports_the_cache_degraded_when_it_loses_values(api, monkeypatch):
    monkeypatch.setattr(cache, "get", lambda *args, **kwargs: None)

    response = api.get("/readyz")

    assert response.status_code == 200
    assert response.json()["checks"]["cache"] == "degraded"


def test_readiness_does_not_wait_on_a_cache_whose_breaker_is_open(api, monkeypatch):
    calls = []

    def broken_set(*args, **kwargs):
        calls.append(1)
        raise ConnectionError("refused")

    monkeypatch.setattr(cache, "set", broken_set)
    statuses = [api.get("/readyz").status_code for _ in range(cache_breaker.failure_threshold + 5)]

    assert statuses == [200] * (cache_breaker.failure_threshold + 5)
    assert len(calls) == cache_breaker.failure_threshold


def test_readiness_is_503_when_the_database_is_down_even_with_the_cache_breaker_closed(api, monkeypatch):
    """The database is asked on every probe: no per-worker state decides readiness."""

    def broken_cursor(*args, **kwargs):
        raise OperationalError("could not connect")

    with monkeypatch.context() as patch:
        patch.setattr(connection, "cursor", broken_cursor)
        patch.setattr(cache, "set", lambda *args, **kwargs: None)
        patch.setattr(cache, "get", lambda *args, **kwargs: "1")
        statuses = [api.get("/readyz").status_code for _ in range(5)]

    assert statuses == [503] * 5
    assert not cache_breaker.is_open


@pytest.mark.parametrize("url", ["/healthz", "/readyz"])
def test_cannot_post_to_the_probes(api, url):
    assert api.post(url).status_code == 405


@pytest.mark.parametrize("url", ["/healthz", "/readyz"])
def test_probes_reveal_nothing_else(api, url):
    response = api.get(url)

    assert "Server" not in response
    assert "X-Powered-By" not in response
    assert set(response.json()) <= {"status", "checks"}
