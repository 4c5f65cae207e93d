"""gunicorn settings, read automatically from the working directory (`make run`, production).

Every access log line carries the request's X-Request-ID (the one the app accepted or made), so
it can be matched with the application's own log lines for that request.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
accesslog = "-"
access_log_format = (
    '{"time": "%(t)s", "remote": "%(h)s", "request": "%(r)s", "status": %(s)s, "bytes": "%(b)s", '
    '"duration_ms": %(M)s, "request_id": "%({x-request-id}o)s", "user_agent": "%(a)s"}'
)
