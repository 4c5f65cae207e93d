"""Brute-force lockout with django-axes: failures counted per account and per client IP.

Axes counts failed sign-ins (its database handler) and refuses further attempts for
AXES_COOLOFF_TIME once AXES_FAILURE_LIMIT is reached, even with the right password. These
hooks make it count emails the way accounts do (normalised) and IPs the way the rest of the
service does (project.clients), and answer the admin login with a 429 problem.
"""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from rest_framework.exceptions import Throttled

from accounts.models import normalize_email
from project.problems import problem_response


def username_from_request(request: HttpRequest, credentials: dict | None = None) -> str:
    """The email an attempt was made for, normalised, from the API or the admin login form."""
    credentials = credentials or {}
    raw = credentials.get("email") or credentials.get("username")
    if raw is None:
        data = getattr(request, "data", None) or request.POST
        raw = data.get("email") or data.get("username") if hasattr(data, "get") else None
    return normalize_email(str(raw)) if raw else ""


def cooloff_seconds() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds())


def locked_out() -> Throttled:
    """The API's answer to a locked-out attempt: 429, the same whether or not the email exists."""
    return Throttled(wait=cooloff_seconds(), detail="Too many failed sign-in attempts.")


def lockout_response(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """What AxesMiddleware answers a locked-out request with (the admin login form)."""
    response = problem_response(
        429,
        "throttled",
        "Too many failed sign-in attempts. Try again later.",
    )
    response["Retry-After"] = str(cooloff_seconds())
    return response
