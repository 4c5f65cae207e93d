"""OWASP API2:2023 Broken Authentication.

An attacker without the victim's credentials tries every way in that does not need them: malformed,
doubled or oversized Authorization headers; tokens that were real once (logged out, expired,
revoked by a password change, a deactivation or a replay) or are of the wrong kind; guessing the
password at sign-in and, with a stolen access token, at the password-change form; stuffing leaked
credentials across many accounts from one address; telling accounts apart by the answers; and
riding a victim's browser session without a CSRF token. Each gets a 401, 403 or 429 problem and
changes nothing.

Tokens forged by hand (alg none, key confusion, foreign keys, tampered claims, kid/jku/x5u
injection) are in test_forged_tokens.py; `test_the_forged_token_suite_still_covers_...` below pins
the attacks this module relies on it for.
"""

import time

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from rest_framework.test import APIClient

from accounts import services
from accounts.models import AuthSession, User
from tests.conftest import PASSWORD
from tests.helpers import (
    LOGOUT_URL,
    ME_URL,
    PASSWORD_CHANGE_URL,
    REFRESH_URL,
    TOKEN_URL,
    access_claims,
    assert_problem,
    bearer,
    signed,
    use_plain_static_storage,
    without_request_id,
)
from tests.security import test_forged_tokens
from tests.security.probes import raw_http, split_response, world

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "an-entirely-new-passphrase"


@pytest.fixture
def live(user) -> services.IssuedTokens:
    return services.session_start(user=user, ip_address="127.0.0.1", user_agent="victim's phone")


def assert_refused_401(response) -> dict:
    assert response.status_code == 401, response.content
    assert response["WWW-Authenticate"].startswith("Bearer")
    return assert_problem(response, 401)


def assert_cannot_use(header: str | None) -> None:
    """Neither read nor write the account with this Authorization header."""
    client = APIClient()
    if header is not None:
        client.credentials(HTTP_AUTHORIZATION=header)
    before = world()

    assert_refused_401(client.get(ME_URL))
    assert_refused_401(client.patch(ME_URL, {"display_name": "Mallory was here"}))
    assert_refused_401(client.post(PASSWORD_CHANGE_URL, {"old_password": PASSWORD, "new_password": NEW_PASSWORD}))

    assert world() == before


# --- the Authorization header ------------------------------------------------------------------------

MALFORMED_HEADERS = {
    "basic-with-the-right-password": lambda t: "Basic YWxpY2VAZXhhbXBsZS5jb206Y29ycmVjdC1ob3JzZS1iYXR0ZXJ5LXN0YXBsZQ==",
    "bearer-without-a-token": lambda t: "Bearer",
    "bearer-and-a-space": lambda t: "Bearer ",
    "token-without-a-scheme": lambda t: t,
    "lowercase-bearer": lambda t: f"bearer {t}",
    "uppercase-bearer": lambda t: f"BEARER {t}",
    "jwt-scheme": lambda t: f"JWT {t}",
    "token-scheme": lambda t: f"Token {t}",
    "space-inside-the-token": lambda t: f"Bearer {t[:20]} {t[20:]}",
    "two-tokens-space-separated": lambda t: f"Bearer {t} {t}",
    "two-tokens-comma-separated": lambda t: f"Bearer {t}, Bearer {t}",
    "token-with-a-suffix": lambda t: f"Bearer {t}x",
    "token-truncated": lambda t: f"Bearer {t[:-2]}",
    "token-with-a-quote": lambda t: f'Bearer "{t}"',
    "huge-token": lambda t: "Bearer " + "A" * 100_000,
    "huge-token-of-dots": lambda t: "Bearer " + "." * 100_000,
    "empty-header": lambda t: "",
    "nothing-at-all": lambda t: None,
}


def test_control_the_real_header_is_accepted(live):
    assert bearer(live.access).get(ME_URL).status_code == 200


@pytest.mark.parametrize("make_header", MALFORMED_HEADERS.values(), ids=MALFORMED_HEADERS.keys())
def test_cannot_authenticate_with_a_malformed_authorization_header(make_header, live):
    assert_cannot_use(make_header(live.access))


@pytest.mark.django_db(transaction=True)  # The server reads what the test writes.
def test_a_real_server_refuses_doubled_and_non_ascii_authorization_headers(server, make_user):
    # What an HTTP library will not send but an attacker will: the header twice (one token each of
    # two users, or one good token and junk), and raw bytes that are not ASCII.
    alice = services.session_start(user=make_user("alice@example.com"), ip_address=None, user_agent="")
    mallory = services.session_start(user=make_user("mallory@example.com"), ip_address=None, user_agent="")
    attempts = {
        "two-users": [f"Bearer {alice.access}", f"Bearer {mallory.access}"],
        "good-then-junk": [f"Bearer {alice.access}", "Bearer junk"],
        "junk-then-good": ["Basic x", f"Bearer {alice.access}"],
    }
    for name, headers in attempts.items():
        lines = "".join(f"Authorization: {header}\r\n" for header in headers)
        request = f"GET {ME_URL} HTTP/1.1\r\nHost: 127.0.0.1\r\n{lines}Connection: close\r\n\r\n".encode()
        status, response_headers, _ = split_response(raw_http(server, request))
        assert status == 401, name
        assert response_headers["content-type"] == "application/problem+json"
    for raw_value in (b"Bearer \xe2\x82\xac\xff\xfe", b"Bearer " + alice.access.encode() + b"\xc3\xa9"):
        request = b"GET " + ME_URL.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: " + raw_value
        status, response_headers, _ = split_response(raw_http(server, request + b"\r\nConnection: close\r\n\r\n"))
        assert status == 401
        assert response_headers["content-type"] == "application/problem+json"


# --- tokens that were real once ----------------------------------------------------------------------


def logged_out(user, tokens):
    bearer(tokens.access).post(LOGOUT_URL, {"refresh": tokens.refresh})
    return tokens.access


def logged_out_everywhere(user, tokens):
    other = services.session_start(user=user, ip_address=None, user_agent="")
    bearer(other.access).post("/api/v1/auth/logout-all/")
    return tokens.access


def password_changed(user, tokens):
    other = services.session_start(user=user, ip_address=None, user_agent="")
    assert (
        bearer(other.access)
        .post(PASSWORD_CHANGE_URL, {"old_password": PASSWORD, "new_password": NEW_PASSWORD})
        .status_code
        == 204
    )
    return tokens.access


def deactivated(user, tokens):
    services.user_set_active(user=user, is_active=False)
    return tokens.access


def session_revoked_by_an_admin(user, tokens):
    services.session_revoke_by_admin(session=tokens.session, actor=None)
    return tokens.access


def refresh_replayed(user, tokens):
    # The thief and the owner both refresh with the same token: the session ends for both.
    APIClient().post(REFRESH_URL, {"refresh": tokens.refresh})
    APIClient().post(REFRESH_URL, {"refresh": tokens.refresh})
    return tokens.access


def expired(user, tokens):
    return signed(access_claims(user.pk, tokens.session.pk, exp=int(time.time()) - 1))


def not_yet_issued(user, tokens):
    return signed(access_claims(user.pk, tokens.session.pk, iat=int(time.time()) + 3600, nbf=int(time.time()) + 3600))


def a_refresh_token(user, tokens):
    return tokens.refresh


def of_a_deleted_user(user, tokens):
    User.objects.filter(pk=user.pk).delete()
    return tokens.access


DEAD_TOKENS = {
    fn.__name__: fn
    for fn in (
        logged_out,
        logged_out_everywhere,
        password_changed,
        deactivated,
        session_revoked_by_an_admin,
        refresh_replayed,
        expired,
        not_yet_issued,
        a_refresh_token,
        of_a_deleted_user,
    )
}


@pytest.mark.parametrize("kill", DEAD_TOKENS.values(), ids=DEAD_TOKENS.keys())
def test_cannot_use_a_token_that_is_no_longer_alive(kill, user, live, settings):
    settings.REFRESH_GRACE_SECONDS = 0  # A replay, not a retry of a lost answer.
    token = kill(user, live)

    assert_cannot_use(f"Bearer {token}")


def test_the_forged_token_suite_still_covers_what_this_module_relies_on():
    relied_on = {
        "alg-none",
        "alg-None",
        "signature-stripped",
        "another-key-our-kid",
        "hs256-public-pem",
        "our-key-unknown-kid",
        "kid-path-key-file",
        "jku-attacker",
        "x5u-attacker",
        "jwk-embedded",
        "tampered-user",
        "tampered-exp",
        "expired",
    }

    assert relied_on <= set(test_forged_tokens.ATTACKS)


# --- guessing passwords ------------------------------------------------------------------------------

GUESSES = ["123456", "password", "qwerty123", "letmein", "alice2026", "Password1!"]


def sign_in(client: APIClient, email: str, password: str, ip: str = "203.0.113.7"):
    return client.post(TOKEN_URL, {"email": email, "password": password}, REMOTE_ADDR=ip)


def test_guessing_a_password_at_sign_in_locks_the_account_even_for_the_right_password(api, user, settings):
    settings.AXES_FAILURE_LIMIT = 3
    before = world()

    statuses = [sign_in(api, user.email, guess, ip=f"198.51.100.{n}").status_code for n, guess in enumerate(GUESSES)]
    right = sign_in(api, user.email, PASSWORD, ip="198.51.100.99")

    assert statuses == [401, 401, 429, 429, 429, 429]
    assert_problem(right, 429, "throttled")
    assert int(right["Retry-After"]) > 0
    assert "access" not in right.json()
    assert world() == before  # No session, no token.


def test_a_stolen_access_token_cannot_guess_the_password_at_password_change(user, live, settings):
    # The change form checks the old password; it must not be an unlimited guessing oracle that
    # bypasses the sign-in lockout. Failures count towards the same lockout, and once locked the
    # right old password is refused too.
    settings.AXES_FAILURE_LIMIT = 3
    thief = bearer(live.access)
    before = world()

    statuses = [
        thief.post(PASSWORD_CHANGE_URL, {"old_password": guess, "new_password": NEW_PASSWORD}).status_code
        for guess in GUESSES
    ]
    right = thief.post(PASSWORD_CHANGE_URL, {"old_password": PASSWORD, "new_password": NEW_PASSWORD})

    assert statuses[:2] == [400, 400]
    assert set(statuses[2:]) == {429}
    assert_problem(right, 429, "throttled")
    assert world() == before  # The password is unchanged and every session lives.
    assert_problem(sign_in(APIClient(), user.email, PASSWORD, ip="198.51.100.200"), 429, "throttled")


def test_credential_stuffing_across_accounts_from_one_address_is_locked_out(api, make_user, settings):
    # One leaked password per account, each account tried once: no account reaches its limit, the
    # address does. The one pair that would have worked is refused too; elsewhere it still works.
    settings.AXES_FAILURE_LIMIT = 3
    victims = [make_user(f"victim{n}@example.com") for n in range(5)]
    leaked = [(v.email, "leaked-password-1") for v in victims[:4]] + [(victims[4].email, PASSWORD)]
    before = world()

    statuses = [sign_in(api, email, password, ip="192.0.2.66").status_code for email, password in leaked]

    assert statuses == [401, 401, 429, 429, 429]
    assert world() == before
    assert sign_in(api, victims[4].email, PASSWORD, ip="192.0.2.67").status_code == 200


def test_a_forged_forwarded_for_does_not_reset_the_stuffing_counter(api, make_user, settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.TRUSTED_PROXY_COUNT = 0
    target = make_user("target@example.com")
    for n in range(3):
        api.post(
            TOKEN_URL,
            {"email": f"guess{n}@example.com", "password": "x"},
            REMOTE_ADDR="192.0.2.66",
            HTTP_X_FORWARDED_FOR=f"10.0.0.{n}",
        )

    response = api.post(
        TOKEN_URL,
        {"email": target.email, "password": PASSWORD},
        REMOTE_ADDR="192.0.2.66",
        HTTP_X_FORWARDED_FOR="10.1.1.1",
    )

    assert_problem(response, 429, "throttled")


# --- answers that tell accounts apart ----------------------------------------------------------------


@pytest.fixture
def hashing(monkeypatch) -> list:
    """Each time the password hasher runs (the slow part of a sign-in attempt)."""
    calls: list = []
    real = MD5PasswordHasher.encode

    def encode(self, password, salt):
        calls.append(salt)
        return real(self, password, salt)

    monkeypatch.setattr(MD5PasswordHasher, "encode", encode)
    return calls


def test_unknown_email_wrong_password_and_inactive_account_look_and_cost_the_same(api, user, make_user, hashing):
    make_user("inactive@example.com", is_active=False)
    make_user("no-password@example.com", password=None)
    attempts = {
        "wrong-password": ("alice@example.com", "wrong-password-entirely"),
        "unknown-email": ("nobody@example.com", PASSWORD),
        "inactive-account": ("inactive@example.com", PASSWORD),
        "account-without-a-password": ("no-password@example.com", PASSWORD),
        "unknown-email-odd-case": ("NoBody@Example.COM", PASSWORD),
    }
    answers, hashes = {}, {}

    for name, (email, password) in attempts.items():
        hashing.clear()
        response = sign_in(api, email, password, ip=f"198.51.100.{len(answers)}")
        answers[name] = (response.status_code, response["WWW-Authenticate"], without_request_id(response.json()))
        hashes[name] = len(hashing)

    assert len(set(map(str, answers.values()))) == 1, answers
    assert answers["unknown-email"][0] == 401
    # The hasher runs once for each, unknown emails included: no timing difference to measure.
    assert set(hashes.values()) == {1}, hashes


# --- riding a browser session ------------------------------------------------------------------------

SESSION_WRITES = [
    ("patch", ME_URL, {"display_name": "Forged"}),
    ("post", PASSWORD_CHANGE_URL, {"old_password": PASSWORD, "new_password": NEW_PASSWORD}),
    ("post", "/api/v1/auth/logout-all/", {}),
    ("post", "/api/v1/projects/", {"name": "Forged"}),
    ("delete", "/api/v1/projects/{project}/", None),
    ("put", "/api/v1/projects/{project}/permissions/users/{mallory}/", {"permissions": ["view", "share"]}),
]


@pytest.fixture
def browser(settings) -> APIClient:
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    return APIClient(enforce_csrf_checks=True)


@pytest.mark.parametrize(("method", "url", "body"), SESSION_WRITES, ids=[f"{m}-{u}" for m, u, _ in SESSION_WRITES])
@pytest.mark.parametrize("csrf", ["no-token", "wrong-token", "right-token-foreign-origin"])
def test_a_cross_site_request_cannot_write_with_the_victims_browser_session(
    method, url, body, csrf, browser, owner, project, mallory
):
    browser.force_login(owner)
    browser.get("/api-auth/login/")  # Sets the CSRF cookie, as a visit would.
    extra = {
        "no-token": {},
        "wrong-token": {"HTTP_X_CSRFTOKEN": "x" * 32},
        "right-token-foreign-origin": {
            "HTTP_X_CSRFTOKEN": browser.cookies["csrftoken"].value,
            "HTTP_ORIGIN": "https://evil.example",
        },
    }[csrf]
    before = world()

    response = getattr(browser, method)(
        url.format(project=project.pk, mallory=mallory.pk), body, format="json", **extra
    )

    assert "CSRF" in assert_problem(response, 403, "permission_denied")["detail"]
    assert world() == before


@pytest.mark.parametrize("login_url", ["/api-auth/login/", "/admin/login/"])
def test_session_sign_in_forms_refuse_a_post_without_a_csrf_token(login_url, browser, user):
    before = world()

    response = browser.post(login_url, {"username": user.email, "password": PASSWORD}, format="multipart")

    assert response.status_code == 403
    assert "sessionid" not in response.cookies
    assert world() == before
    assert_problem(browser.get(ME_URL), 401)


@pytest.mark.parametrize("login_url", ["/api-auth/login/", "/admin/login/"])
def test_session_sign_in_forms_share_the_lockout(login_url, api, user, settings):
    # Failures at the API lock the other doors too: there is no second, unguarded way to guess.
    settings.AXES_FAILURE_LIMIT = 3
    use_plain_static_storage(settings)
    for guess in GUESSES[:3]:
        sign_in(api, user.email, guess)
    client = APIClient()

    response = client.post(login_url, {"username": user.email, "password": PASSWORD}, format="multipart")

    assert response.status_code == 429  # An HTML page at the forms (tests/accounts/test_sign_in_doors.py).
    assert response["Retry-After"] == str(15 * 60)
    assert "sessionid" not in response.cookies
    assert not AuthSession.objects.filter(user=user).exists()
