"""Domain errors: what a service refuses, with the HTTP status, problem code and field it maps to.

Services raise these; `project.problems.exception_handler` translates them once into problem
details, as simplejwt turns `TokenError` into `InvalidToken` in one place. Surfaces other than
the REST API (admin forms, management commands) catch `DomainError` and show its message.
"""

from typing import ClassVar


class DomainError(Exception):
    """A well-formed request the domain refuses. Subclasses set the class attributes."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "invalid"
    field: ClassVar[str | None] = None  # Set: a validation error on this field (400 only).

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if field is not None:
            self.field = field


class Invalid(DomainError):
    """Can never succeed as asked (400, with the field when one is to blame)."""


class Refused(DomainError):
    """Allowed to ask, not allowed to do (403)."""

    status = 403
    code = "permission_denied"


class Conflict(DomainError):
    """Lost to a concurrent change, or clashes with the current state (409)."""

    status = 409
    code = "conflict"
