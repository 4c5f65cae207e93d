"""Admin-only read access to the audit trail: GET /api/v1/audit-events/."""

from datetime import UTC, datetime

import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, viewsets

from accounts.directory import IsAdminRole
from accounts.models import SecurityEvent
from accounts.serializers import SecurityEventSerializer
from project.pagination import StrictCursorPagination
from project.views import UUID_PATTERN


class IsAuditor(IsAdminRole):
    message = "Only admins may read the audit trail."


class UTCDateTimeField(IsoDateTimeField):
    """An ISO 8601 time, in UTC before it reaches the database: PostgreSQL refuses offsets past
    ±15:59 that ISO 8601 (and Python) allow, and a time that leaves the calendar when moved to
    UTC is a 400 here, not an error there."""

    def to_python(self, value) -> datetime | None:
        moment = super().to_python(value)
        if moment is None:
            return None
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError("This time is out of range.", code="invalid") from None


class UTCDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UTCDateTimeField


class SecurityEventFilter(django_filters.FilterSet):
    type = django_filters.MultipleChoiceFilter(
        choices=SecurityEvent.Type.choices, help_text="Events of these types (repeat the parameter for more)."
    )
    actor = django_filters.UUIDFilter(field_name="actor_id", help_text="Events caused by this user.")
    target_type = django_filters.CharFilter(max_length=32, help_text="Kind of object acted on, e.g. user, project.")
    target_id = django_filters.CharFilter(max_length=64, help_text="Id (or name) of the object acted on.")
    since = UTCDateTimeFilter(
        field_name="created_at", lookup_expr="gte", help_text="Events at or after this time (ISO 8601)."
    )
    until = UTCDateTimeFilter(
        field_name="created_at", lookup_expr="lt", help_text="Events before this time (ISO 8601)."
    )

    class Meta:
        model = SecurityEvent
        fields: list[str] = []


class EventPagination(StrictCursorPagination):
    page_size = 50
    ordering = ("-created_at", "-id")


@extend_schema(tags=["audit"])
class SecurityEventViewSet(viewsets.ReadOnlyModelViewSet):
    """The audit trail, newest first. Filter by type (repeatable), actor, target and time range."""

    queryset = SecurityEvent.objects.all()
    serializer_class = SecurityEventSerializer
    permission_classes = [permissions.IsAuthenticated, IsAuditor]
    pagination_class = EventPagination
    filter_backends = [django_filters.rest_framework.DjangoFilterBackend]
    filterset_class = SecurityEventFilter
    lookup_value_regex = UUID_PATTERN
