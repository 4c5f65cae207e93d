"""Routes under /api/v1/auth/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from accounts import mfa_views, recovery_views, session_views, views

app_name = "auth"

router = SimpleRouter()
router.register("sessions", session_views.SessionViewSet, basename="session")

urlpatterns = [
    path("token/", views.TokenObtainView.as_view(), name="token"),
    path("token/refresh/", views.TokenRefreshView.as_view(), name="token-refresh"),
    path("token/verify/", views.TokenVerifyView.as_view(), name="token-verify"),
    path("token/mfa/", mfa_views.MfaSignInView.as_view(), name="token-mfa"),
    path("mfa/", mfa_views.MfaStatusView.as_view(), name="mfa"),
    path("mfa/totp/", mfa_views.TotpEnrolView.as_view(), name="mfa-totp"),
    path("mfa/totp/confirm/", mfa_views.TotpConfirmView.as_view(), name="mfa-totp-confirm"),
    path("mfa/totp/disable/", mfa_views.TotpDisableView.as_view(), name="mfa-totp-disable"),
    path("mfa/recovery-codes/", mfa_views.RecoveryCodesView.as_view(), name="mfa-recovery-codes"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("logout-all/", session_views.LogoutAllView.as_view(), name="logout-all"),
    path("me/", views.MeView.as_view(), name="me"),
    path("register/", views.RegisterView.as_view(), name="register"),
    path("password/change/", views.PasswordChangeView.as_view(), name="password-change"),
    path("password/reset/", recovery_views.PasswordResetView.as_view(), name="password-reset"),
    path(
        "password/reset/confirm/", recovery_views.PasswordResetConfirmView.as_view(), name="password-reset-confirm"
    ),
    path("email/verify/", recovery_views.EmailVerifyView.as_view(), name="email-verify"),
    path("email/verify/resend/", recovery_views.EmailVerificationResendView.as_view(), name="email-verify-resend"),
    path("email/change/", recovery_views.EmailChangeView.as_view(), name="email-change"),
    path("email/change/confirm/", recovery_views.EmailChangeConfirmView.as_view(), name="email-change-confirm"),
    *router.urls,
]
