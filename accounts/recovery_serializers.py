"""Bodies of password reset, email verification and email change. Each refuses fields it does not declare."""

from django.contrib.auth import authenticate
from rest_framework import serializers

from accounts import lockout, services
from accounts.serializers import PASSWORD_MAX, NormalizedEmailField, _validate_password
from project.serializers import StrictSerializer

# Longer than any token we make (about 200 characters), short enough to refuse a flood cheaply.
LINK_TOKEN_MAX = 1024


class LinkTokenField(serializers.CharField):
    """The `token` of a mailed link. Not trimmed: a token with spaces is one that does not verify."""

    def __init__(self, **kwargs) -> None:
        super().__init__(
            max_length=LINK_TOKEN_MAX,
            trim_whitespace=False,
            help_text="The token from the link's `#token=` fragment.",
            **kwargs,
        )


class AcceptedSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What happens next. The same whether or not an account matched.")


class EmailSerializer(StrictSerializer):
    email = NormalizedEmailField(max_length=254)


class LinkSerializer(StrictSerializer):
    token = LinkTokenField()


class PasswordResetConfirmSerializer(StrictSerializer):
    token = LinkTokenField()
    new_password = serializers.CharField(write_only=True, max_length=PASSWORD_MAX, style={"input_type": "password"})

    def validate(self, attrs: dict) -> dict:
        # The link first (its refusal is the one answer for every bad link), then Django's
        # password validators against the account it names, as a password change runs them.
        user = services.password_reset_user(token=attrs["token"])
        try:
            _validate_password(attrs["new_password"], user)
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({"new_password": exc.detail}) from exc
        return attrs


class EmailChangeSerializer(StrictSerializer):
    new_email = NormalizedEmailField(max_length=254)
    password = serializers.CharField(write_only=True, max_length=PASSWORD_MAX, style={"input_type": "password"})

    def validate_password(self, value: str) -> str:
        request = self.context["request"]
        # Checked as a sign-in is (django-axes first), as a password change checks the old one.
        if authenticate(request, email=request.user.email, password=value) is None:
            if getattr(request, "axes_locked_out", False):
                raise lockout.locked_out()
            raise serializers.ValidationError("The password is not correct.", code="wrong_password")
        return value
