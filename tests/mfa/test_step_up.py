"""Step-up: password change, logout-all, role changes (API and admin), MFA disable and new recovery
codes want a recent sign-in or a fresh code; without one they are refused and nothing changes."""

import time

import pytest
from django.conf import settings

from accounts import roles
from accounts.models import AuthSession, RecoveryCode, SecurityEvent, TOTPDevice, User
from tests.conftest import PASSWORD
from tests.helpers import (
    PASSWORD_CHANGE_URL,
    REFRESH_URL,
    TOKEN_URL,
    assert_problem,
    assert_validation_problem,
    bearer,
    sign_in,
    use_plain_static_storage,
)
from tests.mfa.conftest import DISABLE_URL, MFA_SIGN_IN_URL, RECOVERY_URL, STATUS_URL, Enrolled, mfa_token

pytestmark = pytest.mark.django_db

LOGOUT_ALL_URL = "/api/v1/auth/logout-all/"
EMAIL_CHANGE_URL = "/api/v1/auth/email/change/"
NEW_PASSWORD = "another-horse-battery-staple"
STALE = settings.STEP_UP_MAX_AGE + 1


def mfa_sign_in(person: Enrolled) -> dict:
    response = bearer("").post(MFA_SIGN_IN_URL, {"mfa_token": mfa_token(person.email), "code": person.code()})
    assert response.status_code == 200, response.content
    return response.json()


def stale_client(clock, pair: dict):
    """The pair's session, STEP_UP_MAX_AGE later: refreshed (the access token would have expired),
    so the sign-in is old but the session alive."""
    clock.shift(STALE)
    refreshed = bearer("").post(REFRESH_URL, {"refresh": pair["refresh"]})
    assert refreshed.status_code == 200, refreshed.content
    return bearer(refreshed.json()["access"])


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


# --- Password change and logout-all ----------------------------------------------------------------


def test_can_change_the_password_right_after_signing_in(clock, alice):
    response = bearer(sign_in()["access"]).post(
        PASSWORD_CHANGE_URL, {"old_password": PASSWORD, "new_password": NEW_PASSWORD}
    )

    assert response.status_code == 204


def test_cannot_change_the_password_with_an_old_sign_in(clock, alice):
    client = stale_client(clock, sign_in())

    response = client.post(PASSWORD_CHANGE_URL, {"old_password": PASSWORD, "new_password": NEW_PASSWORD})

    assert_problem(response, 401, "step_up_required")
    assert User.objects.get(pk=alice.pk).check_password(PASSWORD)


def test_can_change_the_password_with_an_old_sign_in_and_a_fresh_code(enrolled, clock):
    client = stale_client(clock, mfa_sign_in(enrolled))
    clock.shift(30)

    response = client.post(
        PASSWORD_CHANGE_URL,
        {"old_password": PASSWORD, "new_password": NEW_PASSWORD},
        HTTP_X_MFA_CODE=enrolled.code(),
    )

    assert response.status_code == 204, response.content
    assert User.objects.get(pk=enrolled.user.pk).check_password(NEW_PASSWORD)


def test_a_wrong_step_up_code_is_refused_counted_and_changes_nothing(enrolled, clock):
    client = stale_client(clock, mfa_sign_in(enrolled))

    response = client.post(
        PASSWORD_CHANGE_URL,
        {"old_password": PASSWORD, "new_password": NEW_PASSWORD},
        HTTP_X_MFA_CODE=wrong(enrolled.code()),
    )

    assert_problem(response, 401, "mfa_code_invalid")
    assert User.objects.get(pk=enrolled.user.pk).check_password(PASSWORD)
    assert SecurityEvent.objects.filter(type="mfa_failed", detail__purpose="step_up").count() == 1


def test_a_code_header_does_not_help_an_account_without_mfa(clock, alice):
    client = stale_client(clock, sign_in())

    response = client.post(LOGOUT_ALL_URL, HTTP_X_MFA_CODE="123456")

    assert_problem(response, 401, "step_up_required")
    assert AuthSession.objects.active().filter(user=alice).count() == 1


def test_cannot_log_out_everywhere_with_an_old_sign_in(clock, alice):
    client = stale_client(clock, sign_in())

    assert_problem(client.post(LOGOUT_ALL_URL), 401, "step_up_required")
    assert AuthSession.objects.active().filter(user=alice).count() == 1


def test_can_log_out_everywhere_with_an_old_sign_in_and_a_fresh_code(enrolled, clock):
    client = stale_client(clock, mfa_sign_in(enrolled))
    clock.shift(30)

    assert client.post(LOGOUT_ALL_URL, HTTP_X_MFA_CODE=enrolled.code()).status_code == 204
    assert AuthSession.objects.active().filter(user=enrolled.user).count() == 0


# --- Role changes ----------------------------------------------------------------------------------


@pytest.fixture
def admin_and_target(clock, make_user):
    admin = make_user("admin@example.com", is_staff=True)
    admin.groups.add(roles.role_groups()[roles.ADMIN])
    target = make_user("target@example.com")
    target.groups.add(roles.role_groups()[roles.VIEWER])
    return admin, target


def test_an_admin_with_an_old_sign_in_cannot_change_roles_through_the_api(clock, admin_and_target):
    admin, target = admin_and_target
    client = stale_client(clock, sign_in(email=admin.email))

    response = client.patch(f"/api/v1/users/{target.pk}/", {"roles": ["admin"]})

    assert_problem(response, 401, "step_up_required")
    assert list(target.groups.values_list("name", flat=True)) == ["viewer"]


def test_an_admin_with_an_old_sign_in_can_still_change_other_fields(clock, admin_and_target):
    admin, target = admin_and_target
    client = stale_client(clock, sign_in(email=admin.email))

    assert client.patch(f"/api/v1/users/{target.pk}/", {"is_active": False}).status_code == 200


def test_an_admin_signed_in_recently_can_change_roles(clock, admin_and_target):
    admin, target = admin_and_target

    response = bearer(sign_in(email=admin.email)["access"]).patch(f"/api/v1/users/{target.pk}/", {"roles": ["editor"]})

    assert response.status_code == 200
    assert list(target.groups.values_list("name", flat=True)) == ["editor"]


def test_the_django_admin_refuses_a_role_change_from_an_old_sign_in(settings, clock, admin_and_target, client):
    use_plain_static_storage(settings)
    admin, target = admin_and_target
    client.post("/admin/login/", {"username": admin.email, "password": PASSWORD})
    clock.shift(STALE)
    form = {"display_name": "", "roles": ["admin"], "is_active": "on"}

    response = client.post(f"/admin/accounts/user/{target.pk}/change/", form, follow=True)

    assert "sign in again" in response.content.decode()
    assert list(target.groups.values_list("name", flat=True)) == ["viewer"]


# --- Disable and new recovery codes ----------------------------------------------------------------


def test_can_disable_with_a_code(enrolled):
    client = bearer(mfa_sign_in(enrolled)["access"])

    response = client.post(DISABLE_URL, {"code": enrolled.totp.at(time.time() + 30)})

    assert response.status_code == 204, response.content
    assert not TOTPDevice.objects.filter(user=enrolled.user).exists()
    assert not RecoveryCode.objects.filter(user=enrolled.user).exists()
    assert SecurityEvent.objects.filter(type="mfa_disabled", target_id=str(enrolled.user.pk)).count() == 1
    assert bearer("").post(TOKEN_URL, {"email": enrolled.email, "password": PASSWORD}).status_code == 200


def test_can_disable_with_the_password(enrolled):
    client = bearer(mfa_sign_in(enrolled)["access"])

    assert client.post(DISABLE_URL, {"password": PASSWORD}).status_code == 204
    assert not TOTPDevice.objects.filter(user=enrolled.user).exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, None), ({"password": "wrong-password-here"}, "password"), ({"password": PASSWORD, "code": "123456"}, None)],
)
def test_cannot_disable_without_exactly_one_right_credential(enrolled, body, field):
    client = bearer(mfa_sign_in(enrolled)["access"])

    response = client.post(DISABLE_URL, body)

    assert_validation_problem(response)
    assert response.json()["errors"][0]["field"] == field
    assert TOTPDevice.objects.filter(user=enrolled.user, confirmed_at__isnull=False).exists()


def test_cannot_disable_with_a_used_code(enrolled, clock):
    client = bearer(mfa_sign_in(enrolled)["access"])  # Used this step's code.

    assert_problem(client.post(DISABLE_URL, {"code": enrolled.code()}), 401, "mfa_code_invalid")
    assert TOTPDevice.objects.filter(user=enrolled.user).exists()


def test_cannot_disable_what_is_not_there(clock, alice):
    assert_problem(bearer(sign_in()["access"]).post(DISABLE_URL, {"password": PASSWORD}), 409, "mfa_not_enrolled")


def test_can_regenerate_recovery_codes_and_the_old_ones_die(enrolled, clock):
    client = bearer(mfa_sign_in(enrolled)["access"])

    response = client.post(RECOVERY_URL, {"password": PASSWORD})

    assert response.status_code == 200
    fresh = response.json()["recovery_codes"]
    assert len(fresh) == 10
    assert not set(fresh) & set(enrolled.recovery_codes)
    assert client.get(STATUS_URL).json()["recovery_codes_left"] == 10
    old = bearer("").post(MFA_SIGN_IN_URL, {"mfa_token": mfa_token(), "recovery_code": enrolled.recovery_codes[0]})
    assert_problem(old, 401, "mfa_code_invalid")
    new = bearer("").post(MFA_SIGN_IN_URL, {"mfa_token": mfa_token(), "recovery_code": fresh[0]})
    assert new.status_code == 200


def test_cannot_change_the_email_with_an_old_sign_in(clock, alice, settings):
    # The issue lists email change among the step-up operations; its password alone is not enough.
    settings.EMAIL_CHANGE_ENABLED = True
    client = stale_client(clock, sign_in())

    response = client.post(EMAIL_CHANGE_URL, {"new_email": "new-alice@example.com", "password": PASSWORD})

    assert_problem(response, 401, "step_up_required")
    assert User.objects.get(pk=alice.pk).email == alice.email
    assert not SecurityEvent.objects.filter(type=SecurityEvent.Type.EMAIL_CHANGE_REQUEST).exists()
