"""Projects, documents, groups and sharing in the Django admin: every write through api.services.

Projects have a "Sharing" page (a button on the change form) backed by the same sharing
services as the API, in place of guardian's generic object-permission editor.
"""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path

from accounts.admin_support import ServiceAdmin
from accounts.roles import ROLES
from api import services
from api.admin_forms import GroupForm, SharingForm
from api.models import Document, Project
from api.selectors import ProjectAccess
from project.errors import DomainError


class DocumentInline(admin.TabularInline):
    """Read-only: a document is added or edited on its own page, through the document services."""

    model = Document
    fields = ["title", "created_by", "created_at"]
    readonly_fields = fields
    extra = 0
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Project)
class ProjectAdmin(ServiceAdmin):
    list_display = ["name", "owner", "created_at", "updated_at"]
    search_fields = ["name", "owner__email"]
    list_select_related = ["owner"]
    raw_id_fields = ["owner"]
    fields = ["id", "name", "description", "owner", "created_at", "updated_at"]
    inlines = [DocumentInline]
    change_form_template = "admin/api/project/change_form.html"

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        # The owner is chosen once, at creation (as in the API): it holds every permission.
        return ["id", "created_at", "updated_at", *(["owner"] if obj else [])]

    def save_model(self, request, obj, form, change) -> None:
        data = form.cleaned_data
        if change:
            services.project_update(
                project=Project.objects.get(pk=obj.pk),  # `obj` already carries the form's values.
                actor=request.user,
                name=data["name"],
                description=data["description"],
            )
        else:
            created = services.project_create(
                owner=data["owner"], name=data["name"], description=data["description"], actor=request.user
            )
            obj.pk = created.pk  # The admin's response and change log name the project just made.

    def delete_model(self, request, obj) -> None:
        services.project_delete(project=obj, actor=request.user)

    def get_urls(self):
        sharing = self.admin_site.admin_view(self.sharing_view)
        return [path("<path:object_id>/sharing/", sharing, name="api_project_sharing"), *super().get_urls()]

    def sharing_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Who holds what on the project, and a form to share or revoke through the services."""
        project = self.get_object(request, unquote(object_id))
        if project is None:
            raise Http404("No such project.")
        if not self.has_view_permission(request, project):
            raise PermissionDenied
        form = SharingForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                grantee, now = form.share(access=ProjectAccess(request.user), project=project)
            except DomainError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                held = ", ".join(p for p in ("view", "change", "delete", "share") if p in now) or "nothing"
                # Not starting with the grantee: the admin capitalises a message's first letter,
                # which would show bob@example.com as "Bob@example.com".
                self.message_user(request, f"Saved. {grantee} now holds: {held}.", messages.SUCCESS)
                return HttpResponseRedirect(request.path)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Sharing: {project}",
            "opts": self.opts,
            "original": project,
            "form": form,
            "grants": services.project_grants(project=project),
            "owner_id": project.owner_id,
            "has_change_permission": self.has_change_permission(request, project),
        }
        return TemplateResponse(request, "admin/api/project/sharing.html", context)


@admin.register(Document)
class DocumentAdmin(ServiceAdmin):
    list_display = ["title", "project", "created_by", "created_at"]
    search_fields = ["title", "project__name"]
    list_select_related = ["project", "created_by"]
    raw_id_fields = ["project"]
    fields = ["id", "project", "title", "body", "created_by", "created_at", "updated_at"]

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        # A document stays in its project; whoever adds it here is its author.
        return ["id", "created_by", "created_at", "updated_at", *(["project"] if obj else [])]

    def save_model(self, request, obj, form, change) -> None:
        data = form.cleaned_data
        if change:
            services.document_update(document=Document.objects.get(pk=obj.pk), title=data["title"], body=data["body"])
        else:
            created = services.document_create(
                project=data["project"], created_by=request.user, title=data["title"], body=data["body"]
            )
            obj.pk = created.pk

    def delete_model(self, request, obj) -> None:
        services.document_delete(document=obj)


admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(ServiceAdmin, DjangoGroupAdmin):
    """Roles (viewer, editor, admin) mean what accounts/roles.py says: only a superuser edits them.

    Teams are groups marked shareable here; their name and model permissions have no service
    (nothing security-relevant hangs on them) and are saved by Django as usual.
    """

    form = GroupForm
    fields = ["name", "permissions", "shareable"]
    list_display = ["name"]

    @staticmethod
    def _is_role(obj: Group | None) -> bool:
        return obj is not None and obj.name in ROLES

    def has_change_permission(self, request, obj=None) -> bool:
        if self._is_role(obj) and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        if self._is_role(obj) and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        services.group_set_shareable(group=form.instance, shareable=form.cleaned_data["shareable"], actor=request.user)

    def delete_model(self, request, obj) -> None:
        services.group_delete(group=obj, actor=request.user)
