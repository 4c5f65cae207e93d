"""The audit trail: record security events with who, what, from where and which request.

Services call `record()` inside their own transaction, so an event exists exactly when the
change it describes was committed. The request's client address, user agent and request id
come from a context variable that AuditContextMiddleware fills for each request.
"""

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.http import HttpRequest, HttpResponse

from accounts.models import SecurityEvent, User
from project.clients import client_ip, user_agent
from project.request_id import current_request_id

Type = SecurityEvent.Type


@dataclass(frozen=True)
class Origin:
    ip_address: str | None = None
    user_agent: str = ""


_origin: ContextVar[Origin] = ContextVar("audit_origin", default=Origin())  # noqa: B039 (immutable)


class AuditContextMiddleware:
    """Remember where the current request comes from, for the events it causes."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _origin.set(Origin(client_ip(request), user_agent(request)))
        try:
            return self.get_response(request)
        finally:
            _origin.reset(token)


def _target(target: Any) -> tuple[str, str, str]:
    if target is None:
        return "", "", ""
    if isinstance(target, User):
        return "user", str(target.pk), target.email
    if isinstance(target, models.Model):
        return target._meta.model_name, str(target.pk), str(target)[:254]
    raise TypeError(f"Cannot audit a target of type {type(target).__name__}.")


def record(
    event_type: str,
    *,
    actor: User | None = None,
    target: Any = None,
    detail: dict[str, Any] | None = None,
) -> SecurityEvent:
    """Append one event. Call it inside the transaction of the change it records."""
    origin = _origin.get()
    target_type, target_id, target_label = _target(target)
    actor = actor if actor is not None and getattr(actor, "is_authenticated", False) else None
    return SecurityEvent.objects.create(
        type=event_type,
        actor=actor,
        actor_email=actor.email if actor else "",
        target_type=target_type,
        target_id=target_id,
        target_label=target_label,
        ip_address=origin.ip_address,
        user_agent=origin.user_agent,
        request_id=current_request_id(),
        detail=detail or {},
    )
