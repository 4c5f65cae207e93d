"""The id of the request being served, for logs and error bodies (a context variable)."""

import re
import uuid
from contextvars import ContextVar

_request_id: ContextVar[str] = ContextVar("request_id", default="")

# Accept a caller's id only if it is short and plain, so it cannot forge log lines.
WELL_FORMED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


def current_request_id() -> str:
    return _request_id.get()


def choose_request_id(supplied: str | None) -> str:
    if supplied and WELL_FORMED.match(supplied):
        return supplied
    return uuid.uuid4().hex


def set_request_id(value: str) -> None:
    _request_id.set(value)
