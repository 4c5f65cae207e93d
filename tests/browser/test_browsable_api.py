"""The browsable API in chromium: sign in, create, edit, click through and log out, with no
console error and no CSP violation on any page; each step is checked in the database."""

import json

import pytest
from django.contrib.sessions.models import Session

from accounts.models import SecurityEvent, User
from accounts.roles import EDITOR
from api import services
from api.models import Document, Project
from tests.browser.conftest import assert_locked_out
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

EMAIL = "editor@example.com"


@pytest.fixture
def editor(make_member):
    return make_member(EMAIL, EDITOR)


def sign_in(page) -> None:
    """From the API root's "Log in" link, through DRF's session sign-in form, back to the root."""
    page.goto("/")
    page.get_by_role("link", name="Log in").click()
    submit_sign_in(page, PASSWORD)
    page.wait_for_url("**/api/v1/")


def submit_sign_in(page, password: str) -> None:
    """Fill DRF's sign-in form (the page must be on it) and send it."""
    page.fill("#id_username", EMAIL)
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.click("#submit-id-submit")


def follow(page, url: str) -> None:
    """Click the link to `url` that the page's response shows (DRF makes URLs in bodies links)."""
    page.locator(f'.response-info a[href="{url}"]').first.click()
    page.wait_for_url(url)


def send_raw(page, form: str, body: dict, button: str) -> dict:
    """Fill one of DRF's "Raw data" forms (`post` or `put`) with JSON, send it and return the
    answer the page then shows: DRF's script replaces the page with the rendered response."""
    page.fill(f"#{form}-generic-content-form textarea", json.dumps(body))
    with page.expect_navigation():
        page.locator(f"#{form}-generic-content-form button", has_text=button).click()
    status = page.locator(".response-info .meta b").first.inner_text()
    text = page.locator(".response-info pre").inner_text()
    return {"status": status, "body": json.loads(text[text.index("{") :])}


def test_cannot_sign_in_at_the_browsable_api_when_locked_out(page, editor, expected_statuses, settings):
    """The browsable API's form shares the lockout: the HTML refusal page, even for the right password."""
    settings.AXES_FAILURE_LIMIT = 2
    expected_statuses.add(429)  # The refusal page: Chrome logs its status as a console error.
    page.goto("/api-auth/login/")
    submit_sign_in(page, "wrong password")
    assert_locked_out(page, lambda: submit_sign_in(page, "wrong password again"))

    page.get_by_role("link", name="Back to the sign-in form").click()
    assert_locked_out(page, lambda: submit_sign_in(page, PASSWORD))

    assert not Session.objects.exists()
    assert User.objects.get(pk=editor.pk).last_login is None
    # Each attempt is a failure on the trail; the lockout itself is one event, when it began.
    # (Sorted, not by time: two events of one request may share a timestamp.)
    trail = SecurityEvent.objects.values_list("type", "detail__locked_out", "detail__email")
    assert sorted(trail, key=str) == sorted(
        [
            ("sign_in_failed", False, EMAIL),
            ("sign_in_failed", True, EMAIL),
            ("sign_in_failed", True, EMAIL),
            ("lockout", None, EMAIL),
        ],
        key=str,
    )


def test_can_create_a_project_from_the_raw_data_form(page, editor, live_server):
    sign_in(page)
    follow(page, f"{live_server.url}/api/v1/projects/")

    answer = send_raw(page, "post", {"name": "Apollo", "description": "To the moon."}, "POST")

    assert answer["status"] == "HTTP 201 Created"
    project = Project.objects.get()
    assert (project.name, project.owner) == ("Apollo", editor)
    assert answer["body"]["id"] == str(project.pk)


def test_can_edit_a_project_add_a_document_click_through_and_log_out(page, editor, live_server):
    project = services.project_create(owner=editor, name="Apollo", description="To the moon.")
    base = f"{live_server.url}/api/v1/projects/{project.pk}/"
    sign_in(page)

    # From the root to the project and its documents, by the links the answers carry.
    follow(page, f"{live_server.url}/api/v1/projects/")
    follow(page, base)
    answer = send_raw(page, "put", {"name": "Apollo 11", "description": "To the Moon and back."}, "PUT")
    assert answer["status"] == "HTTP 200 OK"
    project.refresh_from_db()
    assert (project.name, project.description) == ("Apollo 11", "To the Moon and back.")

    follow(page, f"{base}documents/")
    answer = send_raw(page, "post", {"title": "Flight plan", "body": "Launch on July 16."}, "POST")
    assert answer["status"] == "HTTP 201 Created"
    document = Document.objects.get()
    assert (document.project, document.created_by, document.title) == (project, editor, "Flight plan")
    assert answer["body"]["_links"] == {"self": f"{base}documents/{document.pk}/", "project": base}

    follow(page, base)
    follow(page, f"{base}permissions/")
    assert page.locator(".response-info .meta b").first.inner_text() == "HTTP 200 OK"

    [cookie] = [c for c in page.context.cookies() if c["name"] == "sessionid"]
    assert Session.objects.filter(session_key=cookie["value"]).exists()
    with page.expect_navigation():
        page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/api/v1/")
    assert not Session.objects.filter(session_key=cookie["value"]).exists()
    # The old cookie, replayed, no longer signs anyone in.
    replayed = page.request.get("/api/v1/auth/me/", headers={"Cookie": f"sessionid={cookie['value']}"})
    assert replayed.status == 401
    assert page.get_by_role("link", name="Log in").is_visible()


def test_a_browser_landing_on_the_site_finds_the_api_root_and_an_icon(page, live_server):
    page.goto("/")
    assert page.url == f"{live_server.url}/api/v1/"
    assert page.get_by_role("link", name="Log in").is_visible()

    icon = page.goto("/favicon.ico")  # Redirected to the static file.
    assert icon.status == 200
    assert icon.body()[:4] == b"\x00\x00\x01\x00"  # An ICO file's magic number.
