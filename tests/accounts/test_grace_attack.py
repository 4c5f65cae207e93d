"""A thief with a copy of a refresh token cannot ride the grace window to follow the session.

The attack (as outside testers ran it): poll token/verify/ with the stolen token until it turns
"used" (the owner has just rotated), then replay it inside REFRESH_GRACE_SECONDS and receive the
owner's new pair. Now verify/ says nothing about refresh tokens, a grace retry is answered only to
the client that rotated and only once, and any other replay revokes the session.
"""

import pytest
from rest_framework.test import APIClient

from accounts.models import AuthSession, SecurityEvent
from tests.helpers import ME_URL, REFRESH_URL, VERIFY_URL, assert_problem, bearer, sign_in, without_request_id

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _grace_window(settings):
    settings.REFRESH_GRACE_SECONDS = 30


def client_at(ip: str, agent: str) -> APIClient:
    return APIClient(REMOTE_ADDR=ip, HTTP_USER_AGENT=agent)


@pytest.fixture
def owner() -> APIClient:
    return client_at("198.51.100.7", "Gatehouse-iOS/3.1")


@pytest.fixture
def thief() -> APIClient:
    return client_at("203.0.113.66", "curl/8.5.0")


def events(kind: str) -> int:
    return SecurityEvent.objects.filter(type=kind).count()


def assert_revoked_for_reuse(*pairs: dict) -> None:
    session = AuthSession.objects.get()
    assert session.revoke_reason == AuthSession.RevokeReason.REFRESH_REUSE
    assert events(SecurityEvent.Type.REFRESH_REUSE) == 1
    for pair in pairs:
        assert_problem(bearer(pair["access"]).get(ME_URL), 401)


def test_cannot_follow_a_session_by_polling_verify_and_replaying_in_the_grace_window(user, owner, thief):
    first = sign_in(owner)
    stolen = first["refresh"]
    before = thief.post(VERIFY_URL, {"token": stolen})
    second = owner.post(REFRESH_URL, {"refresh": stolen}).json()  # The owner rotates as usual.
    after = thief.post(VERIFY_URL, {"token": stolen})

    replay = thief.post(REFRESH_URL, {"refresh": stolen})

    # verify/ gave no signal: the same refusal before and after the rotation.
    assert_problem(before, 401, "token_wrong_type")
    assert without_request_id(after.json()) == without_request_id(before.json())
    assert_problem(replay, 401, "session_revoked")
    assert second["refresh"] not in replay.content.decode()
    assert_revoked_for_reuse(second)
    assert events(SecurityEvent.Type.REFRESH_GRACE) == 0
    session = AuthSession.objects.get()
    assert (session.ip_address, session.user_agent) == ("198.51.100.7", "Gatehouse-iOS/3.1")


def test_cannot_replay_in_the_grace_window_from_the_same_address_with_another_client(user, owner):
    first = sign_in(owner)
    second = owner.post(REFRESH_URL, {"refresh": first["refresh"]}).json()
    same_nat = client_at("198.51.100.7", "python-requests/2.32")

    assert_problem(same_nat.post(REFRESH_URL, {"refresh": first["refresh"]}), 401, "session_revoked")
    assert_revoked_for_reuse(second)


def test_can_retry_a_lost_refresh_once_from_the_client_that_rotated(user, owner):
    first = sign_in(owner)
    lost = owner.post(REFRESH_URL, {"refresh": first["refresh"]})

    retry = owner.post(REFRESH_URL, {"refresh": first["refresh"]})

    assert retry.status_code == 200
    assert retry.json() == lost.json()
    assert AuthSession.objects.get().revoked_at is None
    assert bearer(retry.json()["access"]).get(ME_URL).status_code == 200
    [grace] = SecurityEvent.objects.filter(type=SecurityEvent.Type.REFRESH_GRACE)
    assert grace.actor == user
    assert grace.detail == {"session": str(AuthSession.objects.get().id)}
    assert (grace.ip_address, grace.user_agent) == ("198.51.100.7", "Gatehouse-iOS/3.1")


def test_cannot_retry_a_lost_refresh_twice(user, owner):
    first = sign_in(owner)
    second = owner.post(REFRESH_URL, {"refresh": first["refresh"]}).json()
    assert owner.post(REFRESH_URL, {"refresh": first["refresh"]}).status_code == 200

    again = owner.post(REFRESH_URL, {"refresh": first["refresh"]})

    assert_problem(again, 401, "session_revoked")
    assert_revoked_for_reuse(second)
    assert events(SecurityEvent.Type.REFRESH_GRACE) == 1


def test_cannot_keep_a_session_a_thief_rotated_first(user, owner, thief):
    """The thief wins the race to rotate; the owner's refresh with the same token is a second
    holder of the chain, not the rotating client's retry: the session ends for both."""
    first = sign_in(owner)
    thiefs = thief.post(REFRESH_URL, {"refresh": first["refresh"]}).json()

    owners = owner.post(REFRESH_URL, {"refresh": first["refresh"]})

    assert_problem(owners, 401, "session_revoked")
    assert_revoked_for_reuse(thiefs)
