"""Projects and documents in the Django admin, with guardian's per-object permission editor."""

from django.contrib import admin
from guardian.admin import GuardedModelAdmin

from api.models import Document, Project


class DocumentInline(admin.TabularInline):
    model = Document
    fields = ["title", "created_by", "created_at"]
    readonly_fields = ["created_at"]
    raw_id_fields = ["created_by"]
    extra = 0
    show_change_link = True


@admin.register(Project)
class ProjectAdmin(GuardedModelAdmin):
    """The "Object permissions" button on each project shows and edits who holds what."""

    list_display = ["name", "owner", "created_at", "updated_at"]
    search_fields = ["name", "owner__email"]
    list_select_related = ["owner"]
    raw_id_fields = ["owner"]
    readonly_fields = ["id", "created_at", "updated_at"]
    inlines = [DocumentInline]


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = ["title", "project", "created_by", "created_at"]
    search_fields = ["title", "project__name"]
    list_select_related = ["project", "created_by"]
    raw_id_fields = ["project", "created_by"]
    readonly_fields = ["id", "created_at", "updated_at"]
