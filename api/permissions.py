"""Who may do what with projects, their documents and their sharing.

Three layers (see docs/security-model.md): `api.selectors.ProjectAccess.visible()` decides what
exists for the caller, the permission class below decides the action from data (`perms_map`),
and services grant on create. One class serves every project-scoped view; a view says which
project it acts on through the `get_project` hook and which permission each method needs
through `perms_map`. An unmapped method is a 405, never a KeyError.
"""

from rest_framework import exceptions, permissions
from rest_framework.request import Request

from api.models import Project
from api.selectors import (
    CHANGE,
    DELETE,
    SHARE,
    VIEW,
    ProjectAccess,  # noqa: F401 (the anchors' seed_meta.py imports it from here)
    project_access,
)

# Not a project flag: creating a project takes the `api.add_project` model permission (a role).
CREATE = "create"


class ProjectPermission(permissions.BasePermission):
    """The project's flags decide. Lookups go through `visible()`, so reaching
    `has_object_permission` means the caller can see the project: a refusal here is a 403."""

    perms_map: dict[str, str] = {
        "GET": VIEW,
        "HEAD": VIEW,
        "OPTIONS": VIEW,
        "POST": CREATE,
        "PUT": CHANGE,
        "PATCH": CHANGE,
        "DELETE": DELETE,
    }
    message = "You can see this project but may not do this to it."
    create_message = "Your role may not create projects."

    def get_project(self, view, obj=None) -> Project | None:
        """The project the request acts on; None where each object decides (a collection)."""
        return obj

    def required(self, method: str) -> str:
        if method not in self.perms_map:
            raise exceptions.MethodNotAllowed(method)
        return self.perms_map[method]

    def has_permission(self, request: Request, view) -> bool:
        required = self.required(request.method)
        if required == CREATE:
            if not project_access(request).can_create():
                raise exceptions.PermissionDenied(self.create_message)
            return True
        project = self.get_project(view)
        return project is None or required in project_access(request).flags(project)

    def has_object_permission(self, request: Request, view, obj) -> bool:
        project = self.get_project(view, obj)
        return project is not None and self.required(request.method) in project_access(request).flags(project)


class DocumentPermission(ProjectPermission):
    """Documents inherit from their project: view reads them, change writes them."""

    perms_map = {**ProjectPermission.perms_map, "POST": CHANGE, "DELETE": CHANGE}
    message = "You can see this project but may not change its documents."

    def get_project(self, view, obj=None) -> Project:
        return view.project


class SharePermission(DocumentPermission):
    """Reading and changing who holds what both take `share`."""

    perms_map = dict.fromkeys(ProjectPermission.perms_map, SHARE)
    message = "You need the share permission on this project."
