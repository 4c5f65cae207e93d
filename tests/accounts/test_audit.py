"""The audit trail: each security event recorded with its context, append-only, admin-readable."""

import json

import pytest
from django.contrib.auth.models import Group
from django.db import transaction

from accounts import roles, services
from accounts.models import SecurityEvent, User
from tests.conftest import PASSWORD
from tests.helpers import (
    LOGOUT_URL,
    PASSWORD_CHANGE_URL,
    REFRESH_URL,
    REGISTER_URL,
    assert_problem,
    assert_validation_problem,
    bearer,
    sign_in,
    use_plain_static_storage,
)

EVENTS_URL = "/api/v1/audit-events/"

pytestmark = pytest.mark.django_db


def events(event_type):
    return list(SecurityEvent.objects.filter(type=event_type).order_by("created_at"))


@pytest.fixture
def admin_user(make_user):
    admin = make_user("root@example.com", is_staff=True)
    admin.groups.add(Group.objects.get(name=roles.ADMIN))
    return admin


def test_sign_in_is_recorded_with_who_where_and_which_request(api, user):
    response = api.post(
        "/api/v1/auth/token/",
        {"email": user.email, "password": PASSWORD},
        HTTP_USER_AGENT="curl/8.5",
        REMOTE_ADDR="203.0.113.7",
    )

    [event] = events("sign_in")
    assert event.actor == user
    assert event.actor_email == user.email
    assert (event.target_type, event.target_id) == ("user", str(user.pk))
    assert event.ip_address == "203.0.113.7"
    assert event.user_agent == "curl/8.5"
    assert event.request_id == response["X-Request-ID"]
    assert "session" in event.detail


def test_token_lifecycle_events(api, user, settings):
    settings.REFRESH_GRACE_SECONDS = 0
    first = sign_in()
    second = api.post(REFRESH_URL, {"refresh": first["refresh"]}).json()
    api.post(REFRESH_URL, {"refresh": first["refresh"]})  # Replay: the session is revoked.
    third = sign_in()
    bearer(third["access"]).post(LOGOUT_URL, {"refresh": third["refresh"]})
    fourth = sign_in()
    bearer(fourth["access"]).post("/api/v1/auth/logout-all/")

    assert len(events("refresh")) == 1
    [reuse] = events("refresh_reuse")
    assert reuse.actor is None  # Thief or owner: unknown.
    assert reuse.target_id == str(user.pk)
    assert len(events("logout")) == 1
    assert events("logout_all")[0].detail == {"sessions": 1}
    assert second["access"]


def test_password_change_and_registration_are_recorded(api, user, settings):
    settings.REGISTRATION_OPEN = True
    pair = sign_in()
    bearer(pair["access"]).post(
        PASSWORD_CHANGE_URL, {"old_password": PASSWORD, "new_password": "another-long-passphrase"}
    )
    api.post(REGISTER_URL, {"email": "new@example.com", "password": "a-long-passphrase-here"})

    [change] = events("password_change")
    assert change.actor == user
    assert change.detail == {"sessions_ended": 1}
    [registration] = events("registration")
    assert registration.actor_email == "new@example.com"


def test_role_and_activation_changes_record_the_admin_who_made_them(admin_user, make_user):
    target = make_user("bob@example.com")
    services.user_update_access(user=target, actor=admin_user, roles=[roles.EDITOR])
    services.user_update_access(user=target, actor=admin_user, is_active=False)

    [role_change] = events("role_change")
    assert role_change.actor == admin_user
    assert role_change.detail == {"before": [], "after": ["editor"]}
    [activation] = events("activation_change")
    assert activation.actor == admin_user
    assert activation.detail == {"is_active": False}


def test_a_refused_change_records_nothing(admin_user):
    with pytest.raises(services.LastAdmin):
        services.user_update_access(user=admin_user, actor=admin_user, roles=[])

    assert not SecurityEvent.objects.filter(type="role_change").exists()
    assert admin_user.groups.filter(name=roles.ADMIN).exists()


def test_event_and_change_share_one_transaction(user):
    with pytest.raises(RuntimeError), transaction.atomic():
        services.user_change_password(user=user, new_password="rolled-back-passphrase")
        raise RuntimeError("the surrounding work failed")

    assert not SecurityEvent.objects.exists()
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_django_admin_actions_are_recorded(client, admin_user, make_user, settings):
    use_plain_static_storage(settings)
    admin_user.is_superuser = True
    admin_user.save()
    target = make_user("bob@example.com")
    client.force_login(admin_user)

    response = client.post(
        "/admin/accounts/user/",
        {"action": "deactivate", "_selected_action": [str(target.pk)]},
    )
    assert response.status_code == 302
    client.post(f"/admin/accounts/user/{target.pk}/change/", {"roles": ["superhero"]})  # Invalid: logs nothing.

    assert events("activation_change")[0].actor == admin_user
    User.objects.filter(pk=target.pk).update(display_name="x")  # Outside the admin: not an admin action.
    group = Group.objects.create(name="auditors")
    client.post(f"/admin/auth/group/{group.pk}/delete/", {"post": "yes"})
    [admin_action] = events("admin_action")
    assert admin_action.actor == admin_user
    assert admin_action.detail["action"] == "delete"
    assert admin_action.detail["object"] == "auditors"


def test_events_never_hold_a_password_or_token(api, user, settings):
    settings.REGISTRATION_OPEN = True
    pair = sign_in()
    refreshed = api.post(REFRESH_URL, {"refresh": pair["refresh"]}).json()
    api.post("/api/v1/auth/token/", {"email": user.email, "password": "wrong-password-x"})
    bearer(refreshed["access"]).post(
        PASSWORD_CHANGE_URL, {"old_password": PASSWORD, "new_password": "another-long-passphrase"}
    )

    dump = json.dumps(list(SecurityEvent.objects.values()), default=str)
    for secret in (PASSWORD, "wrong-password-x", "another-long-passphrase", pair["refresh"], pair["access"]):
        assert secret not in dump
    assert user.password not in dump


def test_events_are_append_only(user):
    services.user_change_password(user=user, new_password="another-long-passphrase")
    event = SecurityEvent.objects.get()

    with pytest.raises(TypeError):
        event.save()
    with pytest.raises(TypeError):
        event.delete()
    with pytest.raises(TypeError):
        SecurityEvent.objects.update(detail={})
    with pytest.raises(TypeError):
        SecurityEvent.objects.all().delete()
    assert SecurityEvent.objects.get().detail == {"sessions_ended": 0}


def test_admin_site_shows_events_read_only(client, admin_user, settings, user):
    use_plain_static_storage(settings)
    admin_user.is_superuser = True
    admin_user.save()
    services.user_change_password(user=user, new_password="another-long-passphrase")
    event = SecurityEvent.objects.get()
    client.force_login(admin_user)

    assert client.get("/admin/accounts/securityevent/").status_code == 200
    assert client.get("/admin/accounts/securityevent/add/").status_code == 403
    client.post(f"/admin/accounts/securityevent/{event.pk}/delete/", {"post": "yes"})
    client.post(f"/admin/accounts/securityevent/{event.pk}/change/", {"type": "sign_in"})
    assert SecurityEvent.objects.get().type == "password_change"


class TestAuditAPI:
    def test_admin_can_list_and_filter_events(self, admin_user, user):
        services.user_change_password(user=user, new_password="another-long-passphrase")
        services.user_update_access(user=user, actor=admin_user, roles=[roles.VIEWER])
        client = bearer(sign_in(email=admin_user.email)["access"])

        everything = client.get(EVENTS_URL).json()["results"]
        by_type = client.get(EVENTS_URL, {"type": "role_change"}).json()["results"]
        by_actor = client.get(EVENTS_URL, {"actor": str(user.pk)}).json()["results"]
        by_target = client.get(EVENTS_URL, {"target_type": "user", "target_id": str(user.pk)}).json()["results"]

        assert {e["type"] for e in everything} == {"password_change", "role_change", "sign_in"}
        assert [e["type"] for e in by_type] == ["role_change"]
        assert [e["type"] for e in by_actor] == ["password_change"]
        assert {e["type"] for e in by_target} == {"password_change", "role_change"}

    def test_time_range_filter(self, admin_user, user):
        services.user_change_password(user=user, new_password="another-long-passphrase")
        client = bearer(sign_in(email=admin_user.email)["access"])

        future = client.get(EVENTS_URL, {"since": "2999-01-01T00:00:00Z"}).json()["results"]
        past = client.get(EVENTS_URL, {"until": "2000-01-01T00:00:00Z"}).json()["results"]

        assert future == past == []

    @pytest.mark.parametrize(
        "params",
        [{"type": "nonsense"}, {"actor": "not-a-uuid"}, {"since": "yesterday"}, {"password": "x"}, {"page": "2"}],
    )
    def test_bad_filters_are_400(self, admin_user, params):
        client = bearer(sign_in(email=admin_user.email)["access"])
        assert_problem(client.get(EVENTS_URL, params), 400, "validation_error")

    def test_non_admin_cannot_read_the_trail(self, user):
        client = bearer(sign_in()["access"])
        assert_problem(client.get(EVENTS_URL), 403, "permission_denied")

    def test_anonymous_cannot_read_the_trail(self, api):
        assert_problem(api.get(EVENTS_URL), 401, "not_authenticated")

    def test_the_api_cannot_write_events(self, admin_user):
        client = bearer(sign_in(email=admin_user.email)["access"])
        before = SecurityEvent.objects.count()
        assert client.post(EVENTS_URL, {"type": "sign_in"}).status_code == 405
        event = SecurityEvent.objects.first()
        assert client.delete(f"{EVENTS_URL}{event.pk}/").status_code == 405
        assert SecurityEvent.objects.count() == before


@pytest.mark.parametrize(
    ("since", "found"),
    [
        ("2000-01-01T00:00:00+18:23", True),  # ISO 8601 allows it; PostgreSQL refuses offsets past 15:59.
        ("2000-01-01T00:00:00-18:00", True),
        ("9999-01-01T00:00:00+00:00", False),
    ],
)
def test_can_filter_events_by_time_with_any_iso_offset(since, found, admin_user, user):
    services.session_start(user=user, ip_address="127.0.0.1", user_agent="pytest")

    response = bearer_for(admin_user).get("/api/v1/audit-events/", {"since": since, "type": "sign_in"})

    assert response.status_code == 200, response.content
    assert bool(response.json()["results"]) is found


@pytest.mark.parametrize("when", ["9999-12-31T23:59:59-18:00", "0001-01-01T00:00:00+18:00"])
def test_a_time_that_leaves_the_calendar_in_utc_is_a_clear_400(when, admin_user):
    response = bearer_for(admin_user).get("/api/v1/audit-events/", {"until": when})

    assert_validation_problem(response, ("until", "invalid"))


def bearer_for(user: User):
    return bearer(services.session_start(user=user, ip_address="127.0.0.1", user_agent="pytest").access)
