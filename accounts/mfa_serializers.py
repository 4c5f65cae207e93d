"""Bodies of the MFA endpoints (accounts/mfa_views.py), and the sign-in's `mfa_required` answer."""

import logging

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.signals import user_logged_in
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, serializers

from accounts import lockout, services, stepup
from accounts.models import User
from accounts.services import mfa
from project.clients import client_ip, user_agent
from project.schema import ProblemSerializer
from project.serializers import StrictSerializer

logger = logging.getLogger(__name__)

TOKEN_MAX = 4096
PASSWORD_MAX = 256  # As accounts/serializers.py's (which imports this module).
TOTP_CODE = {"min_length": mfa.TOTP_DIGITS, "max_length": mfa.TOTP_DIGITS}
RECOVERY_CODE_MAX = 32


class MfaRequired(exceptions.AuthenticationFailed):
    """The password was right; the account has a second factor: finish at token/mfa/ with `mfa_token`."""

    default_detail = "A second factor is required: send the mfa_token with a code to token/mfa/."
    default_code = "mfa_required"

    def __init__(self, mfa_token: str) -> None:
        super().__init__()
        self.problem_members = {"mfa_token": mfa_token, "mfa_token_expires_in": settings.MFA_TOKEN_LIFETIME}


def stop_for_second_factor(user: User, *, door: str) -> None:
    """At a sign-in door, once the password is verified: raise MfaRequired if `user` has a second factor."""
    if mfa.is_enrolled(user):
        raise MfaRequired(mfa.mfa_challenge_start(user=user, door=door))


class MfaRequiredProblemSerializer(ProblemSerializer):
    """The sign-in's 401: any problem (wrong password...), or `mfa_required` with the mfa_token."""

    mfa_token = serializers.CharField(
        required=False, help_text="With `mfa_required` only: send it to token/mfa/ with a code (single use)."
    )
    mfa_token_expires_in = serializers.IntegerField(
        required=False, help_text="With `mfa_required` only: seconds the mfa_token stays valid."
    )


@extend_schema_field(
    {
        "type": "string",
        "pattern": "^[0-9]{6}$",
        "minLength": mfa.TOTP_DIGITS,
        "maxLength": mfa.TOTP_DIGITS,
        "description": "The 6-digit code your authenticator shows now.",
    }
)
class TotpCodeField(serializers.RegexField):
    """Six ASCII digits; the schema says so (drf-spectacular does not read a RegexField's regex)."""


def _code_field(**kwargs) -> serializers.RegexField:
    return TotpCodeField(
        r"^[0-9]{6}$",
        **TOTP_CODE,
        help_text="The 6-digit code your authenticator shows now.",
        error_messages={"invalid": "A code is 6 digits."},
        **kwargs,
    )


class TotpEnrolmentSerializer(serializers.Serializer):
    secret = serializers.CharField(help_text="Base32 secret, for typing into an authenticator by hand.")
    otpauth_uri = serializers.CharField(help_text="otpauth://totp/... URI (issuer = MFA_ISSUER, account = your email).")
    qr_code = serializers.CharField(help_text="The URI as a QR code: a data:image/svg+xml URI, ready for an <img src>.")


class TotpConfirmSerializer(StrictSerializer):
    code = _code_field()


class NewRecoveryCodesSerializer(serializers.Serializer):
    recovery_codes = serializers.ListField(
        child=serializers.CharField(),
        help_text="10 single-use codes, shown only this once: keep them somewhere safe.",
    )


class MfaStatusSerializer(serializers.Serializer):
    enrolled = serializers.BooleanField(help_text="An authenticator is confirmed: sign-in asks for a code.")
    pending = serializers.BooleanField(help_text="A secret was issued and awaits confirmation.")
    recovery_codes_left = serializers.IntegerField()
    required = serializers.BooleanField(
        help_text="Your role requires MFA (MFA_REQUIRED_FOR_ROLES) and you have not enrolled."
    )


class StepUpCredentialSerializer(StrictSerializer):
    """A fresh code or the password: what disabling MFA and new recovery codes ask for."""

    code = _code_field(required=False)
    password = serializers.CharField(
        write_only=True, required=False, max_length=PASSWORD_MAX, style={"input_type": "password"}
    )

    def validate(self, attrs: dict) -> dict:
        request = self.context["request"]
        user = request.user
        if not mfa.is_enrolled(user):
            raise mfa.MfaNotEnrolled("No authenticator is set up.")
        if ("code" in attrs) == ("password" in attrs):
            raise serializers.ValidationError("Send either `code` or `password`.", code="one_credential")
        if "code" in attrs:
            stepup.check_second_factor(request, user, code=attrs["code"], purpose=self.context["purpose"])
        elif authenticate(request, email=user.email, password=attrs["password"]) is None:
            # Checked as a sign-in is (django-axes first), like the password change.
            if getattr(request, "axes_locked_out", False):
                raise lockout.locked_out()
            raise serializers.ValidationError({"password": ["The password is not correct."]}, code="wrong_password")
        return attrs


class MfaSignInSerializer(StrictSerializer):
    """The second sign-in step: the mfa_token and a code (or a recovery code) in, the token pair out."""

    # Not trimmed: spaces are a token that does not verify (401), not a blank field.
    mfa_token = serializers.CharField(write_only=True, max_length=TOKEN_MAX, trim_whitespace=False)
    code = _code_field(required=False)
    recovery_code = serializers.CharField(
        write_only=True,
        required=False,
        max_length=RECOVERY_CODE_MAX,
        help_text="Instead of `code`: one of your recovery codes (each works once).",
    )

    def validate(self, attrs: dict) -> dict:
        request = self.context["request"]
        user = mfa.mfa_challenge_user(raw_token=attrs["mfa_token"])
        if user is None:
            raise mfa.MfaTokenInvalid("This mfa_token is not valid (used, expired or unknown): sign in again.")
        if ("code" in attrs) == ("recovery_code" in attrs):
            raise serializers.ValidationError("Send either `code` or `recovery_code`.", code="one_credential")
        if stepup.is_locked_out(request, user):
            raise lockout.locked_out()
        try:
            user, _method = mfa.mfa_challenge_complete(
                raw_token=attrs["mfa_token"], code=attrs.get("code", ""), recovery_code=attrs.get("recovery_code", "")
            )
        except mfa.MfaCodeInvalid:
            stepup.lockout_failure(request, user)
            raise
        try:
            issued = services.session_start(
                user=user,
                ip_address=client_ip(request),
                user_agent=user_agent(request),
                checked_password_hash=user.password,
            )
        except services.SignInRejected:
            raise mfa.MfaTokenInvalid("The account changed while signing in: sign in again.") from None
        # As the token endpoint does: last_login, the lockout's reset for this account; never fails the answer.
        for receiver, result in user_logged_in.send_robust(sender=type(user), request=request, user=user):
            if isinstance(result, Exception):
                logger.error("user_logged_in receiver %r failed", receiver, exc_info=result)
        return {"access": issued.access, "refresh": issued.refresh}
