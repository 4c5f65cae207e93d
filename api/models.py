"""Protected resources: projects (with per-object permissions) and their documents."""

import uuid

from django.conf import settings
from django.db import models
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

PROJECT_NAME_MAX = 120
PROJECT_DESCRIPTION_MAX = 5_000
DOCUMENT_TITLE_MAX = 200
DOCUMENT_BODY_MAX = 100_000


class Project(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=PROJECT_NAME_MAX)
    description = models.TextField(max_length=PROJECT_DESCRIPTION_MAX, blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_projects")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("share_project", "Can share project")]
        indexes = [
            models.Index(fields=["created_at", "id"], name="api_project_created"),
            models.Index(fields=["name", "id"], name="api_project_name"),
        ]

    def __str__(self) -> str:
        return self.name


class ProjectCreatedAt(models.DateTimeField):
    """A grant's copy of its project's `created_at`, the first key of the list's order.

    With it, an index on (grantee, permission, project_created_at, project) yields one grantee's
    visible projects already in list order, so a page is cut after page_size + 1 index entries
    instead of after reading and sorting everything the caller may see (docs/performance.md).
    The value is taken from the project on every insert, whoever inserts (the services,
    guardian's `assign_perm`, `bulk_create`), so it cannot be set wrong; a project's
    `created_at` never changes, so it cannot go stale.
    """

    def __init__(self, *args, **kwargs) -> None:
        kwargs["editable"] = False
        super().__init__(*args, **kwargs)

    def pre_save(self, model_instance, add: bool):
        value = model_instance.content_object.created_at
        setattr(model_instance, self.attname, value)
        return value


class ProjectUserObjectPermission(UserObjectPermissionBase):
    """A user's permission on one project; deleted with the project (direct foreign key)."""

    content_object = models.ForeignKey(Project, on_delete=models.CASCADE)
    project_created_at = ProjectCreatedAt()

    class Meta(UserObjectPermissionBase.Meta):
        verbose_name = "project user permission"
        indexes = [
            models.Index(
                fields=["user", "permission", "project_created_at", "content_object"], name="api_user_grant_order"
            )
        ]


class ProjectGroupObjectPermission(GroupObjectPermissionBase):
    """A group's permission on one project; deleted with the project (direct foreign key)."""

    content_object = models.ForeignKey(Project, on_delete=models.CASCADE)
    project_created_at = ProjectCreatedAt()

    class Meta(GroupObjectPermissionBase.Meta):
        verbose_name = "project group permission"
        indexes = [
            models.Index(
                fields=["group", "permission", "project_created_at", "content_object"], name="api_group_grant_order"
            )
        ]


class Document(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="documents")
    title = models.CharField(max_length=DOCUMENT_TITLE_MAX)
    body = models.TextField(max_length=DOCUMENT_BODY_MAX, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="created_documents")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["project", "created_at", "id"], name="api_document_project_created")]

    def __str__(self) -> str:
        return self.title


class ShareableGroup(models.Model):
    """A group that projects may be shared with (a team). Only these are sharing targets.

    Roles are not: sharing with `editor` would reach every future self-registered account.
    Any other group is invisible to sharers: it answers exactly as a group that does not exist.
    """

    group = models.OneToOneField("auth.Group", on_delete=models.CASCADE, primary_key=True, related_name="shareable")
    description = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = "shareable group (team)"

    def __str__(self) -> str:
        return self.group.name
