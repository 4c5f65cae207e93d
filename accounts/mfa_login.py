"""The second step of the two sign-in forms (admin, browsable API) for accounts with a second factor.

The form's password check (accounts/login.py) hands a verified user here instead of signing them
in: an mfa_token is issued (accounts.services.mfa) and kept in the not-yet-signed-in session, and
the browser is sent to this page, which signs in only with a right code. The same rate limit,
lockout and audit trail as the first step apply; a wrong code is a failed sign-in for the account.
"""

from django import forms
from django.contrib import admin
from django.contrib.auth import login as auth_login
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views import View
from rest_framework.exceptions import Throttled

from accounts import audit, lockout, stepup
from accounts.models import SecurityEvent, User
from accounts.services import mfa
from project.throttling import SignInRateThrottle

PENDING = "gatehouse_mfa_pending"
STEP_URLS = {"admin": "admin-login-mfa", "browsable": "browsable-login-mfa"}
LOGIN_URLS = {"admin": "admin-login", "browsable": "browsable-login"}


def needs_second_step(user: User) -> bool:
    return mfa.is_enrolled(user)


def start_second_step(request: HttpRequest, user: User, *, door: str, next_url: str) -> HttpResponse:
    """Instead of signing in: an mfa_token in the session, and the way to the code page."""
    raw = mfa.mfa_challenge_start(user=user, door=door)
    request.session[PENDING] = {"token": raw, "door": door, "next": next_url}
    return HttpResponseRedirect(reverse(STEP_URLS[door]))


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code", max_length=32, strip=True, widget=forms.TextInput(attrs={"autocomplete": "one-time-code"})
    )

    def factor(self) -> dict[str, str]:
        """A 6-digit code is a TOTP code; anything else is tried as a recovery code."""
        value = self.cleaned_data["code"].replace(" ", "")
        if len(value) == mfa.TOTP_DIGITS and value.isascii() and value.isdigit():
            return {"code": value}
        return {"recovery_code": value}


class SecondStepView(View):
    door: str

    def dispatch(self, request, *args, **kwargs) -> HttpResponse:
        request.sign_in_door = self.door  # A lockout is answered with the forms' HTML page.
        request.current_app = admin.site.name
        pending = request.session.get(PENDING)
        if not isinstance(pending, dict) or pending.get("door") != self.door:
            return HttpResponseRedirect(reverse(LOGIN_URLS[self.door]))
        self.pending = pending
        return super().dispatch(request, *args, **kwargs)

    def page(self, form: CodeForm, status: int = 200) -> HttpResponse:
        context = {
            **admin.site.each_context(self.request),
            "title": "Two-step verification",
            "form": form,
            "login_url": reverse(LOGIN_URLS[self.door]),
        }
        return render(self.request, "accounts/mfa_sign_in.html", context, status=status)

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.page(CodeForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        throttle = SignInRateThrottle()
        if not throttle.allow_request(request, self):
            return lockout.refused_page(
                request, retry_after=int(throttle.wait() or 1), detail="Too many sign-in attempts."
            )
        form = CodeForm(request.POST)
        if not form.is_valid():
            return self.page(form)
        user = mfa.mfa_challenge_user(raw_token=self.pending["token"])
        if user is None:
            return self.start_again()
        if stepup.is_locked_out(request, user):
            return lockout.lockout_response(request)
        try:
            user, method = mfa.mfa_challenge_complete(raw_token=self.pending["token"], **form.factor())
        except mfa.MfaTokenInvalid:
            return self.start_again()
        except mfa.MfaCodeInvalid:
            try:
                stepup.lockout_failure(request, user)
            except Throttled:  # That failure locked the account: this door answers with its page.
                return lockout.lockout_response(request)
            form.add_error("code", "The code is not correct, or was already used.")
            return self.page(form)
        with transaction.atomic():
            request.session.pop(PENDING, None)
            auth_login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            audit.record(SecurityEvent.Type.SIGN_IN, actor=user, target=user, detail={"via": self.door, "mfa": method})
        return HttpResponseRedirect(self.pending["next"])

    def start_again(self) -> HttpResponse:
        self.request.session.pop(PENDING, None)
        return HttpResponseRedirect(reverse(LOGIN_URLS[self.door]))


class AdminSecondStepView(SecondStepView):
    door = "admin"


class BrowsableSecondStepView(SecondStepView):
    door = "browsable"
