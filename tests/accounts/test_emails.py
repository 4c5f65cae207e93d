"""accounts/emails.py: one spelling per mailbox, refusal of invisible and mixed-script emails,
and skeletons that make look-alikes collide, even for writes that skip the checks."""

import importlib
import re
import sys

import pytest
from django.apps import apps as django_apps
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts import emails
from accounts.models import User, normalize_email

pytestmark = pytest.mark.django_db  # The suite's autouse fixture clears the (database) cache.


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("  Alice@Example.COM ", "alice@example.com"),
        ("\uff41\uff4c\uff49\uff43\uff45@example.com", "alice@example.com"),
        ("alice@\uff45xample.com", "alice@example.com"),
        ("\u3000alice@example.com", "alice@example.com"),  # Ideographic space: NFKC makes it a space.
        ("STRASSE@example.com", "strasse@example.com"),
        ("stra\u00dfe@example.com", "strasse@example.com"),  # Case folding: one spelling per mailbox.
        ("\u212aelvin@example.com", "kelvin@example.com"),  # KELVIN SIGN.
    ],
)
def test_normalize_email(raw, normalised):
    assert emails.normalize_email(raw) == normalised
    assert normalize_email(raw) == normalised  # accounts.models keeps the name, and delegates.


def test_normalising_is_idempotent_for_every_code_point():
    # Case folding can produce a string NFKC changes again; normalising twice must change nothing.
    changed = [
        hex(code)
        for code in range(sys.maxunicode + 1)
        if emails.normalize_email(emails.normalize_email(chr(code))) != emails.normalize_email(chr(code))
    ]
    assert changed == []


@pytest.mark.parametrize(
    "char", ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u202e", "\u2066", "\u00ad", "\ufe0f"]
)
def test_check_email_refuses_invisible_characters(char):
    with pytest.raises(emails.EmailInvisibleCharacters):
        emails.check_email(f"al{char}ice@example.com")


@pytest.mark.parametrize("email", ["\u0430lice@example.com", "alice@ex\u0430mple.com", "p\u0430ypal@example.com"])
def test_check_email_refuses_confusable_mixed_scripts(email):
    with pytest.raises(emails.EmailMixedScripts) as caught:
        emails.check_email(email)
    assert caught.value.field == "email"
    assert caught.value.status == 400


@pytest.mark.parametrize(
    "email", ["alice@example.com", "j\u00f6rg@b\u00fccher.de", "user@\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444"]
)
def test_check_email_accepts_one_script_per_part(email):
    assert emails.check_email(email) == email


@pytest.mark.parametrize(
    "look_alike",
    [
        "alice@example.com\u200b",
        "alice@ex\u0430mple.com",
        "al\u0131ce@example.com",
        "a1ice@example.com",
        "alice@exarnple.com",
        "ALICE@\uff45xample.com",
    ],
)
def test_look_alikes_share_a_skeleton(look_alike):
    assert emails.email_skeleton(look_alike) == emails.email_skeleton("alice@example.com")
    assert emails.skeleton_digest(look_alike) == emails.skeleton_digest("alice@example.com")


@pytest.mark.parametrize(
    "other", ["bob@example.com", "alice@example.org", "alic\u00e9@example.com", "alice2@example.com"]
)
def test_different_emails_have_different_skeletons(other):
    assert emails.email_skeleton(other) != emails.email_skeleton("alice@example.com")


def test_check_email_available_costs_one_query(user, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert emails.check_email_available("carol@example.com") == "carol@example.com"
    with django_assert_num_queries(1), pytest.raises(emails.EmailConfusable):
        emails.check_email_available("al\u0131ce@example.com")
    with django_assert_num_queries(1), pytest.raises(emails.EmailTaken):
        emails.check_email_available("Alice@Example.com")


def test_an_account_can_keep_its_own_email(user):
    assert emails.check_email_available(user.email, exclude_pk=user.pk) == user.email


def test_cannot_create_a_look_alike_account_even_around_the_checks(user):
    # The UNIQUE skeleton column holds for every surface: a manager call skips the service's checks.
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user(email="al\u0131ce@example.com", password="x")


def test_changing_the_email_with_update_fields_updates_the_skeleton(user):
    user.email = "alice2@example.com"
    user.save(update_fields=["email"])

    user.refresh_from_db()
    assert user.email_skeleton == emails.skeleton_digest("alice2@example.com")
    assert User.objects.create_user(email="al\u0131ce@example.com", password="x").email == "al\u0131ce@example.com"


def test_bulk_created_accounts_get_their_skeletons_too():
    created = User.objects.bulk_create([User(email="Dave@Example.com"), User(email="erin@example.com")])

    assert [u.email for u in created] == ["dave@example.com", "erin@example.com"]
    assert User.objects.get(email="dave@example.com").email_skeleton == emails.skeleton_digest("dave@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.bulk_create([User(email="dav\u0435@example.com")])  # Cyrillic e: looks like dave.


def test_model_validation_reports_a_look_alike_on_the_email(user):
    # What the admin's user forms run (ModelForm validation): a form error, never an IntegrityError.
    with pytest.raises(ValidationError) as caught:
        User(email="al\u0131ce@example.com").full_clean()

    assert [e.code for e in caught.value.error_dict["email"]] == ["confusable"]
    assert "alice@example.com" not in str(caught.value)


def test_model_validation_reports_an_exact_duplicate_once(user):
    with pytest.raises(ValidationError) as caught:
        User(email="Alice@Example.com").full_clean()

    assert [e.code for e in caught.value.error_dict["email"]] == ["unique"]


def test_model_validation_lets_an_account_keep_its_email(user):
    user.display_name = "Alice A."
    user.full_clean()  # Raises nothing: its own skeleton is not a look-alike.


def load_backfill():
    return importlib.import_module("accounts.migrations.0007_user_email_skeleton").backfill


def test_the_migration_renormalises_emails_and_fills_skeletons(make_user):
    make_user("bob@example.com")
    # As an account stored before this migration: spelt with .lower() only, no skeleton yet.
    User.objects.update(email="\uff42ob@example.com", email_skeleton="")

    load_backfill()(django_apps, None)

    bob = User.objects.get()
    assert bob.email == "bob@example.com"
    assert bob.email_skeleton == emails.skeleton_digest("bob@example.com")


def test_the_migration_stops_and_names_accounts_that_look_alike(make_user):
    make_user("bob@example.com")
    carol = make_user("carol@example.com")
    User.objects.filter(pk=carol.pk).update(email="b\u043eb@example.com", email_skeleton="legacy")

    with pytest.raises(RuntimeError, match=re.escape("looks like 'bob@example.com'")):
        load_backfill()(django_apps, None)
