"""Project and document endpoints, and project sharing. Declarative: visibility lives in
api/selectors.py, policy in api/permissions.py, writes in api/services.py."""

from django.shortcuts import get_object_or_404
from django.utils.functional import cached_property
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from api import services
from api.filters import SafeOrderingFilter
from api.models import Document, Project
from api.pagination import KeysetPagination
from api.permissions import DocumentPermission, ProjectPermission, SharePermission
from api.selectors import ALL, in_order, project_access
from api.serializers import (
    DocumentSerializer,
    PermissionSetSerializer,
    ProjectGrantsSerializer,
    ProjectSerializer,
)
from project.query_params import BoundedSearchFilter
from project.views import UUID_PATTERN

LIST_FILTERS = [BoundedSearchFilter, SafeOrderingFilter]


@extend_schema_view(
    list=extend_schema(summary="Projects you can see"),
    create=extend_schema(summary="Create a project (editor or admin role)"),
)
@extend_schema(tags=["projects"])
class ProjectViewSet(viewsets.ModelViewSet):
    """Projects. Lists and details show only what you hold `view` on."""

    serializer_class = ProjectSerializer
    permission_classes = [IsAuthenticated, ProjectPermission]
    pagination_class = KeysetPagination
    filter_backends = LIST_FILTERS
    search_fields = ["name"]
    ordering_fields = ["name", "created_at", "updated_at"]
    lookup_value_regex = UUID_PATTERN

    def get_queryset(self):
        return project_access(self.request).visible()

    def paginate_queryset(self, queryset):
        # `queryset` holds every visible project that matches the search; the page is taken from
        # the few of them it can hold, found from the caller's grants in list order (the same
        # page, order and links: tests/api/test_visibility_order.py), not from all of them.
        access = project_access(self.request)
        window = self.paginator.window(queryset, self.request, self)
        matching = self.filter_queryset(Project.objects.all())
        page = super().paginate_queryset(
            access.visible_page(matching, ordering=window.ordering, bound=window.bound, limit=window.limit)
        )
        if page is not None:
            access.load(project.pk for project in page)
        return page

    def perform_create(self, serializer: ProjectSerializer) -> None:
        project = services.project_create(owner=self.request.user, **serializer.validated_data)
        # The answer is built from what the transaction returned: the owner holds every
        # permission, so nothing is read back after the commit (a failure there would turn a
        # committed create into a 500, and the client's retry into a duplicate).
        project_access(self.request).remember(project, ALL)
        serializer.instance = project

    def perform_update(self, serializer: ProjectSerializer) -> None:
        serializer.instance = services.project_update(
            project=serializer.instance, actor=self.request.user, **serializer.validated_data
        )

    def perform_destroy(self, instance: Project) -> None:
        services.project_delete(project=instance, actor=self.request.user)


class ProjectChildMixin:
    """Views under /projects/{project_pk}/: the project must be visible, else 404."""

    request: Request
    kwargs: dict

    @cached_property
    def project(self) -> Project:
        return get_object_or_404(project_access(self.request).visible(), pk=self.kwargs["project_pk"])


@extend_schema(tags=["documents"])
class DocumentViewSet(ProjectChildMixin, viewsets.ModelViewSet):
    """A project's documents: readable with `view` on the project, writable with `change`."""

    serializer_class = DocumentSerializer
    permission_classes = [IsAuthenticated, DocumentPermission]
    pagination_class = KeysetPagination
    filter_backends = LIST_FILTERS
    search_fields = ["title"]
    ordering_fields = ["title", "created_at", "updated_at"]
    lookup_value_regex = UUID_PATTERN

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Document.objects.none()
        return self.project.documents.all()

    def perform_create(self, serializer: DocumentSerializer) -> None:
        serializer.instance = services.document_create(
            project=self.project, created_by=self.request.user, **serializer.validated_data
        )

    def perform_update(self, serializer: DocumentSerializer) -> None:
        serializer.instance = services.document_update(document=serializer.instance, **serializer.validated_data)

    def perform_destroy(self, instance: Document) -> None:
        services.document_delete(document=instance)


PERMISSION_SET = OpenApiResponse(PermissionSetSerializer, description="The permissions now held.")


@extend_schema(tags=["sharing"])
class ProjectGrantsView(ProjectChildMixin, APIView):
    """Who holds which permission on the project (requires `share`)."""

    permission_classes = [IsAuthenticated, SharePermission]

    @extend_schema(responses={200: ProjectGrantsSerializer})
    def get(self, request: Request, project_pk: str) -> Response:
        return Response(ProjectGrantsSerializer(services.project_grants(project=self.project)).data)


class GrantView(ProjectChildMixin, APIView):
    """PUT sets exactly the given permissions for one grantee; DELETE revokes them all.

    Subclasses define `apply(permissions)`, which finds the grantee and calls the service.
    """

    permission_classes = [IsAuthenticated, SharePermission]

    @extend_schema(request=PermissionSetSerializer, responses={200: PERMISSION_SET})
    def put(self, request: Request, **kwargs) -> Response:
        serializer = PermissionSetSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        after = self.apply(set(serializer.validated_data["permissions"]))
        return Response({"permissions": in_order(after)})

    @extend_schema(responses={204: OpenApiResponse(description="Every permission of the grantee revoked.")})
    def delete(self, request: Request, **kwargs) -> Response:
        self.apply(set())
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["sharing"])
class UserGrantView(GrantView):
    def apply(self, permissions: set[str]) -> set[str]:
        user = get_object_or_404(User, pk=self.kwargs["user_id"])
        return services.project_share_with_user(
            access=project_access(self.request), project=self.project, user=user, permissions=permissions
        )


@extend_schema(tags=["sharing"])
class GroupGrantView(GrantView):
    def apply(self, permissions: set[str]) -> set[str]:
        # Only shareable groups exist here: any other name, a role's included, is the same 404.
        group = get_object_or_404(services.shareable_groups(), name=self.kwargs["group_name"])
        return services.project_share_with_group(
            access=project_access(self.request), project=self.project, group=group, permissions=permissions
        )
