"""The cast of the OWASP probes: tests/api's project and people, an attacker with an account of her own,
a real server for the probes that need one, and a guard that records any connection leaving the host."""

import ipaddress
import socket
import urllib.request
from collections.abc import Iterator

import pytest

from accounts.models import User
from accounts.roles import EDITOR, VIEWER
from api import services
from api.models import Project
from tests.api.conftest import (  # noqa: F401 (fixtures, shared with tests/api)
    admin,
    document,
    owner,
    project,
)
from tests.servers import gunicorn

LOOPBACK_NAMES = {"localhost", "testserver"}


@pytest.fixture
def mallory(make_member) -> User:
    """The attacker: an ordinary editor, signed up like anyone, owning a project of her own."""
    return make_member("mallory@example.com", EDITOR, display_name="Mallory")


@pytest.fixture
def mallorys_project(mallory) -> Project:
    return services.project_create(owner=mallory, name="Mallory's own", description="Bait.")


@pytest.fixture
def bob(make_member) -> User:
    """A viewer nobody has shared anything with."""
    return make_member("bob@example.com", VIEWER, display_name="Bob")


@pytest.fixture(scope="session")
def server(django_db_setup) -> Iterator[str]:
    """The app under gunicorn, for probes that need real HTTP parsing; tests using it must be transactional."""
    with gunicorn(workers=1) as base:
        yield base


def _is_loopback(host: object) -> bool:
    if not isinstance(host, str):
        return True  # A Unix socket path or a file descriptor: not the network.
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@pytest.fixture
def outbound(monkeypatch) -> list:
    """Every attempt to reach a host other than this one (a name lookup, a connection, an HTTP
    fetch), recorded and refused. The database and Redis on loopback stay reachable."""
    attempts: list = []
    real_getaddrinfo, real_connect, real_connect_ex = (
        socket.getaddrinfo,
        socket.socket.connect,
        socket.socket.connect_ex,
    )

    def getaddrinfo(host, *args, **kwargs):
        if not _is_loopback(host):
            attempts.append(("getaddrinfo", host))
            raise OSError(f"outbound name lookup of {host!r} blocked by the test")
        return real_getaddrinfo(host, *args, **kwargs)

    def guarded(real):
        def connect(sock, address):
            if isinstance(address, tuple) and not _is_loopback(address[0]):
                attempts.append(("connect", address))
                raise OSError(f"outbound connection to {address!r} blocked by the test")
            return real(sock, address)

        return connect

    def urlopen(url, *args, **kwargs):
        attempts.append(("urlopen", getattr(url, "full_url", url)))
        raise OSError("outbound fetch blocked by the test")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", guarded(real_connect))
    monkeypatch.setattr(socket.socket, "connect_ex", guarded(real_connect_ex))
    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    try:
        import requests
    except ImportError:  # pragma: no cover - requests comes with the dev tools, not with the app.
        pass
    else:

        def send(session, request, **kwargs):
            attempts.append(("requests", request.url))
            raise OSError("outbound fetch blocked by the test")

        monkeypatch.setattr(requests.Session, "send", send)
    return attempts
