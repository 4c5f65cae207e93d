"""Settings from the environment: safe defaults, and production refuses to start half-configured."""

import json
import os
import re
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher

from project import settings as project_settings

pytestmark = pytest.mark.django_db  # Only for the autouse cache fixture; the subprocesses use none.

BASE_DIR = Path(project_settings.BASE_DIR)
SETTINGS_SOURCE = (BASE_DIR / "project" / "settings.py").read_text()
# Every variable the settings module reads (env.<cast>("NAME") or _required("NAME")).
SETTINGS_VARIABLES = sorted(
    set(re.findall(r'(?:env\.\w+|_required)\(\s*"([A-Z][A-Z0-9_]+)"', SETTINGS_SOURCE)) - {"DJANGO_SETTINGS_MODULE"}
)


def random_key() -> str:
    return secrets.token_urlsafe(64)


def clean_environment(**variables: str) -> dict[str, str]:
    """The test process's environment without any setting, plus the given ones."""
    environ = {name: value for name, value in os.environ.items() if name not in SETTINGS_VARIABLES}
    environ.pop("DJANGO_SETTINGS_MODULE", None)
    environ.update({"DJANGO_SETTINGS_MODULE": "project.settings", "PYTHONDONTWRITEBYTECODE": "1", **variables})
    return environ


def production(**overrides: str) -> dict[str, str]:
    variables = {
        "DJANGO_ENV": "production",
        "SECRET_KEY": random_key(),
        "ALLOWED_HOSTS": "api.example.com",
        # The embedded signing scheme: a shared secret (a key pair is the production default).
        "JWT_ALGORITHM": "HS256",
        "JWT_SIGNING_KEY": random_key(),
        # Password reset and email change send mail (docs/recovery.md): a real backend, a sender, a link base.
        "EMAIL_URL": "smtp+tls://mailer:secret@smtp.example.com:587",
        "DEFAULT_FROM_EMAIL": "Gatehouse <no-reply@example.com>",
        "FRONTEND_URL": "https://app.example.com",
    }
    variables.update(overrides)
    return variables


def run(args: list[str], **variables: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=BASE_DIR,
        env=clean_environment(**variables),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def settings_values(*names: str, **variables: str) -> dict:
    """Values of the named settings in a fresh process with exactly this environment."""
    code = (
        "import json, django\n"
        "django.setup()\n"
        "from django.conf import settings\n"
        f"print(json.dumps({{name: getattr(settings, name) for name in {list(names)!r}}}, default=str))\n"
    )
    result = run(["-c", code], **variables)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def refused(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    return result.stderr.strip().splitlines()[-1]


# --- production refuses to start half-configured ---------------------------------------------


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS", "JWT_SIGNING_KEY"])
def test_production_refuses_to_start_without_a_required_variable(missing):
    # Empty rather than absent, so that a developer's .env cannot fill it in.
    message = refused(run(["-c", "import django; django.setup()"], **production(**{missing: ""})))

    assert f"{missing} is not set" in message


def test_production_refuses_to_start_without_any_token_signing_key(tmp_path):
    variables = production(JWT_ALGORITHM="", JWT_SIGNING_KEY="", JWT_PRIVATE_KEYS="")
    del variables["JWT_ALGORITHM"]

    message = refused(
        run(["-c", "import django; django.setup()"], **variables, JWT_KEYS_FILE=str(tmp_path / "none.json"))
    )

    assert "signing key" in message


def test_production_refuses_a_jwt_key_equal_to_the_secret_key():
    key = random_key()

    message = refused(run(["-c", "import django; django.setup()"], **production(SECRET_KEY=key, JWT_SIGNING_KEY=key)))

    assert "JWT_SIGNING_KEY must differ from SECRET_KEY" in message


def test_production_refuses_debug():
    message = refused(run(["-c", "import django; django.setup()"], **production(DJANGO_DEBUG="1")))

    assert "DJANGO_DEBUG" in message


def test_an_unknown_environment_name_is_refused():
    message = refused(run(["-c", "import django; django.setup()"], DJANGO_ENV="staging"))

    assert "DJANGO_ENV" in message


def test_production_starts_when_fully_configured_and_check_deploy_is_clean():
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **production())

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_settings_are_hardened():
    values = settings_values(
        "DEBUG",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SECURE_HSTS_SECONDS",
        "SECURE_SSL_REDIRECT",
        "REGISTRATION_OPEN",
        "LOG_FORMAT",
        "PASSWORD_HASHERS",
        "CORS_ALLOWED_ORIGINS",
        **production(),
    )

    assert values["DEBUG"] is False
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["CSRF_COOKIE_SECURE"] is True
    assert values["SECURE_HSTS_SECONDS"] >= 31536000
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["REGISTRATION_OPEN"] is False
    assert values["LOG_FORMAT"] == "json"
    assert values["PASSWORD_HASHERS"][0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    assert values["CORS_ALLOWED_ORIGINS"] == []


def test_production_logs_are_json_lines():
    code = "import django, logging; django.setup(); logging.getLogger('gatehouse').warning('hello %s', 'world')"

    result = run(["-c", code], **production())

    assert result.returncode == 0, result.stderr
    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert line["message"] == "hello world"
    assert line["level"] == "WARNING"
    assert line["logger"] == "gatehouse"
    assert line["request_id"] == "-"
    assert "time" in line


# --- development defaults ----------------------------------------------------------------------


def test_development_defaults_are_safe():
    values = settings_values(
        "DEBUG", "REGISTRATION_OPEN", "CORS_ALLOWED_ORIGINS", "SESSION_COOKIE_SECURE", "LOG_FORMAT", "CACHES"
    )

    assert values["DEBUG"] is False
    assert values["REGISTRATION_OPEN"] is True
    assert values["CORS_ALLOWED_ORIGINS"] == []
    assert values["LOG_FORMAT"] == "text"
    assert values["CACHES"]["default"]["BACKEND"] == "django.core.cache.backends.db.DatabaseCache"


def test_debug_is_on_only_when_asked_for():
    assert settings_values("DEBUG", DJANGO_DEBUG="1")["DEBUG"] is True


def test_redis_url_makes_redis_the_shared_cache():
    values = settings_values("CACHES", REDIS_URL="redis://127.0.0.1:6379/5")

    assert values["CACHES"]["default"]["BACKEND"] == "django_redis.cache.RedisCache"
    assert values["CACHES"]["default"]["LOCATION"] == "redis://127.0.0.1:6379/5"


def test_token_lifetimes_come_from_the_environment():
    code = (
        "import django; django.setup()\n"
        "from rest_framework_simplejwt.settings import api_settings as s\n"
        "print(int(s.ACCESS_TOKEN_LIFETIME.total_seconds()), int(s.REFRESH_TOKEN_LIFETIME.total_seconds()))\n"
    )

    result = run(["-c", code], JWT_ACCESS_LIFETIME="60", JWT_REFRESH_LIFETIME="3600")

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["60", "3600"]


def test_the_development_secret_is_generated_once_into_a_git_ignored_file():
    first = settings_values("SECRET_KEY", "JWT_SIGNING_KEY")
    second = settings_values("SECRET_KEY", "JWT_SIGNING_KEY")

    assert first == second
    assert first["SECRET_KEY"] != first["JWT_SIGNING_KEY"]
    secret_file = BASE_DIR / "var" / "secret_key"
    assert secret_file.read_text().strip() == first["SECRET_KEY"]
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", str(secret_file)],
        cwd=BASE_DIR,
        check=False,
    )
    assert ignored.returncode == 0


# --- in this process ---------------------------------------------------------------------------


def test_passwords_are_hashed_with_argon2id_first():
    # The suite hashes with MD5 for speed (conftest); the configured list is the module's own.
    assert project_settings.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    assert Argon2PasswordHasher().encode("a-long-unusual-passphrase", "somesaltvalue").startswith("argon2$argon2id$")


def test_password_validators_enforce_length_twelve_commonness_similarity_and_digits():
    validators = {v["NAME"].rsplit(".", 1)[1]: v.get("OPTIONS", {}) for v in project_settings.AUTH_PASSWORD_VALIDATORS}

    assert validators["MinimumLengthValidator"] == {"min_length": 12}
    assert {"CommonPasswordValidator", "NumericPasswordValidator", "UserAttributeSimilarityValidator"} <= set(
        validators
    )
    assert "email" in validators["UserAttributeSimilarityValidator"]["user_attributes"]


def test_tokens_are_signed_with_a_key_separate_from_the_secret_key():
    assert settings.JWT_SIGNING_KEY
    assert settings.JWT_SIGNING_KEY != settings.SECRET_KEY


def test_database_connections_persist_with_health_checks():
    database = project_settings.DATABASES["default"]

    if database["ENGINE"] == "django.db.backends.postgresql":
        # The pool keeps them (and checks each before lending it); Django must not as well.
        assert database["OPTIONS"]["pool"]["max_size"] > 0
        assert database["CONN_MAX_AGE"] == 0
    else:
        assert database["CONN_MAX_AGE"] > 0
        assert database["CONN_HEALTH_CHECKS"] is True


def test_postgresql_gets_a_pool_sized_from_the_environment():
    values = settings_values(
        "DATABASES",
        DATABASE_URL="postgres://gatehouse@127.0.0.1:5432/gatehouse",
        DB_POOL_MIN="2",
        DB_POOL_MAX="8",
        DB_POOL_TIMEOUT="1.5",
    )

    database = values["DATABASES"]["default"]
    assert database["OPTIONS"]["pool"] == {"min_size": 2, "max_size": 8, "timeout": 1.5}
    assert database["CONN_MAX_AGE"] == 0


def test_postgresql_pool_can_be_turned_off():
    values = settings_values("DATABASES", DATABASE_URL="postgres://gatehouse@127.0.0.1:5432/gatehouse", DB_POOL_MAX="0")

    database = values["DATABASES"]["default"]
    assert "pool" not in database.get("OPTIONS", {})
    assert database["CONN_MAX_AGE"] == 60


@pytest.mark.parametrize("document", [".env.example", "docs/configuration.md"])
def test_every_setting_variable_is_documented(document):
    text = (BASE_DIR / document).read_text()

    undocumented = [name for name in SETTINGS_VARIABLES if not re.search(rf"\b{name}\b", text)]

    assert undocumented == []


@pytest.mark.parametrize("rate", ["lots", "5/fortnight", "0/minute", "-1/hour", "10"])
def test_a_malformed_rate_limit_refuses_to_start(rate):
    message = refused(run(["-c", "import django; django.setup()"], RATE_LIMIT_SIGN_IN=rate))

    assert "RATE_LIMIT_SIGN_IN" in message
    assert "<count>/<second|minute|hour|day>" in message
