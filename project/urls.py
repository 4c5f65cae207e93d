"""Top-level routes: the versioned API, its schema and docs (Swagger UI and Redoc), the public
signing keys, the admin, health probes, and the site root and favicon that browsers ask for."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularSwaggerSplitView

from accounts.jwks import JWKSetView
from accounts.login import AdminSignInView, BrowsableSignInView
from accounts.mfa_login import AdminSecondStepView, BrowsableSecondStepView
from project import health
from project.views import RedocView, SchemaView, api_root, favicon, redoc_script

urlpatterns = [
    # The admin's "View site" and anyone typing the bare host land on the API root.
    path("", RedirectView.as_view(pattern_name="api-root"), name="home"),
    path("favicon.ico", favicon, name="favicon"),
    path("api/v1/", api_root, name="api-root"),
    path("api/v1/auth/", include("accounts.urls")),
    path("api/v1/", include("accounts.directory_urls")),
    path("api/v1/", include("api.urls")),
    path("api/v1/schema/", SchemaView.as_view(), name="schema"),
    path("api/v1/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),
    path("api/v1/redoc/", RedocView.as_view(url_name="schema"), name="redoc"),
    path("api/v1/redoc/redoc.standalone.js", redoc_script, name="redoc-script"),
    # The two sign-in forms, ahead of the routes they replace: same rate limit, lockout and audit as the API.
    path("api-auth/login/", BrowsableSignInView.as_view(), name="browsable-login"),
    path("api-auth/login/mfa/", BrowsableSecondStepView.as_view(), name="browsable-login-mfa"),
    path("api-auth/", include("rest_framework.urls")),
    path(".well-known/jwks.json", JWKSetView.as_view(), name="jwks"),
    path("admin/login/", AdminSignInView.as_view(), name="admin-login"),
    path("admin/login/mfa/", AdminSecondStepView.as_view(), name="admin-login-mfa"),
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
]

handler400 = "project.problems.bad_request"
handler403 = "project.problems.permission_denied"
handler404 = "project.problems.page_not_found"
handler500 = "project.problems.server_error"
