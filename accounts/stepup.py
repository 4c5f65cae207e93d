"""Step-up: a sensitive operation wants a recent sign-in or a fresh second factor.

`require_step_up(request)` passes when the caller signed in less than STEP_UP_MAX_AGE seconds
ago (the access token's `auth_time` claim, the time its session began; for a browser session,
the time recorded at sign-in), or when the request carries a right, unused code of the caller's
authenticator in the `X-MFA-Code` header. Otherwise it raises a 401 `step_up_required`.
A wrong code in the header is a failed sign-in (lockout, audit), like a wrong password.

Applied to: password change, logout-all, MFA disable and recovery-code regeneration (which take
the code or password in their body), role changes through PATCH users/{id}/, role and privilege
changes in the Django admin. The email change (issue 12) is meant to call it too.
"""

import time

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest
from rest_framework import exceptions

from accounts import lockout
from accounts.models import AuthSession, User
from accounts.services import mfa
from project.errors import Refused

HEADER = "X-MFA-Code"
AUTH_TIME_CLAIM = "auth_time"
# Where a browser (cookie) session keeps the time its sign-in completed, in epoch seconds.
SESSION_AUTH_TIME = "gatehouse_auth_time"


class RecentSignInRequired(Refused):
    """The Django admin's step-up: a form cannot carry a code header, so only a recent sign-in does."""

    code = "step_up_required"


class StepUpRequired(exceptions.AuthenticationFailed):
    default_detail = (
        "This operation needs a recent sign-in: sign in again, or send a code from your authenticator "
        f"in the {HEADER} header."
    )
    default_code = "step_up_required"


@receiver(user_logged_in, dispatch_uid="stepup_remember_auth_time")
def remember_auth_time(sender, request, user, **kwargs) -> None:
    """A browser session records when its sign-in completed (the API's tokens carry `auth_time`)."""
    session = getattr(request, "session", None)
    if session is not None and session.get(SESSION_KEY) == str(user.pk):
        session[SESSION_AUTH_TIME] = int(time.time())


def auth_time(request) -> float | None:
    """When the caller's sign-in completed (epoch seconds), or None if unknown."""
    token = getattr(request, "auth", None)
    if token is not None and hasattr(token, "get"):
        claimed = token.get(AUTH_TIME_CLAIM)
        if isinstance(claimed, int | float):
            return float(claimed)
        # A token issued before `auth_time` existed: its session's start.
        started = AuthSession.objects.filter(id=token.get("sid"), user_id=request.user.pk).values_list(
            "created_at", flat=True
        )
        return started[0].timestamp() if started else None
    session = getattr(request, "session", None)
    value = session.get(SESSION_AUTH_TIME) if session is not None else None
    return float(value) if isinstance(value, int | float) else None


def is_recent(request) -> bool:
    signed_in = auth_time(request)
    return signed_in is not None and time.time() - signed_in < settings.STEP_UP_MAX_AGE


def _django_request(request) -> HttpRequest:
    return getattr(request, "_request", request)


def check_second_factor(request, user: User, *, code: str = "", recovery_code: str = "", purpose: str) -> str:
    """A second factor of `user`, checked as a sign-in is: refused while locked out (429), and a
    wrong one counts as a failed sign-in for that account. The method used."""
    if is_locked_out(request, user):
        raise lockout.locked_out()
    try:
        return mfa.mfa_verify(user=user, code=code, recovery_code=recovery_code, purpose=purpose)
    except mfa.MfaCodeInvalid:
        lockout_failure(request, user)
        raise


def is_locked_out(request, user: User) -> bool:
    """Whether django-axes refuses sign-ins of `user` (or from this client) right now."""
    return AxesProxyHandler.is_locked(_django_request(request), credentials={"username": user.email})


def lockout_failure(request, user: User) -> None:
    """Count a wrong second factor as a failed sign-in of `user` (django-axes); 429 if that locks."""
    django_request = _django_request(request)
    user_login_failed.send(sender=__name__, credentials={"username": user.email}, request=django_request)
    if getattr(django_request, "axes_locked_out", False):
        raise lockout.locked_out()


def require_step_up(request) -> None:
    """Pass, or raise StepUpRequired (401) / MfaCodeInvalid (401) / a lockout (429)."""
    if is_recent(request):
        return
    code = request.headers.get(HEADER, "").strip()
    if code and mfa.is_enrolled(request.user):
        check_second_factor(request, request.user, code=code, purpose="step_up")
        return
    raise StepUpRequired()


def require_recent_sign_in(request) -> None:
    """The admin's form of the check: RecentSignInRequired unless signed in within STEP_UP_MAX_AGE."""
    if not is_recent(request):
        raise RecentSignInRequired(
            f"changing roles or privileges needs a sign-in less than {settings.STEP_UP_MAX_AGE // 60} minutes "
            "old: log out and sign in again."
        )
