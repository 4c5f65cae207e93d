"""Routes of the user directory under /api/v1/: roles, users and lookup."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from accounts import audit_views, directory

app_name = "directory"

router = SimpleRouter()
router.register("users", directory.UserViewSet, basename="user")
router.register("audit-events", audit_views.SecurityEventViewSet, basename="audit-event")

urlpatterns = [
    path("roles/", directory.RoleListView.as_view(), name="role-list"),
    path("users/lookup/", directory.UserLookupView.as_view(), name="user-lookup"),
    *router.urls,
]
