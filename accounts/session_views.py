"""The caller's sign-in sessions under /api/v1/auth/: list, revoke one, log out everywhere."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services, stepup
from accounts.models import AuthSession
from accounts.serializers import SessionSerializer
from project.views import UUID_PATTERN


@extend_schema(tags=["sessions"])
class SessionViewSet(mixins.ListModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Your active sessions (one per sign-in). Revoking one ends all of its tokens at once."""

    serializer_class = SessionSerializer
    pagination_class = None  # A user has a handful of sessions; pruning keeps it that way.
    lookup_value_regex = UUID_PATTERN

    def get_queryset(self):
        return AuthSession.objects.active().filter(user_id=self.request.user.pk)

    def perform_destroy(self, instance: AuthSession) -> None:
        services.session_logout(session=instance, actor=self.request.user)


@extend_schema(tags=["sessions"], request=None, responses={204: OpenApiResponse(description="Every session ended.")})
class LogoutAllView(APIView):
    """End every session of your account, this one included."""

    def post(self, request: Request) -> Response:
        stepup.require_step_up(request)
        services.user_logout_everywhere(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
