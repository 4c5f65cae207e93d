"""The refresh grace window: a lost response can be retried; a real replay revokes the session."""

import pytest
from django.db import DatabaseError

from accounts import grace, services
from accounts.models import AuthSession, RefreshTokenRecord, SecurityEvent
from tests.helpers import LOGOUT_URL, ME_URL, REFRESH_URL, assert_problem, bearer, claims, sign_in

pytestmark = pytest.mark.django_db


def refresh(api, raw):
    return api.post(REFRESH_URL, {"refresh": raw})


def test_retry_within_grace_gets_the_same_pair(api, user, settings):
    settings.REFRESH_GRACE_SECONDS = 30
    first = sign_in()
    lost = refresh(api, first["refresh"])
    assert lost.status_code == 200

    retry = refresh(api, first["refresh"])

    assert retry.status_code == 200
    assert retry.json() == lost.json()
    assert AuthSession.objects.get().revoked_at is None
    assert bearer(retry.json()["access"]).get(ME_URL).status_code == 200


def test_retry_after_the_new_token_was_used_is_a_replay(api, user, settings):
    settings.REFRESH_GRACE_SECONDS = 30
    first = sign_in()
    second = refresh(api, first["refresh"]).json()
    third = refresh(api, second["refresh"]).json()  # The client got and used its new pair.

    replay = refresh(api, first["refresh"])

    assert_problem(replay, 401, "session_revoked")
    session = AuthSession.objects.get()
    assert session.revoke_reason == AuthSession.RevokeReason.REFRESH_REUSE
    assert_problem(bearer(third["access"]).get(ME_URL), 401)


def test_retry_after_grace_expired_is_a_replay(api, user, settings, monkeypatch):
    settings.REFRESH_GRACE_SECONDS = 30
    first = sign_in()
    second = refresh(api, first["refresh"]).json()
    now = grace.clock()
    monkeypatch.setattr(grace, "clock", lambda: now + 31)  # The window has passed.

    assert_problem(refresh(api, first["refresh"]), 401, "session_revoked")
    assert AuthSession.objects.get().revoke_reason == AuthSession.RevokeReason.REFRESH_REUSE
    assert_problem(refresh(api, second["refresh"]), 401)


def test_grace_window_off_means_any_reuse_revokes(api, user, settings):
    settings.REFRESH_GRACE_SECONDS = 0
    first = sign_in()
    second = refresh(api, first["refresh"]).json()

    assert_problem(refresh(api, first["refresh"]), 401, "session_revoked")
    assert_problem(bearer(second["access"]).get(ME_URL), 401)


def test_remembered_pair_is_encrypted_on_the_session(api, user, settings):
    settings.REFRESH_GRACE_SECONDS = 30
    first = sign_in()
    new = refresh(api, first["refresh"]).json()
    stored = AuthSession.objects.get().grace_answer

    assert stored
    for part in (*new["refresh"].split("."), *new["access"].split(".")):
        assert part not in stored


def test_retry_within_the_window_but_after_it_shrank_is_a_replay(api, user, settings):
    """The window is checked when the retry comes, against the time the answer was sealed."""
    settings.REFRESH_GRACE_SECONDS = 30
    first = sign_in()
    refresh(api, first["refresh"])
    settings.REFRESH_GRACE_SECONDS = 0

    assert_problem(refresh(api, first["refresh"]), 401, "session_revoked")


def test_an_ended_session_keeps_no_sealed_pair(api, user, settings):
    settings.REFRESH_GRACE_SECONDS = 30
    first = sign_in()
    second = refresh(api, first["refresh"]).json()

    assert bearer(second["access"]).post(LOGOUT_URL).status_code == 204
    assert AuthSession.objects.get().grace_answer == ""


def test_failed_rotation_remembers_nothing_and_its_retry_is_no_replay(api, user, settings, monkeypatch):
    """A rotation that fails after remembering its answer leaves its token unused and forgets the
    answer: the client's retry is an ordinary refresh, not reuse."""
    settings.REFRESH_GRACE_SECONDS = 30
    first = sign_in()
    record = services.audit.record

    def fail_on_refresh(event_type, **kwargs):
        if event_type == SecurityEvent.Type.REFRESH:
            raise DatabaseError("commit failed")
        return record(event_type, **kwargs)

    monkeypatch.setattr(services.audit, "record", fail_on_refresh)
    with pytest.raises(DatabaseError):
        services.session_refresh(raw_refresh=first["refresh"], ip_address="127.0.0.1", user_agent="")
    monkeypatch.setattr(services.audit, "record", record)

    assert AuthSession.objects.get().grace_answer == ""  # Rolled back with the rotation.
    assert RefreshTokenRecord.objects.get(jti=claims(first["refresh"])["jti"]).used_at is None
    retry = refresh(api, first["refresh"])
    assert retry.status_code == 200
    assert AuthSession.objects.get().revoked_at is None
    assert not SecurityEvent.objects.filter(type=SecurityEvent.Type.REFRESH_REUSE).exists()
