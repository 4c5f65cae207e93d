"""The outbox: mail waits for the commit and the answer, then a background thread sends it; a failure is logged."""

import logging
from contextlib import contextmanager

import pytest
from django.core import mail as django_mail
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction

from accounts import mail

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _locmem(settings):
    # The test's transaction never commits: each test runs the on-commit callbacks as a commit would.
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    django_mail.outbox = []


def welcome(to: str = "alice@example.com") -> mail.Mail:
    return mail.Mail("email_change_notice", to=to, context={"email": to, "new_email": "new@example.com"})


def sent() -> list:
    assert mail.outbox.flush(timeout=30)
    return django_mail.outbox


@contextmanager
def keeping_the_test_connection():
    """What Django's test client does around these signals: they would close the test's database connection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def test_mail_of_a_request_leaves_only_after_the_answer(django_capture_on_commit_callbacks):
    with keeping_the_test_connection():
        request_started.send(sender=None)
        with django_capture_on_commit_callbacks(execute=True):
            mail.send(welcome())
        assert sent() == []  # Committed, but the request is still being answered.

        request_finished.send(sender=None)

    assert [message.to for message in sent()] == [["alice@example.com"]]


def test_no_mail_for_a_change_that_rolled_back(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        mail.send(welcome())
        raise RuntimeError("the change failed")

    assert sent() == []


def test_mail_has_a_text_and_an_html_part_with_the_product_name(settings, django_capture_on_commit_callbacks):
    settings.PRODUCT_NAME = "Acme Identity"
    with django_capture_on_commit_callbacks(execute=True):
        mail.send(welcome())

    (message,) = sent()
    assert message.subject == "Your Acme Identity email is about to change"
    assert "Acme Identity" in message.body
    ((html, mimetype),) = message.alternatives
    assert mimetype == "text/html"
    assert "<strong>If this was not you" in html


def test_a_mail_server_that_refuses_is_logged_without_the_link(settings, caplog):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2  # Nothing listens.
    secret = mail.Mail("password_reset", to="alice@example.com", context={"link": "https://x/#token=SECRET"})

    with caplog.at_level(logging.ERROR, logger="accounts.mail"):
        mail.outbox.put(secret)
        assert mail.outbox.flush(timeout=30)

    assert "'password_reset' to a mailbox at example.com was not sent" in caplog.text
    assert "SECRET" not in caplog.text
    assert "alice@" not in caplog.text
