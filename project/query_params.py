"""Query parameters are declared, not guessed: anything a view does not accept is a 400.

A list view accepts what its pagination, search, ordering and filterset declare; any view may
add names in `query_params`. Values may not carry NUL (PostgreSQL refuses it) or be longer
than QUERY_VALUE_MAX. Nothing undeclared ever reaches the ORM, and a search costs at most
SEARCH_MAX_TERMS substring matches per field (BoundedSearchFilter). A method the view does not
take is its 405 before any of this: the query of a request that cannot be served is not judged.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from rest_framework import filters
from rest_framework.exceptions import ValidationError

from project.problems import problem_response

QUERY_VALUE_MAX = 1000
# Each search term is one more case-insensitive substring match per searched field on every
# candidate row: 500 one-letter terms (within QUERY_VALUE_MAX) cost 70 times a plain list.
SEARCH_MAX_TERMS = 8
# Search terms are split where Python's \s matches, which is JavaScript's \s and \x1c-\x1f, \x85
# too: spelled out, so that a pattern means the same in every regex dialect that reads the schema.
SEPARATOR = r"[\s\x1c-\x1f\x85,]"
WORD = r"[^\s\x1c-\x1f\x85,]"
EMPTY_ALLOWED = {"search"}  # An empty search box means "no search"; elsewhere empty is a mistake.
OUR_MODULES = ("accounts.", "api.", "project.")


def accepted_query_params(view_cls: type, action: str | None) -> set[str]:
    accepted = {"format"} | set(getattr(view_cls, "query_params", ()))
    if action is not None and action != "list":
        return accepted
    paginator = getattr(view_cls, "pagination_class", None)
    if paginator is not None:
        for attr in ("cursor_query_param", "page_size_query_param", "page_query_param"):
            if getattr(paginator, attr, None):
                accepted.add(getattr(paginator, attr))
    for backend in getattr(view_cls, "filter_backends", ()):
        if issubclass(backend, filters.SearchFilter):
            accepted.add(backend.search_param)
        elif issubclass(backend, filters.OrderingFilter):
            accepted.add(backend.ordering_param)
    filterset = getattr(view_cls, "filterset_class", None)
    if filterset is not None:
        accepted |= set(filterset.base_filters)
    return accepted


class BoundedSearchFilter(filters.SearchFilter):
    """DRF's search, refusing more than SEARCH_MAX_TERMS terms with a 400 naming `search`.

    Repeated terms count once: they cannot narrow the result further.
    """

    def get_search_terms(self, request) -> list[str]:
        terms = list(dict.fromkeys(super().get_search_terms(request)))
        if len(terms) > SEARCH_MAX_TERMS:
            raise ValidationError(
                {self.search_param: [f"At most {SEARCH_MAX_TERMS} search terms; this search has {len(terms)}."]},
                code="max_terms",
            )
        return terms

    def get_schema_operation_parameters(self, view) -> list[dict]:
        [parameter] = super().get_schema_operation_parameters(view)
        # At most SEARCH_MAX_TERMS words between spaces and commas. The server counts a quoted
        # phrase or a repeated word once, so the pattern is stricter than the server, never looser.
        parameter["schema"].update(
            maxLength=QUERY_VALUE_MAX,
            pattern=rf"^{SEPARATOR}*(?:{WORD}+{SEPARATOR}+){{0,{SEARCH_MAX_TERMS - 1}}}{WORD}*$",
        )
        parameter["description"] = (
            f"Words to find (at most {SEARCH_MAX_TERMS}, separated by spaces or commas; quote a phrase). "
            "Empty means no search."
        )
        return [parameter]


class DeclaredQueryParamsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path:
            return problem_response(400, "bad_request", "The URL contains a NUL character.")
        for name, values in request.GET.lists():
            if "\x00" in name or any("\x00" in value for value in values):
                return _invalid(name, "null_characters", "Query parameters may not contain NUL characters.")
            if any(len(value) > QUERY_VALUE_MAX for value in values):
                return _invalid(name, "max_length", f"At most {QUERY_VALUE_MAX} characters.")
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> HttpResponse | None:
        view_cls = getattr(view_func, "cls", None)
        if view_cls is None or not view_cls.__module__.startswith(OUR_MODULES) or not request.GET:
            return None
        actions = getattr(view_func, "actions", None)  # Viewsets only: {"get": "list", ...}
        if not _allows(view_cls, actions, request.method.lower()):
            return None  # The method comes first: the view answers 405, whatever the query says.
        action = actions.get(request.method.lower()) if actions else None
        accepted = accepted_query_params(view_cls, action)
        for name, values in request.GET.lists():
            if name in accepted and name not in EMPTY_ALLOWED and any(value == "" for value in values):
                return _invalid(name, "blank", "May not be empty: leave the parameter out instead.")
        unknown = sorted(name for name in request.GET if name not in accepted)
        if unknown:
            return problem_response(
                400,
                "validation_error",
                f"Unknown query parameter(s): {', '.join(unknown)}. Accepted here: {', '.join(sorted(accepted))}.",
                errors=[
                    {"field": name, "code": "unknown_parameter", "message": "This query parameter is not accepted."}
                    for name in unknown
                ],
            )
        return None


def _allows(view_cls: type, actions: dict | None, method: str) -> bool:
    """Whether the view has a handler for the method, as DRF's dispatch will look it up (HEAD
    falls back to GET; OPTIONS is every APIView's)."""
    if method not in view_cls.http_method_names:
        return False
    if method == "head":
        method = "get"
    if actions is not None:
        return method in actions or method == "options"
    return hasattr(view_cls, method)


def _invalid(name: str, code: str, message: str) -> HttpResponse:
    return problem_response(
        400,
        "validation_error",
        f"{name}: {message}",
        errors=[{"field": name.replace("\x00", "\\0"), "code": code, "message": message}],
    )
