"""Project, document and sharing bodies. Writable fields are declared; the rest are refused."""

from rest_framework import serializers

from api.models import Document, Project
from api.selectors import PROJECT_PERMISSIONS, in_order, project_access
from project.serializers import BoundedListField, StrictModelSerializer, StrictSerializer


class ProjectSerializer(StrictModelSerializer):
    permissions = serializers.SerializerMethodField(
        help_text="What you may do with this project: view, change, delete, share."
    )

    class Meta:
        model = Project
        fields = ["id", "name", "description", "owner", "created_at", "updated_at", "permissions"]
        read_only_fields = ["id", "owner", "created_at", "updated_at"]
        extra_kwargs = {"name": {"min_length": 1}}

    def get_permissions(self, project: Project) -> list[str]:
        flags = project_access(self.context["request"]).flags(project)
        return in_order(flags)


class DocumentSerializer(StrictModelSerializer):
    class Meta:
        model = Document
        fields = ["id", "project", "title", "body", "created_by", "created_at", "updated_at"]
        read_only_fields = ["id", "project", "created_by", "created_at", "updated_at"]
        extra_kwargs = {"title": {"min_length": 1}}


class PermissionSetSerializer(StrictSerializer):
    permissions = BoundedListField(
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
