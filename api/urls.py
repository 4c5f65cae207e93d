"""Routes of the protected resources under /api/v1/."""

app_name = "api"

urlpatterns: list = []
