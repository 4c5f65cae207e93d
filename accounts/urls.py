"""Routes under /api/v1/auth/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from accounts import session_views, views

app_name = "auth"

router = SimpleRouter()
router.register("sessions", session_views.SessionViewSet, basename="session")

urlpatterns = [
    path("token/", views.TokenObtainView.as_view(), name="token"),
    path("token/refresh/", views.TokenRefreshView.as_view(), name="token-refresh"),
    path("token/verify/", views.TokenVerifyView.as_view(), name="token-verify"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("logout-all/", session_views.LogoutAllView.as_view(), name="logout-all"),
    path("me/", views.MeView.as_view(), name="me"),
    path("register/", views.RegisterView.as_view(), name="register"),
    path("password/change/", views.PasswordChangeView.as_view(), name="password-change"),
    *router.urls,
]
