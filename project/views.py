"""The API root, where a client or a person exploring the browsable API starts, the Redoc
reference page, and the two addresses a browser asks for on its own: `/` and `/favicon.ico`."""

import functools

from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.templatetags.static import static
from django.urls import reverse as django_reverse
from drf_spectacular.renderers import OpenApiYamlRenderer
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

from accounts.roles import is_admin
from project.middleware import CONTENT_SECURITY_POLICY

# Router lookups match UUIDs only, so a malformed id is a 404 from the URL resolver, never a query.
UUID_PATTERN = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"

# Link name -> route, by who may use it. Anyone may sign in and read the schema.
PUBLIC_LINKS = {"sign_in": "auth:token", "schema": "schema", "docs": "docs", "reference": "redoc"}
MEMBER_LINKS = {
    "me": "auth:me",
    "projects": "api:project-list",
    "roles": "directory:role-list",
    "sessions": "auth:session-list",
    "logout": "auth:logout",
    "logout_all": "auth:logout-all",
}
ADMIN_LINKS = {"users": "directory:user-list", "audit_events": "directory:audit-event-list"}


@extend_schema(exclude=True)
@api_view(["GET"])
@permission_classes([AllowAny])
def api_root(request: Request) -> Response:
    """The collections the caller may use. Anonymous: no query; signed in: at most the admin check."""
    links = dict(PUBLIC_LINKS)
    if request.user.is_authenticated:
        links.update(MEMBER_LINKS)
        if is_admin(request.user):
            links.update(ADMIN_LINKS)
    elif settings.REGISTRATION_OPEN:
        links["register"] = "auth:register"
    return Response({name: reverse(route, request=request) for name, route in links.items()})


class PlainTextYamlRenderer(OpenApiYamlRenderer):
    media_type = "text/plain"
    charset = "utf-8"


class SchemaView(SpectacularAPIView):
    """The OpenAPI schema; a browser (which asks for HTML) gets the YAML as text/plain, shown in the
    tab rather than downloaded as application/vnd.oai.openapi. Not as HTML: nothing to escape."""

    def perform_content_negotiation(self, request, force=False):
        if "format" not in request.query_params and "text/html" in request.headers.get("Accept", ""):
            return PlainTextYamlRenderer(), PlainTextYamlRenderer.media_type
        return super().perform_content_negotiation(request, force)


# Redoc's sidebar shows its maker's logo from a CDN, hard-coded in the bundle: the page would
# load an image from another origin (refused by the CSP, and the docs must work offline). The
# bundle is served with that one address swapped for an empty local image.
REDOC_BUNDLE = "drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"
REDOC_REMOTE_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
EMPTY_IMAGE = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E"


@functools.cache
def redoc_bundle() -> str:
    with open(finders.find(REDOC_BUNDLE), encoding="utf-8") as bundle:
        return bundle.read().replace(REDOC_REMOTE_LOGO, EMPTY_IMAGE)


def redoc_script(request: HttpRequest) -> HttpResponse:
    return HttpResponse(redoc_bundle(), content_type="text/javascript; charset=utf-8")


class RedocView(SpectacularRedocView):
    """The schema as a reading page: Redoc from the sidecar, offline, no inline script."""

    template_name = "gatehouse/redoc.html"

    @staticmethod
    def _redoc_standalone() -> str:
        return django_reverse("redoc-script")

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        # Redoc runs its search index in a Web Worker it builds from a blob: URL. Allowed on this
        # page only: the worker holds Redoc's own code, and the rest of the policy is unchanged.
        response["Content-Security-Policy"] = f"{CONTENT_SECURITY_POLICY}; worker-src 'self' blob:"
        return response


def favicon(request: HttpRequest) -> HttpResponseRedirect:
    # Browsers ask for /favicon.ico on every page without a <link rel="icon"> (the admin's); the
    # file lives under its hashed static name, so this redirect is temporary.
    return HttpResponseRedirect(static("gatehouse/favicon.ico"))
