"""Search and ordering on declared, non-secret fields only."""

from rest_framework import filters
from rest_framework.exceptions import ValidationError


class SafeOrderingFilter(filters.OrderingFilter):
    """Ordering by declared fields only (anything else is a 400, not silently ignored), with `id`
    as the tie-breaker that keyset pages need."""

    def get_ordering(self, request, queryset, view):
        requested = request.query_params.get(self.ordering_param)
        if requested is not None:
            allowed = set(getattr(view, "ordering_fields", ()))
            terms = [term.strip() for term in requested.split(",")]
            refused = sorted({term for term in terms if term.lstrip("-") not in allowed})
            if refused:
                raise ValidationError(
                    {
                        self.ordering_param: [
                            f"Cannot order by {', '.join(refused)}. Choose from: {', '.join(sorted(allowed))}"
                            " (prefix - for descending)."
                        ]
                    },
                    code="invalid",
                )
        ordering = super().get_ordering(request, queryset, view)
        if ordering and not any(term.lstrip("-") == "id" for term in ordering):
            direction = "-" if ordering[0].startswith("-") else ""
            ordering = [*ordering, f"{direction}id"]
        return ordering
