"""Account mail: rendered from text and HTML templates, sent by one background thread per process.

`send()` queues a mail once the current transaction commits and the request has been answered,
so no mail goes out for a change that rolled back, and the request that caused it neither waits
for the mail server nor shares the interpreter with the rendering: asking for a password reset
for a known email takes the time of one for an unknown email (docs/recovery.md measures it).
Requests are followed with Django's request_started/request_finished signals in a context
variable, as a WSGI server (gunicorn) runs them. A mail that fails to send is logged (never its
link) and dropped: the user asks again. Templates: accounts/templates/accounts/email/
<name>_subject.txt, <name>.txt, <name>.html, with `product_name` (PRODUCT_NAME) in their context.
"""

import atexit
import logging
import queue
import threading
import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.signals import request_finished, request_started
from django.db import transaction
from django.dispatch import receiver
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Mail:
    template: str
    to: str
    context: dict[str, Any] = field(default_factory=dict)

    def render(self) -> EmailMultiAlternatives:
        context = {"product_name": settings.PRODUCT_NAME, **self.context}
        prefix = f"accounts/email/{self.template}"
        subject = " ".join(render_to_string(f"{prefix}_subject.txt", context).split())
        message = EmailMultiAlternatives(
            subject, render_to_string(f"{prefix}.txt", context), settings.DEFAULT_FROM_EMAIL, [self.to]
        )
        message.attach_alternative(render_to_string(f"{prefix}.html", context), "text/html")
        return message


class Outbox:
    """A queue and the daemon thread that renders and sends what is put on it."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Mail] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def put(self, mail: Mail) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="account-mail", daemon=True)
                self._thread.start()
        self._queue.put(mail)

    def _run(self) -> None:
        while True:
            mail = self._queue.get()
            try:
                mail.render().send()
            except Exception:
                domain = mail.to.rpartition("@")[2]
                logger.exception("account mail %r to a mailbox at %s was not sent", mail.template, domain)
            finally:
                self._queue.task_done()

    def flush(self, timeout: float) -> bool:
        """Wait until every queued mail was sent (or failed); False if `timeout` ran out first."""
        deadline = time.monotonic() + timeout
        with self._queue.all_tasks_done:
            while self._queue.unfinished_tasks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._queue.all_tasks_done.wait(remaining)
        return True


outbox = Outbox()
# A command or a worker that exits gives queued mail the time of one send to leave.
atexit.register(lambda: outbox.flush(timeout=settings.EMAIL_TIMEOUT))


# Mail committed during a request waits for the request to finish (the answer written to the
# client) before the outbox thread renders and sends it: rendering alongside the answer's last
# steps competes with them for the interpreter and made a known email's answer measurably slower.
_held: ContextVar[list[Mail] | None] = ContextVar("held_mail", default=None)


@receiver(request_started)
def _hold_during_request(**kwargs) -> None:
    _held.set([])


@receiver(request_finished)
def _release_after_request(**kwargs) -> None:
    held = _held.get()
    _held.set(None)
    for mail in held or ():
        outbox.put(mail)


def _post(mail: Mail) -> None:
    held = _held.get()
    if held is None:  # Not in a request (a command, a shell), or after it finished.
        outbox.put(mail)
    else:
        held.append(mail)


def send(mail: Mail) -> None:
    """Send `mail` once the current transaction commits (at once outside one) and the request, if
    any, has been answered."""
    transaction.on_commit(lambda: _post(mail))
