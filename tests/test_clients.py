"""The client IP comes from the socket unless trusted proxies are configured."""

import pytest
from django.test import RequestFactory

from project.clients import client_ip, user_agent

pytestmark = pytest.mark.django_db  # The autouse fixture clears the (database) cache.

rf = RequestFactory()


def request(remote="203.0.113.9", xff=None, **extra):
    meta = {"REMOTE_ADDR": remote, **extra}
    if xff is not None:
        meta["HTTP_X_FORWARDED_FOR"] = xff
    return rf.get("/", **meta)


def test_socket_address_without_trusted_proxies(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(request(xff="1.2.3.4")) == "203.0.113.9"  # A forged header changes nothing.


@pytest.mark.parametrize(
    ("xff", "proxies", "expected"),
    [
        ("198.51.100.7", 1, "198.51.100.7"),
        ("6.6.6.6, 198.51.100.7", 1, "198.51.100.7"),  # The client wrote 6.6.6.6 itself.
        ("6.6.6.6, 198.51.100.7, 10.0.0.2", 2, "198.51.100.7"),
        ("198.51.100.7", 2, "203.0.113.9"),  # Fewer hops than proxies: not via our proxies.
        ("not-an-ip", 1, "203.0.113.9"),
        ("", 1, "203.0.113.9"),
    ],
)
def test_trusted_proxies_take_the_nth_address_from_the_right(settings, xff, proxies, expected):
    settings.TRUSTED_PROXY_COUNT = proxies
    assert client_ip(request(xff=xff)) == expected


def test_user_agent_is_capped_and_stripped_of_nul():
    assert user_agent(request(HTTP_USER_AGENT="a\x00" + "b" * 400)) == ("a" + "b" * 400)[:255]
