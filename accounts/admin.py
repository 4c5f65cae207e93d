"""Django admin for users, their roles and sign-in sessions: every write through accounts.services."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from accounts import services, stepup
from accounts.admin_forms import PasswordResetForm, UserCreationForm, UserEditForm, password_actor
from accounts.admin_support import ServiceAdmin, apply_all_or_nothing
from accounts.models import AuthSession, SecurityEvent, User
from project.errors import Refused


class DeactivatingYourself(Refused):
    code = "deactivate_self"


@admin.register(User)
class UserAdmin(ServiceAdmin, DjangoUserAdmin):
    add_form = UserCreationForm
    form = UserEditForm
    change_password_form = PasswordResetForm
    ordering = ["email"]
    list_display = ["email", "display_name", "is_active", "is_staff", "date_joined", "last_login"]
    list_filter = ["is_active", "is_staff", "is_superuser", "groups"]
    search_fields = ["email", "display_name"]
    readonly_fields = ["id", "is_staff", "date_joined", "last_login"]
    filter_horizontal = ["user_permissions"]
    actions = ["activate", "deactivate", "reset_mfa"]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["email", "display_name", "roles", "password1", "password2"]}),
    ]

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return self.add_fieldsets
        access = ["roles", "is_active", "is_staff"]
        # Only a superuser makes a superuser or hands out raw permissions: anyone else does not see them.
        if request.user.is_superuser:
            access += ["is_superuser", "user_permissions"]
        return [
            (None, {"fields": ["id", "email", "password"]}),
            ("Profile", {"fields": ["display_name"]}),
            ("Access", {"fields": access}),
            ("Dates", {"fields": ["last_login", "date_joined"]}),
        ]

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        # The email is the login and what grants and audit events name: fixed after creation, as in the API.
        return [*self.readonly_fields, *(["email"] if obj else [])]

    def has_change_permission(self, request, obj=None) -> bool:
        # Also closes the password form: a superuser's account is a superuser's business.
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        # Accounts are deactivated, never deleted: what they own and did stays attributable.
        return False

    def save_model(self, request, obj, form, change) -> None:
        data = form.cleaned_data
        if not change:
            created = services.user_create(
                email=data["email"],
                password=data["password1"],
                roles=data["roles"],
                display_name=data["display_name"],
                actor=request.user,
            )
            obj.pk = created.pk  # The admin's response and change log name the account just made.
            return
        # `obj` already carries the form's values: the services start from the stored account.
        user = User.objects.get(pk=obj.pk)
        changed = set(form.changed_data)
        if changed & {"roles", "is_superuser", "user_permissions"}:
            stepup.require_recent_sign_in(request)  # Role and privilege changes: a recent sign-in.
        if changed & {"is_superuser", "user_permissions"}:
            services.user_update_privileges(
                user=user,
                actor=request.user,
                is_superuser=data["is_superuser"],
                permissions=list(data["user_permissions"]),
            )
        if changed & {"roles", "is_active"}:
            services.user_update_access(
                user=user,
                actor=request.user,
                roles=data["roles"] if "roles" in changed else None,
                is_active=data["is_active"] if "is_active" in changed else None,
            )
        if "display_name" in changed:
            services.user_update_profile(user=user, actor=request.user, display_name=data["display_name"])

    def save_related(self, request, form, formsets, change) -> None:
        """Nothing left to save: the roles and permissions went through the services above."""

    def user_change_password(self, request, id, form_url=""):
        with password_actor(request.user):
            return super().user_change_password(request, id, form_url)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.action(description="Activate selected users")
    def activate(self, request, queryset) -> None:
        apply_all_or_nothing(
            self,
            request,
            queryset.filter(is_active=False),
            lambda user: services.user_update_access(user=user, actor=request.user, is_active=True),
            "Activated {count} user(s).",
        )

    @admin.action(description="Deactivate selected users (ends their sessions at once)")
    def deactivate(self, request, queryset) -> None:
        def deactivate(user: User) -> None:
            if user.pk == request.user.pk:
                raise DeactivatingYourself("you cannot deactivate yourself here.")
            services.user_update_access(user=user, actor=request.user, is_active=False)

        apply_all_or_nothing(self, request, queryset, deactivate, "Deactivated {count} user(s).")

    @admin.action(
        description="Reset MFA of selected users (removes their authenticator and recovery codes)",
        permissions=["change"],
    )
    def reset_mfa(self, request, queryset) -> None:
        apply_all_or_nothing(
            self,
            request,
            queryset,
            lambda user: services.mfa_reset(user=user, actor=request.user),
            "Reset MFA of {count} user(s).",
        )


@admin.register(AuthSession)
class AuthSessionAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "created_at", "last_used_at", "ip_address", "revoked_at", "revoke_reason"]
    list_filter = ["revoke_reason"]
    search_fields = ["user__email", "ip_address"]
    list_select_related = ["user"]
    # Not the sealed grace answer: ciphertext tells an investigator nothing.
    readonly_fields = [f.name for f in AuthSession._meta.fields if f.name != "grace_answer"]
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # A session ends by revocation (kept, with its reason), not by deletion.

    @admin.action(description="Revoke selected sessions")
    def revoke(self, request, queryset) -> None:
        apply_all_or_nothing(
            self,
            request,
            queryset.filter(revoked_at__isnull=True).select_related("user"),
            lambda session: services.session_revoke_by_admin(session=session, actor=request.user),
            "Revoked {count} session(s).",
        )


@admin.register(SecurityEvent)
class SecurityEventAdmin(admin.ModelAdmin):
    """The audit trail, read-only: no one adds, changes or deletes an event here."""

    list_display = ["created_at", "type", "actor_email", "target_type", "target_label", "ip_address"]
    list_filter = ["type", "target_type"]
    search_fields = ["actor_email", "target_label", "target_id", "request_id", "ip_address"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in SecurityEvent._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
