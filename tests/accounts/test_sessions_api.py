"""Sessions API: list your sessions, revoke one, log out everywhere; revocation is instant."""

import pytest
from django.urls import reverse

from accounts.models import AuthSession
from tests.helpers import ME_URL, assert_problem, bearer, sign_in

SESSIONS_URL = "/api/v1/auth/sessions/"
LOGOUT_ALL_URL = "/api/v1/auth/logout-all/"

pytestmark = pytest.mark.django_db


def test_can_list_own_active_sessions_with_current_flag(user, make_user):
    first = sign_in()
    second = sign_in()
    other = make_user("mallory@example.com")
    sign_in(email=other.email)

    response = bearer(first["access"]).get(SESSIONS_URL, HTTP_USER_AGENT="curl/8")

    assert response.status_code == 200
    sessions = response.json()
    assert len(sessions) == 2  # Mallory's session is not listed.
    assert {tuple(sorted(s)) for s in sessions} == {
        ("created_at", "current", "id", "ip_address", "last_used_at", "user_agent")
    }
    current = [s for s in sessions if s["current"]]
    assert len(current) == 1
    assert AuthSession.objects.get(id=current[0]["id"]).user == user
    assert second["access"] != first["access"]


def test_revoked_sessions_are_not_listed(user):
    first = sign_in()
    second = sign_in()
    bearer(second["access"]).post(LOGOUT_ALL_URL)  # Ends both.
    third = sign_in()

    sessions = bearer(third["access"]).get(SESSIONS_URL).json()

    assert [s["current"] for s in sessions] == [True]
    assert bearer(first["access"]).get(ME_URL).status_code == 401


def test_can_revoke_one_session_and_its_access_token_stops_at_once(user):
    mine = sign_in()
    phone = sign_in()
    phone_sid = (
        AuthSession.objects.exclude(
            id__in=[s["id"] for s in bearer(mine["access"]).get(SESSIONS_URL).json() if s["current"]]
        )
        .get()
        .id
    )

    response = bearer(mine["access"]).delete(f"{SESSIONS_URL}{phone_sid}/")

    assert response.status_code == 204
    assert_problem(bearer(phone["access"]).get(ME_URL), 401)
    refused = bearer(mine["access"]).post("/api/v1/auth/token/refresh/", {"refresh": phone["refresh"]})
    assert_problem(refused, 401)
    assert bearer(mine["access"]).get(ME_URL).status_code == 200
    assert AuthSession.objects.get(id=phone_sid).revoke_reason == AuthSession.RevokeReason.LOGOUT


def test_cannot_revoke_someone_elses_session(user, make_user):
    mine = sign_in()
    mallory = make_user("mallory@example.com")
    theirs = sign_in(email=mallory.email)
    their_sid = AuthSession.objects.get(user=mallory).id

    response = bearer(mine["access"]).delete(f"{SESSIONS_URL}{their_sid}/")

    assert_problem(response, 404, "not_found")
    assert AuthSession.objects.get(id=their_sid).revoked_at is None
    assert bearer(theirs["access"]).get(ME_URL).status_code == 200


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "1", "../../admin"])
def test_malformed_session_id_is_404_not_500(user, bad_id):
    mine = sign_in()
    response = bearer(mine["access"]).delete(f"{SESSIONS_URL}{bad_id}/")
    assert response.status_code == 404


def test_logout_all_ends_every_session_of_the_caller_only(user, make_user):
    sessions = [sign_in() for _ in range(3)]
    bystander = make_user("bob@example.com")
    bob = sign_in(email=bystander.email)

    response = bearer(sessions[0]["access"]).post(LOGOUT_ALL_URL)

    assert response.status_code == 204
    for pair in sessions:
        assert_problem(bearer(pair["access"]).get(ME_URL), 401)
        assert_problem(bearer(pair["access"]).post("/api/v1/auth/token/refresh/", {"refresh": pair["refresh"]}), 401)
    assert bearer(bob["access"]).get(ME_URL).status_code == 200
    assert set(AuthSession.objects.filter(user=user).values_list("revoke_reason", flat=True)) == {"logout_all"}


def test_sessions_api_requires_authentication(api):
    assert_problem(api.get(SESSIONS_URL), 401, "not_authenticated")
    assert_problem(api.post(LOGOUT_ALL_URL), 401, "not_authenticated")


def test_sessions_routes_are_named():
    assert reverse("auth:session-list") == SESSIONS_URL
    assert reverse("auth:logout-all") == LOGOUT_ALL_URL


def test_logout_all_also_ends_browser_cookie_sessions(user, client):
    client.force_login(user)  # A browsable-API / admin session.
    assert client.get(ME_URL).status_code == 200
    pair = sign_in()

    bearer(pair["access"]).post(LOGOUT_ALL_URL)

    assert client.get(ME_URL).status_code in (401, 403)  # The cookie no longer signs anyone in.
    assert client.session.get("_auth_user_id") is None


def test_a_browser_session_survives_an_unrelated_change(user, client):
    client.force_login(user)
    user.display_name = "Renamed"
    user.save()

    assert client.get(ME_URL).status_code == 200
