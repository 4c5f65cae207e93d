"""Sign-in, token lifecycle and the caller's own account, under /api/v1/auth/."""

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, permissions, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt import views as jwt_views
from rest_framework_simplejwt.exceptions import TokenError

from accounts import mfa_serializers, serializers, services, stepup
from accounts.tokens import invalid_token
from project import throttling

NO_CONTENT = OpenApiResponse(description="Done; no body.")


class PublicTokenView(jwt_views.TokenViewBase):
    """simplejwt's view: no authentication, errors as 401 with `WWW-Authenticate: Bearer`."""

    documents_401 = True

    def post(self, request: Request, *args, **kwargs) -> Response:
        # simplejwt's post, translating a refused token with accounts.tokens.invalid_token so the
        # problem keeps its code (token_expired, session_revoked...) instead of `token_not_valid`.
        serializer = self.get_serializer(data=request.data)
        try:
            serializer.is_valid(raise_exception=True)
        except TokenError as exc:
            raise invalid_token(exc) from exc
        return Response(serializer.validated_data, status=status.HTTP_200_OK)


@extend_schema(tags=["auth"], responses={200: serializers.TokenPairSerializer}, summary="Sign in")
class TokenObtainView(PublicTokenView):
    """Exchange email and password for an access token and a refresh token (a new session)."""

    throttle_classes = [throttling.AnonRateThrottle, throttling.SignInRateThrottle]
    serializer_class = serializers.TokenObtainSerializer
    documents_403 = True  # email_unverified (REGISTRATION_REQUIRES_VERIFICATION).
    problem_401 = mfa_serializers.MfaRequiredProblemSerializer  # accounts/mfa_serializers.py
    problem_401_description = "Wrong credentials; or `mfa_required`: finish at token/mfa/ with `mfa_token`."


@extend_schema(tags=["auth"], responses={200: serializers.TokenPairSerializer}, summary="Refresh")
class TokenRefreshView(PublicTokenView):
    """Trade a refresh token (usable once) for a new pair. Reusing one ends its session."""

    throttle_classes = [throttling.AnonRateThrottle, throttling.RefreshRateThrottle]
    serializer_class = serializers.TokenRefreshSerializer


@extend_schema(tags=["auth"], responses={200: OpenApiResponse(description="The token is valid.")}, summary="Verify")
class TokenVerifyView(PublicTokenView):
    """Check a token's signature, expiry and that its session has not been revoked."""

    serializer_class = serializers.TokenVerifySerializer


@extend_schema(tags=["auth"], request=serializers.LogoutSerializer, responses={204: NO_CONTENT}, summary="Log out")
class LogoutView(APIView):
    """End a session: the one the refresh token belongs to, or this request's own.

    Every token of that session stops working at once.
    """

    def post(self, request: Request) -> Response:
        serializer = serializers.LogoutSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        services.session_logout(session=serializer.validated_data["refresh"], actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["auth"])
class MeView(generics.RetrieveUpdateAPIView):
    """The caller's own account. Only `display_name` can be changed."""

    serializer_class = serializers.UserSerializer
    http_method_names = ["get", "patch", "head", "options"]

    def get_object(self):
        return self.request.user


@extend_schema(
    tags=["auth"],
    request=serializers.RegisterSerializer,
    responses={201: serializers.UserSerializer},
    summary="Register",
)
class RegisterView(APIView):
    """Create an account (when REGISTRATION_OPEN). Sign in afterwards to get tokens."""

    throttle_classes = [throttling.AnonRateThrottle, throttling.RegisterRateThrottle]
    permission_classes = [permissions.AllowAny]
    authentication_classes: list = []
    documents_403 = True  # Registration closed.

    def post(self, request: Request) -> Response:
        if not settings.REGISTRATION_OPEN:
            raise PermissionDenied("Registration is closed on this server.")
        serializer = serializers.RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_register(**serializer.validated_data)
        return Response(serializers.UserSerializer(user).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["auth"], request=serializers.PasswordChangeSerializer, responses={204: NO_CONTENT})
class PasswordChangeView(APIView):
    """Change your password. Every session ends: sign in again with the new password."""

    def post(self, request: Request) -> Response:
        stepup.require_step_up(request)
        serializer = serializers.PasswordChangeSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        services.user_change_password(user=request.user, new_password=serializer.validated_data["new_password"])
        return Response(status=status.HTTP_204_NO_CONTENT)
