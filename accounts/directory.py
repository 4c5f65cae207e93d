"""The user directory: roles, admin-only user management, and exact-email lookup for sharing."""

from django.contrib.auth.models import Group
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import filters, mixins, permissions, serializers, viewsets
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from accounts import roles, services
from accounts.models import User, normalize_email
from project.serializers import StrictModelSerializer

UUID_PATTERN = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"


class IsAdminRole(permissions.BasePermission):
    message = "Only admins may manage users."

    def has_permission(self, request: Request, view) -> bool:
        return roles.is_admin(request.user)


class RoleSerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField()
    permissions = serializers.ListField(child=serializers.CharField(), help_text="Model permissions it grants.")


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


class ManagedUserSerializer(StrictModelSerializer):
    roles = serializers.SlugRelatedField(
        source="groups",
        slug_field="name",
        many=True,
        queryset=Group.objects.filter(name__in=roles.ROLES),
        help_text="Role names: viewer, editor, admin.",
    )

    class Meta:
        model = User
        fields = ["id", "email", "display_name", "roles", "is_active", "date_joined", "last_login"]
        read_only_fields = ["id", "email", "display_name", "date_joined", "last_login"]

    def validate_roles(self, value: list[Group]) -> list[Group]:
        if len(value) > len(roles.ROLES):
            raise ValidationError("Too many roles.", code="max_length")
        return value

    def update(self, instance: User, validated_data: dict) -> User:
        groups = validated_data.get("groups")
        try:
            return services.user_update_access(
                user=instance,
                roles=None if groups is None else [group.name for group in groups],
                is_active=validated_data.get("is_active"),
            )
        except services.LastAdmin as exc:
            raise ValidationError({"roles": [str(exc)]}, code="last_admin") from exc


class EmailPagination(CursorPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering = ("email",)


@extend_schema(tags=["users"])
class UserViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """Admin only: every user, their roles and whether they may sign in."""

    serializer_class = ManagedUserSerializer
    permission_classes = [permissions.IsAuthenticated, IsAdminRole]
    pagination_class = EmailPagination
    filter_backends = [filters.SearchFilter]
    search_fields = ["email"]
    lookup_value_regex = UUID_PATTERN
    http_method_names = ["get", "patch", "head", "options"]

    def get_queryset(self):
        return User.objects.prefetch_related("groups")


class UserLookupSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "email", "display_name"]


@extend_schema(
    tags=["users"],
    parameters=[OpenApiParameter("email", str, required=True, description="The exact email address.")],
    responses={200: UserLookupSerializer},
)
class UserLookupView(APIView):
    """Find one user to share with, by exact email. There is no way to list users."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "lookup"

    def get(self, request: Request) -> Response:
        email = request.query_params.get("email", "")
        if not email or len(email) > 254 or "\x00" in email:
            raise ValidationError({"email": ["Give one exact email address (at most 254 characters)."]})
        user = User.objects.filter(email=normalize_email(email), is_active=True).first()
        if user is None:
            raise NotFound("No active user has this email address.")
        return Response(UserLookupSerializer(user).data)
