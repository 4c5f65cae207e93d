"""The browsable API: session sign-in at /api-auth/login/, with CSRF enforced on session writes."""

import pytest
from rest_framework.test import APIClient

from accounts.models import AuthSession
from tests.conftest import PASSWORD
from tests.helpers import LOGOUT_URL, ME_URL, assert_problem, use_plain_static_storage

pytestmark = pytest.mark.django_db

LOGIN_URL = "/api-auth/login/"


@pytest.fixture
def browser(settings) -> APIClient:
    use_plain_static_storage(settings)
    return APIClient(enforce_csrf_checks=True)


def csrf_token(client: APIClient) -> str:
    client.get(LOGIN_URL)
    return client.cookies["csrftoken"].value


def test_can_sign_in_to_the_browsable_api_with_email_and_password(browser, user):
    token = csrf_token(browser)

    response = browser.post(
        LOGIN_URL,
        {"username": "Alice@Example.com", "password": PASSWORD, "csrfmiddlewaretoken": token, "next": ME_URL},
        format="multipart",
    )

    assert response.status_code == 302
    assert response["Location"] == ME_URL
    assert browser.get(ME_URL).json()["email"] == "alice@example.com"


def test_cannot_sign_in_to_the_browsable_api_with_a_wrong_password(browser, user):
    token = csrf_token(browser)

    response = browser.post(
        LOGIN_URL,
        {"username": "alice@example.com", "password": "wrong", "csrfmiddlewaretoken": token},
        format="multipart",
    )

    assert response.status_code == 200
    assert_problem(browser.get(ME_URL), 401)


def test_cannot_sign_in_to_the_browsable_api_without_a_csrf_token(browser, user):
    response = browser.post(LOGIN_URL, {"username": "alice@example.com", "password": PASSWORD}, format="multipart")

    assert response.status_code == 403
    assert_problem(browser.get(ME_URL), 401)


def test_can_browse_my_account_as_html(browser, user):
    browser.force_login(user)

    response = browser.get(ME_URL, HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b"alice@example.com" in response.content


def test_can_write_with_a_session_and_a_csrf_token(browser, user):
    browser.force_login(user)
    token = csrf_token(browser)

    response = browser.patch(ME_URL, {"display_name": "Session Alice"}, HTTP_X_CSRFTOKEN=token)

    assert response.status_code == 200
    user.refresh_from_db()
    assert user.display_name == "Session Alice"


def test_cannot_write_with_a_session_but_no_csrf_token(browser, user):
    browser.force_login(user)

    response = browser.patch(ME_URL, {"display_name": "Forged"})

    body = assert_problem(response, 403, "permission_denied")
    assert "CSRF" in body["detail"]
    user.refresh_from_db()
    assert user.display_name == "Alice"


def test_cannot_write_with_a_session_and_a_wrong_csrf_token(browser, user):
    browser.force_login(user)
    csrf_token(browser)

    response = browser.patch(ME_URL, {"display_name": "Forged"}, HTTP_X_CSRFTOKEN="x" * 32)

    assert_problem(response, 403, "permission_denied")
    user.refresh_from_db()
    assert user.display_name == "Alice"


def test_cannot_log_out_a_session_through_a_cross_site_form(browser, user, tokens):
    browser.force_login(user)

    response = browser.post(LOGOUT_URL, {"refresh": tokens.refresh})

    assert_problem(response, 403, "permission_denied")
    assert AuthSession.objects.get(pk=tokens.session.pk).is_active


def test_bearer_requests_need_no_csrf_token(user, tokens):
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens.access}")

    assert client.patch(ME_URL, {"display_name": "Bearer Alice"}).status_code == 200
