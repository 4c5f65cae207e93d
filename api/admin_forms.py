"""Forms of the Django admin for projects and groups: they gather input, the api services decide."""

from django import forms
from django.contrib.auth.models import Group

from accounts.models import User, normalize_email
from api.models import Project, ShareableGroup
from api.selectors import PROJECT_PERMISSIONS, ProjectAccess
from api.services import project_share_with_group, project_share_with_user, shareable_groups


class SharingForm(forms.Form):
    """Set exactly these permissions for one user (by exact email) or one team; none revokes.

    Change, delete and share imply view, as in the API; the service adds it and decides whether
    the admin may grant at all (only what they hold; admins and superusers hold everything).
    """

    email = forms.EmailField(required=False, help_text="The user's exact email address.")
    group = forms.ModelChoiceField(
        queryset=shareable_groups().order_by("name"),
        to_field_name="name",
        required=False,
        help_text="Or a team (a group marked shareable).",
    )
    permissions = forms.MultipleChoiceField(
        choices=[(name, name) for name in PROJECT_PERMISSIONS],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Change, delete and share come with view. None at all revokes every permission.",
    )

    def clean_email(self) -> User | None:
        email = self.cleaned_data["email"]
        if not email:
            return None
        user = User.objects.filter(email=normalize_email(email)).first()
        if user is None:
            raise forms.ValidationError("No account has this email address.", code="not_found")
        return user

    def clean(self) -> dict:
        cleaned = super().clean()
        if bool(cleaned.get("email")) == bool(cleaned.get("group")) and not self.errors:
            raise forms.ValidationError("Give either a user's email or a team, not both.", code="one_grantee")
        return cleaned

    def share(self, *, access: ProjectAccess, project: Project) -> tuple[str, set[str]]:
        """Call the sharing service; returns who and what they now hold. Raises its DomainError."""
        wanted = set(self.cleaned_data["permissions"])
        user, group = self.cleaned_data["email"], self.cleaned_data["group"]
        if user is not None:
            return user.email, project_share_with_user(access=access, project=project, user=user, permissions=wanted)
        return group.name, project_share_with_group(access=access, project=project, group=group, permissions=wanted)


class GroupForm(forms.ModelForm):
    """A group's name and model permissions, and whether projects may be shared with it (a team)."""

    shareable = forms.BooleanField(
        required=False,
        label="Shareable (a team)",
        help_text="Projects can be shared with this group. Roles never can.",
    )

    class Meta:
        model = Group
        fields = ["name", "permissions"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["shareable"] = ShareableGroup.objects.filter(group=self.instance).exists()
