"""Every error is an RFC 9457 problem: from DRF, from Django before DRF, and for a crash."""

import pytest
from django.conf import settings
from django.urls import include, path
from rest_framework import throttling
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.views import APIView

from accounts.models import User
from project import problems
from tests.helpers import ME_URL, REGISTER_URL, TOKEN_URL, assert_problem, assert_validation_problem

pytestmark = pytest.mark.django_db

SECRET_IN_ERROR = "s3cr3t-value-from-a-setting"


class CrashView(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        raise RuntimeError(f"database password is {SECRET_IN_ERROR}")


class AlwaysThrottled(throttling.BaseThrottle):
    def allow_request(self, request, view) -> bool:
        return False

    def wait(self) -> float:
        return 42


class ThrottledView(APIView):
    permission_classes = [AllowAny]
    throttle_classes = [AlwaysThrottled]

    def get(self, request):
        return Response({})


def django_crash_view(request):
    raise RuntimeError(f"database password is {SECRET_IN_ERROR}")


# This module doubles as a URLconf (pytest.mark.urls) adding views that crash or throttle.
urlpatterns = [
    path("api/v1/test-crash/", CrashView.as_view()),
    path("api/v1/test-django-crash/", django_crash_view),
    path("api/v1/test-throttled/", ThrottledView.as_view()),
    path("", include("project.urls")),
]
handler400 = "project.problems.bad_request"
handler403 = "project.problems.permission_denied"
handler404 = "project.problems.page_not_found"
handler500 = "project.problems.server_error"


@pytest.fixture
def quiet_client() -> APIClient:
    """A client that gets the 500 response instead of the exception."""
    return APIClient(raise_request_exception=False)


@pytest.mark.parametrize("url", ["/api/v1/test-crash/", "/api/v1/test-django-crash/"])
@pytest.mark.urls(__name__)
def test_a_crash_is_a_500_problem_without_traceback_or_settings(quiet_client, url):
    response = quiet_client.get(url)

    body = assert_problem(response, 500, "server_error")
    content = response.content.decode()
    assert "Traceback" not in content
    assert "RuntimeError" not in content
    assert SECRET_IN_ERROR not in content
    assert settings.SECRET_KEY not in content
    assert body["request_id"] in body["detail"] or "request id" in body["detail"]


@pytest.mark.urls(__name__)
def test_throttling_is_a_429_problem_with_retry_after(api):
    response = api.get("/api/v1/test-throttled/")

    assert_problem(response, 429, "throttled")
    assert response["Retry-After"] == "42"


@pytest.mark.parametrize("url", ["/api/v1/nothing-here/", "/api/v2/", "/api/", "/api/v1/auth/nothing/"])
@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_an_unknown_api_url_is_a_404_problem(api, url, method):
    assert_problem(getattr(api, method)(url), 404, "not_found")


def test_an_unknown_page_outside_the_api_is_an_html_404(api):
    response = api.get("/no-such-page/", HTTP_ACCEPT="text/html")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_a_disallowed_host_is_a_400_problem_before_drf_is_reached(api):
    response = api.get(ME_URL, HTTP_HOST="evil.example")

    assert_problem(response, 400, "bad_request")


def test_a_wrong_method_is_a_405_problem(api):
    response = api.delete(TOKEN_URL)

    assert_problem(response, 405, "method_not_allowed")
    assert "POST" in response["Allow"]


@pytest.mark.parametrize("accept", ["application/xml", "text/csv", "image/png"])
def test_an_unacceptable_media_type_is_a_406_problem(api, accept):
    response = api.get("/api/v1/", HTTP_ACCEPT=accept)

    assert_problem(response, 406, "not_acceptable")


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/xml", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_a_body_that_is_not_json_is_a_415_problem(api, settings, content_type):
    settings.REGISTRATION_OPEN = True

    response = api.post(REGISTER_URL, "email=a@example.com&password=x", content_type=content_type)

    assert_problem(response, 415, "unsupported_media_type")
    assert not User.objects.exists()


@pytest.mark.parametrize("body", ["{", '{"email": }', "{'email': 'x'}", '{"email": "a"}}', "\xff\xfe"])
def test_malformed_json_is_a_400_problem(api, settings, body):
    settings.REGISTRATION_OPEN = True

    response = api.post(REGISTER_URL, body, content_type="application/json")

    assert_problem(response, 400, "parse_error")
    assert not User.objects.exists()


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_standard_json_numbers_are_a_400_problem(api, settings, constant):
    settings.REGISTRATION_OPEN = True

    response = api.post(REGISTER_URL, f'{{"email": {constant}}}', content_type="application/json")

    assert_problem(response, 400, "parse_error")


def test_deeply_nested_json_is_a_400_problem_not_a_500(quiet_client, settings):
    settings.REGISTRATION_OPEN = True

    response = quiet_client.post(REGISTER_URL, "[" * 50_000, content_type="application/json")

    assert_problem(response, 400, "parse_error")


def test_a_problem_without_a_title_of_its_own_falls_back_to_the_status_phrase():
    body = problems.problem(418, "some_library_code", "Short and stout.")

    assert body["title"] == "I'm a Teapot."
    assert body["type"] == "urn:gatehouse:problem:some_library_code"


def test_validation_errors_are_flattened_with_dotted_paths():
    exc = ValidationError(
        {
            "email": [ErrorDetail("Enter a valid email address.", code="invalid")],
            "items": [{}, {"name": [ErrorDetail("This field is required.", code="required")]}],
            "non_field_errors": [ErrorDetail("Passwords differ.", code="mismatch")],
        }
    )

    errors = problems._flatten(exc.get_full_details())

    assert {"field": "email", "code": "invalid", "message": "Enter a valid email address."} in errors
    assert {"field": "items.1.name", "code": "required", "message": "This field is required."} in errors
    assert {"field": None, "code": "mismatch", "message": "Passwords differ."} in errors


def test_a_validation_problem_lists_every_invalid_field(api, settings):
    settings.REGISTRATION_OPEN = True

    response = api.post(REGISTER_URL, {"email": "nope", "password": "", "display_name": "x" * 151})

    body = assert_validation_problem(
        response, ("email", "invalid"), ("password", "blank"), ("display_name", "max_length")
    )
    assert len(body["errors"]) == 3
    assert body["title"] == "Your request is not valid."
    assert body["detail"].startswith("email: ")
