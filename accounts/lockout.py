"""Brute-force lockout with django-axes: failures counted per account and per client IP.

Axes counts failed sign-ins (its database handler) and refuses further attempts for
AXES_COOLOFF_TIME once AXES_FAILURE_LIMIT is reached, even with the right password. These
hooks make it count emails the way accounts do (normalised) and IPs the way the rest of the
service does (project.clients), and answer a locked-out attempt with 429 and Retry-After: a
problem (JSON) at the API, an HTML page at the two sign-in forms (accounts/login.py).

A successful sign-in clears the failures of that account only (accounts.signals), not axes'
AXES_RESET_ON_SUCCESS, which with per-IP counting deletes every account's failures from the
signing-in IP: one success as your own account would wipe the guesses at someone else's.
"""

import math

from django.conf import settings
from django.contrib import admin
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
