"""Search and ordering on declared, non-secret fields only."""

from rest_framework import filters
from rest_framework.exceptions import ValidationError


class SafeOrderingFilter(filters.OrderingFilter):
    """Ordering by one declared field, ascending or descending (anything else is a 400, not
    silently ignored), with `id` as the tie-breaker that keyset pages need.

    One field, because a keyset cursor carries the position of the first ordering field only; the
    schema lists the choices as an enum, so a client can only ask for what is served."""

    def choices(self, view) -> list[str]:
        fields = getattr(view, "ordering_fields", ())
        return [term for field in fields for term in (field, f"-{field}")]

    def get_ordering(self, request, queryset, view):
        requested = request.query_params.get(self.ordering_param)
        if requested is not None and requested not in self.choices(view):
            raise ValidationError(
                {
                    self.ordering_param: [
                        f"Cannot order by {requested!r}. Choose one of: {', '.join(self.choices(view))}."
                    ]
                },
                code="invalid",
            )
        ordering = super().get_ordering(request, queryset, view)
        if ordering and not any(term.lstrip("-") == "id" for term in ordering):
            direction = "-" if ordering[0].startswith("-") else ""
            ordering = [*ordering, f"{direction}id"]
        return ordering

    def get_schema_operation_parameters(self, view) -> list[dict]:
        [parameter] = super().get_schema_operation_parameters(view)
        parameter["schema"]["enum"] = self.choices(view)
        parameter["description"] = "One field to order by; a leading `-` orders descending."
        return [parameter]
