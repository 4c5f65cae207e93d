"""Account services for operators (the Django admin, management commands): create, rename, privileges."""

import pytest
from django.contrib.auth.models import Permission

from accounts import emails, services
from accounts.models import SecurityEvent, User
from accounts.roles import ADMIN, EDITOR
from project.errors import Invalid, Refused

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(make_user) -> User:
    return make_user("root@example.com", is_staff=True, is_superuser=True)


@pytest.fixture
def staff(make_member) -> User:
    return make_member("staff@example.com", ADMIN, is_staff=True)


def test_can_create_an_account_with_roles_as_an_admin(staff, roles):
    user = services.user_create(
        email=" Erin@Example.com", password="a-long-passphrase", roles=[EDITOR], actor=staff, display_name="Erin"
    )

    assert user.email == "erin@example.com"
    assert list(user.groups.values_list("name", flat=True)) == [EDITOR]
    assert not user.is_staff
    [event] = SecurityEvent.objects.filter(type="registration")
    assert (event.actor, event.target_id, event.detail["roles"]) == (staff, str(user.pk), [EDITOR])


def test_creating_an_admin_makes_them_staff(staff, roles):
    assert services.user_create(email="a@example.com", password=None, roles=[ADMIN], actor=staff).is_staff


def test_cannot_create_a_superuser_without_being_one(staff, roles):
    with pytest.raises(Refused):
        services.user_create(email="a@example.com", password=None, roles=[], actor=staff, is_superuser=True)

    assert not User.objects.filter(email="a@example.com").exists()


def test_can_create_a_superuser_as_a_superuser(root, roles):
    user = services.user_create(email="a@example.com", password=None, roles=[], actor=root, is_superuser=True)

    assert user.is_superuser
    assert user.is_staff


def test_cannot_create_an_account_with_an_unknown_role(staff, roles):
    with pytest.raises(Invalid) as refused:
        services.user_create(email="a@example.com", password=None, roles=["owner"], actor=staff)

    assert refused.value.field == "roles"
    assert not User.objects.filter(email="a@example.com").exists()


def test_cannot_create_a_case_variant_of_an_existing_email(staff, user, roles):
    with pytest.raises(emails.EmailTaken):
        services.user_create(email="ALICE@example.com", password=None, roles=[], actor=staff)

    assert User.objects.count() == 2


@pytest.mark.parametrize(
    "look_alike",
    ["alice@example.com\u200b", "\u0430lice@example.com", "al\u0131ce@example.com", "alice@\uff45xample.com"],
)
def test_cannot_create_a_look_alike_of_an_existing_account(look_alike, staff, user, roles):
    with pytest.raises(emails.EmailRefused):
        services.user_create(email=look_alike, password=None, roles=[], actor=staff)

    assert User.objects.count() == 2


def test_cannot_rename_a_superuser_without_being_one(staff, root):
    with pytest.raises(services.SuperuserProtected):
        services.user_update_profile(user=root, actor=staff, display_name="Mallory")

    root.refresh_from_db()
    assert root.display_name == ""


def test_cannot_grant_raw_permissions_without_being_a_superuser(staff, user):
    perm = Permission.objects.get(codename="delete_user")

    with pytest.raises(services.SuperuserProtected):
        services.user_update_privileges(user=user, actor=staff, is_superuser=False, permissions=[perm])

    assert not user.user_permissions.exists()


def test_can_grant_raw_permissions_as_a_superuser_and_it_is_audited(root, user):
    perm = Permission.objects.get(codename="delete_user")

    services.user_update_privileges(user=user, actor=root, is_superuser=False, permissions=[perm])

    assert list(user.user_permissions.all()) == [perm]
    [event] = SecurityEvent.objects.filter(type="role_change")
    assert event.detail == {
        "is_superuser": [False, False],
        "permissions_added": ["accounts.delete_user"],
        "permissions_removed": [],
    }
