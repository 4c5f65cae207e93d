"""Who is calling: the client IP and user agent as recorded in sessions and logs."""

from django.http import HttpRequest

USER_AGENT_MAX = 255


def client_ip(request: HttpRequest) -> str | None:
    """The socket's peer address. Client-supplied X-Forwarded-For is never trusted here."""
    return request.META.get("REMOTE_ADDR") or None


def user_agent(request: HttpRequest) -> str:
    return request.headers.get("User-Agent", "")[:USER_AGENT_MAX].replace("\x00", "")
