"""Keyset (cursor) pagination: deep pages cost the same as the first, at any table size."""

from rest_framework.pagination import CursorPagination


class KeysetPagination(CursorPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering = ("-created_at", "-id")
