"""The two sign-in forms, the Django admin's and the browsable API's: the API's door, in HTML.

Each is Django's LoginView with what the API's sign-in has: the shared sign-in rate limit
(project/throttling.py SignInRateThrottle: one counter per client IP across all three doors),
the same lockout (django-axes; accounts/lockout.py answers a locked-out form with an HTML page),
the same email normalisation (the backend's get_by_natural_key) and the same audit trail
(sign_in / sign_in_failed, with detail.via naming the door).
"""

from typing import ClassVar

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.contrib.auth.views import LoginView
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.http import HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from accounts import audit, lockout, mfa_login, services
from accounts.models import SecurityEvent, normalize_email
from project.throttling import SignInRateThrottle

Event = SecurityEvent.Type


def refuse_unverified(user) -> None:
    """The API's email_unverified refusal (accounts/services/verification.py), as a form error."""
    try:
        services.ensure_email_verified(user)
    except services.EmailUnverified as exc:
        raise ValidationError(exc.message, code=exc.code) from None


class SignInForm(AuthenticationForm):
    def confirm_login_allowed(self, user) -> None:
        super().confirm_login_allowed(user)
        refuse_unverified(user)


class StaffAuthenticationForm(AdminAuthenticationForm):
    """The admin's form, where a non-staff account's right password is a failed sign-in like a wrong one.

    Django's form refuses non-staff only after authenticate() succeeded, so axes never saw a
    failure: a non-staff account could guess at the admin login without ever locking. Sending
    the failure signal counts it, and the answer (the admin's one "invalid_login" message) is the
    same as for a wrong password, so the admin login does not tell staff accounts apart either.
    """

    def confirm_login_allowed(self, user) -> None:
        if not user.is_staff:
            user_login_failed.send(sender=__name__, credentials={"username": user.get_username()}, request=self.request)
        super().confirm_login_allowed(user)
        refuse_unverified(user)


class SignInView(LoginView):
    """LoginView behind the sign-in rate limit, audited; `door` names it in the audit trail."""

    door: ClassVar[str]
    authentication_form = SignInForm

    def dispatch(self, request, *args, **kwargs) -> HttpResponse:
        request.sign_in_door = self.door  # lockout.lockout_response answers this request in HTML.
        return super().dispatch(request, *args, **kwargs)

    def post(self, request, *args, **kwargs) -> HttpResponse:
        throttle = SignInRateThrottle()
        if not throttle.allow_request(request, self):
            return lockout.refused_page(
                request, retry_after=int(throttle.wait() or 1), detail="Too many sign-in attempts."
            )
        return super().post(request, *args, **kwargs)

    def form_valid(self, form) -> HttpResponse:
        if mfa_login.needs_second_step(form.get_user()):  # A code is owed first (accounts/mfa_login.py).
            return mfa_login.start_second_step(
                self.request, form.get_user(), door=self.door, next_url=self.get_success_url()
            )
        with transaction.atomic():
            response = super().form_valid(form)
            user = form.get_user()
            audit.record(Event.SIGN_IN, actor=user, target=user, detail={"via": self.door})
        return response

    def form_invalid(self, form) -> HttpResponse:
        # A non-field error means authentication was tried (both fields were given) and failed.
        if form.has_error(NON_FIELD_ERRORS):
            audit.record(
                Event.SIGN_IN_FAILED,
                detail={
                    "email": normalize_email(form.cleaned_data.get("username", "")),
                    "locked_out": bool(getattr(self.request, "axes_locked_out", False)),
                    "via": self.door,
                },
            )
        return super().form_invalid(form)


class BrowsableSignInView(SignInView):
    """/api-auth/login/: without `next`, lands on LOGIN_REDIRECT_URL (the API root)."""

    door = "browsable"
    template_name = "rest_framework/login.html"


class AdminSignInView(SignInView):
    """/admin/login/: what admin.site.login does, with StaffAuthenticationForm."""

    door = "admin"
    authentication_form = StaffAuthenticationForm
    template_name = "admin/login.html"

    def dispatch(self, request, *args, **kwargs) -> HttpResponse:
        request.current_app = admin.site.name
        return super().dispatch(request, *args, **kwargs)

    def get(self, request, *args, **kwargs) -> HttpResponse:
        if admin.site.has_permission(request):  # Already signed in as staff: straight to the admin.
            return HttpResponseRedirect(reverse("admin:index"))
        return super().get(request, *args, **kwargs)

    def get_default_redirect_url(self) -> str:
        return reverse("admin:index")

    def get_context_data(self, **kwargs) -> dict:
        return {
            **super().get_context_data(**kwargs),
            **admin.site.each_context(self.request),
            "title": _("Log in"),
            "subtitle": None,
            "app_path": self.request.get_full_path(),
            "username": self.request.user.get_username(),
            REDIRECT_FIELD_NAME: self.get_redirect_url() or self.get_default_redirect_url(),
        }
