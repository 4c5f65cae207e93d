"""Password reset, email verification and email change, under /api/v1/auth/ (docs/recovery.md)."""

import hashlib

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services, stepup
from accounts.models import normalize_email
from accounts.recovery_serializers import (
    AcceptedSerializer,
    EmailChangeSerializer,
    EmailSerializer,
    LinkSerializer,
    PasswordResetConfirmSerializer,
)
from project import throttling

NO_CONTENT = OpenApiResponse(description="Done; no body.")
ACCEPTED = OpenApiResponse(AcceptedSerializer, description="Accepted, whether or not an account matched.")


class RecoveryRateThrottle(throttling.SharedRateThrottle):
    """RATE_LIMIT_RECOVERY: per signed-in user, else per client IP, across the recovery endpoints."""

    scope = "recovery"


class RecoveryEmailRateThrottle(throttling.SharedRateThrottle):
    """RATE_LIMIT_RECOVERY_EMAIL: per email address asked about, whoever asks and whether or not it is an account's."""

    scope = "recovery_email"
    email_field = "email"

    def get_ident_key(self, request: Request) -> str | None:
        data = request.data
        email = data.get(self.email_field) if isinstance(data, dict) else None
        if not isinstance(email, str) or not email.strip():
            return None  # The serializer refuses it; nothing is sent.
        return "email:" + hashlib.sha256(normalize_email(email).encode()).hexdigest()[:32]


class NewEmailRateThrottle(RecoveryEmailRateThrottle):
    email_field = "new_email"


class PublicRecoveryView(APIView):
    """No authentication (the links are opened anywhere); limited per IP on top of the anonymous limit."""

    permission_classes = [permissions.AllowAny]
    authentication_classes: list = []
    throttle_classes = [throttling.AnonRateThrottle, RecoveryRateThrottle]
    feature_setting = ""  # A setting that turns the endpoint off (403), or none.

    def initial(self, request: Request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        if self.feature_setting and not getattr(settings, self.feature_setting):
            raise PermissionDenied(f"This is turned off on this server ({self.feature_setting}=0).")


@extend_schema(
    tags=["auth"],
    request=EmailSerializer,
    responses={202: ACCEPTED},
    summary="Request a password reset",
)
class PasswordResetView(PublicRecoveryView):
    """Mail a link to reset the password, if an active account has this email. Always 202, same body."""

    throttle_classes = [*PublicRecoveryView.throttle_classes, RecoveryEmailRateThrottle]
    feature_setting = "PASSWORD_RESET_ENABLED"
    documents_403 = True  # Turned off.

    def post(self, request: Request) -> Response:
        serializer = EmailSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.password_reset_request(email=serializer.validated_data["email"])
        return Response(
            {"detail": "If an account has this email, a link to reset its password has been sent to it."},
            status=status.HTTP_202_ACCEPTED,
        )


@extend_schema(
    tags=["auth"],
    request=PasswordResetConfirmSerializer,
    responses={204: NO_CONTENT},
    summary="Reset the password with a mailed link",
)
class PasswordResetConfirmView(PublicRecoveryView):
    """Set a new password with the token of a reset link. Every session of the account ends."""

    feature_setting = "PASSWORD_RESET_ENABLED"
    documents_403 = True

    def post(self, request: Request) -> Response:
        serializer = PasswordResetConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.password_reset_confirm(**serializer.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(
    tags=["auth"],
    request=EmailSerializer,
    responses={202: ACCEPTED},
    summary="Send the verification link again",
)
class EmailVerificationResendView(PublicRecoveryView):
    """Mail a new verification link, if an unverified account has this email. Always 202, same body."""

    throttle_classes = [*PublicRecoveryView.throttle_classes, RecoveryEmailRateThrottle]

    def post(self, request: Request) -> Response:
        serializer = EmailSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.email_verification_resend(email=serializer.validated_data["email"])
        return Response(
            {"detail": "If an unverified account has this email, a new verification link has been sent to it."},
            status=status.HTTP_202_ACCEPTED,
        )


@extend_schema(
    tags=["auth"],
    request=LinkSerializer,
    responses={204: NO_CONTENT},
    summary="Verify the email with a mailed link",
)
class EmailVerifyView(PublicRecoveryView):
    """Confirm the account's email with the token of a verification link."""

    def post(self, request: Request) -> Response:
        serializer = LinkSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.email_verify(token=serializer.validated_data["token"])
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(
    tags=["auth"],
    request=EmailChangeSerializer,
    responses={202: ACCEPTED},
    summary="Request an email change",
)
class EmailChangeView(APIView):
    """Mail a confirmation link to the new address and a notice to the current one.

    The email changes only when the link is used (`email/change/confirm/`).
    """

    throttle_classes = [*APIView.throttle_classes, RecoveryRateThrottle, NewEmailRateThrottle]

    def post(self, request: Request) -> Response:
        if not settings.EMAIL_CHANGE_ENABLED:
            raise PermissionDenied("This is turned off on this server (EMAIL_CHANGE_ENABLED=0).")
        stepup.require_step_up(request)  # As a password change: a recent sign-in or X-MFA-Code.
        serializer = EmailChangeSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        services.email_change_request(user=request.user, new_email=serializer.validated_data["new_email"])
        return Response(
            {"detail": "A confirmation link has been sent to the new address. The email changes once it is opened."},
            status=status.HTTP_202_ACCEPTED,
        )


@extend_schema(
    tags=["auth"],
    request=LinkSerializer,
    responses={204: NO_CONTENT},
    summary="Confirm an email change with a mailed link",
)
class EmailChangeConfirmView(PublicRecoveryView):
    """Change the account's email to the address the link was sent to, if it is still free."""

    feature_setting = "EMAIL_CHANGE_ENABLED"
    documents_403 = True

    def post(self, request: Request) -> Response:
        serializer = LinkSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.email_change_confirm(token=serializer.validated_data["token"])
        return Response(status=status.HTTP_204_NO_CONTENT)
