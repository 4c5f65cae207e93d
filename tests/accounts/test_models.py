"""The user model: email is the login, one account per mailbox whatever the case."""

import uuid

import pytest
from django.db import IntegrityError, transaction

from accounts.models import AuthSession, User, normalize_email
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_emails_are_normalised_to_one_spelling():
    assert normalize_email("  Alice@Example.COM ") == "alice@example.com"


def test_can_create_a_user_and_the_email_is_stored_normalised():
    user = User.objects.create_user("Alice@Example.COM", PASSWORD, display_name="Alice")

    assert isinstance(user.pk, uuid.UUID)
    assert User.objects.values_list("email", flat=True).get(pk=user.pk) == "alice@example.com"
    assert user.password != PASSWORD
    assert user.check_password(PASSWORD)
    assert not user.is_staff
    assert not user.is_superuser


def test_cannot_create_a_user_without_an_email():
    with pytest.raises(ValueError, match="email"):
        User.objects.create_user("", PASSWORD)
    assert not User.objects.exists()


def test_can_create_a_superuser():
    admin = User.objects.create_superuser("root@example.com", PASSWORD)

    assert admin.is_staff
    assert admin.is_superuser


def test_cannot_create_a_superuser_without_staff():
    with pytest.raises(ValueError, match="is_staff"):
        User.objects.create_superuser("root@example.com", PASSWORD, is_staff=False)
    assert not User.objects.exists()


def test_can_find_a_user_by_email_in_any_case(user):
    assert User.objects.get_by_natural_key("ALICE@example.com") == user


def test_saving_normalises_an_email_set_by_hand(user):
    user.email = "ALICE@EXAMPLE.COM"
    user.save()

    assert User.objects.values_list("email", flat=True).get(pk=user.pk) == "alice@example.com"


def test_cannot_create_a_second_account_for_the_same_mailbox(user):
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user("Alice@Example.com", PASSWORD)
    assert User.objects.count() == 1


def test_the_database_refuses_a_case_variant_even_from_a_raw_insert(user):
    # bulk_create skips save() and its normalisation: the functional unique index must hold.
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.bulk_create([User(email="ALICE@EXAMPLE.COM", password="!")])
    assert User.objects.count() == 1


def test_the_database_refuses_a_case_variant_from_a_raw_update(user, make_user):
    bob = make_user("bob@example.com")

    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(pk=bob.pk).update(email="Alice@Example.com")
    assert User.objects.values_list("email", flat=True).get(pk=bob.pk) == "bob@example.com"


def test_sessions_have_uuid_ids_and_die_with_their_user(user, tokens):
    assert isinstance(tokens.session.pk, uuid.UUID)

    user.delete()

    assert not AuthSession.objects.exists()
