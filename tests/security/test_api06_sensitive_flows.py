"""OWASP API6:2023 Unrestricted Access to Sensitive Business Flows.

The flows worth automating against this service are signing up (fake accounts), signing in
(guessing, stuffing), looking users up (harvesting addresses), refreshing (keeping a stolen session
warm) and the public token endpoints in general. Each is hammered by a script; each has a limit
of its own, answered with 429, Retry-After and the RateLimit-* headers, counted per client address
(or per user for lookup) and not fooled by a forged X-Forwarded-For; the request over the limit
does nothing at all.

What the flows reveal about who has an account (see docs/security-model.md, "Enumeration"):

- Sign-in reveals nothing: unknown email, wrong password and inactive account get the same 401,
  at the same cost (test_api02), and a locked-out unknown email gets the same 429 as a locked-out
  account.
- Registration *does* reveal that an email is taken (400 naming `email`, code `unique`): there is no
  confirmation mail to hide behind. That is the documented trade-off; it is bounded by the
  registration limit per address (RATE_LIMIT_REGISTER) and by registration being closed by default
  in production. It reveals nothing more: an inactive account's email answers exactly like an
  active one's, any spelling of it like the stored one, and closed registration answers every
  email alike.
- Lookup answers only signed-in users, only for an exact active address, and is limited per user:
  no prefix, wildcard or case trick finds anyone, and an inactive account looks like no account.
"""

import pytest
from rest_framework.test import APIClient

from accounts import services
from accounts.models import User
from tests.api.conftest import client_for
from tests.conftest import PASSWORD
from tests.helpers import REFRESH_URL, REGISTER_URL, TOKEN_URL, VERIFY_URL, assert_problem, without_request_id
from tests.security.probes import world

pytestmark = pytest.mark.django_db

LOOKUP_URL = "/api/v1/users/lookup/"
ATTACKER_IP = "203.0.113.66"


def assert_throttled(response) -> None:
    assert_problem(response, 429, "throttled")
    assert 0 < int(response["Retry-After"]) <= 3600
    assert response["RateLimit-Remaining"] == "0"
    assert int(response["RateLimit-Limit"]) > 0


def registration(n: int) -> dict:
    return {"email": f"bot{n}@example.com", "password": "a-long-unusual-passphrase"}


def test_sign_up_is_limited_per_address_and_the_refused_one_creates_nothing(api, settings):
    settings.REGISTRATION_OPEN = True
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "register": "3/hour"}
    statuses = [api.post(REGISTER_URL, registration(n), REMOTE_ADDR=ATTACKER_IP).status_code for n in range(3)]
    before = world()

    refused = api.post(REGISTER_URL, registration(3), REMOTE_ADDR=ATTACKER_IP, HTTP_X_FORWARDED_FOR="10.0.0.1")

    assert statuses == [201, 201, 201]
    assert_throttled(refused)
    assert world() == before
    assert api.post(REGISTER_URL, registration(4), REMOTE_ADDR="198.51.100.1").status_code == 201


def test_sign_in_is_limited_per_address_even_with_valid_credentials(api, make_user, settings):
    # Independent of the lockout: every attempt here succeeds, and the fourth is still refused.
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "sign_in": "3/hour"}
    for n in range(4):
        make_user(f"user{n}@example.com")
    statuses = [
        api.post(
            TOKEN_URL, {"email": f"user{n}@example.com", "password": PASSWORD}, REMOTE_ADDR=ATTACKER_IP
        ).status_code
        for n in range(3)
    ]
    before = world()

    refused = api.post(TOKEN_URL, {"email": "user3@example.com", "password": PASSWORD}, REMOTE_ADDR=ATTACKER_IP)

    assert statuses == [200, 200, 200]
    assert_throttled(refused)
    assert world() == before  # No session started.


def test_refresh_is_limited_per_address_and_the_refused_one_does_not_rotate(api, user, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "refresh": "3/hour"}
    refresh = services.session_start(user=user, ip_address=None, user_agent="").refresh
    for _ in range(3):
        refresh = api.post(REFRESH_URL, {"refresh": refresh}, REMOTE_ADDR=ATTACKER_IP).json()["refresh"]
    before = world()

    refused = api.post(REFRESH_URL, {"refresh": refresh}, REMOTE_ADDR=ATTACKER_IP)

    assert_throttled(refused)
    assert world() == before  # The presented token is still unused, its session alive.
    assert api.post(REFRESH_URL, {"refresh": refresh}, REMOTE_ADDR="198.51.100.1").status_code == 200


def test_lookup_is_limited_per_user_and_misses_count(mallory, bob, make_member, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "lookup": "3/hour"}
    harvester = client_for(mallory)
    guesses = ["bob@example.com", "carol@example.com", "dave@example.com"]
    statuses = [harvester.get(LOOKUP_URL, {"email": email}).status_code for email in guesses]

    refused = harvester.get(LOOKUP_URL, {"email": "bob@example.com"})

    assert statuses == [200, 404, 404]
    assert_throttled(refused)
    assert "bob@example.com" not in refused.content.decode()
    # A second account of the same harvester on the same address has its own allowance: the limit is
    # per user; what stops a farm of accounts is the sign-up limit above.
    assert (
        client_for(make_member("sybil@example.com", "viewer")).get(LOOKUP_URL, {"email": bob.email}).status_code == 200
    )


@pytest.mark.parametrize(
    ("url", "body"),
    [
        (TOKEN_URL, {"email": "nobody@example.com", "password": "x"}),
        (REFRESH_URL, {"refresh": "x"}),
        (VERIFY_URL, {"token": "x"}),
        (REGISTER_URL, {"email": "bot@example.com", "password": "x"}),
    ],
    ids=["sign-in", "refresh", "verify", "register"],
)
def test_every_public_endpoint_has_the_anonymous_limit_too(url, body, settings):
    settings.REGISTRATION_OPEN = True
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "anon": "3/hour"}
    script = APIClient()
    for _ in range(3):
        assert script.post(url, body, REMOTE_ADDR=ATTACKER_IP).status_code != 429
    before = world()

    refused = script.post(url, body, REMOTE_ADDR=ATTACKER_IP)

    assert_throttled(refused)
    assert world() == before


# --- what registration and lookup reveal -------------------------------------------------------------


@pytest.fixture
def registration_open(settings):
    settings.REGISTRATION_OPEN = True


@pytest.mark.usefixtures("registration_open")
def test_registration_reveals_a_taken_email_and_nothing_more(api, make_user):
    make_user("active@example.com")
    make_user("inactive@example.com", is_active=False)
    before = world()

    answers = {
        email: without_request_id(
            api.post(REGISTER_URL, {"email": email, "password": "a-long-unusual-passphrase"}).json()
        )
        for email in ("active@example.com", "inactive@example.com", "  ACTIVE@Example.com ")
    }

    for answer in answers.values():
        assert answer["status"] == 400
        assert [(e["field"], e["code"]) for e in answer["errors"]] == [("email", "unique")]
    assert len({str(answer) for answer in answers.values()}) == 1  # Inactive looks like active.
    assert world() == before


def test_closed_registration_answers_every_email_alike(api, make_user, settings):
    settings.REGISTRATION_OPEN = False
    make_user("active@example.com")
    before = world()

    answers = [
        without_request_id(assert_problem(api.post(REGISTER_URL, {"email": email, "password": "x"}), 403))
        for email in ("active@example.com", "nobody@example.com", "not-even-an-email")
    ]

    assert answers[0] == answers[1] == answers[2]
    assert world() == before


@pytest.mark.parametrize(
    "probe",
    [
        "bob@",
        "@example.com",
        "bob",
        "%@example.com",
        "_ob@example.com",
        "b*@example.com",
        "bob@example.co",
        "inactive@example.com",
    ],
)
def test_lookup_finds_only_an_exact_active_address(probe, mallory, bob, make_member):
    make_member("inactive@example.com", "viewer", is_active=False)
    client = client_for(mallory)

    response = client.get(LOOKUP_URL, {"email": probe})
    nobody = client.get(LOOKUP_URL, {"email": "nobody-at-all@example.com"})

    assert without_request_id(assert_problem(response, 404, "not_found")) == without_request_id(
        assert_problem(nobody, 404, "not_found")
    )


def test_lookup_is_for_signed_in_users_only(api, bob):
    assert_problem(api.get(LOOKUP_URL, {"email": bob.email}), 401)
    assert User.objects.filter(email=bob.email).exists()
