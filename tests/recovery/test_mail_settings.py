"""EMAIL_URL and the mail settings: console in development, a real server required in production."""

import pytest

from tests.test_settings import production, refused, run, settings_values

pytestmark = pytest.mark.django_db  # Only for the autouse cache fixture; the subprocesses use none.

BOOT = ["-c", "import django; django.setup()"]


def test_development_prints_mail_to_the_console_by_default():
    values = settings_values("EMAIL_BACKEND", "FRONTEND_URL", "REGISTRATION_REQUIRES_VERIFICATION")

    assert values == {
        "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
        "FRONTEND_URL": "http://localhost:3000",
        "REGISTRATION_REQUIRES_VERIFICATION": False,
    }


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "smtp+tls://mailer:p%40ss@smtp.example.com:587",
            {"EMAIL_HOST": "smtp.example.com", "EMAIL_PORT": 587, "EMAIL_USE_TLS": True, "EMAIL_HOST_PASSWORD": "p@ss"},
        ),
        ("smtp+ssl://smtp.example.com:465", {"EMAIL_PORT": 465, "EMAIL_USE_SSL": True}),
        ("smtp://127.0.0.1:2525", {"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": 2525}),
        ("console://", {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}),
        ("locmem://", {"EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"}),
    ],
)
def test_email_url_schemes(url, expected):
    values = settings_values(*expected, EMAIL_URL=url)

    assert values == expected


def test_an_unknown_email_scheme_refuses_to_start():
    message = refused(run(BOOT, EMAIL_URL="pigeon://loft"))

    assert "EMAIL_URL scheme 'pigeon' is not known" in message


@pytest.mark.parametrize("url", ["", "console://", "locmem://"])
def test_production_refuses_to_start_without_a_real_mail_server(url):
    message = refused(run(BOOT, **production(EMAIL_URL=url)))

    assert "PASSWORD_RESET_ENABLED=1" in message
    assert "smtp+tls://" in message


@pytest.mark.parametrize(("missing", "hint"), [("DEFAULT_FROM_EMAIL", "sender"), ("FRONTEND_URL", "https://")])
def test_production_needs_a_sender_and_a_link_base(missing, hint):
    message = refused(run(BOOT, **production(**{missing: ""})))

    assert f"{missing} is not set" in message
    assert hint in message


def test_production_refuses_plain_http_links():
    assert "https://" in refused(run(BOOT, **production(FRONTEND_URL="http://app.example.com")))


def test_production_starts_without_mail_when_no_feature_sends_it():
    variables = production(EMAIL_URL="", DEFAULT_FROM_EMAIL="", FRONTEND_URL="")
    variables.update(PASSWORD_RESET_ENABLED="0", EMAIL_CHANGE_ENABLED="0", REGISTRATION_OPEN="0")

    assert settings_values("REGISTRATION_REQUIRES_VERIFICATION", **variables) == {
        "REGISTRATION_REQUIRES_VERIFICATION": True
    }
