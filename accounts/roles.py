"""Roles: Django groups with model permissions. Object permissions come on top (guardian)."""

from django.contrib.auth.models import Group
from django.db.models import Exists, OuterRef

from accounts.models import User

VIEWER = "viewer"
EDITOR = "editor"
ADMIN = "admin"

# What each role allows, as model permissions (`app_label.codename`). The data migration
# accounts/0002_roles creates the groups from a copy of this table.
ROLE_PERMISSIONS: dict[str, list[str]] = {
    VIEWER: [],
    EDITOR: ["api.add_project"],
    ADMIN: [
        "api.add_project",
        "api.view_project",
        "api.change_project",
        "api.delete_project",
        "api.share_project",
        "api.view_document",
        "api.add_document",
        "api.change_document",
        "api.delete_document",
        "accounts.view_user",
        "accounts.change_user",
        "auth.view_group",
    ],
}
ROLE_DESCRIPTIONS = {
    VIEWER: "Sees only what is shared with them; cannot create projects.",
    EDITOR: "Creates projects (and so owns them); sees what they own or is shared with them.",
    ADMIN: "Staff: sees and manages every project, document, user and role.",
}
ROLES = [VIEWER, EDITOR, ADMIN]


def admin_role_expression() -> Exists:
    """SQL: the outer user is in the admin group (folded into the authentication query)."""
    return Exists(User.groups.through.objects.filter(user_id=OuterRef("pk"), group__name=ADMIN))


def is_admin(user: User) -> bool:
    """Superusers and members of the admin role see and manage everything."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    cached = getattr(user, "has_admin_role", None)
    if cached is None:
        cached = user.groups.filter(name=ADMIN).exists()
        user.has_admin_role = cached
    return bool(cached)


def role_groups() -> dict[str, Group]:
    return {group.name: group for group in Group.objects.filter(name__in=ROLES)}
