"""Brute-force lockout with django-axes: failures counted per account and per client IP.

Axes counts failed sign-ins (its database handler) and refuses further attempts for
AXES_COOLOFF_TIME once AXES_FAILURE_LIMIT is reached, even with the right password. These
hooks make it count emails the way accounts do (normalised) and IPs the way the rest of the
service does (project.clients), and answer a locked-out attempt with 429 and Retry-After: a
problem (JSON) at the API, an HTML page at the two sign-in forms (accounts/login.py).

A successful sign-in clears the failures of that account only (LockoutHandler.user_logged_in),
not axes' AXES_RESET_ON_SUCCESS, which with per-IP counting deletes every account's failures from
the signing-in IP: one success as your own account would wipe the guesses at someone else's.

LockoutHandler is axes' database handler (settings.AXES_HANDLER) made cheap on the success path,
which every sign-in takes: one query counts the failures for every lockout parameter at once
(axes runs one per parameter), and a successful sign-in writes nothing unless its account had
failures to clear (axes' handler cleans expired attempts, logs at INFO and opens empty write
transactions on each success). Failures are recorded exactly as axes records them.
"""

import math

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_parameters, get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib import admin
from django.db.models import Q, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
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


def refused_page(request: HttpRequest, *, retry_after: int, detail: str) -> HttpResponse:
    """The sign-in forms' 429: an HTML page with the time left, and Retry-After."""
    context = {
        **admin.site.each_context(request),
        "title": "Too many sign-in attempts",
        "detail": detail,
        "minutes": max(1, math.ceil(retry_after / 60)),
    }
    response = render(request, "accounts/sign_in_refused.html", context, status=429)
    response["Retry-After"] = str(retry_after)
    return response


def lockout_response(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """What AxesMiddleware answers a locked-out request with: a page at the forms, else a problem."""
    if getattr(request, "sign_in_door", None):
        return refused_page(request, retry_after=cooloff_seconds(), detail="Too many failed sign-in attempts.")
    response = problem_response(
        429,
        "throttled",
        "Too many failed sign-in attempts. Try again later.",
    )
    response["Retry-After"] = str(cooloff_seconds())
    return response


class LockoutHandler(AxesDatabaseHandler):
    """axes' database handler with one query per lockout check and no writes on a clean success."""

    def get_failures(self, request, credentials: dict | None = None) -> int:
        """The most failures of any lockout parameter (per account, per IP) in the cool-off, in one query.

        Also leaves the account's own count on the request (`lockout_own_failures`), so that a
        successful sign-in knows whether there is anything to clear.
        """
        username = get_client_username(request, credentials)
        parameters = get_client_parameters(
            username, request.axes_ip_address, request.axes_user_agent, request, credentials
        )
        sums = {f"p{index}": Sum("failures_since_start", filter=Q(**kwargs)) for index, kwargs in enumerate(parameters)}
        either = Q()
        for kwargs in parameters:
            either |= Q(**kwargs)
        attempts = AccessAttempt.objects.filter(either)
        if settings.AXES_COOLOFF_TIME is not None:
            attempts = attempts.filter(attempt_time__gte=get_cool_off_threshold(request))
        counts = attempts.aggregate(**sums) if sums else {}
        own = [counts[f"p{index}"] or 0 for index, kwargs in enumerate(parameters) if kwargs.keys() == {"username"}]
        request.lockout_own_failures = own[0] if own else None
        return max((count or 0 for count in counts.values()), default=0)

    def user_logged_in(self, sender, request, user, **kwargs) -> None:
        """Clear the account's own failures, from every IP, and nothing else; nothing to clear, no query.

        Never another account's: axes' AXES_RESET_ON_SUCCESS (off) would delete every failure from
        this IP, so "two guesses at alice, one sign-in as carol", repeated, would guess at alice forever.
        Expired attempts are cleaned when a failure is recorded (axes' user_login_failed deletes
        them before it counts a new one), not on every success. The audit trail records the
        sign-in, so nothing is logged.
        """
        if getattr(request, "lockout_own_failures", None) == 0:
            return  # Counted on this request before the password was checked: nothing to clear.
        AccessAttempt.objects.filter(username=user.get_username()).delete()
