"""A real SMTP server on loopback (aiosmtpd, in the test process) that the account mail goes to,
and helpers that read a mail's link the way a person would and follow it over HTTP."""

import email
import re
import socket
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from email.policy import default as default_policy

import environ
import pytest
from aiosmtpd.controller import Controller
from rest_framework.test import APIClient

from accounts import mail

TOKEN_IN_LINK = re.compile(r"#token=([A-Za-z0-9_\-:.]+)")


class Mailbox:
    """What the SMTP server received, as parsed messages."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd's handler hook.
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 Message accepted for delivery"

    def received(self) -> list[EmailMessage]:
        """Every message, once the outbox has handed all queued mail to the server."""
        assert mail.outbox.flush(timeout=30), "the outbox did not empty"
        return list(self.messages)

    def to(self, address: str) -> list[EmailMessage]:
        return [message for message in self.received() if message["X-Envelope-To"] == address]

    def only_one_to(self, address: str) -> EmailMessage:
        messages = self.to(address)
        assert len(messages) == 1, [m["Subject"] for m in messages]
        return messages[0]


def text_of(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def html_of(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


def token_of(message: EmailMessage) -> str:
    """The token of the link in the mail, read from the text part; the HTML part links the same."""
    match = TOKEN_IN_LINK.search(text_of(message))
    assert match, text_of(message)
    assert f"#token={match.group(1)}" in html_of(message)
    return match.group(1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(name="mailbox")
def mailbox_fixture(settings) -> Iterator[Mailbox]:
    """The SMTP server, with the mail settings pointed at it as EMAIL_URL=smtp://127.0.0.1:<port> makes them."""
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    for name, value in environ.Env.email_url_config(f"smtp://127.0.0.1:{controller.port}").items():
        setattr(settings, name, value)
    settings.FRONTEND_URL = "https://app.example.com"
    settings.PRODUCT_NAME = "Acme Identity"
    settings.DEFAULT_FROM_EMAIL = "Acme Identity <no-reply@example.com>"
    try:
        yield box
    finally:
        mail.outbox.flush(timeout=30)
        controller.stop()


@pytest.fixture(name="post")
def post_fixture(api, django_capture_on_commit_callbacks) -> Callable:
    """POST as JSON and run what the request deferred to its commit (the mail), as a real commit would."""

    def post(url: str, data: object, client: APIClient | None = None, **extra):
        with django_capture_on_commit_callbacks(execute=True):
            return (client or api).post(url, data, format="json", **extra)

    return post
