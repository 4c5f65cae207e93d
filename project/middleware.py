"""Cross-cutting HTTP policy: request ids, body size limit, security and caching headers."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control

from project.problems import problem_response
from project.request_id import choose_request_id, reset_request_id, set_request_id

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


class RequestIDMiddleware:
    """Accept a well-formed X-Request-ID or make one; echo it and expose it to logs."""

    def __init__(self, get_response: Middleware) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = choose_request_id(request.headers.get("X-Request-ID"))
        request.request_id = request_id
        token = set_request_id(request_id)
        try:
            response = self.get_response(request)
        finally:
            reset_request_id(token)
        response["X-Request-ID"] = request_id
        return response


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
            return problem_response(400, "bad_request", "Content-Length is not a number.")
        if length < 0:
            return problem_response(400, "bad_request", "Content-Length is negative.")
        if length > settings.API_MAX_BODY_BYTES:
            return problem_response(
                413,
                "payload_too_large",
                f"The request body is {length} bytes; the limit is {settings.API_MAX_BODY_BYTES}.",
            )
        return self.get_response(request)


class SecurityHeadersMiddleware:
    """Content-Security-Policy everywhere; API answers are never stored by caches."""

    def __init__(self, get_response: Middleware) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if request.path.startswith("/api/"):
            # Every API answer may carry account data; the schema and docs are cheap to refetch.
            patch_cache_control(response, no_store=True)
        return response
