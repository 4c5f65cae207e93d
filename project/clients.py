"""Who is calling: the client IP and user agent as recorded in sessions, logs and rate limits."""

import ipaddress

from django.conf import settings
from django.http import HttpRequest

USER_AGENT_MAX = 255


def _valid_ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """The client's address, never taken from a header the client controls.

    With TRUSTED_PROXY_COUNT = 0 (the default) it is the socket's peer. Behind N trusted
    proxies, each appends the address it received from to X-Forwarded-For, so the client is
    the Nth entry from the right; anything further left was written by the client itself.
    """
    remote = request.META.get("REMOTE_ADDR") or None
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return remote
    hops = [hop for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    if len(hops) < proxies:
        return remote  # Not sent through all the proxies we were told about.
    return _valid_ip(hops[-proxies]) or remote


def user_agent(request: HttpRequest) -> str:
    return request.headers.get("User-Agent", "").replace("\x00", "")[:USER_AGENT_MAX]
