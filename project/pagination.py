"""Cursor (keyset) pagination whose bad input is a 400, like any other invalid parameter.

DRF silently falls back to the default page size for `page_size=abc` or `page_size=-5`, and caps
one over the maximum (here all three are a 400, as the schema's `minimum`/`maximum` say), and
answers a tampered cursor with 404, or with a database error when the position inside it does
not fit the ordering field: clients would never learn what was wrong with their request.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.utils import timezone
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import Cursor, CursorPagination, _reverse_ordering
from rest_framework.request import Request

from project.query_params import QUERY_VALUE_MAX


@dataclass(frozen=True)
class PageWindow:
    """What the page query of a request will ask: its order, its position filter, its row count.

    A view can hand it to a selector that narrows the queryset to the rows such a page can hold
    before the page is cut (api.selectors.ProjectAccess.visible_page)."""

    ordering: tuple[str, ...]
    bound: dict[str, Any]
    limit: int


class StrictCursorPagination(CursorPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100

    def paginate_queryset(self, queryset: QuerySet, request: Request, view=None) -> list | None:
        self.model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def window(self, queryset: QuerySet, request: Request, view=None) -> PageWindow:
        """The page query `paginate_queryset` will run, as DRF's CursorPagination builds it."""
        self.model = queryset.model
        page_size = self.get_page_size(request)
        ordering = self.ordering = self.get_ordering(request, queryset, view)  # decode_cursor reads it
        cursor = self.decode_cursor(request)
        offset, reverse, position = (0, False, None) if cursor is None else cursor
        bound = {}
        if position is not None:
            field = ordering[0].lstrip("-")
            bound = {f"{field}__{'lt' if reverse != ordering[0].startswith('-') else 'gt'}": position}
        return PageWindow(
            ordering=tuple(_reverse_ordering(ordering) if reverse else ordering),
            bound=bound,
            limit=offset + page_size + 1,
        )

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        # A fixed-width check first: int() of a thousand digits is work nobody asked for.
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 3) or not 1 <= int(raw) <= self.max_page_size:
            raise ValidationError(
                {self.page_size_query_param: [f"A whole number from 1 to {self.max_page_size}."]},
                code="invalid",
            )
        return int(raw)

    def get_schema_operation_parameters(self, view) -> list[dict]:
        # What get_page_size and decode_cursor refuse, said in the schema so clients and fuzzers agree.
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size)
                parameter["description"] = (
                    f"Results per page, from 1 to {self.max_page_size} (default {self.page_size})."
                )
            elif parameter["name"] == self.cursor_query_param:
                parameter["schema"].update(minLength=1, maxLength=QUERY_VALUE_MAX)
                parameter["description"] = "Opaque position from a previous page's `next` or `previous` link."
        return parameters

    def decode_cursor(self, request: Request) -> Cursor | None:
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            cursor = None
            valid = False
        else:
            # DRF checks the offset but filters on the position as is: validate it as the field would.
            valid = cursor is None or cursor.position is None or self._valid_position(cursor.position)
        if not valid:
            raise ValidationError({self.cursor_query_param: [str(self.invalid_cursor_message)]}, code="invalid")
        return cursor

    def _valid_position(self, position: str) -> bool:
        if "\x00" in position:
            return False
        field = self.model._meta.get_field(self.ordering[0].lstrip("-"))
        try:
            value = field.to_python(position)
        except DjangoValidationError:
            return False
        # The cursors we issue carry aware datetimes; a naive one was made by hand.
        return not (isinstance(value, datetime) and timezone.is_naive(value))
