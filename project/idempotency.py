"""`Idempotency-Key` on POST under /api/: a retried request gets the first answer, not a second change.

A client that lost the answer to a POST cannot tell whether it took effect. Sent with the same
`Idempotency-Key` and the same body, the retry gets the stored first answer (status and body)
without the view running again. The answer is recorded in the transaction of the change itself,
so a crash leaves either both or neither. Keys belong to the caller (the authenticated user, or
for anonymous requests the client address) and are kept for RETENTION.

Sign-in and the token endpoints take no key (see `applies_to`). Requests without the header cost
nothing here: no query, no cache access.
"""

import hashlib
import logging
import re
from datetime import timedelta

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.crypto import salted_hmac
from rest_framework.exceptions import APIException
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.views import APIView
from rest_framework_simplejwt.views import TokenViewBase

from accounts.models import IdempotencyRecord
from project.clients import client_ip
from project.problems import problem_response

logger = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
KEY_PATTERN = re.compile(r"[\x20-\x7e]{1,255}")  # Printable ASCII, as the IETF draft's examples.
RETENTION = timedelta(hours=24)
# How long a request holds its key while running; a crashed worker's claim lapses after this.
IN_FLIGHT_SECONDS = 60
REPLAYED_HEADER = "Idempotent-Replayed"


class KeyTaken(Exception):
    """Another request stored an answer under this key meanwhile (the cache did not see it)."""


def applies_to(view_class: type | None) -> bool:
    """Whether POSTs to this view take an Idempotency-Key.

    Not the token endpoints (sign-in, refresh, verify): a stored answer would be a live token pair
    kept in the database (which otherwise holds only digests of tokens), handed to whoever replays
    the key, and a replayed refresh would bypass reuse detection. A retried sign-in simply starts
    another session; a lost refresh answer has the grace window (docs/tokens.md).
    """
    return (
        view_class is not None
        and issubclass(view_class, APIView)
        and not issubclass(view_class, TokenViewBase)
        and not getattr(view_class, "idempotency_exempt", False)  # Answers holding secrets (MFA).
        and "post" in view_class.http_method_names
    )


def _caller_scope(request: HttpRequest, view_class: type[APIView]) -> str | None:
    """Who owns the key: the user the view will authenticate, else the client address.

    None when the credentials are refused, or are missing on a view that wants a signed-in caller:
    the view then answers 401 itself, whatever the key, and nothing is stored or compared.
    """
    authenticators = [authenticator() for authenticator in view_class.authentication_classes]
    try:
        user = Request(request, authenticators=authenticators).user
    except APIException:
        return None
    if user.is_authenticated:
        return f"user:{user.pk}"
    if any(issubclass(permission, IsAuthenticated) for permission in view_class.permission_classes):
        return None
    return f"anon:{client_ip(request) or '-'}"


def _fingerprint(request: HttpRequest) -> str:
    message = b"\n".join([request.method.encode(), request.get_full_path().encode(), request.body])
    return salted_hmac("project.idempotency", message, algorithm="sha256").hexdigest()


def _claim(scope: str, key: str) -> str | None:
    """Mark the key as in flight; None if another request holds it already."""
    marker = "idempotency:" + hashlib.sha256(f"{scope}\n{key}".encode()).hexdigest()
    try:
        return marker if cache.add(marker, 1, timeout=IN_FLIGHT_SECONDS) else None
    except Exception:  # Without the cache, the unique (scope, key) constraint still decides.
        logger.warning("idempotency: cache unavailable, relying on the database", exc_info=True)
        return marker


def _release(marker: str) -> None:
    try:
        cache.delete(marker)
    except Exception:  # It lapses after IN_FLIGHT_SECONDS.
        logger.warning("idempotency: cache unavailable, in-flight marker left to expire", exc_info=True)


def _stored(scope: str, key: str) -> IdempotencyRecord | None:
    return IdempotencyRecord.objects.filter(scope=scope, key=key).first()


def _replay(record: IdempotencyRecord) -> HttpResponse:
    response = HttpResponse(bytes(record.body), status=record.status, content_type=record.content_type or None)
    if record.location:
        response["Location"] = record.location
    response[REPLAYED_HEADER] = "true"
    return response


def _in_flight() -> HttpResponse:
    return problem_response(
        409,
        "idempotency_key_in_use",
        "A request with this Idempotency-Key is still being processed. Retry once it has finished.",
        title="Idempotency key in use.",
    )


class IdempotencyMiddleware:
    """Runs keyed POSTs under /api/ in one transaction with the record of their answer."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> HttpResponse | None:
        key = request.headers.get(HEADER)
        view_class = getattr(view_func, "cls", None)
        if key is None or request.method != "POST" or not request.path.startswith("/api/"):
            return None
        if not applies_to(view_class):
            return None
        if not KEY_PATTERN.fullmatch(key):
            return problem_response(
                400,
                "invalid_idempotency_key",
                "Idempotency-Key must be 1 to 255 printable ASCII characters.",
                title="Invalid idempotency key.",
            )
        scope = _caller_scope(request, view_class)
        if scope is None:
            return None
        marker = _claim(scope, key)
        if marker is None:
            return _in_flight()
        try:
            return self._answer(request, view_func, view_args, view_kwargs, scope=scope, key=key)
        except KeyTaken:
            return _in_flight()
        finally:
            _release(marker)

    def _answer(self, request, view_func, view_args, view_kwargs, *, scope: str, key: str) -> HttpResponse:
        fingerprint = _fingerprint(request)
        now = timezone.now()
        stored = _stored(scope, key)
        if stored is not None and stored.expires_at > now:
            if stored.request_hash != fingerprint:
                return problem_response(
                    422,
                    "idempotency_key_reused",
                    "This Idempotency-Key was used for a different request. Use a new key for a new request.",
                    title="Idempotency key reused.",
                )
            return _replay(stored)
        with transaction.atomic():
            if stored is not None:
                stored.delete()  # Expired: the key is free again.
            response = view_func(request, *view_args, **view_kwargs)
            if hasattr(response, "render"):
                response = response.render()
            # Only a success is kept: a refused request changed nothing, so its retry is a new attempt
            # (after a 429 or a fixed body, say) rather than the same refusal for a day.
            if 200 <= response.status_code < 300:
                try:
                    IdempotencyRecord.objects.create(
                        scope=scope,
                        key=key,
                        request_hash=fingerprint,
                        status=response.status_code,
                        content_type=response.get("Content-Type", ""),
                        location=response.get("Location", ""),
                        body=response.content,
                        created_at=now,
                        expires_at=now + RETENTION,
                    )
                except IntegrityError as exc:  # Leaving the block rolls the change back with it.
                    raise KeyTaken from exc
        return response
