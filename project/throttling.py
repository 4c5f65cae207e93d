"""Rate limits as atomic counters in a shared store, with RateLimit-* headers.

DRF's built-in throttles read a history from the cache, change it and write it back, so
concurrent requests on several workers race and let more through than the limit. Here each
request is one atomic increment of a fixed-window counter: Redis INCR in production, an upsert in
a SQLite file of its own on the embedded default (project/counterfile.py), never a write on the
main database. Both are exact across every worker (the file: every worker of one machine).
Each store is called through its circuit breaker (project/breaker.py): while it fails, requests
skip it at once and are let through (fail-open), and the outage is logged once.
"""

import time
from dataclasses import dataclass
from functools import cache as once

from django.conf import settings
from django.core.cache import cache
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from project.breaker import Breaker, StoreUnavailable, cache_breaker
from project.clients import client_ip
from project.counterfile import CounterFile

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


counter_file_breaker = Breaker("rate-limit counter file")


@once
def counter_file() -> CounterFile:
    return CounterFile(settings.RATE_LIMIT_FILE)


@receiver(setting_changed)
def _forget_counter_file(*, setting: str, **kwargs) -> None:
    if setting == "RATE_LIMIT_FILE":
        counter_file.cache_clear()


def hit(key: str, period: int) -> tuple[int, int]:
    """Count one request against `key` in the current window: (count so far, seconds to reset).

    One atomic operation either way, never a read-then-write: Redis INCR, or an upsert in the
    counter file. Raises StoreUnavailable when the store fails or its breaker is open.
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
    # The cache's key prefix keeps apart the runs that share a file (parallel test workers).
    file_key = f"{settings.CACHE_KEY_PREFIX}:{full_key}"
    return counter_file_breaker.call(lambda: counter_file().hit(file_key, (window + 1) * period)), reset


def forget_counts() -> None:
    """Drop this process's counters from the counter file (its key prefix only): for tests.

    With Redis the counters are cache keys, which emptying the cache drops.
    """
    if not settings.REDIS_URL:
        counter_file().clear(f"{settings.CACHE_KEY_PREFIX}:")


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
