"""The Django admin in chromium, as a superuser and as admin-role staff: its pages render and
work under the Content-Security-Policy with no console error, and each flow's writes are checked
in the database. One helper per page, so a new page is one more."""

import pytest
from axes.models import AccessAttempt

from accounts import services as account_services
from accounts.models import AuthSession, SecurityEvent, User
from accounts.roles import ADMIN, EDITOR, VIEWER
from api import services
from api.models import Project, ProjectGroupObjectPermission, ProjectUserObjectPermission, ShareableGroup
from api.selectors import ProjectAccess
from tests.api.conftest import client_for
from tests.browser.conftest import assert_locked_out
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)
Event = SecurityEvent.Type

ROOT = "root@example.com"


@pytest.fixture
def superuser(make_user):
    return make_user(ROOT, is_staff=True, is_superuser=True)


def sign_in(page, email: str = ROOT) -> None:
    page.goto("/admin/")  # Redirected to the sign-in form.
    submit_sign_in(page, email, PASSWORD)
    page.wait_for_url("**/admin/")


def submit_sign_in(page, email: str, password: str) -> None:
    """Fill the admin's sign-in form (the page must be on it) and send it."""
    page.fill("#id_username", email)
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()


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


def open_groups(page):
    return changelist(page, "auth", "group", "Select group to change")


def open_access_attempts(page):
    """django-axes' failed sign-ins, in the admin it registers them in."""
    return changelist(page, "axes", "accessattempt", "Select access attempt to change")


def open_row(page, results, link: str, heading: str) -> None:
    """Follow a changelist row's link to its change page."""
    results.get_by_role("link", name=link, exact=True).click()
    page.wait_for_url("**/change/")
    assert page.locator("#content h1").inner_text() == heading


def open_user(page, email: str) -> None:
    open_row(page, open_users(page), email, "Change user")


def open_sharing(page, project: str) -> None:
    """A project's Sharing page, by the button on its change form."""
    open_row(page, open_projects(page), project, "Change project")
    page.locator(".object-tools").get_by_role("link", name="Sharing").click()
    page.wait_for_url("**/sharing/")
    assert page.locator("#content h1").inner_text() == f"Sharing: {project}"


def add(page) -> None:
    """From a changelist, its "Add ..." button."""
    page.locator(".object-tools a.addlink").click()
    page.wait_for_url("**/add/")


def save(page) -> None:
    with page.expect_navigation():
        page.locator('input[name="_save"]').click()


def share(page, permissions: list[str], *, email: str = "", group: str = "") -> None:
    """The Sharing page's form: these permissions, exactly, for a user or a team."""
    if email:
        page.fill("#id_email", email)
    if group:
        page.select_option("#id_group", group)
    for permission in permissions:
        page.check(f'input[name="permissions"][value="{permission}"]')
    with page.expect_navigation():
        page.locator('#content-main input[type="submit"][value="Save"]').click()


def revoke(page, grantee: str) -> None:
    """The Revoke button on a grant's row of the Sharing page."""
    with page.expect_navigation():
        page.locator("#content-main tr", has_text=grantee).get_by_role("button", name="Revoke").click()


def filter_by_type(page, label: str):
    """The audit trail's "By type" filter (the admin's list_filter)."""
    page.locator('#changelist-filter details[data-filter-title="type"]').get_by_role(
        "link", name=label, exact=True
    ).click()
    page.wait_for_url("**type__exact=*")
    return page.locator("#result_list")


def message(page) -> str:
    return page.locator(".messagelist").inner_text()


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


def test_a_superuser_gives_the_admin_role_and_the_new_admin_cannot_deactivate_a_superuser(
    page, new_page, superuser, make_member
):
    alice = make_member("alice@example.com", VIEWER)
    sign_in(page)

    open_user(page, alice.email)
    page.check('input[name="roles"][value="admin"]')
    save(page)

    assert "was changed successfully" in message(page)
    alice.refresh_from_db()
    assert set(alice.groups.values_list("name", flat=True)) == {VIEWER, ADMIN}
    assert alice.is_staff
    [event] = SecurityEvent.objects.filter(type=Event.ROLE_CHANGE)
    assert (event.target_id, event.actor) == (str(alice.pk), superuser)
    assert event.detail == {"before": [VIEWER], "after": [ADMIN, VIEWER]}

    # Alice, admin now, at her own browser: the superuser guard holds against her bulk action.
    hers = new_page()
    sign_in(hers, alice.email)
    run_action(hers, open_users(hers), ROOT, "deactivate")

    assert message(hers).startswith(f"Nothing was changed. Refused: {ROOT}: ")
    assert User.objects.get(pk=superuser.pk).is_active
    assert not SecurityEvent.objects.filter(type=Event.ACTIVATION_CHANGE).exists()


def test_a_superuser_adds_a_project_makes_a_team_shares_and_revokes(page, superuser, make_member):
    owner = make_member("owner@example.com", EDITOR)
    bob = make_member("bob@example.com", VIEWER)
    sign_in(page)

    # A project made in the admin is its owner's, as one made through the API.
    open_projects(page)
    add(page)
    page.fill("#id_name", "Made in the admin")
    page.fill("#id_owner", str(owner.pk))
    save(page)
    project = Project.objects.get(name="Made in the admin")
    assert project.owner == owner
    answer = client_for(owner).get(f"/api/v1/projects/{project.pk}/")
    assert answer.status_code == 200
    assert answer.json()["permissions"] == ["view", "change", "delete", "share"]

    # A team: a group marked shareable.
    open_groups(page)
    add(page)
    page.fill("#id_name", "reviewers")
    page.check("#id_shareable")
    save(page)
    assert ShareableGroup.objects.filter(group__name="reviewers").exists()

    # Change for Bob, by email: view comes with it.
    open_sharing(page, project.name)
    share(page, ["change"], email="bob@example.com")
    assert message(page) == "Saved. bob@example.com now holds: view, change."
    assert user_grants(project, bob) == {"view_project", "change_project"}
    [granted] = SecurityEvent.objects.filter(type=Event.PERMISSION_GRANT, detail__grantee="bob@example.com")
    assert (granted.actor, granted.detail["permissions"]) == (superuser, ["view", "change"])

    share(page, ["view"], group="reviewers")
    assert message(page) == "Saved. reviewers now holds: view."
    assert group_grants(project, "reviewers") == {"view_project"}
    assert page.locator("#content-main tr", has_text="Team reviewers").locator("td").nth(1).inner_text() == "view"

    revoke(page, "bob@example.com")
    assert message(page) == "Saved. bob@example.com now holds: nothing."
    assert user_grants(project, bob) == set()
    assert ProjectAccess(bob).flags(project) == frozenset()
    assert group_grants(project, "reviewers") == {"view_project"}
    [revoked] = SecurityEvent.objects.filter(type=Event.PERMISSION_REVOKE)
    assert (revoked.actor, revoked.detail["permissions"]) == (superuser, ["view", "change"])
    assert page.locator("#content-main tr", has_text="bob@example.com").count() == 0

    # The owner's permissions are not the Sharing page's to change: refused, nothing written.
    share(page, [], email=owner.email)
    assert page.locator(".errornote").inner_text() == "Nothing was changed."
    assert page.locator(".errorlist").count() == 1
    assert user_grants(project, owner) == {"view_project", "change_project", "delete_project", "share_project"}
    assert SecurityEvent.objects.filter(type=Event.PERMISSION_REVOKE).count() == 1


def user_grants(project: Project, user: User) -> set[str]:
    return set(
        ProjectUserObjectPermission.objects.filter(content_object=project, user=user).values_list(
            "permission__codename", flat=True
        )
    )


def group_grants(project: Project, group: str) -> set[str]:
    return set(
        ProjectGroupObjectPermission.objects.filter(content_object=project, group__name=group).values_list(
            "permission__codename", flat=True
        )
    )


def test_the_audit_trail_filters_by_type(page, superuser, make_member):
    alice = make_member("alice@example.com", VIEWER)
    bob = make_member("bob@example.com", VIEWER)
    account_services.user_update_access(user=alice, actor=superuser, roles=[ADMIN])
    project = services.project_create(owner=superuser, name="Apollo", actor=superuser)
    services.project_share_with_user(access=ProjectAccess(superuser), project=project, user=bob, permissions={"view"})
    sign_in(page)
    assert open_audit_trail(page).locator("tbody tr").count() == SecurityEvent.objects.count() > 2

    for event_type, target in [(Event.ROLE_CHANGE, alice.email), (Event.PERMISSION_GRANT, project.name)]:
        rows = filter_by_type(page, event_type.label).locator("tbody tr")
        [event] = SecurityEvent.objects.filter(type=event_type)
        assert rows.count() == 1
        cells = rows.first.inner_text().split("\t")
        assert (cells[1], cells[2]) == (event_type.label, ROOT)
        assert target in event.target_label
        assert event.target_label in cells[4]


def test_a_superuser_clears_a_lockout_and_the_account_signs_in_again(
    page, new_page, expected_statuses, superuser, make_member, settings
):
    settings.AXES_FAILURE_LIMIT = 2
    expected_statuses.add(429)  # The refusal page: Chrome logs its status as a console error.
    alice = make_member("alice@example.com", ADMIN, is_staff=True)
    # Every browser here is 127.0.0.1, and axes counts per IP too: the superuser signs in before
    # the lockout, which closes the sign-in form to everyone from that address.
    operator = new_page()
    sign_in(operator)

    page.goto("/admin/login/")
    submit_sign_in(page, alice.email, "wrong password")
    assert page.locator(".errornote").count() == 1  # The form again, with its one message.
    assert_locked_out(page, lambda: submit_sign_in(page, alice.email, "wrong password again"))
    # Locked out now: even the right password gets the refusal page.
    page.get_by_role("link", name="Back to the sign-in form").click()
    assert_locked_out(page, lambda: submit_sign_in(page, alice.email, PASSWORD))
    assert SecurityEvent.objects.filter(type=Event.LOCKOUT, detail__email=alice.email).exists()
    assert User.objects.get(pk=alice.pk).last_login is None

    # Axes owns its records (there is no Gatehouse service for them): cleared on its admin page.
    run_action(operator, open_access_attempts(operator), alice.email, "delete_selected")
    with operator.expect_navigation():
        # Django writes a typographic apostrophe in this button.
        operator.get_by_role("button", name="Yes, I\u2019m sure").click()
    assert message(operator) == "Successfully deleted 1 access attempt."
    assert not AccessAttempt.objects.exists()
    [cleared] = SecurityEvent.objects.filter(type=Event.ADMIN_ACTION, detail__model="axes.accessattempt")
    assert (cleared.actor, cleared.detail["action"]) == (superuser, "delete")

    page.get_by_role("link", name="Back to the sign-in form").click()
    submit_sign_in(page, alice.email, PASSWORD)
    page.wait_for_url("**/admin/")
    assert User.objects.get(pk=alice.pk).last_login is not None
    assert SecurityEvent.objects.filter(type=Event.SIGN_IN, actor=alice, detail__via="admin").exists()
