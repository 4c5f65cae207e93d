"""What the OWASP probes share: the state an attack could change, a raw HTTP client, and a JSON walker."""

import socket
from collections.abc import Iterator
from typing import Any

from accounts.models import AuthSession, RefreshTokenRecord, User
from tests.api.conftest import db_state

NO_SUCH_ID = "00000000-0000-0000-0000-000000000000"


def world() -> dict[str, list]:
    """Everything any request could write, except the records an attempt itself leaves (audit
    events, failed-attempt counters, rate-limit windows): a refused attack must leave it as it was."""
    return {
        **db_state(),
        "accounts": list(
            User.objects.order_by("pk").values_list(
                "pk", "email", "display_name", "password", "is_active", "is_staff", "is_superuser"
            )
        ),
        "sessions": list(AuthSession.objects.order_by("pk").values_list("pk", "user_id", "revoked_at", "expires_at")),
        "refresh_tokens": list(RefreshTokenRecord.objects.order_by("pk").values_list("jti", "token_hash", "used_at")),
    }


def pairs(value: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) of every object nested anywhere in a JSON document."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, child in node.items():
                yield key, child
                stack.append(child)
        elif isinstance(node, list):
            stack.extend(node)


def raw_http(base: str, request: bytes) -> bytes:
    """Send bytes exactly as given (duplicate headers, raw non-ASCII, chunked bodies...) and read
    the whole answer: what an HTTP library would refuse to send, an attacker sends anyway."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(request)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def split_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """(status, headers with lower-case names, body) of a raw HTTP/1.1 answer."""
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body
