"""gunicorn as configured in gunicorn.conf.py: threaded workers that idle sockets cannot starve,
a control socket per instance, and JSON logs that stay JSON whatever the client sends."""

import json
import runpy
import socket
from contextlib import ExitStack
from datetime import timedelta
from types import SimpleNamespace

import pytest
from gunicorn.config import Config

from project.logging import JSONAccessLogger, queued_ms
from tests.servers import ROOT, call, gunicorn

pytestmark = pytest.mark.django_db  # The shared autouse fixture empties the cache around each test.

CONFIG = runpy.run_path(str(ROOT / "gunicorn.conf.py"))


def test_config_uses_threaded_workers():
    assert CONFIG["worker_class"] == "gthread"
    assert CONFIG["threads"] >= 2


def test_config_loads_into_gunicorn():
    config = Config()
    for name in ("worker_class", "threads", "logger_class", "logconfig_dict", "control_socket", "accesslog"):
        config.set(name, CONFIG[name])

    assert config.worker_class_str == "gthread"
    assert config.logger_class is JSONAccessLogger


def test_each_instance_gets_its_own_control_socket():
    servers = [SimpleNamespace(cfg=Config()) for _ in range(2)]
    servers[0].cfg.set("bind", ["127.0.0.1:8000"])
    servers[1].cfg.set("bind", ["127.0.0.1:8001"])

    for server in servers:
        CONFIG["on_starting"](server)

    paths = [server.cfg.control_socket for server in servers]
    assert paths[0] != paths[1]
    assert all(path.startswith(str(ROOT / "var")) and path.endswith(".ctl") for path in paths)


# --- The access log ------------------------------------------------------------------------------


def access_line(**environ: str) -> dict:
    response = SimpleNamespace(status="200 OK", headers=[("X-Request-ID", "abc123")], sent=16)
    environ = {
        "REMOTE_ADDR": "127.0.0.1",
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/healthz",
        "SERVER_PROTOCOL": "HTTP/1.1",
        **environ,
    }
    return json.loads(JSONAccessLogger.access_line(response, environ, timedelta(milliseconds=12)))


@pytest.mark.parametrize("agent", ["curl\\", 'say "hi"\\', "\\\\", "tab\there", "nul\x00byte", "ünïcode"])
def test_access_line_is_json_whatever_the_user_agent(agent):
    line = access_line(HTTP_USER_AGENT=agent)

    assert line["user_agent"] == agent
    assert line["status"] == 200
    assert line["duration_ms"] == 12
    assert line["request_id"] == "abc123"


def test_access_line_is_json_whatever_the_request_line():
    line = access_line(RAW_URI='/api/v1/projects/?search=a"b\\')

    assert line["request"] == 'GET /api/v1/projects/?search=a"b\\ HTTP/1.1'


def test_access_line_has_no_queue_time_without_a_proxy_header():
    assert "queued_ms" not in access_line()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("t=999.750", 250),  # nginx: t=$msec, seconds (other units: below).
        ("t=1001.0", 0),  # Clock skew: never negative.
        ("garbage", None),
        ("", None),
    ],
)
def test_queue_time_from_x_request_start(header, expected):
    assert queued_ms(header, 1000.0) == expected


@pytest.mark.parametrize("scale", [1, 1_000, 1_000_000])
def test_queue_time_understands_seconds_milliseconds_and_microseconds(scale):
    started = 1_790_000_000.5
    header = str(int((started - 0.25) * scale)) if scale > 1 else f"t={started - 0.25:.3f}"

    assert queued_ms(header, started) == 250


# --- Idle sockets ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_idle_connections_do_not_stop_the_service():
    """More idle sockets than workers (which took every sync worker down): probes and the API
    still answer. The assertion is "answered within the client's timeout", not a speed: a thread
    waits up to 5 s for an idle socket's first bytes, a sync worker until its 30 s timeout."""
    with gunicorn(workers=2) as base, ExitStack() as idle:
        port = int(base.rsplit(":", 1)[1])
        for _ in range(8):
            idle.enter_context(socket.create_connection(("127.0.0.1", port)))

        health = call(f"{base}/healthz", timeout=20)
        api = call(f"{base}/api/v1/", timeout=20)

    assert health[0] == 200
    assert api[0] == 200
