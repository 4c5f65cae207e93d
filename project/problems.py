"""RFC 9457 problem details for every error the service returns, from DRF or from Django.

A 500 means a bug. An unreachable or exhausted database is an outage instead: 503
`service_unavailable` with Retry-After, so that clients retry and load balancers can tell
the two apart.
"""

import logging
import re
import sqlite3
import sys
from http import HTTPStatus
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.views import exception_handler as drf_exception_handler

from project.errors import DomainError
from project.request_id import current_request_id

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
# Seconds a client is asked to wait after a 503: about one database restart or pool timeout.
RETRY_AFTER_SECONDS = 5
TYPE_PREFIX = "urn:gatehouse:problem:"

# simplejwt's own codes, in the terms of ours (accounts.tokens): a user it cannot find, or finds
# inactive, is an ended session (never "no such account"), and a header it cannot split is malformed.
TOKEN_CODES = {
    "user_not_found": "session_revoked",
    "user_inactive": "session_revoked",
    "bad_authorization_header": "token_malformed",
    "token_not_valid": "token_malformed",
}
# 401s caused by a bad token: RFC 6750 3.1 `error="invalid_token"` in the challenge. Other 401s
# (no credentials, another scheme, a wrong password) get the bare challenge, as 3.1 asks.
INVALID_TOKEN_CODES = frozenset(
    {"token_expired", "token_malformed", "token_bad_signature", "token_wrong_type", "session_revoked"}
)
# RFC 6750 3: error_description is printable ASCII without `"` and `\`.
_DESCRIPTION_UNSAFE = re.compile(r"[^\x20-\x21\x23-\x5b\x5d-\x7e]")

# A stable title per problem type; `detail` carries the occurrence-specific text.
TITLES = {
    "validation_error": "Your request is not valid.",
    "parse_error": "The request body could not be parsed.",
    "not_authenticated": "Authentication required.",
    "authentication_failed": "Authentication failed.",
    "no_active_account": "Authentication failed.",
    "token_expired": "The token has expired.",
    "token_malformed": "The token is malformed.",
    "token_bad_signature": "The token was not signed by this service.",
    "token_wrong_type": "The token is of the wrong type.",
    "session_revoked": "The session has ended.",
    "unsupported_auth_scheme": "Unsupported authorization scheme.",
    "permission_denied": "Permission denied.",
    "superuser_protected": "Permission denied.",
    "not_found": "Not found.",
    "method_not_allowed": "Method not allowed.",
    "not_acceptable": "Not acceptable.",
    "payload_too_large": "Request body too large.",
    "unsupported_media_type": "Unsupported media type.",
    "throttled": "Too many requests.",
    "server_error": "Internal server error.",
    "service_unavailable": "Service temporarily unavailable.",
    "bad_request": "Bad request.",
    "conflict": "Conflict with the current state.",
    "mfa_required": "A second factor is required.",
    "mfa_code_invalid": "The code is not correct.",
    "mfa_token_invalid": "The mfa_token is not valid.",
    "mfa_not_enrolled": "No second factor is set up.",
    "mfa_already_enrolled": "A second factor is already set up.",
    "mfa_enrolment_required": "Set up a second factor first.",
    "mfa_reset_self": "Permission denied.",
    "step_up_required": "A recent sign-in is required.",
}


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is larger than this API accepts."
    default_code = "payload_too_large"


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The database is unavailable. Retry after the number of seconds in Retry-After."
    default_code = "service_unavailable"


def database_unavailable(exc: BaseException | None) -> bool:
    """Whether `exc` says the database cannot be reached or is exhausted (not that we erred).

    Django raises OperationalError for a refused or dropped connection, a server shutting down
    and a pool timeout, and InterfaceError for a connection already closed. On SQLite,
    OperationalError also covers our own mistakes ("no such table"): there only a locked or busy
    database is an outage.
    """
    if isinstance(exc, InterfaceError):
        return True
    if not isinstance(exc, OperationalError):
        return False
    if isinstance(exc.__cause__, sqlite3.OperationalError):
        return any(word in str(exc) for word in ("locked", "busy"))
    return True


def log_unavailable(exc: BaseException) -> None:
    # One line, no traceback: during an outage every request fails the same way.
    logger.warning("database unavailable: %s: %s", type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")


def unavailable_response(request: HttpRequest) -> HttpResponse:
    """The 503 for a request the database failed: a problem for the API, plain text elsewhere."""
    if _wants_problem(request):
        response = problem_response(503, "service_unavailable", ServiceUnavailable.default_detail)
    else:
        response = HttpResponse(
            "Service temporarily unavailable. Try again shortly.\n", status=503, content_type="text/plain"
        )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def problem(status_code: int, code: str, detail: str, **extra: Any) -> dict[str, Any]:
    body = {
        "type": TYPE_PREFIX + code,
        # A code without its own title (a library's, say) falls back to the status phrase.
        "title": TITLES.get(code) or f"{HTTPStatus(status_code).phrase}.",
        "status": status_code,
        "detail": detail,
    }
    request_id = current_request_id()
    if request_id:
        body["request_id"] = request_id
    body.update(extra)
    return body


def problem_response(status_code: int, code: str, detail: str, **extra: Any) -> JsonResponse:
    return JsonResponse(
        problem(status_code, code, detail, **extra),
        status=status_code,
        content_type=PROBLEM_MEDIA_TYPE,
    )


def _flatten(details: Any, path: str = "") -> list[dict[str, Any]]:
    """Turn DRF's nested {"field": [{"message", "code"}]} into a flat list with dotted paths."""
    if isinstance(details, dict) and set(details) == {"message", "code"}:
        return [{"field": path or None, "code": details["code"], "message": str(details["message"])}]
    if isinstance(details, dict):
        out = []
        for key, value in details.items():
            name = "" if key in ("non_field_errors", "detail") else str(key)
            out.extend(_flatten(value, f"{path}.{name}" if path and name else path or name))
        return out
    if isinstance(details, list):
        out = []
        for index, value in enumerate(details):
            # Lists of errors for one field keep the field's path; lists of items add the index.
            is_error_list = isinstance(value, dict) and set(value) == {"message", "code"}
            out.extend(_flatten(value, path if is_error_list else f"{path}.{index}" if path else str(index)))
        return out
    return [{"field": path or None, "code": "invalid", "message": str(details)}]


def _detail_text(detail: Any) -> str:
    if isinstance(detail, dict):
        return str(detail.get("detail", "")) or "Invalid request."
    if isinstance(detail, list):
        return str(detail[0]) if detail else "Invalid request."
    return str(detail)


def _code_of(exc: exceptions.APIException) -> str:
    if isinstance(exc.detail, dict) and isinstance(exc.detail.get("code"), str):
        return str(exc.detail["code"])  # simplejwt keeps its own code in the body.
    codes = exc.get_codes()
    if isinstance(codes, str):
        return codes
    if isinstance(codes, dict) and isinstance(codes.get("code"), str):
        return codes["code"]
    return exc.default_code


def api_exception(exc: DomainError) -> exceptions.APIException:
    """The one translation of a service's refusal into DRF's exceptions."""
    if exc.status == 400:
        field = exc.field or "non_field_errors"
        return exceptions.ValidationError({field: [exc.message]}, code=exc.code)
    if exc.status == 401:  # AuthenticationFailed: DRF adds the Bearer challenge every 401 carries.
        return exceptions.AuthenticationFailed(exc.message, code=exc.code)
    if exc.status == 403:
        return exceptions.PermissionDenied(exc.message, code=exc.code)
    if exc.status == 404:
        return exceptions.NotFound(exc.message, code=exc.code)
    error = exceptions.APIException(exc.message, code=exc.code)
    error.status_code = exc.status
    return error


def invalid_token_challenge(challenge: str, detail: str) -> str:
    """DRF's `Bearer realm="api"` with RFC 6750's error parameters added."""
    description = _DESCRIPTION_UNSAFE.sub("?", detail)
    return f'{challenge}, error="invalid_token", error_description="{description}"'


def exception_handler(exc: Exception, context: dict[str, Any]):
    """DRF's handler, then rewritten as problem details (`errors` lists each invalid field)."""
    if isinstance(exc, DomainError):
        exc = api_exception(exc)
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif database_unavailable(exc):
        log_unavailable(exc)
        exc = ServiceUnavailable()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # Unexpected: Django logs it and handler500 answers with a problem.

    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.get_full_details())
        body = problem(
            response.status_code,
            "validation_error",
            "; ".join(f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in errors[:5]),
            errors=errors,
        )
    else:
        code = _code_of(exc)
        code = TOKEN_CODES.get(code, code)
        # An exception may add members of its own (sign-in's `mfa_token`): `problem_members`.
        body = problem(response.status_code, code, _detail_text(exc.detail), **getattr(exc, "problem_members", {}))
        if code in INVALID_TOKEN_CODES and response.has_header("WWW-Authenticate"):
            response["WWW-Authenticate"] = invalid_token_challenge(response["WWW-Authenticate"], body["detail"])

    response.data = body
    request = context.get("request")
    if getattr(getattr(request, "accepted_renderer", None), "format", None) != "api":
        # A problem is JSON whatever the view renders otherwise (the schema's YAML, the docs' HTML);
        # only the browsable API keeps its page, which shows the problem.
        if request is not None:
            request.accepted_renderer, request.accepted_media_type = JSONRenderer(), PROBLEM_MEDIA_TYPE
        response.content_type = PROBLEM_MEDIA_TYPE
    if isinstance(exc, ServiceUnavailable):
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _wants_problem(request: HttpRequest) -> bool:
    return request.path.startswith("/api/") or "json" in request.headers.get("Accept", "")


def bad_request(request: HttpRequest, exception: Exception | None = None, **kwargs):
    if _wants_problem(request):
        return problem_response(400, "bad_request", "The request could not be understood.")
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception | None = None, **kwargs):
    if _wants_problem(request):
        return problem_response(403, "permission_denied", "You may not do this.")
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception | None = None, **kwargs):
    if _wants_problem(request):
        return problem_response(404, "not_found", "There is nothing at this address.")
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest, **kwargs):
    # Django calls this inside its `except` block: the exception is still the current one. This is
    # the backstop for database errors raised in a middleware, outside any view.
    if database_unavailable(sys.exc_info()[1]):
        return unavailable_response(request)
    if _wants_problem(request):
        return problem_response(
            500,
            "server_error",
            "Something went wrong on our side. Quote the request id when reporting it.",
        )
    return defaults.server_error(request)
