"""Logging helpers: every record carries the id of the request it belongs to, and gunicorn's own
lines (errors and the access log) are JSON like the application's.

Imported by gunicorn.conf.py in the arbiter, before Django is set up: nothing here may touch
Django settings or models.
"""

import json
import logging
import time
from datetime import UTC, datetime, timedelta

from gunicorn import glogging

from project.request_id import current_request_id

# The two line formats, shared by Django's LOGGING (project/settings.py) and gunicorn's.
FORMATTERS = {
    "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    "json": {
        "()": "pythonjsonlogger.json.JsonFormatter",
        # The pid tells gunicorn's workers apart: a worker's timeout names it.
        "fmt": "%(asctime)s %(levelname)s %(name)s %(process)d %(request_id)s %(message)s",
        "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger", "process": "pid"},
    },
}


class RequestIDFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id() or "-"
        return True


def queued_ms(header: str | None, started: float) -> int | None:
    """Milliseconds between the proxy's X-Request-Start and `started` (epoch seconds), or None.

    Proxies write it as `t=<epoch>` in seconds (nginx's $msec), milliseconds or microseconds;
    the magnitude tells which. Clock skew between the hosts cannot make it negative.
    """
    if not header:
        return None
    try:
        stamp = float(header.strip().removeprefix("t="))
    except ValueError:
        return None
    if stamp > 1e14:
        stamp /= 1e6
    elif stamp > 1e11:
        stamp /= 1e3
    return max(0, round((started - stamp) * 1000))


class JSONAccessLogger(glogging.Logger):
    """gunicorn's logger with one JSON object per access line, built with json.dumps.

    gunicorn's own access_log_format only escapes double quotes, so a User-Agent or request
    line ending in a backslash breaks the JSON. `duration_ms` is the time in the worker;
    `queued_ms`, when the proxy sends X-Request-Start, is the time before a worker took it.
    """

    def access(self, resp, req, environ: dict, request_time: timedelta) -> None:
        if not self.access_log_enabled:
            return
        try:
            self.access_log.info(self.access_line(resp, environ, request_time))
        except Exception:
            self.exception("could not write an access log line")

    @staticmethod
    def access_line(resp, environ: dict, request_time: timedelta) -> str:
        finished = time.time()
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        headers = dict((name.lower(), value) for name, value in resp.headers)
        line = {
            "time": datetime.fromtimestamp(finished, tz=UTC).isoformat(timespec="milliseconds"),
            "remote": environ.get("REMOTE_ADDR", "-"),
            "request": f"{environ.get('REQUEST_METHOD')} {environ.get('RAW_URI')} {environ.get('SERVER_PROTOCOL')}",
            "status": int(status),
            "bytes": getattr(resp, "sent", None),
            "duration_ms": round(request_time.total_seconds() * 1000),
            "request_id": headers.get("x-request-id", "-"),
            "user_agent": environ.get("HTTP_USER_AGENT", "-"),
        }
        queued = queued_ms(environ.get("HTTP_X_REQUEST_START"), finished - request_time.total_seconds())
        if queued is not None:
            line["queued_ms"] = queued
        return json.dumps(line)
