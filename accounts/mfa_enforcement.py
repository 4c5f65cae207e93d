"""MFA_REQUIRED_FOR_ROLES: holders of those roles who have not enrolled reach only enrolment.

A middleware, because the rule holds for every view (the API's, whatever its permission classes,
and the admin's): it runs before the view, authenticates the request as the view will (as
project/idempotency.py does) and answers 403 `mfa_enrolment_required` unless the route is one
of ALLOWED: enrolment and status, me/, logout, the token endpoints, the sign-in forms and the
schema. With the setting empty (the default) it does nothing and costs nothing; set, it costs
the request one more authentication and one query.
"""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.services import mfa
from project.problems import problem_response

ALLOWED = frozenset(
    {
        "auth:mfa",
        "auth:mfa-totp",
        "auth:mfa-totp-confirm",
        "auth:me",
        "auth:logout",
        "auth:token",
        "auth:token-refresh",
        "auth:token-verify",
        "auth:token-mfa",
        "api-root",
        "schema",
        "docs",
        "redoc",
        "redoc-script",
        "jwks",
        "healthz",
        "readyz",
        "home",
        "favicon",
        "admin-login",
        "admin-login-mfa",
        "admin:logout",
        "browsable-login",
        "browsable-login-mfa",
        "rest_framework:logout",
        "admin:jsi18n",
    }
)
DETAIL = (
    "Your role requires a second factor: set one up at POST /api/v1/auth/mfa/totp/ and confirm it "
    "at /api/v1/auth/mfa/totp/confirm/ first."
)


class MfaEnrolmentRequiredMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> HttpResponse | None:
        if not settings.MFA_REQUIRED_FOR_ROLES:
            return None
        match = request.resolver_match
        if match is None or match.view_name in ALLOWED:
            return None
        user = _caller(request, view_func)
        if user is None or not mfa.must_enrol(user):
            return None
        if request.path.startswith("/api/"):
            return problem_response(403, "mfa_enrolment_required", DETAIL)
        return HttpResponse(DETAIL + "\n", status=403, content_type="text/plain; charset=utf-8")


def _caller(request: HttpRequest, view_func):
    """The user the view will see, or None (anonymous, or credentials the view itself refuses)."""
    view_class = getattr(view_func, "cls", None)
    if view_class is not None and issubclass(view_class, APIView):
        authenticators = [authenticator() for authenticator in view_class.authentication_classes]
        try:
            user = Request(request, authenticators=authenticators).user
        except APIException:
            return None
    else:
        user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None
