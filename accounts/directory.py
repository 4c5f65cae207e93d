"""The user directory: roles, admin-only user management, and exact-email lookup for sharing."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, permissions, viewsets
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import roles, stepup
from accounts.models import User, normalize_email
from accounts.serializers import ManagedUserSerializer, RoleSerializer, UserLookupSerializer
from project.pagination import StrictCursorPagination
from project.query_params import BoundedSearchFilter
from project.throttling import LookupRateThrottle, UserRateThrottle
from project.views import UUID_PATTERN


class IsAdminRole(permissions.BasePermission):
    message = "Only admins may manage users."

    def has_permission(self, request: Request, view) -> bool:
        return roles.is_admin(request.user)


@extend_schema(tags=["roles"])
class RoleListView(ListAPIView):
    """Each role and what it allows."""

    serializer_class = RoleSerializer
    pagination_class = None

    def get_queryset(self):
        return [
            {"name": name, "description": roles.ROLE_DESCRIPTIONS[name], "permissions": roles.ROLE_PERMISSIONS[name]}
            for name in roles.ROLES
        ]


class EmailPagination(StrictCursorPagination):
    ordering = ("email",)


@extend_schema(tags=["users"])
class UserViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """Admin only: every user, their roles and whether they may sign in."""

    serializer_class = ManagedUserSerializer
    permission_classes = [permissions.IsAuthenticated, IsAdminRole]
    pagination_class = EmailPagination
    filter_backends = [BoundedSearchFilter]
    search_fields = ["email"]
    lookup_value_regex = UUID_PATTERN
    http_method_names = ["get", "patch", "head", "options"]

    def get_queryset(self):
        return User.objects.prefetch_related("groups")

    def perform_update(self, serializer) -> None:
        if "groups" in serializer.validated_data:  # A role change wants a recent sign-in (accounts/stepup.py).
            stepup.require_step_up(self.request)
        serializer.save()


@extend_schema(
    tags=["users"],
    parameters=[
        OpenApiParameter(
            "email",
            {"type": "string", "minLength": 1, "maxLength": 254},
            required=True,
            description="The exact email address (case of the domain does not matter).",
        )
    ],
    responses={200: UserLookupSerializer},
)
class UserLookupView(APIView):
    """Find one user to share with, by exact email. There is no way to list users."""

    # The general per-user limit, and a tighter one (RATE_LIMITS["lookup"]) against probing for emails.
    throttle_classes = [UserRateThrottle, LookupRateThrottle]
    query_params = ["email"]
    documents_404 = True  # No such (active) user.

    def get(self, request: Request) -> Response:
        email = request.query_params.get("email", "")
        if not email or len(email) > 254 or "\x00" in email:
            raise ValidationError({"email": ["Give one exact email address (at most 254 characters)."]})
        user = User.objects.filter(email=normalize_email(email), is_active=True).first()
        if user is None:
            raise NotFound("No active user has this email address.")
        return Response(UserLookupSerializer(user).data)
