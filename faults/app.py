"""Gatehouse as production runs it (DJANGO_ENV=production, gunicorn.conf.py), against the private services."""

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from faults.services import free_port, port_open, wait_until

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
WORKERS = 4
GRACE_SECONDS = 5  # REFRESH_GRACE_SECONDS, the production default, set explicitly so a .env cannot change it.
# Every client of the load comes from 127.0.0.1: per-address limits would make the suite a
# rate-limit test. The limits stay on (their cache writes are part of the load), just out of reach.
GENEROUS = "100000/minute"


def environment(*, root: Path, database_url: str, redis_url: str, port: int) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "JWT_", "RATE_LIMIT_"))}
    env.update(
        DJANGO_ENV="production",
        SECRET_KEY=f"faults-{secrets.token_urlsafe(64)}",
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="0",  # Plain http on loopback.
        JWT_KEYS_FILE=str(root / "jwt_keys.json"),
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        CACHE_KEY_PREFIX="faults",
        GUNICORN_BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY=str(WORKERS),
        LOCKOUT_FAILURE_LIMIT="100000",
        REFRESH_GRACE_SECONDS=str(GRACE_SECONDS),  # The audit judges refresh reuse by the same window.
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
        # No account mail (docs/recovery.md): production then starts without a mail server, and the
        # load's users, registered through the service, sign in without verifying an address.
        PASSWORD_RESET_ENABLED="0",  # noqa: S106 (a switch, not a password)
        EMAIL_CHANGE_ENABLED="0",
        REGISTRATION_REQUIRES_VERIFICATION="0",
    )
    for scope in ("ANON", "USER", "WRITES", "SIGN_IN", "REFRESH", "REGISTER", "LOOKUP"):
        env[f"RATE_LIMIT_{scope}"] = GENEROUS
    return env


def manage(env: dict[str, str], *argv: str) -> str:
    result = subprocess.run(  # noqa: S603
        [str(VENV_BIN / "python"), "manage.py", *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(argv)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def create_users(env: dict[str, str], count: int) -> list[dict]:
    """Load users made through the registration service (seed_demo refuses production, rightly)."""
    password = secrets.token_urlsafe(18)
    result = subprocess.run(  # noqa: S603
        [str(VENV_BIN / "python"), "-m", "faults.users", str(count)],
        cwd=ROOT,
        env=env,
        input=password,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        raise RuntimeError(f"creating the load users failed:\n{result.stderr}")
    return [{**user, "password": password} for user in json.loads(result.stdout)]


class Gatehouse:
    """gunicorn with the repository's gunicorn.conf.py (worker class included), 4 workers."""

    def __init__(self, root: Path, *, database_url: str, redis_url: str) -> None:
        self.root = root
        self.port = free_port()
        self.env = environment(root=root, database_url=database_url, redis_url=redis_url, port=self.port)
        self.log = root / "gunicorn.log"
        self.process: subprocess.Popen | None = None
        # gunicorn's default control socket is one path per user (~/.gunicorn/gunicorn.ctl), shared
        # with every other gunicorn on the machine: ours gets its own.
        self.private = ["--control-socket", str(root / "gunicorn.ctl")]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def prepare(self, users: int) -> list[dict]:
        manage(self.env, "rotate_signing_key")
        manage(self.env, "migrate", "--noinput")
        return create_users(self.env, users)

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603
                [str(VENV_BIN / "gunicorn"), "project.wsgi", "--config", "gunicorn.conf.py", *self.private],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # A Ctrl-C at the terminal reaches us, and we stop it in order.
            )
        wait_until(lambda: port_open(self.port) and len(self.workers()) >= WORKERS, seconds=60, what="gunicorn")

    def workers(self) -> list[int]:
        if not self.process:
            return []
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in path.read_text().split()]
        except OSError:
            return []

    def signal_master(self, signum: int) -> None:
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, signum)

    def stop(self) -> None:
        if not self.process:
            return
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        # Workers left behind by a dying master are in its process group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process = None
        time.sleep(0.1)
