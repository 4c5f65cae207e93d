"""GET /healthz (alive, touches nothing) and GET /readyz (database and cache answer, else 503)."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.db.utils import OperationalError

pytestmark = pytest.mark.django_db


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


def test_readiness_is_503_when_the_cache_is_down(api, monkeypatch):
    def broken_set(*args, **kwargs):
        raise ConnectionError("redis://:hunter2@10.0.0.8:6379 refused")

    monkeypatch.setattr(cache, "set", broken_set)

    response = api.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "checks": {"database": "ok", "cache": "unavailable"}}
    assert b"hunter2" not in response.content


def test_readiness_is_503_when_the_cache_loses_values(api, monkeypatch):
    monkeypatch.setattr(cache, "get", lambda *args, **kwargs: None)

    response = api.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["cache"] == "unavailable"


@pytest.mark.parametrize("url", ["/healthz", "/readyz"])
def test_cannot_post_to_the_probes(api, url):
    assert api.post(url).status_code == 405


@pytest.mark.parametrize("url", ["/healthz", "/readyz"])
def test_probes_reveal_nothing_else(api, url):
    response = api.get(url)

    assert "Server" not in response
    assert "X-Powered-By" not in response
    assert set(response.json()) <= {"status", "checks"}
