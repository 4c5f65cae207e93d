"""Account mail: rendered from text and HTML templates, sent by one background thread per process.

`send()` queues a mail once the current transaction commits, so no mail goes out for a change
that rolled back, and the request that caused it does not wait for the mail server: asking for a
password reset for a known email takes the time of one for an unknown email (docs/recovery.md
measures it). A mail that fails to send is logged (never its link) and dropped: the user asks
again. Templates: accounts/templates/accounts/email/<name>_subject.txt, <name>.txt, <name>.html,
with `product_name` (PRODUCT_NAME) in their context.
"""

import atexit
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
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


def send(mail: Mail) -> None:
    """Send `mail` after the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: outbox.put(mail))
