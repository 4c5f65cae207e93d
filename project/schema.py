"""OpenAPI: every operation documents the problem-details errors it can answer with, is named
by one rule (camelCase verb + resource), and declares the same bounds its validators enforce."""

from django.contrib.auth.models import Group
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter
from rest_framework import permissions, serializers

from project import idempotency
from project.problems import PROBLEM_MEDIA_TYPE
from project.query_params import EMPTY_ALLOWED, QUERY_VALUE_MAX
from project.serializers import StrictFieldsMixin

# Operations whose name the rule (verb + resource) would get wrong: the auth actions and sharing.
# Keyed by method and path below /api/v1.
OPERATION_IDS = {
    ("POST", "/auth/token/"): "signIn",
    ("POST", "/auth/token/refresh/"): "refreshTokens",
    ("POST", "/auth/token/verify/"): "verifyToken",
    ("POST", "/auth/logout/"): "logOut",
    ("POST", "/auth/logout-all/"): "logOutEverywhere",
    ("POST", "/auth/register/"): "register",
    ("POST", "/auth/password/change/"): "changePassword",
    ("POST", "/auth/password/reset/"): "requestPasswordReset",
    ("POST", "/auth/password/reset/confirm/"): "confirmPasswordReset",
    ("POST", "/auth/email/verify/"): "verifyEmail",
    ("POST", "/auth/email/verify/resend/"): "resendEmailVerification",
    ("POST", "/auth/email/change/"): "requestEmailChange",
    ("POST", "/auth/email/change/confirm/"): "confirmEmailChange",
    ("POST", "/auth/token/mfa/"): "signInWithMfa",
    ("GET", "/auth/mfa/"): "getMfaStatus",
    ("POST", "/auth/mfa/totp/"): "startTotpEnrolment",
    ("POST", "/auth/mfa/totp/confirm/"): "confirmTotpEnrolment",
    ("POST", "/auth/mfa/totp/disable/"): "disableTotp",
    ("POST", "/auth/mfa/recovery-codes/"): "regenerateRecoveryCodes",
    ("DELETE", "/auth/sessions/{id}/"): "revokeSession",
    ("GET", "/users/lookup/"): "lookupUser",
    ("GET", "/projects/{project_pk}/permissions/"): "getProjectPermissions",
    ("PUT", "/projects/{project_pk}/permissions/users/{user_id}/"): "shareProjectWithUser",
    ("DELETE", "/projects/{project_pk}/permissions/users/{user_id}/"): "unshareProjectWithUser",
    ("PUT", "/projects/{project_pk}/permissions/groups/{group_name}/"): "shareProjectWithGroup",
    ("DELETE", "/projects/{project_pk}/permissions/groups/{group_name}/"): "unshareProjectWithGroup",
}
VERBS = {"POST": "create", "PUT": "update", "PATCH": "partialUpdate", "DELETE": "delete"}
# Path parameters that are names, not ids: their bounds come from the model field.
NAME_PARAMETERS = {"group_name": Group._meta.get_field("name").max_length}

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


# At least one character Python's str.strip() keeps (unanchored: a JSON Schema pattern searches).
NOT_ONLY_WHITESPACE = "[^" + "".join(f"\\u{ord(c):04x}" for c in map(chr, range(0x3001)) if c.isspace()) + "]"


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

    def get_operation_id(self) -> str:
        """`<verb><Resource>`: list/get/create/update/partialUpdate/delete and the last literal
        path segment, singular unless listed; OPERATION_IDS names the rest. PATCH is `update`
        where there is no PUT (a partial update is then the only update)."""
        path = self.path.removeprefix("/api/v1")
        if (self.method, path) in OPERATION_IDS:
            return OPERATION_IDS[(self.method, path)]
        words = [segment for segment in path.strip("/").split("/") if not segment.startswith("{")]
        resource = "".join(word.capitalize() for word in words[-1].split("-"))
        if self.method == "GET" and self._is_list_view():
            return f"list{resource}"
        resource = resource.removesuffix("s")
        if self.method == "GET":
            return f"get{resource}"
        if self.method == "PATCH" and not self._has_put():
            return f"update{resource}"
        return f"{VERBS[self.method]}{resource}"

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "request" and isinstance(serializer, StrictFieldsMixin):
            schema["additionalProperties"] = False  # StrictFieldsMixin refuses any other key.
        return schema

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if (
            direction == "request"
            and isinstance(field, serializers.CharField)
            and field.trim_whitespace
            and not field.allow_blank
            and "pattern" not in schema
        ):
            # DRF trims the value first, so one of only spaces is "blank": a 400 that minLength
            # alone would not announce. Spelt out, not \S: Python strips \x1c-\x1f, which
            # JavaScript's \s does not match, and a client's validator must agree with the server.
            schema["pattern"] = NOT_ONLY_WHITESPACE
        return schema

    def _has_put(self) -> bool:
        actions = getattr(self.view, "action_map", None)  # Viewsets: {"put": "update", ...}
        handler = "put" in actions if actions else hasattr(self.view, "put")
        return handler and "put" in self.view.http_method_names

    def _get_parameters(self):
        return [self._bounded(parameter) for parameter in super()._get_parameters()]

    def _bounded(self, parameter: dict) -> dict:
        """Say what the server refuses: ids are UUIDs (anything else is a 404 from the resolver), a
        name is 1 to its field's length, and a query string is at most QUERY_VALUE_MAX characters and
        never empty (the query-parameter middleware's rules)."""
        from project.views import UUID_PATTERN  # Not at the top: its @api_view loads this module.

        schema = parameter["schema"]
        if schema.get("type") != "string":
            return parameter
        if parameter["in"] == "path":
            if parameter["name"] in NAME_PARAMETERS:
                schema.update(minLength=1, maxLength=NAME_PARAMETERS[parameter["name"]])
            elif UUID_PATTERN in schema.get("pattern", "") or schema.get("format") == "uuid":
                parameter["schema"] = {"type": "string", "format": "uuid"}
        elif parameter["in"] == "query" and "enum" not in schema and "format" not in schema:
            declared = getattr(self.view, "filterset_class", None)
            declared = declared.base_filters.get(parameter["name"]) if declared else None
            schema.setdefault("maxLength", (declared.extra.get("max_length") if declared else None) or QUERY_VALUE_MAX)
            if parameter["name"] not in EMPTY_ALLOWED:
                schema.setdefault("minLength", 1)
        return parameter

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
            # A view whose 401 body has more members (sign-in's `mfa_token`) names its serializer.
            errors["401"] = (
                getattr(self.view, "problem_401", ProblemSerializer),
                getattr(self.view, "problem_401_description", "Missing, malformed, expired or revoked token."),
            )
        if not public or getattr(self.view, "documents_403", False):
            errors["403"] = (ProblemSerializer, "Not allowed to do this.")
        if "{" in self.path or getattr(self.view, "documents_404", False):
            errors["404"] = (ProblemSerializer, "Not found, or not visible to you.")
        if has_body:
            errors["413"] = (ProblemSerializer, "Request body too large.")
            errors["415"] = (ProblemSerializer, "Only application/json bodies are accepted.")
        if getattr(self.view, "documents_409", False):
            errors["409"] = (ProblemSerializer, "Conflicts with the current state.")
        if self._takes_idempotency_key():
            errors["409"] = (ProblemSerializer, "A request with this Idempotency-Key is still in flight.")
            errors["422"] = (ProblemSerializer, "This Idempotency-Key was used for a different request.")
        for code, (serializer, description) in errors.items():
            responses.setdefault(code, self._problem(code, serializer, description))
        return responses
