"""The Django admin in chromium, as a superuser: its pages render and work under the
Content-Security-Policy with no console error. One helper per page, so a new page is one more."""

import pytest

from accounts import services as account_services
from accounts.models import AuthSession, SecurityEvent
from api import services
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = "root@example.com"


@pytest.fixture
def superuser(make_user):
    return make_user(ROOT, is_staff=True, is_superuser=True)


def sign_in(page) -> None:
    page.goto("/admin/")  # Redirected to the sign-in form.
    page.fill("#id_username", ROOT)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/admin/")


def changelist(page, app: str, model: str, heading: str):
    """Open a model's list from the admin index, by its link."""
    page.goto("/admin/")
    page.locator(f'#content-main a[href="/admin/{app}/{model}/"]').first.click()
    page.wait_for_url(f"**/admin/{app}/{model}/")
    assert page.locator("#content h1").inner_text() == heading
    return page.locator("#result_list")


def open_users(page):
    return changelist(page, "accounts", "user", "Select user to change")


def open_projects(page):
    return changelist(page, "api", "project", "Select project to change")


def open_audit_trail(page):
    return changelist(page, "accounts", "securityevent", "Select security event to view")


def open_sessions(page):
    return changelist(page, "accounts", "authsession", "Select auth session to view")


def run_action(page, results, row_text: str, action: str) -> None:
    """Tick the row that shows `row_text`, choose the action and press Go."""
    results.locator("tr", has_text=row_text).locator("input.action-select").check()
    page.select_option('select[name="action"]', action)
    with page.expect_navigation():
        page.get_by_role("button", name="Go").click()


def test_a_superuser_can_browse_users_projects_and_the_audit_trail(page, superuser, make_user):
    member = make_user("alice@example.com")
    services.project_create(owner=member, name="Apollo")
    account_services.session_start(user=member, ip_address="192.0.2.7", user_agent="pytest")  # An event.
    sign_in(page)

    assert open_users(page).locator("tr", has_text="alice@example.com").count() == 1
    assert open_projects(page).locator("tr", has_text="Apollo").count() == 1
    shown = [
        row.split("\t")[1]
        for row in open_audit_trail(page).locator("tr", has_text="alice@example.com").all_inner_texts()
    ]
    assert sorted(shown) == sorted(
        e.get_type_display() for e in SecurityEvent.objects.filter(actor_email="alice@example.com")
    )

    # "View site" leads to the API root.
    page.get_by_role("link", name="View site").click()
    page.wait_for_url("**/api/v1/")


def test_a_superuser_can_revoke_a_session_with_the_action(page, superuser, make_user):
    member = make_user("alice@example.com")
    tokens = account_services.session_start(user=member, ip_address="192.0.2.7", user_agent="pytest")
    other = account_services.session_start(user=member, ip_address="192.0.2.8", user_agent="pytest")
    sign_in(page)

    run_action(page, open_sessions(page), "192.0.2.7", "revoke")

    assert page.locator(".messagelist").inner_text() == "Revoked 1 session(s)."
    assert not AuthSession.objects.get(pk=tokens.session.pk).is_active
    assert AuthSession.objects.get(pk=other.session.pk).is_active
    # The revocation is on the audit trail, in the database and on its page.
    event = SecurityEvent.objects.get(type=SecurityEvent.Type.SESSION_REVOKED)
    assert (event.actor_email, event.detail) == (ROOT, {"session": str(tokens.session.pk)})
    assert (
        open_audit_trail(page).locator("tr", has_text=event.get_type_display()).locator("td", has_text=ROOT).count()
        == 1
    )
