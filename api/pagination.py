"""Keyset (cursor) pagination: deep pages cost the same as the first, at any table size."""

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone
from rest_framework.exceptions import NotFound
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request


class KeysetPagination(CursorPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering = ("-created_at", "-id")

    def paginate_queryset(self, queryset: QuerySet, request: Request, view=None) -> list | None:
        self.model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request: Request) -> Cursor | None:
        # A cursor is client input: DRF checks its offset but filters on its position as is,
        # so a tampered one would be a database error (500) instead of "Invalid cursor" (404).
        cursor = super().decode_cursor(request)
        if cursor is not None and cursor.position is not None and not self._valid_position(cursor.position):
            raise NotFound(self.invalid_cursor_message)
        return cursor

    def _valid_position(self, position: str) -> bool:
        if "\x00" in position:
            return False
        field = self.model._meta.get_field(self.ordering[0].lstrip("-"))
        try:
            value = field.to_python(position)
        except ValidationError:
            return False
        # The cursors we issue carry aware datetimes; a naive one was made by hand.
        return not (isinstance(value, datetime) and timezone.is_naive(value))
