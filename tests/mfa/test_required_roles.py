"""MFA_REQUIRED_FOR_ROLES: an admin who has not enrolled reaches only enrolment, me/ and logout;
and an admin resets another user's MFA in the Django admin (never their own), audited."""

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client

from accounts import roles
from accounts.models import RecoveryCode, SecurityEvent, TOTPDevice
from api.models import Project
from tests.conftest import PASSWORD
from tests.helpers import LOGOUT_URL, ME_URL, assert_problem, bearer, sign_in, use_plain_static_storage
from tests.mfa.conftest import ENROL_URL, STATUS_URL, enrol

pytestmark = pytest.mark.django_db

BLOCKED = ["/api/v1/projects/", "/api/v1/users/", "/api/v1/audit-events/", "/api/v1/auth/sessions/", "/api/v1/roles/"]


@pytest.fixture
def required(settings):
    settings.MFA_REQUIRED_FOR_ROLES = ["admin"]


@pytest.fixture
def admin_user(clock, make_user):
    user = make_user("admin@example.com", is_staff=True)
    user.groups.add(roles.role_groups()[roles.ADMIN])
    return user


@pytest.mark.parametrize("url", BLOCKED)
def test_an_admin_without_mfa_is_refused_everything_but_enrolment(required, admin_user, url):
    client = bearer(sign_in(email=admin_user.email)["access"])

    assert_problem(client.get(url), 403, "mfa_enrolment_required")


def test_an_admin_without_mfa_cannot_write_either_and_nothing_changes(required, admin_user):
    client = bearer(sign_in(email=admin_user.email)["access"])

    assert_problem(client.post("/api/v1/projects/", {"name": "x"}), 403, "mfa_enrolment_required")
    assert not Project.objects.exists()


def test_an_admin_without_mfa_can_reach_me_status_enrolment_and_logout(required, admin_user):
    client = bearer(sign_in(email=admin_user.email)["access"])

    assert client.get(ME_URL).status_code == 200
    assert client.get(STATUS_URL).json()["required"] is True
    assert client.post(ENROL_URL).status_code == 201
    assert client.post(LOGOUT_URL).status_code == 204


def test_once_enrolled_the_admin_reaches_everything(required, admin_user, clock):
    client = bearer(sign_in(email=admin_user.email)["access"])
    enrol(client, admin_user)

    for url in BLOCKED:
        assert client.get(url).status_code == 200, url
    assert client.get(STATUS_URL).json()["required"] is False


def test_other_roles_are_not_held_to_it(required, clock, make_user):
    editor = make_user("editor@example.com")
    editor.groups.add(roles.role_groups()[roles.EDITOR])

    assert bearer(sign_in(email=editor.email)["access"]).get("/api/v1/projects/").status_code == 200


def test_the_admin_site_is_closed_to_an_admin_without_mfa(required, admin_user, settings):
    use_plain_static_storage(settings)
    client = Client()
    client.post("/admin/login/", {"username": admin_user.email, "password": PASSWORD})
    assert SESSION_KEY in client.session

    assert client.get("/admin/").status_code == 403


def test_without_the_setting_nobody_is_held(admin_user):
    assert bearer(sign_in(email=admin_user.email)["access"]).get("/api/v1/users/").status_code == 200


# --- The admin's reset -----------------------------------------------------------------------------


@pytest.fixture
def admin_site(settings, clock, make_user):
    use_plain_static_storage(settings)
    root = make_user("root@example.com", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(root)
    return root, client


def test_an_admin_can_reset_another_users_mfa_audited(admin_site, alice):
    root, client = admin_site
    enrol(bearer(sign_in()["access"]), alice)

    response = client.post(
        "/admin/accounts/user/", {"action": "reset_mfa", "_selected_action": [str(alice.pk)]}, follow=True
    )

    assert "Reset MFA of 1 user(s)." in response.content.decode()
    assert not TOTPDevice.objects.filter(user=alice).exists()
    assert not RecoveryCode.objects.filter(user=alice).exists()
    event = SecurityEvent.objects.get(type="mfa_reset")
    assert (event.actor_id, event.target_id) == (root.pk, str(alice.pk))
    assert bearer("").post("/api/v1/auth/token/", {"email": alice.email, "password": PASSWORD}).status_code == 200


def test_an_admin_cannot_reset_their_own_mfa_there(admin_site, clock):
    root, client = admin_site
    enrol(bearer(sign_in(email=root.email)["access"]), root)

    response = client.post(
        "/admin/accounts/user/", {"action": "reset_mfa", "_selected_action": [str(root.pk)]}, follow=True
    )

    assert "Nothing was changed" in response.content.decode()
    assert TOTPDevice.objects.filter(user=root, confirmed_at__isnull=False).exists()
    assert not SecurityEvent.objects.filter(type="mfa_reset").exists()


def test_an_admin_role_user_cannot_reset_a_superusers_mfa(settings, clock, make_user):
    use_plain_static_storage(settings)
    root = make_user("root@example.com", is_staff=True, is_superuser=True)
    enrol(bearer(sign_in(email=root.email)["access"]), root)
    staff = make_user("staff@example.com", is_staff=True)
    staff.groups.add(roles.role_groups()[roles.ADMIN])
    client = Client()
    client.force_login(staff)

    client.post("/admin/accounts/user/", {"action": "reset_mfa", "_selected_action": [str(root.pk)]})

    assert TOTPDevice.objects.filter(user=root).exists()
