"""Routes of the user directory under /api/v1/: roles, users and lookup."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from accounts import directory

app_name = "directory"

router = SimpleRouter()
router.register("users", directory.UserViewSet, basename="user")

urlpatterns = [
    path("roles/", directory.RoleListView.as_view(), name="role-list"),
    path("users/lookup/", directory.UserLookupView.as_view(), name="user-lookup"),
    *router.urls,
]
