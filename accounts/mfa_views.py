"""Multi-factor sign-in under /api/v1/auth/: TOTP enrolment, recovery codes, and the second sign-in step."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import mfa_serializers, serializers, services
from accounts.models import TOTPDevice
from accounts.services import mfa
from accounts.views import NO_CONTENT, PublicTokenView
from project import throttling


class MfaView(APIView):
    """An authenticated MFA endpoint. Its answer may hold a secret or recovery codes, so an
    Idempotency-Key never stores it (project/idempotency.py): a retry asks again instead."""

    idempotency_exempt = True


@extend_schema(tags=["mfa"], responses={200: mfa_serializers.MfaStatusSerializer}, summary="MFA status")
class MfaStatusView(MfaView):
    """Whether you have an authenticator, how many recovery codes are left, and whether your role requires one."""

    def get(self, request: Request) -> Response:
        device = TOTPDevice.objects.filter(user=request.user).first()
        enrolled = device is not None and device.confirmed_at is not None
        body = {
            "enrolled": enrolled,
            "pending": device is not None and not enrolled,
            "recovery_codes_left": mfa.recovery_codes_left(request.user) if enrolled else 0,
            "required": mfa.must_enrol(request.user),
        }
        return Response(mfa_serializers.MfaStatusSerializer(body).data)


@extend_schema(
    tags=["mfa"],
    request=None,
    responses={201: mfa_serializers.TotpEnrolmentSerializer},
    summary="Start TOTP enrolment",
)
class TotpEnrolView(MfaView):
    """Get a new TOTP secret (and its otpauth:// URI and QR code) to add to an authenticator app.

    Nothing changes at sign-in until a code from it is confirmed at totp/confirm/. Asking again
    replaces a pending secret; with a confirmed authenticator it is a 409 (disable it first).
    """

    documents_409 = True

    def post(self, request: Request) -> Response:
        pending = services.mfa_totp_begin(user=request.user)
        body = {"secret": pending.secret, "otpauth_uri": pending.otpauth_uri, "qr_code": pending.qr_code}
        return Response(mfa_serializers.TotpEnrolmentSerializer(body).data, status=status.HTTP_201_CREATED)


@extend_schema(
    tags=["mfa"],
    request=mfa_serializers.TotpConfirmSerializer,
    responses={200: mfa_serializers.NewRecoveryCodesSerializer},
    summary="Confirm TOTP enrolment",
)
class TotpConfirmView(MfaView):
    """Activate the pending authenticator with a code it shows; get 10 recovery codes (shown only now).

    From then on every sign-in door asks for a code after the password.
    """

    documents_409 = True

    def post(self, request: Request) -> Response:
        serializer = mfa_serializers.TotpConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        codes = services.mfa_totp_confirm(user=request.user, code=serializer.validated_data["code"])
        return Response(mfa_serializers.NewRecoveryCodesSerializer({"recovery_codes": codes}).data)


@extend_schema(
    tags=["mfa"],
    request=mfa_serializers.StepUpCredentialSerializer,
    responses={204: NO_CONTENT},
    summary="Disable TOTP",
)
class TotpDisableView(MfaView):
    """Remove your authenticator and recovery codes. Send a current `code` or your `password`."""

    documents_409 = True

    def post(self, request: Request) -> Response:
        serializer = mfa_serializers.StepUpCredentialSerializer(
            data=request.data, context={"request": request, "purpose": "disable"}
        )
        serializer.is_valid(raise_exception=True)
        services.mfa_disable(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(
    tags=["mfa"],
    request=mfa_serializers.StepUpCredentialSerializer,
    responses={200: mfa_serializers.NewRecoveryCodesSerializer},
    summary="Regenerate recovery codes",
)
class RecoveryCodesView(MfaView):
    """Replace your recovery codes with 10 new ones (shown only now). Send a current `code` or your `password`."""

    documents_409 = True

    def post(self, request: Request) -> Response:
        serializer = mfa_serializers.StepUpCredentialSerializer(
            data=request.data, context={"request": request, "purpose": "regenerate_recovery_codes"}
        )
        serializer.is_valid(raise_exception=True)
        codes = services.mfa_recovery_codes_regenerate(user=request.user)
        return Response(mfa_serializers.NewRecoveryCodesSerializer({"recovery_codes": codes}).data)


@extend_schema(
    tags=["auth"],
    request=mfa_serializers.MfaSignInSerializer,
    responses={200: serializers.TokenPairSerializer},
    summary="Sign in: second factor",
)
class MfaSignInView(PublicTokenView):
    """Finish a sign-in that answered `mfa_required`: its `mfa_token` and a `code` (or a `recovery_code`).

    The mfa_token works once, for MFA_TOKEN_LIFETIME seconds and at most MFA_TOKEN_MAX_ATTEMPTS
    wrong codes; a wrong code counts towards the account's lockout as a wrong password does.
    """

    throttle_classes = [throttling.AnonRateThrottle, throttling.SignInRateThrottle]
    serializer_class = mfa_serializers.MfaSignInSerializer
