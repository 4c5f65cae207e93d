"""Rate limits as atomic counters in the shared store, with RateLimit-* headers.

DRF's built-in throttles read a history from the cache, change it and write it back, so
concurrent requests on several workers race and let more through than the limit. Here each
request is one atomic increment of a fixed-window counter: Redis INCR in production, an
upsert on the database on the embedded default. Both are exact across every worker.
Redis is called through the circuit breaker (project/breaker.py): while it is down, requests
skip it at once and are let through (fail-open); the database path has no breaker, since
without the database there is no answer to give anyway.
"""

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from project.breaker import StoreUnavailable, cache_breaker
from project.clients import client_ip

PERIODS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
}


def parse_rate(rate: str) -> tuple[int, int]:
    """'50/minute' -> (50, 60)."""
    count, _, period = rate.partition("/")
    return int(count), PERIODS[period.strip().lower()]


@dataclass(frozen=True)
class Quota:
    limit: int
    remaining: int
    reset: int  # Seconds until the window ends.


def _redis_client():
    from django_redis import get_redis_connection

    return get_redis_connection("default")


# One statement, atomic on SQLite (3.35+) and PostgreSQL alike (a test checks the names against
# the RateCounter model).
UPSERT_COUNTER = (
    'INSERT INTO "accounts_ratecounter" ("key", "count", "expires_at") VALUES (%s, 1, %s) '
    'ON CONFLICT ("key") DO UPDATE SET "count" = "accounts_ratecounter"."count" + 1 RETURNING "count"'
)


def hit(key: str, period: int) -> tuple[int, int]:
    """Count one request against `key` in the current window: (count so far, seconds to reset).

    One atomic operation either way: Redis INCR, or an INSERT ... ON CONFLICT DO UPDATE
    ... RETURNING on the database (SQLite and PostgreSQL), never a read-then-write.
    Raises StoreUnavailable when Redis fails or its breaker is open.
    """
    now = time.time()
    window = int(now // period)
    reset = int((window + 1) * period - now) or 1
    full_key = f"ratelimit:{key}:{window}"
    if settings.REDIS_URL:
        redis_key = cache.make_key(full_key)

        def incr() -> int:
            pipe = _redis_client().pipeline()
            pipe.incr(redis_key)
            pipe.expire(redis_key, period + 1)
            count, _ = pipe.execute()
            return count

        return int(cache_breaker.call(incr)), reset
    expires_at = datetime.fromtimestamp((window + 1) * period, tz=UTC)
    with connection.cursor() as cursor:
        cursor.execute(UPSERT_COUNTER, [full_key[:200], expires_at])
        (count,) = cursor.fetchone()
    return int(count), reset


def record_quota(request: Request | HttpRequest, quota: Quota) -> None:
    """Remember the tightest quota of this request for the RateLimit-* response headers."""
    target = getattr(request, "_request", request)
    current = getattr(target, "_ratelimit_quota", None)
    if current is None or quota.remaining < current.remaining:
        target._ratelimit_quota = quota


class SharedRateThrottle(BaseThrottle):
    """A fixed-window limit per `scope`, counted per identity (user, or client IP).

    Rates come from settings.RATE_LIMITS[scope]. If Redis is unreachable the request is let
    through (fail-open; the breaker logs the outage once): rate limits protect capacity, and an
    outage of Redis should not become an outage of the API. Revocation fails closed.
    """

    scope = ""

    def __init__(self) -> None:
        self.limit, self.period = parse_rate(settings.RATE_LIMITS[self.scope])
        self._wait: float | None = None

    def get_ident_key(self, request: Request) -> str | None:
        """Who is counted: the signed-in user, else the client IP. None: not limited."""
        if request.user and request.user.is_authenticated:
            return f"user:{request.user.pk}"
        return f"ip:{client_ip(request)}"

    def allow_request(self, request: Request, view) -> bool:
        ident = self.get_ident_key(request)
        if ident is None:
            return True
        try:
            count, reset = hit(f"{self.scope}:{ident}", self.period)
        except StoreUnavailable:
            return True
        record_quota(request, Quota(self.limit, max(0, self.limit - count), reset))
        if count > self.limit:
            self._wait = reset
            return False
        return True

    def wait(self) -> float | None:
        return self._wait


class AnonRateThrottle(SharedRateThrottle):
    scope = "anon"

    def get_ident_key(self, request: Request) -> str | None:
        if request.user and request.user.is_authenticated:
            return None
        return f"ip:{client_ip(request)}"


class UserRateThrottle(SharedRateThrottle):
    scope = "user"

    def get_ident_key(self, request: Request) -> str | None:
        if request.user and request.user.is_authenticated:
            return f"user:{request.user.pk}"
        return None


class WriteRateThrottle(SharedRateThrottle):
    """Unsafe methods only, on top of the general limit."""

    scope = "writes"

    def get_ident_key(self, request: Request) -> str | None:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return None
        return super().get_ident_key(request)


class SignInRateThrottle(SharedRateThrottle):
    scope = "sign_in"

    def get_ident_key(self, request: Request) -> str | None:
        return f"ip:{client_ip(request)}"


class RefreshRateThrottle(SignInRateThrottle):
    scope = "refresh"


class RegisterRateThrottle(SignInRateThrottle):
    scope = "register"


class LookupRateThrottle(SharedRateThrottle):
    scope = "lookup"


class RateLimitHeadersMiddleware:
    """RateLimit-Limit / -Remaining / -Reset on every response a limit was counted for."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        quota = getattr(request, "_ratelimit_quota", None)
        if quota is not None:
            response["RateLimit-Limit"] = str(quota.limit)
            response["RateLimit-Remaining"] = str(quota.remaining)
            response["RateLimit-Reset"] = str(quota.reset)
        return response
