"""Rate limits: atomic counters, 429 with Retry-After and RateLimit-* headers, fail-open."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from project import throttling
from project.breaker import StoreUnavailable
from project.counterfile import CounterFile
from tests.helpers import ME_URL, assert_problem
from tests.servers import call, gunicorn

pytestmark = pytest.mark.django_db

API_ROOT = "/api/v1/"


def test_counter_file_counts_each_key_on_its_own(tmp_path):
    counters = CounterFile(tmp_path / "counters.sqlite3")

    assert [counters.hit("a", time.time() + 60) for _ in range(3)] == [1, 2, 3]
    assert counters.hit("b", time.time() + 60) == 1
    counters.clear("a")
    assert (counters.count("a"), counters.count("b")) == (0, 1)


def test_counter_file_drops_ended_windows(tmp_path, monkeypatch):
    counters = CounterFile(tmp_path / "counters.sqlite3")
    counters.hit("ended", time.time() - 1)
    counters.hit("current", time.time() + 60)
    monkeypatch.setattr(counters, "_next_prune", 0.0)

    counters.hit("current", time.time() + 60)

    assert (counters.count("ended"), counters.count("current")) == (0, 2)


def test_counts_are_kept_out_of_the_main_database(auth_api, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "user": "10/hour"}
    with CaptureQueriesContext(connection) as queries:
        remaining = [auth_api.get(ME_URL)["RateLimit-Remaining"] for _ in range(3)]

    assert remaining == ["9", "8", "7"]
    assert [query["sql"] for query in queries if not query["sql"].startswith("SELECT")] == []


def test_counter_file_failure_fails_open(api, settings, tmp_path):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "anon": "1/hour"}
    settings.REDIS_URL = ""
    (tmp_path / "not-a-database").write_text("garbage")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(throttling, "counter_file", lambda: CounterFile(tmp_path / "not-a-database"))
        responses = [api.get(API_ROOT) for _ in range(4)]
    opened = throttling.counter_file_breaker.is_open
    throttling.counter_file_breaker.reset()

    assert [r.status_code for r in responses] == [200, 200, 200, 200]
    assert "RateLimit-Remaining" not in responses[0]
    assert opened  # After three failures the file is not even tried; the outage is logged once.


def test_parse_rate():
    assert throttling.parse_rate("50/minute") == (50, 60)
    assert throttling.parse_rate("10/hour") == (10, 3600)
    assert throttling.parse_rate("3/s") == (3, 1)


def test_can_call_within_the_limit_and_headers_count_down(api, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "anon": "3/hour"}

    remaining = [api.get(API_ROOT)["RateLimit-Remaining"] for _ in range(3)]

    assert remaining == ["2", "1", "0"]
    response = api.get(API_ROOT)
    assert response["RateLimit-Limit"] == "3"
    assert 0 < int(response["RateLimit-Reset"]) <= 3600


def test_cannot_exceed_the_limit_429_with_retry_after(api, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "anon": "2/hour"}
    api.get(API_ROOT)
    api.get(API_ROOT)

    response = api.get(API_ROOT)

    body = assert_problem(response, 429, "throttled")
    assert 0 < int(response["Retry-After"]) <= 3600
    assert response["RateLimit-Remaining"] == "0"
    assert "available in" in body["detail"]


def test_user_limit_counts_per_user_not_per_ip(auth_api, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "user": "2/hour", "anon": "100/hour"}
    assert auth_api.get(ME_URL).status_code == 200
    assert auth_api.get(ME_URL).status_code == 200

    assert_problem(auth_api.get(ME_URL), 429, "throttled")
    assert APIClient().get(API_ROOT).status_code == 200  # Same IP, anonymous: its own counter.


def test_forged_forwarded_for_does_not_change_whose_counter_is_hit(api, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "anon": "2/hour"}
    settings.TRUSTED_PROXY_COUNT = 0
    for n in range(2):
        api.get(API_ROOT, HTTP_X_FORWARDED_FOR=f"10.9.9.{n}")

    response = api.get(API_ROOT, HTTP_X_FORWARDED_FOR="10.9.9.99")

    assert_problem(response, 429, "throttled")


def test_writes_have_their_own_tighter_limit(auth_api, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "writes": "1/hour"}
    assert auth_api.patch(ME_URL, {"display_name": "A"}).status_code == 200

    assert_problem(auth_api.patch(ME_URL, {"display_name": "B"}), 429, "throttled")
    assert auth_api.get(ME_URL).json()["display_name"] == "A"  # The refused write changed nothing.


def test_store_outage_fails_open(api, settings, monkeypatch):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "anon": "1/hour"}

    def broken(*args, **kwargs):
        raise StoreUnavailable("shared cache: ConnectionError")  # What hit() raises when Redis fails.

    monkeypatch.setattr(throttling, "hit", broken)

    responses = [api.get(API_ROOT) for _ in range(3)]

    assert [r.status_code for r in responses] == [200, 200, 200]


@pytest.mark.django_db(transaction=True)  # The server's workers write counters: hold no lock.
def test_exactly_the_limit_succeeds_across_four_workers_under_concurrency():
    """4 gunicorn workers, 200 concurrent anonymous requests, a limit of 50: exactly 50 pass.

    Counters are Redis INCR when REDIS_URL is set (CI's second run), else an upsert in the
    counter file (project/counterfile.py), which the four processes share.
    """
    with gunicorn(workers=4, RATE_LIMIT_ANON="50/hour") as base, ThreadPoolExecutor(max_workers=50) as pool:
        statuses = [status for status, _ in pool.map(lambda _: call(f"{base}{API_ROOT}"), range(200))]

    assert statuses.count(200) == 50
    assert statuses.count(429) == 150
