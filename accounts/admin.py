"""Django admin for users, their roles (groups) and sign-in sessions."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm, AdminUserCreationForm, UserChangeForm
from django.db import transaction

from accounts import audit, services
from accounts.models import AuthSession, SecurityEvent, User

Event = SecurityEvent.Type


class UserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email",)


class UserEditForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


class PasswordResetForm(AdminPasswordChangeForm):
    """The admin's password form. A reset ends every session: it is how a stolen account is recovered."""

    @transaction.atomic
    def save(self, commit: bool = True) -> User:
        user = super().save(commit=commit)
        if commit:
            ended = services.sessions_revoke_all(user=user, reason=AuthSession.RevokeReason.PASSWORD_CHANGE)
            # The admin who did it is on the ADMIN_ACTION event Django's change log produces.
            audit.record(Event.PASSWORD_CHANGE, target=user, detail={"sessions_ended": ended, "via": "admin"})
        return user


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    add_form = UserCreationForm
    form = UserEditForm
    change_password_form = PasswordResetForm
    ordering = ["email"]
    list_display = ["email", "display_name", "is_active", "is_staff", "date_joined", "last_login"]
    list_filter = ["is_active", "is_staff", "is_superuser", "groups"]
    search_fields = ["email", "display_name"]
    readonly_fields = ["id", "date_joined", "last_login"]
    filter_horizontal = ["groups", "user_permissions"]
    actions = ["activate", "deactivate"]
    fieldsets = [
        (None, {"fields": ["id", "email", "password"]}),
        ("Profile", {"fields": ["display_name"]}),
        ("Access", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["email", "usable_password", "password1", "password2"]}),
    ]

    # Only a superuser makes a superuser: otherwise the admin role (staff with accounts.change_user)
    # could tick is_superuser on itself, hand itself raw permissions, or reset a superuser's password.
    def get_readonly_fields(self, request, obj=None) -> list[str]:
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly += ["is_superuser", "user_permissions"]
        return readonly

    def has_change_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    @admin.action(description="Activate selected users")
    def activate(self, request, queryset) -> None:
        count = 0
        for user in queryset.filter(is_active=False):
            services.user_set_active(user=user, is_active=True, actor=request.user)
            count += 1
        self.message_user(request, f"Activated {count} user(s).")

    @admin.action(description="Deactivate selected users (ends their sessions at once)")
    def deactivate(self, request, queryset) -> None:
        count = 0
        for user in queryset.exclude(pk=request.user.pk):
            services.user_set_active(user=user, is_active=False, actor=request.user)
            count += 1
        self.message_user(request, f"Deactivated {count} user(s).")

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data and not obj.is_active:
            services.user_set_active(user=obj, is_active=False, actor=request.user)


@admin.register(AuthSession)
class AuthSessionAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "created_at", "last_used_at", "ip_address", "revoked_at", "revoke_reason"]
    list_filter = ["revoke_reason"]
    search_fields = ["user__email", "ip_address"]
    list_select_related = ["user"]
    readonly_fields = [f.name for f in AuthSession._meta.fields]
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Revoke selected sessions")
    def revoke(self, request, queryset) -> None:
        count = 0
        for session in queryset.filter(revoked_at__isnull=True):
            services.session_revoke_by_admin(session=session, actor=request.user)
            count += 1
        self.message_user(request, f"Revoked {count} session(s).")


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
