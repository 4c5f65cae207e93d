"""The Django admin for users: search, filters, activation and password resets end sessions."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from accounts.models import AuthSession, User
from tests.conftest import PASSWORD
from tests.helpers import ME_URL, assert_problem, bearer, sign_in, use_plain_static_storage

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/accounts/user/"


@pytest.fixture
def admin_client(superuser_client) -> Client:
    # The admin posts HTML forms: a plain Django client (APIClient would send JSON), same login.
    client = Client()
    client.cookies = superuser_client.cookies
    return client


def test_can_open_the_user_list_as_a_superuser(admin_client, user):
    response = admin_client.get(CHANGELIST)

    assert response.status_code == 200
    assert b"alice@example.com" in response.content
    assert response["Content-Security-Policy"]


def test_cannot_open_the_user_list_as_a_non_staff_user(settings, user):
    use_plain_static_storage(settings)
    client = Client()
    client.force_login(user)

    response = client.get(CHANGELIST)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_can_search_users_by_email(admin_client, user, make_user):
    make_user("bob@example.com")

    response = admin_client.get(CHANGELIST, {"q": "ALICE@example"})

    assert response.status_code == 200
    assert [u.email for u in response.context["cl"].result_list] == ["alice@example.com"]


def test_can_filter_users_by_active_and_role(admin_client, user, make_user):
    make_user("bob@example.com", is_active=False)
    testers = Group.objects.create(name="testers")
    user.groups.add(testers)

    inactive = admin_client.get(CHANGELIST, {"is_active__exact": "0"})
    in_role = admin_client.get(CHANGELIST, {"groups__id__exact": testers.pk})

    assert [u.email for u in inactive.context["cl"].result_list] == ["bob@example.com"]
    assert [u.email for u in in_role.context["cl"].result_list] == ["alice@example.com"]


def test_can_open_a_users_change_page_by_uuid(admin_client, user):
    response = admin_client.get(f"{CHANGELIST}{user.pk}/change/")

    assert response.status_code == 200
    assert str(user.pk).encode() in response.content


def test_deactivating_through_the_admin_action_ends_the_users_sessions(admin_client, user, tokens):
    response = admin_client.post(CHANGELIST, {"action": "deactivate", "_selected_action": [str(user.pk)]})

    assert response.status_code == 302
    user.refresh_from_db()
    assert not user.is_active
    session = AuthSession.objects.get(pk=tokens.session.pk)
    assert session.revoke_reason == AuthSession.RevokeReason.DEACTIVATED
    assert_problem(bearer(tokens.access).get(ME_URL), 401)


def test_cannot_deactivate_yourself_through_the_admin_action(admin_client):
    root = User.objects.get(email="root@example.com")

    admin_client.post(CHANGELIST, {"action": "deactivate", "_selected_action": [str(root.pk)]})

    root.refresh_from_db()
    assert root.is_active


def test_can_activate_through_the_admin_action(admin_client, make_user):
    bob = make_user("bob@example.com", is_active=False)

    admin_client.post(CHANGELIST, {"action": "activate", "_selected_action": [str(bob.pk)]})

    bob.refresh_from_db()
    assert bob.is_active


def test_unticking_active_on_the_change_form_ends_the_users_sessions(admin_client, user, tokens):
    response = admin_client.post(
        f"{CHANGELIST}{user.pk}/change/",
        {
            "email": user.email,
            "display_name": user.display_name,
            "is_active": "",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else None
    user.refresh_from_db()
    assert not user.is_active
    assert not AuthSession.objects.get(pk=tokens.session.pk).is_active


def test_can_set_a_users_roles_on_the_change_form(admin_client, user):
    response = admin_client.post(
        f"{CHANGELIST}{user.pk}/change/",
        {"display_name": user.display_name, "is_active": "on", "roles": ["editor", "viewer"]},
    )

    assert response.status_code == 302
    assert sorted(user.groups.values_list("name", flat=True)) == ["editor", "viewer"]


def test_cannot_set_raw_groups_on_the_change_form(admin_client, user):
    testers = Group.objects.create(name="testers")

    admin_client.post(
        f"{CHANGELIST}{user.pk}/change/",
        {"display_name": user.display_name, "is_active": "on", "groups": [testers.pk]},
    )

    assert not user.groups.exists()


def test_can_manage_roles_as_groups_in_the_admin(admin_client):
    assert admin_client.get("/admin/auth/group/").status_code == 200
    assert admin_client.get("/admin/auth/group/add/").status_code == 200


def test_can_set_a_password_through_the_admin_and_it_ends_the_users_sessions(admin_client, user, tokens):
    new = "an-admin-chosen-passphrase"

    response = admin_client.post(
        f"{CHANGELIST}{user.pk}/password/", {"password1": new, "password2": new, "usable_password": "true"}
    )

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(new)
    # A reset is what an admin does for a compromised account: the old tokens must die with it.
    assert_problem(bearer(tokens.access).get(ME_URL), 401)
    assert sign_in(password=new)


def test_cannot_set_a_weak_password_through_the_admin(admin_client, user, tokens):
    response = admin_client.post(f"{CHANGELIST}{user.pk}/password/", {"password1": "short", "password2": "short"})

    assert response.status_code == 200
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert AuthSession.objects.get(pk=tokens.session.pk).is_active


def test_can_add_a_user_through_the_admin(admin_client):
    response = admin_client.post(
        f"{CHANGELIST}add/",
        {
            "email": "Dora@Example.com",
            "password1": "a-long-unusual-passphrase",
            "password2": "a-long-unusual-passphrase",
            "usable_password": "true",
        },
    )

    assert response.status_code == 302
    assert User.objects.get(email="dora@example.com").check_password("a-long-unusual-passphrase")


def test_cannot_add_a_case_variant_of_an_existing_email_through_the_admin(admin_client, user):
    response = admin_client.post(
        f"{CHANGELIST}add/",
        {
            "email": "ALICE@example.com",
            "password1": "a-long-unusual-passphrase",
            "password2": "a-long-unusual-passphrase",
            "usable_password": "true",
        },
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert User.objects.filter(email__iexact="alice@example.com").count() == 1
