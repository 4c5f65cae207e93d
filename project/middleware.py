"""Cross-cutting HTTP policy: request ids, body size limit, security and caching headers, a 503
rather than a 500 when the database is unavailable, and no slash-appending redirects under /api/."""

from collections.abc import Callable

from django.conf import settings
from django.core.signals import request_finished
from django.http import HttpRequest, HttpResponse
from django.middleware.common import CommonMiddleware
from django.utils.cache import patch_cache_control

from project.problems import database_unavailable, log_unavailable, problem_response, unavailable_response
from project.request_id import choose_request_id, set_request_id

Middleware = Callable[[HttpRequest], HttpResponse]

# Admin, browsable API and Swagger UI (split view, no inline script) all work under this.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=()"


def apply_security_headers(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """CSP, framing and caching policy; also for answers made before the inner middleware ran."""
    response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
    if not getattr(response, "xframe_options_exempt", False):
        # XFrameOptionsMiddleware sits innermost: a response short-circuited before it has none.
        response.setdefault("X-Frame-Options", settings.X_FRAME_OPTIONS)
    if request.path.startswith("/api/"):
        # Every API answer may carry account data; the schema and docs are cheap to refetch.
        patch_cache_control(response, no_store=True)
    return response


class RequestIDMiddleware:
    """Accept a well-formed X-Request-ID or make one; echo it and expose it to logs.

    The id stays current until the request has finished, not only until this middleware
    returns: Django logs 4xx and 5xx answers ("Not Found: ...") after the middleware chain.
    """

    def __init__(self, get_response: Middleware) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = choose_request_id(request.headers.get("X-Request-ID"))
        request.request_id = request_id
        set_request_id(request_id)
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


def _forget_request_id(**kwargs) -> None:
    set_request_id("")


request_finished.connect(_forget_request_id, dispatch_uid="project.middleware.forget_request_id")


class BodySizeLimitMiddleware:
    """Refuse a body over API_MAX_BODY_BYTES with 413 before anything reads it.

    DRF's parsers read the WSGI stream directly, so Django's own upload limit does not apply.
    """

    def __init__(self, get_response: Middleware) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        raw = request.META.get("CONTENT_LENGTH") or "0"
        try:
            length = int(raw)
        except ValueError:
            return self.refuse(request, 400, "bad_request", "Content-Length is not a number.")
        if length < 0:
            return self.refuse(request, 400, "bad_request", "Content-Length is negative.")
        if length > settings.API_MAX_BODY_BYTES:
            return self.refuse(
                request,
                413,
                "payload_too_large",
                f"The request body is {length} bytes; the limit is {settings.API_MAX_BODY_BYTES}.",
            )
        return self.get_response(request)

    @staticmethod
    def refuse(request: HttpRequest, status: int, code: str, detail: str) -> HttpResponse:
        # Answered before SecurityHeadersMiddleware runs, so the header policy is applied here.
        return apply_security_headers(request, problem_response(status, code, detail))


class SecurityHeadersMiddleware:
    """Content-Security-Policy everywhere; API answers are never stored by caches."""

    def __init__(self, get_response: Middleware) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return apply_security_headers(request, self.get_response(request))


class DatabaseUnavailableMiddleware:
    """503 with Retry-After when a Django view (the admin, say) fails because the database is
    unavailable. DRF views get the same from the exception handler, and errors raised in a
    middleware from handler500 (project.problems.server_error)."""

    def __init__(self, get_response: Middleware) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not database_unavailable(exception):
            return None  # A bug: Django logs it and handler500 answers.
        log_unavailable(exception)
        return unavailable_response(request)


class APISlashMiddleware(CommonMiddleware):
    """Django's CommonMiddleware, except that under /api/ a known route asked for without its
    trailing slash is a 404 problem naming the right URL, not APPEND_SLASH's 301: a client follows
    that redirect with GET, so a POST would silently become a read."""

    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        if request.path.startswith("/api/") and super().should_redirect_with_slash(request):
            url = request.get_full_path(force_append_slash=True)
            return problem_response(
                404, "not_found", f"There is nothing at this address; every API URL ends with /: {url}"
            )
        return super().process_request(request)

    def should_redirect_with_slash(self, request: HttpRequest) -> bool:
        return not request.path.startswith("/api/") and super().should_redirect_with_slash(request)
