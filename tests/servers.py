"""Start the real app under gunicorn in a subprocess, against this test run's database."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.error import HTTPError
from urllib.request import Request, urlopen

from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_database_url() -> str:
    """The URL of the database this test run uses, for a server started in another process."""
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    base = os.environ["DATABASE_URL"].rsplit("/", 1)[0]
    return f"{base}/{db['NAME']}"


@contextmanager
def gunicorn(*, workers: int = 2, args: tuple[str, ...] = (), **env: str) -> Iterator[str]:
    """Serve the app on a free loopback port; yields its base URL. Needs transactional tests.

    gunicorn reads gunicorn.conf.py from the checkout; `args` adds or overrides command-line options.
    """
    port = free_port()
    environment = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "CACHE_KEY_PREFIX": f"test-server-{port}",
        "DJANGO_SETTINGS_MODULE": "project.settings",
        **env,
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "project.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            *args,
        ],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urlopen(f"{base}/healthz", timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=20)


def call(
    url: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 20,
):
    """(status, body bytes) of one HTTP request, errors included (a timeout raises)."""
    request = Request(url, method=method, headers=headers or {}, data=body)
    try:
        with urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except HTTPError as error:
        return error.code, error.read()
