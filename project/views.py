"""The API root: where a client or a person exploring the browsable API starts."""

from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

# Router lookups match UUIDs only, so a malformed id is a 404 from the URL resolver, never a query.
UUID_PATTERN = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"


@extend_schema(exclude=True)
@api_view(["GET"])
@permission_classes([AllowAny])
def api_root(request: Request) -> Response:
    def url(name: str) -> str:
        return reverse(name, request=request)

    return Response(
        {
            "sign_in": url("auth:token"),
            "me": url("auth:me"),
            "schema": url("schema"),
            "docs": url("docs"),
        }
    )
