"""Search and ordering on declared, non-secret fields only."""

from rest_framework import filters


class SafeOrderingFilter(filters.OrderingFilter):
    """Ordering by declared fields, with `id` as the tie-breaker that keyset pages need."""

    def get_ordering(self, request, queryset, view):
        ordering = super().get_ordering(request, queryset, view)
        if ordering and not any(term.lstrip("-") == "id" for term in ordering):
            direction = "-" if ordering[0].startswith("-") else ""
            ordering = [*ordering, f"{direction}id"]
        return ordering
