"""Account, token, session, directory and audit bodies. Each request body refuses fields it does not declare."""

import logging

from django.contrib.auth import authenticate, password_validation
from django.contrib.auth.signals import user_logged_in
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, serializers
from rest_framework.fields import get_error_detail
from rest_framework_simplejwt import serializers as jwt_serializers
from rest_framework_simplejwt.exceptions import TokenError

from accounts import audit, lockout, mfa_serializers, roles, services
from accounts.authentication import current_session_id
from accounts.models import AuthSession, SecurityEvent, User, normalize_email
from accounts.tokens import SESSION_CLAIM, SessionAccessToken, SessionRevoked, TokenMalformed
from project.clients import client_ip, user_agent
from project.serializers import BoundedListField, StrictFieldsMixin, StrictModelSerializer, StrictSerializer

logger = logging.getLogger(__name__)

TOKEN_MAX = 4096
PASSWORD_MAX = 256


def _validate_password(password: str, user: User) -> str:
    try:
        password_validation.validate_password(password, user=user)
    except DjangoValidationError as exc:
        raise serializers.ValidationError(get_error_detail(exc)) from exc
    return password


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField(help_text="Send as `Authorization: Bearer <access>`.")
    refresh = serializers.CharField(help_text="Use once at token/refresh/ for a new pair.")


# Any string is checked against the accounts, so a malformed address gets the same 401 as an
# unknown one (sign-in says nothing about why); the schema still tells clients what to send.
@extend_schema_field({"type": "string", "format": "email", "minLength": 1, "maxLength": 254})
class SignInEmailField(serializers.CharField):
    """A string: any value is checked against the accounts, as the schema hint says."""


class TokenObtainSerializer(StrictFieldsMixin, jwt_serializers.TokenObtainSerializer):
    """Email and password in, a new session's token pair out.

    Unknown email, wrong password and inactive account all fail alike (401, one message);
    the password hasher runs for unknown emails too, so timing does not tell them apart.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["email"] = SignInEmailField(write_only=True, max_length=254)
        self.fields["password"] = jwt_serializers.PasswordField(max_length=PASSWORD_MAX)

    def validate(self, attrs: dict) -> dict:
        request = self.context["request"]
        try:
            super().validate(attrs)  # Authenticates (django-axes first), or raises AuthenticationFailed.
        except exceptions.AuthenticationFailed:
            locked = bool(getattr(request, "axes_locked_out", False))
            audit.record(
                SecurityEvent.Type.SIGN_IN_FAILED,
                detail={"email": normalize_email(attrs["email"]), "locked_out": locked},
            )
            if locked:
                raise lockout.locked_out() from None
            raise
        mfa_serializers.stop_for_second_factor(self.user, door="api")  # 401 mfa_required when enrolled.
        try:
            services.ensure_email_verified(self.user)  # The same check at every sign-in door.
        except services.EmailUnverified:
            audit.record(
                SecurityEvent.Type.SIGN_IN_FAILED,
                detail={"email": self.user.email, "locked_out": False, "reason": "email_unverified"},
            )
            raise
        try:
            issued = services.session_start(
                user=self.user,
                ip_address=client_ip(request),
                user_agent=user_agent(request),
                checked_password_hash=self.user.password,  # The hash authenticate() just checked.
            )
        except services.SignInRejected:
            # The password changed (or the account was deactivated) while it was being checked:
            # the same answer as a wrong password.
            audit.record(
                SecurityEvent.Type.SIGN_IN_FAILED,
                detail={"email": normalize_email(attrs["email"]), "locked_out": False, "reason": "account_changed"},
            )
            raise exceptions.AuthenticationFailed(
                self.error_messages["no_active_account"], "no_active_account"
            ) from None
        # Django's sign-in signal (last_login, axes clearing this account's failures), sent once the
        # session is committed. It must not fail the answer: the session is live, and a 500 would
        # leave it with nobody holding its tokens. A failing receiver is logged instead.
        for receiver, result in user_logged_in.send_robust(sender=type(self.user), request=request, user=self.user):
            if isinstance(result, Exception):
                logger.error("user_logged_in receiver %r failed", receiver, exc_info=result)
        return {"access": issued.access, "refresh": issued.refresh}


class TokenRefreshSerializer(StrictSerializer):
    # Not trimmed: a token of spaces is a token that does not verify (401), not a blank field.
    refresh = serializers.CharField(write_only=True, max_length=TOKEN_MAX, trim_whitespace=False)

    def validate(self, attrs: dict) -> dict:
        request = self.context["request"]
        try:
            issued = services.session_refresh(
                raw_refresh=attrs["refresh"],
                ip_address=client_ip(request),
                user_agent=user_agent(request),
            )
        except services.RefreshRejected as exc:
            # Signed by us, but used, revoked or unknown: the session is over, sign in again. The
            # message says which of these (a reuse names itself); the view answers session_revoked.
            raise SessionRevoked(str(exc)) from exc
        return {"access": issued.access, "refresh": issued.refresh}


class TokenVerifySerializer(StrictSerializer):
    """An access token: valid signature, not expired, and its session is still live.

    Refresh tokens are refused whatever their state: answering for them would tell the holder
    of a stolen copy the moment its owner rotates it (used or not), which is when to replay it.
    """

    # Not trimmed: a token of spaces is a token that does not verify (401), not a blank field.
    token = serializers.CharField(write_only=True, max_length=TOKEN_MAX, trim_whitespace=False)

    def validate(self, attrs: dict) -> dict:
        token = SessionAccessToken(attrs["token"])
        session_id = token.get(SESSION_CLAIM)
        if not services.is_uuid(session_id):
            raise TokenMalformed("Token contained no recognizable session.")
        if not AuthSession.objects.active().filter(id=session_id, user__is_active=True).exists():
            raise SessionRevoked("The token's session has ended or the account is unavailable.")
        return {}


class LogoutSerializer(StrictSerializer):
    refresh = serializers.CharField(
        write_only=True,
        max_length=TOKEN_MAX,
        trim_whitespace=False,  # Spaces are a token that does not verify, not a blank field.
        required=False,
        help_text="The refresh token of the session to end. Leave it out to end this request's session.",
    )

    def validate_refresh(self, value: str) -> AuthSession:
        try:
            return services.session_for_refresh_token(raw_refresh=value, user=self.context["request"].user)
        except TokenError as exc:
            raise serializers.ValidationError(
                "Token is invalid or does not belong to you.", code="token_not_valid"
            ) from exc

    def validate(self, attrs: dict) -> dict:
        if "refresh" not in attrs:
            request = self.context["request"]
            session_id = current_session_id(request)
            session = AuthSession.objects.filter(id=session_id, user=request.user).first() if session_id else None
            if session is None:  # Signed in with a session cookie: there is no token session.
                raise serializers.ValidationError(
                    {"refresh": ["Give the refresh token of the session to end."]}, code="required"
                )
            attrs["refresh"] = session
        return attrs


class RoleNamesField(serializers.ListField):
    """The user's group names; for the signed-in caller, those the authentication query read."""

    def __init__(self, **kwargs) -> None:
        super().__init__(child=serializers.CharField(), read_only=True, **kwargs)

    def get_attribute(self, instance: User) -> list[str]:
        names = getattr(instance, "role_names", None)  # accounts.authentication.identity_query
        return names if names is not None else [group.name for group in instance.groups.order_by("id")]


class UserSerializer(StrictModelSerializer):
    roles = RoleNamesField()

    class Meta:
        model = User
        fields = ["id", "email", "display_name", "roles", "date_joined"]
        read_only_fields = ["id", "email", "roles", "date_joined"]

    def update(self, instance: User, validated_data: dict) -> User:
        # Write only the changed columns: the instance was loaded when the request was
        # authenticated, and a full save would put back a stale is_active or password.
        for name, value in validated_data.items():
            setattr(instance, name, value)
        instance.save(update_fields=list(validated_data))
        return instance


class NormalizedEmailField(serializers.EmailField):
    """An email validated in the one spelling every door uses (accounts/emails.py): `bob@example.com`
    in fullwidth letters is `bob@example.com`."""

    def to_internal_value(self, data) -> str:
        return normalize_email(super().to_internal_value(data))


class RegisterSerializer(StrictSerializer):
    email = NormalizedEmailField(max_length=254)
    password = serializers.CharField(write_only=True, max_length=PASSWORD_MAX, style={"input_type": "password"})
    display_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")

    def validate(self, attrs: dict) -> dict:
        candidate = User(email=attrs["email"], display_name=attrs.get("display_name", ""))
        try:
            _validate_password(attrs["password"], candidate)
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({"password": exc.detail}) from exc
        return attrs


class PasswordChangeSerializer(StrictSerializer):
    old_password = serializers.CharField(write_only=True, max_length=PASSWORD_MAX, style={"input_type": "password"})
    new_password = serializers.CharField(write_only=True, max_length=PASSWORD_MAX, style={"input_type": "password"})

    def validate_old_password(self, value: str) -> str:
        request = self.context["request"]
        # Checked as a sign-in is (django-axes first), so a wrong password counts towards the lockout and a
        # locked account is refused: a stolen access token must not be an unlimited password-guessing oracle.
        if authenticate(request, email=request.user.email, password=value) is None:
            if getattr(request, "axes_locked_out", False):
                raise lockout.locked_out()
            raise serializers.ValidationError("The current password is not correct.", code="wrong_password")
        return value

    def validate_new_password(self, value: str) -> str:
        return _validate_password(value, self.context["request"].user)


# Sessions, the user directory and the audit trail (read by accounts/session_views.py,
# accounts/directory.py and accounts/audit_views.py).


class SessionSerializer(serializers.ModelSerializer):
    current = serializers.SerializerMethodField(help_text="True for the session of this request's token.")

    class Meta:
        model = AuthSession
        fields = ["id", "created_at", "last_used_at", "ip_address", "user_agent", "current"]
        read_only_fields = fields

    def get_current(self, session: AuthSession) -> bool:
        return str(session.id) == current_session_id(self.context["request"])


class RoleSerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField()
    permissions = serializers.ListField(child=serializers.CharField(), help_text="Model permissions it grants.")


class RoleNamesField(BoundedListField):
    """Role names in, checked against the closed set of roles (nothing free-form reaches the
    database); the user's groups by name out."""

    child = serializers.ChoiceField(choices=roles.ROLES)

    def to_representation(self, groups) -> list[str]:
        return [group.name for group in groups.all()]


class ManagedUserSerializer(StrictModelSerializer):
    roles = RoleNamesField(source="groups", max_length=len(roles.ROLES), help_text="Role names: viewer, editor, admin.")

    class Meta:
        model = User
        fields = ["id", "email", "display_name", "roles", "is_active", "date_joined", "last_login"]
        read_only_fields = ["id", "email", "display_name", "date_joined", "last_login"]

    def update(self, instance: User, validated_data: dict) -> User:
        return services.user_update_access(
            user=instance,
            actor=self.context["request"].user,
            roles=validated_data.get("groups"),
            is_active=validated_data.get("is_active"),
        )


class UserLookupSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "email", "display_name"]


class SecurityEventSerializer(serializers.ModelSerializer):
    actor = serializers.UUIDField(source="actor_id", read_only=True, allow_null=True)

    class Meta:
        model = SecurityEvent
        fields = [
            "id",
            "type",
            "created_at",
            "actor",
            "actor_email",
            "target_type",
            "target_id",
            "target_label",
            "ip_address",
            "user_agent",
            "request_id",
            "detail",
        ]
        read_only_fields = fields
