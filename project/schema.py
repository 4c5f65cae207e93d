"""OpenAPI: every operation documents the problem-details errors it can answer with."""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter
from rest_framework import permissions, serializers

from project import idempotency
from project.problems import PROBLEM_MEDIA_TYPE

IDEMPOTENCY_KEY = OpenApiParameter(
    name=idempotency.HEADER,
    location=OpenApiParameter.HEADER,
    required=False,
    type={"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x20-\\x7e]+$"},
    description=(
        "Makes a retry safe: the same key with the same body within 24 hours gets the first answer "
        "again (with `Idempotent-Replayed: true`) instead of making the change twice. Any unique "
        "string, e.g. a UUID; keys belong to the caller."
    ),
)


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details."""

    type = serializers.CharField(help_text="URI naming the kind of problem, e.g. urn:gatehouse:problem:not_found.")
    title = serializers.CharField(help_text="Short summary of the kind of problem.")
    status = serializers.IntegerField()
    detail = serializers.CharField(help_text="What went wrong this time.")
    request_id = serializers.CharField(required=False, help_text="Quote it when reporting a problem.")


class FieldErrorSerializer(serializers.Serializer):
    field = serializers.CharField(allow_null=True, help_text="Dotted path of the field, or null for the whole body.")
    code = serializers.CharField(help_text="Machine-readable reason, e.g. required, max_length, unknown_field.")
    message = serializers.CharField()


class ValidationProblemSerializer(ProblemSerializer):
    errors = FieldErrorSerializer(
        many=True, required=False, help_text="Each invalid field (absent when the body could not be parsed)."
    )


class ProblemAutoSchema(AutoSchema):
    """Adds the error responses of the shared error policy to each operation, and the
    Idempotency-Key header to the POSTs that take it."""

    def _takes_idempotency_key(self) -> bool:
        return self.method.upper() == "POST" and idempotency.applies_to(type(self.view))

    def get_override_parameters(self):
        parameters = super().get_override_parameters()
        return [*parameters, IDEMPOTENCY_KEY] if self._takes_idempotency_key() else parameters

    def _problem(self, status_code: str, serializer, description: str) -> dict:
        response = self._get_response_for_code(serializer, status_code, media_types=[PROBLEM_MEDIA_TYPE])
        response["description"] = description
        return response

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        method = self.method.upper()
        has_body = method in ("POST", "PUT", "PATCH")
        perms = [type(p) for p in self.view.get_permissions()]
        public = permissions.AllowAny in perms
        errors = {
            "400": (ValidationProblemSerializer, "Invalid input: `errors` names each field."),
            "406": (ProblemSerializer, "No acceptable response media type."),
            "429": (ProblemSerializer, "Too many requests."),
        }
        if not public or getattr(self.view, "documents_401", False):
            errors["401"] = (ProblemSerializer, "Missing, malformed, expired or revoked token.")
        if not public or getattr(self.view, "documents_403", False):
            errors["403"] = (ProblemSerializer, "Not allowed to do this.")
        if "{" in self.path or getattr(self.view, "documents_404", False):
            errors["404"] = (ProblemSerializer, "Not found, or not visible to you.")
        if has_body:
            errors["413"] = (ProblemSerializer, "Request body too large.")
            errors["415"] = (ProblemSerializer, "Only application/json bodies are accepted.")
        if self._takes_idempotency_key():
            errors["409"] = (ProblemSerializer, "A request with this Idempotency-Key is still in flight.")
            errors["422"] = (ProblemSerializer, "This Idempotency-Key was used for a different request.")
        for code, (serializer, description) in errors.items():
            responses.setdefault(code, self._problem(code, serializer, description))
        return responses
