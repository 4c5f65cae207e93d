"""Keyset (cursor) pagination: deep pages cost the same as the first, at any table size."""

from project.pagination import StrictCursorPagination


class KeysetPagination(StrictCursorPagination):
    ordering = ("-created_at", "-id")
