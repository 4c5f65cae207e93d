"""Liveness and readiness probes for load balancers and orchestrators.

The database is a hard dependency: without it nothing can be answered, so readiness is 503.
The shared cache (Redis) is a soft one: without it the API still serves, with rate limits
failing open, so readiness stays 200 and reports the cache as "degraded".
"""

import logging

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from project.breaker import StoreUnavailable, cache_breaker

logger = logging.getLogger(__name__)


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is alive. Touches nothing else."""
    return JsonResponse({"status": "ok"})


def _cache_round_trip() -> None:
    cache.set("readyz", "1", timeout=5)
    if cache.get("readyz") != "1":
        raise RuntimeError("the cache did not keep a value")


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """200 while the database answers (the cache "ok" or "degraded"); 503 when it does not.

    The database is asked every time, never through per-process state, so that every worker
    gives the same answer during an outage. The cache goes through its breaker: while open,
    it is reported degraded without waiting on it.
    """
    checks = {"database": "ok", "cache": "ok"}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # Whatever the driver raises, the answer is "not ready".
        # No traceback: probes run every few seconds, and the outage is not a bug.
        logger.warning("readiness: database unavailable (%s)", type(exc).__name__)
        checks["database"] = "unavailable"
    try:
        cache_breaker.call(_cache_round_trip)
    except StoreUnavailable:  # The breaker logs the outage once.
        checks["cache"] = "degraded"
    ready = checks["database"] == "ok"
    return JsonResponse({"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503)
