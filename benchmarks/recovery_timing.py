"""How much longer a password-reset request takes for an email that has an account (docs/recovery.md).

In-process, through the whole middleware stack (django.test.Client), with the mail going to a real
SMTP server on loopback (aiosmtpd, in a process of its own) by the outbox thread, as in production. Known and unknown
emails alternate (ABBA order, so neither always follows the other's background send), rate
limits are lifted, and the median of each is compared. A throw-away SQLite database unless
DATABASE_URL is set.

    .venv/bin/python benchmarks/recovery_timing.py --requests 300
"""

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
work = tempfile.mkdtemp(prefix="recovery-timing-")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{work}/db.sqlite3")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
os.environ["CACHE_KEY_PREFIX"] = f"recovery-timing-{os.getpid()}"
for scope in ("ANON", "RECOVERY", "RECOVERY_EMAIL", "WRITES"):
    os.environ[f"RATE_LIMIT_{scope}"] = "1000000/minute"
with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    SMTP_PORT = probe.getsockname()[1]
os.environ.setdefault("EMAIL_URL", f"smtp://127.0.0.1:{SMTP_PORT}")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

from accounts import mail  # noqa: E402
from accounts.models import User  # noqa: E402

URL = "/api/v1/auth/password/reset/"


def timed(client: Client, email: str) -> float:
    start = time.perf_counter()
    response = client.post(URL, {"email": email}, content_type="application/json")
    elapsed = time.perf_counter() - start
    assert response.status_code == 202, response.content
    return elapsed * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300, help="Requests of each kind.")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    User.objects.filter(email="known@example.com").delete()
    User.objects.create_user(email="known@example.com", password="timing-passphrase-1")  # noqa: S106 (a throw-away database)
    # The mail server in a process of its own, as in production: in this one it would compete
    # with the requests for the interpreter.
    server = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{SMTP_PORT}", "-c", "aiosmtpd.handlers.Sink"]
    )
    time.sleep(1)
    client = Client()
    for _ in range(20):  # Warm up both paths (connections, templates, the outbox thread).
        timed(client, "known@example.com")
        timed(client, "unknown@example.com")
    mail.outbox.flush(timeout=60)
    known: list[float] = []
    unknown: list[float] = []
    for index in range(args.requests):
        pair = [("known@example.com", known), ("unknown@example.com", unknown)]
        for email, sink in pair if index % 2 == 0 else reversed(pair):
            sink.append(timed(client, email))
    mail.outbox.flush(timeout=120)
    server.terminate()
    server.wait()
    k, u = statistics.median(known), statistics.median(unknown)
    print(f"requests of each kind: {args.requests}; EMAIL_URL={os.environ['EMAIL_URL']}")
    print(f"median known {k:.2f} ms, unknown {u:.2f} ms, difference {k - u:+.2f} ms ({(k / u - 1) * 100:+.1f}%)")
    qk, qu = statistics.quantiles(known, n=4), statistics.quantiles(unknown, n=4)
    print(f"quartiles known {[round(q, 2) for q in qk]}, unknown {[round(q, 2) for q in qu]}")


if __name__ == "__main__":
    main()
