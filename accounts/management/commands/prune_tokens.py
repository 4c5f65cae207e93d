"""Delete expired refresh tokens, long-ended sessions, old rate-limit windows and idempotency records.

Safe to run often."""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db.models import Q
from django.utils import timezone

from accounts.models import AuthSession, IdempotencyRecord, RateCounter, RefreshTokenRecord

BATCH = 5_000


def _delete_in_batches(queryset) -> int:
    """Short transactions: a large backlog never holds a long lock."""
    total = 0
    while True:
        ids = list(queryset.values_list("pk", flat=True)[:BATCH])
        if not ids:
            return total
        _, per_model = queryset.model.objects.filter(pk__in=ids).delete()
        total += per_model.get(queryset.model._meta.label, 0)  # Not the cascaded rows.


class Command(BaseCommand):
    help = (
        "Delete expired refresh tokens, sessions that ended more than SESSION_RETENTION_DAYS ago, "
        "finished rate-limit windows and expired idempotency records."
    )

    def handle(self, *args, **options) -> None:
        now = timezone.now()
        tokens = _delete_in_batches(RefreshTokenRecord.objects.filter(expires_at__lt=now))
        cutoff = now - timedelta(days=settings.SESSION_RETENTION_DAYS)
        sessions = _delete_in_batches(AuthSession.objects.filter(Q(expires_at__lt=cutoff) | Q(revoked_at__lt=cutoff)))
        counters = _delete_in_batches(RateCounter.objects.filter(expires_at__lt=now))
        answers = _delete_in_batches(IdempotencyRecord.objects.filter(expires_at__lt=now))
        self.stdout.write(
            f"Pruned {tokens} expired refresh token(s) and {sessions} ended session(s); "
            f"{counters} finished rate-limit window(s); {answers} expired idempotency record(s)."
        )
