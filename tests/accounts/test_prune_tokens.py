"""prune_tokens drops expired refresh records and long-ended sessions, and nothing else."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts import services
from accounts.models import AuthSession, RateCounter, RefreshTokenRecord

pytestmark = pytest.mark.django_db


def test_prune_deletes_expired_and_keeps_live(user, settings):
    settings.SESSION_RETENTION_DAYS = 30
    live = services.session_start(user=user, ip_address=None, user_agent="")
    expired = services.session_start(user=user, ip_address=None, user_agent="")
    RefreshTokenRecord.objects.filter(session=expired.session).update(expires_at=timezone.now() - timedelta(seconds=1))
    old = services.session_start(user=user, ip_address=None, user_agent="")
    AuthSession.objects.filter(id=old.session.id).update(revoked_at=timezone.now() - timedelta(days=31))
    recent_logout = services.session_start(user=user, ip_address=None, user_agent="")
    services.session_revoke(session=recent_logout.session, reason="logout")

    out = StringIO()
    call_command("prune_tokens", stdout=out)

    assert not RefreshTokenRecord.objects.filter(session=expired.session).exists()
    assert RefreshTokenRecord.objects.filter(session=live.session).exists()
    assert not AuthSession.objects.filter(id=old.session.id).exists()
    assert AuthSession.objects.filter(id=recent_logout.session.id).exists()  # Kept for investigation.
    assert "Pruned 1 expired refresh token(s) and 1 ended session(s)" in out.getvalue()


def test_prune_is_idempotent(user):
    services.session_start(user=user, ip_address=None, user_agent="")
    call_command("prune_tokens", stdout=StringIO())
    out = StringIO()
    call_command("prune_tokens", stdout=out)
    assert "Pruned 0 expired refresh token(s) and 0 ended session(s); 0 finished" in out.getvalue()
    assert AuthSession.objects.count() == 1


def test_prune_drops_finished_rate_limit_windows_only():
    now = timezone.now()
    RateCounter.objects.create(key="old", count=3, expires_at=now - timedelta(seconds=1))
    RateCounter.objects.create(key="current", count=1, expires_at=now + timedelta(minutes=1))

    out = StringIO()
    call_command("prune_tokens", stdout=out)

    assert list(RateCounter.objects.values_list("key", flat=True)) == ["current"]
    assert "1 finished rate-limit window(s)" in out.getvalue()
