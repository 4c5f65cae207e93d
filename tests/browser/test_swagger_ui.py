"""Swagger UI in chromium: sign in with "Try it out", authorize with the token, call an operation,
under the Content-Security-Policy and with no console error."""

import json

import pytest

from accounts.models import AuthSession
from tests.conftest import PASSWORD
from tests.helpers import claims

pytestmark = pytest.mark.django_db(transaction=True)


def operation(page, method: str, path: str):
    """One operation's block, expanded."""
    block = page.locator(f".opblock-{method}").filter(has=page.locator(f'.opblock-summary-path[data-path="{path}"]'))
    block.locator(".opblock-summary").click()
    return block


def try_it_out(block, body: dict | None = None) -> tuple[str, str]:
    """Fill the operation's form, execute it and return the (status, body) Swagger UI shows."""
    block.get_by_role("button", name="Try it out").click()
    if body is not None:
        block.locator("textarea.body-param__text").fill(json.dumps(body))
    block.get_by_role("button", name="Execute").click()
    answer = block.locator(".live-responses-table .response")
    answer.wait_for()
    return answer.locator(".response-col_status").inner_text().strip(), answer.locator(".microlight").first.inner_text()


def test_can_sign_in_authorize_and_call_an_operation_from_swagger_ui(page, user):
    page.goto("/api/v1/docs/")

    status, text = try_it_out(
        operation(page, "post", "/api/v1/auth/token/"), {"email": "alice@example.com", "password": PASSWORD}
    )
    assert status == "200"
    access = json.loads(text)["access"]
    # Signing in from the page started a real session, and the token belongs to it.
    [session] = AuthSession.objects.filter(user=user)
    assert session.is_active
    assert claims(access)["sid"] == str(session.pk)

    page.locator(".auth-wrapper .authorize").click()
    bearer = page.locator(".auth-container").filter(has_text="jwtAuth")
    bearer.locator("#auth-bearer-value").fill(access)
    bearer.get_by_role("button", name="Apply credentials").click()
    bearer.get_by_role("button", name="Close").click()

    status, text = try_it_out(operation(page, "get", "/api/v1/auth/me/"))
    assert status == "200"
    assert json.loads(text)["email"] == "alice@example.com"
