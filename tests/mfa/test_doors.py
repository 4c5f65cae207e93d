"""Every sign-in door honours MFA: the API, the browsable API's form and the admin's form hand out
no token and no session without the code, and each completes with one."""

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client

from accounts.models import AuthSession, SecurityEvent
from tests.conftest import PASSWORD
from tests.helpers import ME_URL, TOKEN_URL, bearer, use_plain_static_storage
from tests.mfa.conftest import MFA_SIGN_IN_URL, enrol

pytestmark = pytest.mark.django_db

FORMS = {"browsable": ("/api-auth/login/", "/api-auth/login/mfa/"), "admin": ("/admin/login/", "/admin/login/mfa/")}
PROTECTED = {"browsable": ME_URL, "admin": "/admin/"}


@pytest.fixture(autouse=True)
def _html_pages(settings):
    use_plain_static_storage(settings)


@pytest.fixture
def staff(clock, make_user):
    """Staff, so that the right password opens every door, the admin's included; enrolled."""
    user = make_user("bob@example.com", is_staff=True, is_superuser=True)
    client = bearer("")
    pair = client.post(TOKEN_URL, {"email": user.email, "password": PASSWORD}).json()
    person = enrol(bearer(pair["access"]), user)
    clock.shift(30)
    return person


def signed_in_by_session(client: Client) -> bool:
    return SESSION_KEY in client.session


@pytest.mark.parametrize("door", ["api", "browsable", "admin"])
def test_no_door_hands_out_a_session_or_token_for_the_password_alone(staff, door):
    sessions = AuthSession.objects.count()
    client = Client()

    if door == "api":
        response = client.post(TOKEN_URL, {"email": staff.email, "password": PASSWORD}, content_type="application/json")
        assert response.status_code == 401
        assert response.json()["type"].endswith(":mfa_required")
        assert "access" not in response.json()
    else:
        login, step = FORMS[door]
        response = client.post(login, {"username": staff.email, "password": PASSWORD})
        assert response.status_code == 302
        assert response["Location"] == step
        assert not signed_in_by_session(client)
        # Straight to what the session would open: still refused.
        page = client.get(PROTECTED[door])
        assert page.status_code in (302, 401, 403)
        assert not signed_in_by_session(client)
    assert AuthSession.objects.count() == sessions
    assert not SecurityEvent.objects.filter(type="sign_in", detail__via=door).exists()


@pytest.mark.parametrize("door", ["browsable", "admin"])
def test_each_form_door_signs_in_with_the_code(staff, door):
    client = Client()
    login, step = FORMS[door]
    client.post(login, {"username": staff.email, "password": PASSWORD})

    assert "Two-step verification" in client.get(step).content.decode()
    response = client.post(step, {"code": staff.code()})

    assert response.status_code == 302
    assert signed_in_by_session(client)
    assert client.get(PROTECTED[door]).status_code == 200
    assert SecurityEvent.objects.filter(type="sign_in", detail__via=door, detail__mfa="totp").count() == 1


@pytest.mark.parametrize("door", ["browsable", "admin"])
def test_each_form_door_refuses_a_wrong_code_and_counts_it(staff, door):
    client = Client()
    login, step = FORMS[door]
    client.post(login, {"username": staff.email, "password": PASSWORD})
    wrong = f"{(int(staff.code()) + 1) % 1_000_000:06d}"

    response = client.post(step, {"code": wrong})

    assert response.status_code == 200
    assert "not correct" in response.content.decode()
    assert not signed_in_by_session(client)
    assert SecurityEvent.objects.filter(type="mfa_failed", detail__via=door).count() == 1


@pytest.mark.parametrize("door", ["browsable", "admin"])
def test_each_form_door_takes_a_recovery_code(staff, door):
    client = Client()
    login, step = FORMS[door]
    client.post(login, {"username": staff.email, "password": PASSWORD})

    response = client.post(step, {"code": staff.recovery_codes[0]})

    assert response.status_code == 302
    assert signed_in_by_session(client)


@pytest.mark.parametrize("door", ["browsable", "admin"])
def test_the_code_page_without_a_password_step_sends_back_to_the_form(staff, door):
    client = Client()
    login, step = FORMS[door]

    response = client.post(step, {"code": staff.code()})

    assert response.status_code == 302
    assert response["Location"] == login
    assert not signed_in_by_session(client)


def test_an_mfa_token_of_a_form_door_is_not_an_api_token_door_bypass(staff):
    """The API's second step takes the token only: a form's pending session gives nothing at the API."""
    client = Client()
    client.post(FORMS["admin"][0], {"username": staff.email, "password": PASSWORD})

    response = client.post(MFA_SIGN_IN_URL, {"code": staff.code()}, content_type="application/json")

    assert response.status_code == 400
    assert not signed_in_by_session(client)
