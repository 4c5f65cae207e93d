"""manage.py seed_demo: the demo accounts, once; never in production."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.management.commands.seed_demo import DEMO_USERS
from accounts.models import User
from tests.helpers import sign_in

pytestmark = pytest.mark.django_db


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_can_seed_the_demo_accounts():
    output = seed()

    assert sorted(User.objects.values_list("email", flat=True)) == sorted(u["email"] for u in DEMO_USERS)
    admin = User.objects.get(email="admin@example.com")
    assert admin.is_staff
    assert admin.is_superuser
    assert not User.objects.filter(is_staff=True).exclude(pk=admin.pk).exists()
    for spec in DEMO_USERS:
        assert spec["email"] in output
        assert spec["password"] in output
    assert "/api/v1/docs/" in output
    assert "/admin/" in output


def test_the_demo_accounts_can_sign_in():
    seed()

    for spec in DEMO_USERS:
        assert sign_in(email=spec["email"], password=spec["password"])["access"]


def test_seeding_twice_changes_nothing():
    seed()
    before = list(User.objects.order_by("email").values())

    output = seed()

    assert list(User.objects.order_by("email").values()) == before
    assert "0 account(s) created" in output


def test_seeding_keeps_an_existing_account_as_it_is(make_user):
    alice = make_user("alice@example.com", password="alices-own-passphrase", display_name="Real Alice")

    seed()

    alice.refresh_from_db()
    assert alice.display_name == "Real Alice"
    assert alice.check_password("alices-own-passphrase")


def test_cannot_seed_in_production(settings):
    settings.PRODUCTION = True

    with pytest.raises(CommandError, match="production"):
        seed()
    assert not User.objects.exists()
