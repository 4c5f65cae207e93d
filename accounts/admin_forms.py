"""The Django admin's user forms: they gather input; the account services decide and write."""

from contextlib import contextmanager
from contextvars import ContextVar

from django import forms
from django.contrib.auth.forms import AdminPasswordChangeForm, AdminUserCreationForm, UserChangeForm
from django.core.exceptions import ValidationError

from accounts import roles, services
from accounts.models import User
from project.errors import DomainError

# Who is using the password form. Django's UserAdmin builds that form itself, with the user
# and the POST data only; UserAdmin.user_change_password sets this around its call.
_password_actor: ContextVar[User] = ContextVar("admin_password_actor")


@contextmanager
def password_actor(user: User):
    token = _password_actor.set(user)
    try:
        yield
    finally:
        _password_actor.reset(token)


def role_field() -> forms.MultipleChoiceField:
    return forms.MultipleChoiceField(
        choices=[(name, f"{name}: {roles.ROLE_DESCRIPTIONS[name]}") for name in roles.ROLES],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="The admin role also gives access to this admin site (staff status follows it).",
    )


class UserCreationForm(AdminUserCreationForm):
    """A new account: email, name, roles and a password checked by the password validators."""

    usable_password = None  # Every account made here signs in with a password.
    roles = role_field()

    class Meta:
        model = User
        fields = ("email", "display_name")


class UserEditForm(UserChangeForm):
    """Roles and activation for everyone; superuser status and raw permissions for superusers
    only (UserAdmin.get_fieldsets leaves them out for anyone else). The email is read-only."""

    roles = role_field()

    class Meta:
        model = User
        fields = ("display_name", "is_active", "is_superuser", "user_permissions")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["roles"] = list(
                self.instance.groups.filter(name__in=roles.ROLES).values_list("name", flat=True)
            )


class PasswordResetForm(AdminPasswordChangeForm):
    """The admin's password form, through user_change_password: it ends every session (how a
    stolen account is recovered) and is audited with the admin as the actor."""

    def __init__(self, user: User, *args, **kwargs) -> None:
        super().__init__(user, *args, **kwargs)
        # No "disable password sign-in" switch: to shut someone out, deactivate them.
        self.fields.pop("usable_password", None)
        self.fields["password1"].required = self.fields["password2"].required = True

    def clean(self) -> dict:
        cleaned = super().clean()
        try:
            services.guard_superuser(user=self.user, actor=_password_actor.get())
        except DomainError as error:
            raise ValidationError(error.message, code=error.code) from error
        return cleaned

    def save(self, commit: bool = True) -> User:
        services.user_change_password(
            user=self.user, new_password=self.cleaned_data["password1"], actor=_password_actor.get()
        )
        return self.user
