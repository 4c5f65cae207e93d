"""Routes of the protected resources under /api/v1/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from api import views

app_name = "api"

router = SimpleRouter()
router.register("projects", views.ProjectViewSet, basename="project")

document_list = views.DocumentViewSet.as_view({"get": "list", "post": "create"})
document_detail = views.DocumentViewSet.as_view(
    {"get": "retrieve", "put": "update", "patch": "partial_update", "delete": "destroy"}
)

urlpatterns = [
    *router.urls,
    path("projects/<uuid:project_pk>/documents/", document_list, name="document-list"),
    path("projects/<uuid:project_pk>/documents/<uuid:pk>/", document_detail, name="document-detail"),
    path("projects/<uuid:project_pk>/permissions/", views.ProjectGrantsView.as_view(), name="project-grants"),
    path(
        "projects/<uuid:project_pk>/permissions/users/<uuid:user_id>/",
        views.UserGrantView.as_view(),
        name="project-grant-user",
    ),
    path(
        "projects/<uuid:project_pk>/permissions/groups/<str:group_name>/",
        views.GroupGrantView.as_view(),
        name="project-grant-group",
    ),
]
