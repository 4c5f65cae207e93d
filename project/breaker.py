"""A circuit breaker in front of the shared cache (Redis), so an outage costs a request nothing.

A frozen Redis makes every call wait its socket timeout. After `failure_threshold` failures in a
row the breaker opens: callers skip the store at once for `cooldown` seconds, then one call (the
probe) is let through; its success closes the breaker, its failure opens it again. The state is
per process: it only decides whether this process tries the store, never what a request may do.
Each transition is logged once; the calls in between are counted, not logged.
"""

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")


class StoreUnavailable(Exception):
    """The store failed, or the breaker is open and it was not tried."""


class Breaker:
    failure_threshold = 3
    cooldown = 5.0  # Seconds.
    timer = staticmethod(time.monotonic)  # Replaced in tests, as DRF's SimpleRateThrottle.timer.

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()  # gthread workers share one breaker between threads.
        self._failures = 0  # In a row.
        self._opened_at: float | None = None
        self._probing = False
        self._skipped = 0  # Calls not tried while open, for the "up again" line.
        self._failed = 0  # Calls that failed while the store was down.

    @property
    def is_open(self) -> bool:
        return self._opened_at is not None

    def call(self, operation: Callable[[], T]) -> T:
        """The result of `operation`, or StoreUnavailable (chained to the store's error)."""
        if not self._may_try():
            raise StoreUnavailable(f"{self.name}: circuit open, not tried")
        try:
            result = operation()
        except Exception as exc:
            self._failure(exc)
            raise StoreUnavailable(f"{self.name}: {type(exc).__name__}") from exc
        self._success()
        return result

    def _may_try(self) -> bool:
        with self._lock:
            if self._opened_at is None:
                return True
            if not self._probing and self.timer() - self._opened_at >= self.cooldown:
                self._probing = True  # One probe at a time; the others keep skipping.
                return True
            self._skipped += 1
            return False

    def _failure(self, exc: Exception) -> None:
        with self._lock:
            self._failures += 1
            self._failed += 1
            if self._opened_at is not None:
                self._opened_at, self._probing = self.timer(), False  # The probe failed: wait again.
                return
            if self._failures < self.failure_threshold:
                return
            self._opened_at = self.timer()
        logger.error(
            "%s unreachable after %d failures in a row (%s: %s): not trying it for %gs at a time",
            self.name,
            self._failures,
            type(exc).__name__,
            exc,
            self.cooldown,
        )

    def _success(self) -> None:
        with self._lock:
            was_open, skipped, failed = self.is_open, self._skipped, self._failed
            self._failures = self._skipped = self._failed = 0
            self._opened_at, self._probing = None, False
        if was_open:
            logger.info(
                "%s reachable again: %d calls failed and %d were skipped while down", self.name, failed, skipped
            )

    def reset(self) -> None:
        """Closed, counters cleared: a clean slate for tests."""
        with self._lock:
            self._failures = self._skipped = self._failed = 0
            self._opened_at, self._probing = None, False


# The one breaker for the shared cache: rate-limit counters, the refresh grace window, readiness.
cache_breaker = Breaker("shared cache")
