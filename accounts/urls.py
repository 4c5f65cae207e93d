"""Routes under /api/v1/auth/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from accounts import mfa_views, session_views, views

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
    *router.urls,
]
