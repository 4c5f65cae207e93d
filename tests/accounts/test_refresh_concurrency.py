"""Two refreshes racing with the same token: exactly one rotation happens."""

import threading

import pytest
from django.db import connection

from accounts import services
from accounts.models import RefreshTokenRecord

pytestmark = pytest.mark.django_db(transaction=True)


def race(raw_refresh: str, contenders: int = 2) -> list[object]:
    barrier = threading.Barrier(contenders)
    results: list[object] = [None] * contenders

    def attempt(index: int) -> None:
        barrier.wait()
        try:
            results[index] = services.session_refresh(raw_refresh=raw_refresh, ip_address=None, user_agent="")
        except services.RefreshRejected as exc:
            results[index] = exc
        finally:
            connection.close()  # Each thread has its own connection; leave none open.

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_exactly_one_concurrent_refresh_wins_without_grace(user, settings):
    settings.REFRESH_GRACE_SECONDS = 0
    start = services.session_start(user=user, ip_address=None, user_agent="")

    results = race(start.refresh)

    winners = [r for r in results if isinstance(r, services.IssuedTokens)]
    losers = [r for r in results if isinstance(r, services.RefreshRejected)]
    assert len(winners) == 1
    assert len(losers) == 1
    assert RefreshTokenRecord.objects.filter(session=start.session).count() == 2  # One rotation only.


def test_concurrent_retry_within_grace_gets_the_same_pair(user, settings):
    settings.REFRESH_GRACE_SECONDS = 30
    start = services.session_start(user=user, ip_address=None, user_agent="")

    results = race(start.refresh)

    assert all(isinstance(r, services.IssuedTokens) for r in results), results
    assert len({r.refresh for r in results}) == 1
    assert RefreshTokenRecord.objects.filter(session=start.session).count() == 2
