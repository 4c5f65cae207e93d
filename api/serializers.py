"""Project, document and sharing bodies. Writable fields are declared; the rest are refused."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse

from api.models import Document, Project
from api.selectors import PROJECT_PERMISSIONS, SHARE, in_order, project_access
from project.serializers import BoundedListField, StrictModelSerializer, StrictSerializer


class ProjectLinksSerializer(serializers.Serializer):
    self = serializers.URLField(help_text="This project.")
    documents = serializers.URLField(help_text="Its documents.")
    permissions = serializers.URLField(
        required=False, help_text="Who holds which permission on it; present only when you hold `share`."
    )


class DocumentLinksSerializer(serializers.Serializer):
    self = serializers.URLField(help_text="This document.")
    project = serializers.URLField(help_text="The project it belongs to.")


class ProjectSerializer(StrictModelSerializer):
    permissions = serializers.SerializerMethodField(
        help_text="What you may do with this project: view, change, delete, share."
    )
    _links = serializers.SerializerMethodField(
        method_name="links", label="Links", help_text="Where to go from here: the project, its documents, its sharing."
    )

    class Meta:
        model = Project
        fields = ["id", "name", "description", "owner", "created_at", "updated_at", "permissions", "_links"]
        read_only_fields = ["id", "owner", "created_at", "updated_at"]
        extra_kwargs = {"name": {"min_length": 1}}

    def get_permissions(self, project: Project) -> list[str]:
        flags = project_access(self.context["request"]).flags(project)
        return in_order(flags)

    @extend_schema_field(ProjectLinksSerializer)
    def links(self, project: Project) -> dict[str, str]:
        request = self.context["request"]
        links = {
            "self": reverse("api:project-detail", kwargs={"pk": project.pk}, request=request),
            "documents": reverse("api:document-list", kwargs={"project_pk": project.pk}, request=request),
        }
        # The flags are loaded for the page already (ProjectViewSet.paginate_queryset): no query.
        if SHARE in project_access(request).flags(project):
            links["permissions"] = reverse("api:project-grants", kwargs={"project_pk": project.pk}, request=request)
        return links


class DocumentSerializer(StrictModelSerializer):
    _links = serializers.SerializerMethodField(
        method_name="links", label="Links", help_text="Where to go from here: the document and its project."
    )

    class Meta:
        model = Document
        fields = ["id", "project", "title", "body", "created_by", "created_at", "updated_at", "_links"]
        read_only_fields = ["id", "project", "created_by", "created_at", "updated_at"]
        extra_kwargs = {"title": {"min_length": 1}}

    @extend_schema_field(DocumentLinksSerializer)
    def links(self, document: Document) -> dict[str, str]:
        request = self.context["request"]
        address = {"project_pk": document.project_id, "pk": document.pk}
        return {
            "self": reverse("api:document-detail", kwargs=address, request=request),
            "project": reverse("api:project-detail", kwargs={"pk": document.project_id}, request=request),
        }


# validate_permissions refuses a repeated permission: the schema says so.
@extend_schema_field(
    {"type": "array", "items": {"$ref": "#/components/schemas/ProjectPermission"}, "uniqueItems": True}
)
class PermissionListField(BoundedListField):
    """Permission names, each at most once (validate_permissions), as the schema says."""


class PermissionSetSerializer(StrictSerializer):
    permissions = PermissionListField(
        child=serializers.ChoiceField(choices=PROJECT_PERMISSIONS),
        max_length=len(PROJECT_PERMISSIONS),
        allow_empty=True,
        help_text="Exactly the permissions to hold afterwards; change, delete and share imply view.",
    )

    def validate_permissions(self, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise serializers.ValidationError("Each permission may appear once.", code="duplicate")
        return value


class UserGrantSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    email = serializers.EmailField()
    permissions = serializers.ListField(child=serializers.ChoiceField(choices=PROJECT_PERMISSIONS))


class GroupGrantSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="Groups are addressed by their unique name.")
    permissions = serializers.ListField(child=serializers.ChoiceField(choices=PROJECT_PERMISSIONS))


class ProjectGrantsSerializer(serializers.Serializer):
    users = UserGrantSerializer(many=True)
    groups = GroupGrantSerializer(many=True)
