"""The API root, where a client or a person exploring the browsable API starts, and the two
addresses a browser asks for on its own: `/` and `/favicon.ico`."""

from django.conf import settings
from django.http import HttpRequest, HttpResponseRedirect
from django.templatetags.static import static
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

from accounts.roles import is_admin

# Router lookups match UUIDs only, so a malformed id is a 404 from the URL resolver, never a query.
UUID_PATTERN = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"

# Link name -> route, by who may use it. Anyone may sign in and read the schema.
PUBLIC_LINKS = {"sign_in": "auth:token", "schema": "schema", "docs": "docs"}
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


def favicon(request: HttpRequest) -> HttpResponseRedirect:
    # Browsers ask for /favicon.ico on every page without a <link rel="icon"> (the admin's); the
    # file lives under its hashed static name, so this redirect is temporary.
    return HttpResponseRedirect(static("gatehouse/favicon.ico"))
