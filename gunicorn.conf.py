"""gunicorn settings, read automatically from the working directory (`make run`, production).

Threaded workers (gthread): an idle or slow connection waits in the worker's poller, not in the
only slot a sync worker has, so a handful of idle sockets cannot take the service down. Put a
buffering reverse proxy in front all the same (docs/operations.md#reverse-proxy).

Logs are JSON like the application's: the error log through LOG_FORMAT's formatter with the
request id, the access log one json.dumps'd object per request (project/logging.py).
"""

import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))  # The gunicorn script does not put the working directory on the path.

from project.logging import FORMATTERS  # noqa: E402

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
# Requests served at once per worker. Each thread holds its own database connection (or borrows
# one from the worker's pool): size DB_POOL_MAX, or PostgreSQL's max_connections, to match.
threads = int(os.environ.get("GUNICORN_THREADS", "4"))


def control_socket_path(binds: list[str]) -> str:
    """var/gunicorn-<addresses>.ctl: one control socket per instance (gunicorn's default is one
    path per user, which a second instance on the machine would take over)."""
    return str(ROOT / "var" / f"gunicorn-{re.sub(r'[^A-Za-z0-9.]+', '-', '_'.join(binds))}.ctl")


control_socket = control_socket_path([bind])


def on_starting(server) -> None:
    # `--bind` on the command line wins over `bind` above; name the socket after the real one.
    server.cfg.set("control_socket", control_socket_path(server.cfg.bind))


logger_class = "project.logging.JSONAccessLogger"
accesslog = "-"
_log_format = os.environ.get("LOG_FORMAT") or ("json" if os.environ.get("DJANGO_ENV") == "production" else "text")
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "project.logging.RequestIDFilter"}},
    "formatters": {**FORMATTERS, "access": {"format": "%(message)s"}},  # Access lines are JSON already.
    "handlers": {
        "error": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
            "filters": ["request_id"],
            "formatter": _log_format,
        },
        "access": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "access"},
    },
    "root": {"level": "INFO", "handlers": ["error"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["error"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["access"], "propagate": False},
    },
}
