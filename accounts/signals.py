"""Audit events for what happens outside our services (Django admin actions, axes lockouts).

(A successful sign-in's reset of its account's failures is axes' own user_logged_in hook, in
accounts.lockout.LockoutHandler.)"""

from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.db.models.signals import post_save
from django.dispatch import receiver

from accounts import audit
from accounts.lockout import username_from_request
from accounts.models import SecurityEvent

ACTIONS = {ADDITION: "add", CHANGE: "change", DELETION: "delete"}


@receiver(post_save, sender=LogEntry, dispatch_uid="audit_admin_action")
def record_admin_action(sender, instance: LogEntry, created: bool, **kwargs) -> None:
    """Every change made through the Django admin, in the admin view's own transaction."""
    if not created:
        return
    audit.record(
        SecurityEvent.Type.ADMIN_ACTION,
        actor=instance.user,
        detail={
            "action": ACTIONS.get(instance.action_flag, str(instance.action_flag)),
            "model": f"{instance.content_type.app_label}.{instance.content_type.model}"
            if instance.content_type
            else "",
            "object_id": str(instance.object_id or ""),
            "object": instance.object_repr,
            "change": instance.get_change_message(),
        },
    )


@receiver(user_locked_out, dispatch_uid="audit_lockout")
def record_lockout(sender, request, username=None, ip_address=None, **kwargs) -> None:
    """One event when a lockout begins. axes sends the signal again for every attempt made while
    locked out (each restarts the cool-off and is a sign_in_failed event with locked_out: true);
    only the failure that reached the limit begins a lockout."""
    if getattr(request, "axes_failures_since_start", None) != settings.AXES_FAILURE_LIMIT:
        return
    audit.record(
        SecurityEvent.Type.LOCKOUT,
        detail={"email": username or username_from_request(request), "ip_address": ip_address or ""},
    )

