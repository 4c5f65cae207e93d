"""Signing keys: the key ring, rotate_signing_key, the JWKS endpoint and the production start-up checks."""

import io
import json
import os
import runpy
import secrets
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from rest_framework_simplejwt.exceptions import TokenError

from accounts import keys, services
from accounts.tokens import SessionUntypedToken
from tests.conftest import PASSWORD
from tests.helpers import ME_URL, REFRESH_URL, TOKEN_URL, access_claims, assert_problem, bearer

pytestmark = pytest.mark.django_db

BASE_DIR = Path(django_settings.BASE_DIR)
JWKS_URL = "/.well-known/jwks.json"
PRIVATE_JWK_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def rotate(**options) -> str:
    out = io.StringIO()
    call_command("rotate_signing_key", stdout=out, stderr=out, **options)
    return out.getvalue()


def ring_document(path: Path) -> dict:
    return json.loads(path.read_text())


def write_ring_document(path: Path, document: dict) -> None:
    path.write_text(json.dumps(document))
    path.chmod(0o600)


def header(raw: str) -> dict:
    return jwt.get_unverified_header(raw)


def sign_in(client) -> dict:
    response = client.post(TOKEN_URL, {"email": "alice@example.com", "password": PASSWORD})
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def key_file(settings, tmp_path) -> Path:
    """An EdDSA key ring in a temporary file, made by the command as an operator would."""
    settings.JWT_ALGORITHM = "EdDSA"
    settings.JWT_KEYS_FILE = tmp_path / "jwt_keys.json"
    settings.JWT_PRIVATE_KEYS = ""
    rotate()
    return settings.JWT_KEYS_FILE


@pytest.fixture
def watch_key_file_always(monkeypatch):
    """Workers look at the key file every few seconds; here, on every use."""
    monkeypatch.setattr(keys.store, "RECHECK_SECONDS", 0)


# rotate_signing_key


def test_rotate_creates_the_first_key_in_a_file_only_the_owner_can_read(settings, tmp_path):
    settings.JWT_ALGORITHM = "EdDSA"
    settings.JWT_KEYS_FILE = tmp_path / "secrets" / "jwt_keys.json"

    output = rotate()

    assert (settings.JWT_KEYS_FILE.stat().st_mode & 0o777) == 0o600
    (entry,) = ring_document(settings.JWT_KEYS_FILE)["keys"]
    assert entry["alg"] == "EdDSA"
    assert entry["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    assert f"New EdDSA key {entry['kid']} signs from now on." in output
    assert str(settings.JWT_KEYS_FILE) in output


def test_rotation_makes_a_new_signer_and_keeps_only_the_old_public_key_until_its_tokens_expire(key_file):
    (first,) = ring_document(key_file)["keys"]
    before = datetime.now(UTC)

    output = rotate()

    signer, retired = ring_document(key_file)["keys"]
    assert signer["kid"] != first["kid"]
    assert "private_key" in signer
    assert retired["kid"] == first["kid"]
    assert "private_key" not in retired
    assert retired["public_key"].startswith("-----BEGIN PUBLIC KEY-----")
    # The longest lifetime (refresh, one day), plus the few seconds a worker may still sign with it.
    longest = max(
        django_settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"], django_settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"]
    )
    retire_at = datetime.fromisoformat(retired["retire_at"])
    assert before + longest <= retire_at <= datetime.now(UTC) + longest + timedelta(seconds=keys.RECHECK_SECONDS)
    assert f"Previous key {first['kid']} no longer signs" in output
    assert (key_file.stat().st_mode & 0o777) == 0o600


def test_rotation_drops_keys_whose_tokens_have_all_expired(key_file):
    rotate()
    document = ring_document(key_file)
    expired = document["keys"][1]
    expired["retire_at"] = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    write_ring_document(key_file, document)

    output = rotate()

    kids = [entry["kid"] for entry in ring_document(key_file)["keys"]]
    assert expired["kid"] not in kids
    assert len(kids) == 2
    assert f"Dropped key {expired['kid']}" in output


@pytest.mark.parametrize("algorithm", ["ES256", "RS256"])
def test_rotation_can_switch_algorithm_and_old_tokens_keep_verifying(key_file, settings, user, algorithm):
    before = services.session_start(user=user, ip_address=None, user_agent="")
    settings.JWT_ALGORITHM = algorithm

    rotate()

    signer, retired = ring_document(key_file)["keys"]
    assert (signer["alg"], retired["alg"]) == (algorithm, "EdDSA")
    assert bearer(before.access).get(ME_URL).status_code == 200
    after = services.session_start(user=user, ip_address=None, user_agent="")
    assert header(after.access)["alg"] == algorithm
    assert bearer(after.access).get(ME_URL).status_code == 200


def test_cannot_rotate_an_hs256_secret(settings):
    settings.JWT_ALGORITHM = "HS256"

    with pytest.raises(CommandError, match="JWT_SIGNING_KEY"):
        rotate()


def test_cannot_rotate_over_a_broken_key_ring_and_it_is_left_untouched(key_file):
    key_file.write_text('{"keys": [{"private_key": "not a key"}]}')

    with pytest.raises(CommandError, match="Nothing changed"):
        rotate()

    assert key_file.read_text() == '{"keys": [{"private_key": "not a key"}]}'


def test_rotating_keys_kept_in_the_environment_prints_the_new_ring(key_file, settings, tmp_path):
    settings.JWT_PRIVATE_KEYS = key_file.read_text()
    settings.JWT_KEYS_FILE = tmp_path / "unused.json"
    (first,) = ring_document(key_file)["keys"]

    with pytest.raises(CommandError, match="--print"):
        rotate()
    out, err = io.StringIO(), io.StringIO()
    call_command("rotate_signing_key", "--print", stdout=out, stderr=err)

    ring = keys.parse_key_ring(out.getvalue(), source="stdout")
    assert ring.signer.kid != first["kid"]
    assert [key.kid for key in ring.retired] == [first["kid"]]
    assert "JWT_PRIVATE_KEYS" in err.getvalue()
    assert not settings.JWT_KEYS_FILE.exists()


# Tokens name their key


@pytest.mark.parametrize("algorithm", ["EdDSA", "ES256", "RS256"])
def test_each_key_pair_algorithm_signs_tokens_that_name_their_key(settings, tmp_path, api, user, algorithm):
    settings.JWT_ALGORITHM = algorithm
    settings.JWT_KEYS_FILE = tmp_path / "jwt_keys.json"
    rotate()
    (entry,) = ring_document(settings.JWT_KEYS_FILE)["keys"]

    pair = sign_in(api)

    for raw in pair.values():
        assert header(raw) == {"alg": algorithm, "kid": entry["kid"], "typ": "JWT"}
    assert bearer(pair["access"]).get(ME_URL).status_code == 200
    assert api.post(REFRESH_URL, {"refresh": pair["refresh"]}).status_code == 200


def test_hs256_tokens_carry_a_kid_derived_from_the_secret(settings, api, user):
    pair = sign_in(api)
    secret = django_settings.JWT_SIGNING_KEY

    assert header(pair["access"])["alg"] == "HS256"
    assert header(pair["access"])["kid"] == keys.hmac_key(secret).kid
    assert secret not in header(pair["access"])["kid"]
    assert keys.hmac_key(secrets.token_urlsafe(64)).kid != keys.hmac_key(secret).kid


def test_hs256_refuses_a_short_secret(settings):
    settings.JWT_SIGNING_KEY = "too-short"

    with pytest.raises(keys.KeyRingError, match="at least 32"):
        keys.key_ring_store()


# JWKS


def test_jwks_publishes_the_public_keys_of_the_signer_and_of_retired_keys(key_file, api):
    rotate()
    signer, retired = ring_document(key_file)["keys"]

    response = api.get(JWKS_URL, HTTP_AUTHORIZATION="Bearer not-a-token")  # No authentication here.

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert sorted(response["Cache-Control"].split(", ")) == ["max-age=300", "public"]
    published = response.json()["keys"]
    assert [jwk["kid"] for jwk in published] == [signer["kid"], retired["kid"]]
    for jwk in published:
        assert jwk["alg"] == "EdDSA"
        assert jwk["use"] == "sig"
        assert (jwk["kty"], jwk["crv"]) == ("OKP", "Ed25519")
        assert not PRIVATE_JWK_MEMBERS & set(jwk)
    assert "PRIVATE" not in response.content.decode()


def test_another_service_can_verify_a_token_with_the_jwks_alone(key_file, api, user):
    access = services.session_start(user=user, ip_address=None, user_agent="").access
    jwk_set = jwt.PyJWKSet.from_dict(api.get(JWKS_URL).json())

    key = jwk_set[header(access)["kid"]]
    payload = jwt.decode(access, key, algorithms=[key.algorithm_name])

    assert payload["user_id"] == str(user.id)


def test_jwks_leaves_out_keys_whose_tokens_have_all_expired(key_file, api):
    rotate()
    document = ring_document(key_file)
    document["keys"][1]["retire_at"] = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    write_ring_document(key_file, document)
    keys.key_ring_store.cache_clear()

    published = api.get(JWKS_URL).json()["keys"]

    assert [jwk["kid"] for jwk in published] == [document["keys"][0]["kid"]]


def test_jwks_is_empty_with_hs256_and_never_shows_the_secret(api):
    response = api.get(JWKS_URL)

    assert response.json() == {"keys": []}
    assert django_settings.JWT_SIGNING_KEY not in response.content.decode()


def test_jwks_is_documented_in_the_openapi_schema(api, user):
    api.force_authenticate(user)

    schema = api.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    operation = schema["paths"][JWKS_URL]["get"]
    assert operation["operationId"] == "getSigningKeys"
    assert set(schema["components"]["schemas"]["JWK"]["properties"]) >= {"kid", "kty", "alg", "use"}


# Rotation logs nobody out


def test_rotation_logs_nobody_out(key_file, api, user, watch_key_file_always):
    old = sign_in(api)
    old_kid = header(old["access"])["kid"]

    rotate()

    assert bearer(old["access"]).get(ME_URL).status_code == 200
    response = api.post(REFRESH_URL, {"refresh": old["refresh"]})
    assert response.status_code == 200
    new = response.json()
    assert header(new["access"])["kid"] != old_kid
    assert bearer(new["access"]).get(ME_URL).status_code == 200


def test_a_retired_key_stops_verifying_at_its_retire_at(key_file, user):
    old = services.session_start(user=user, ip_address=None, user_agent="")
    rotate()
    document = ring_document(key_file)
    document["keys"][1]["retire_at"] = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    write_ring_document(key_file, document)
    keys.key_ring_store.cache_clear()

    # The token itself has not expired; its key has been retired for good.
    assert jwt.decode(old.access, options={"verify_signature": False})["exp"] > time.time()
    assert_problem(bearer(old.access).get(ME_URL), 401, "token_bad_signature")


def test_a_worker_accepts_a_key_rotated_by_another_process_without_a_restart(key_file, user, tokens):
    assert bearer(tokens.access).get(ME_URL).status_code == 200  # This process has read the ring.

    # Another process (an operator's shell, another worker's host) rotates the ring.
    environment = {**os.environ, "DJANGO_ENV": "development", "JWT_ALGORITHM": "EdDSA", "JWT_KEYS_FILE": str(key_file)}
    subprocess.run(
        [sys.executable, str(BASE_DIR / "manage.py"), "rotate_signing_key"], env=environment, check=True, cwd=BASE_DIR
    )
    signer = ring_document(key_file)["keys"][0]
    # A token another worker signs with the new key: this worker has not seen that kid yet.
    private_key = keys.parse_key_ring(signer["private_key"], source="test").signer.signing_key
    fresh = jwt.encode(
        access_claims(user.id, tokens.session.id), private_key, algorithm="EdDSA", headers={"kid": signer["kid"]}
    )

    assert bearer(fresh).get(ME_URL).status_code == 200
    assert bearer(tokens.access).get(ME_URL).status_code == 200


def test_a_worker_signs_with_the_new_key_once_it_looks_at_the_file_again(key_file, user, monkeypatch):
    store = keys.key_ring_store()
    old_kid = store.current().signer.kid
    rotate_elsewhere = keys.rotate_key_ring_file(
        key_file, algorithm="EdDSA", now=datetime.now(UTC), keep_verifying_for=timedelta(days=1)
    )

    assert store.current().signer.kid == old_kid  # Within RECHECK_SECONDS: the ring it had.
    monkeypatch.setattr(keys.store, "RECHECK_SECONDS", 0)
    assert store.current().signer.kid == rotate_elsewhere.created.kid


def test_a_broken_key_file_keeps_the_last_good_ring_and_is_logged(key_file, caplog, watch_key_file_always):
    store = keys.key_ring_store()
    signer = store.current().signer

    key_file.write_text("{oops")

    assert store.current().signer == signer
    assert "could not be re-read" in caplog.text
    assert "PRIVATE" not in caplog.text


# Reading the ring


def test_a_key_file_readable_by_others_is_refused(key_file):
    key_file.chmod(0o644)

    with pytest.raises(keys.KeyRingError, match="chmod 600"):
        keys.read_key_ring_file(key_file)


def test_a_lone_pem_private_key_is_a_ring_with_just_a_signer(key_file):
    (entry,) = ring_document(key_file)["keys"]

    ring = keys.parse_key_ring(entry["private_key"], source="JWT_PRIVATE_KEYS")

    assert ring.signer.kid == entry["kid"]
    assert ring.retired == ()


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("[]", "expected an object with a `keys` list"),
        ('{"keys": []}', "exactly one key"),
        ('{"keys": ["x"]}', "must be an object"),
        ('{"keys": [{"kid": "x"}]}', "neither `private_key` nor `public_key`"),
        ('{"keys": [{"private_key": "-----BEGIN PRIVATE KEY-----\\nAAAA\\n-----END PRIVATE KEY-----"}]}', "valid"),
    ],
    ids=["not-an-object", "no-signer", "entry-not-an-object", "no-key", "bad-pem"],
)
def test_a_malformed_key_ring_is_refused_with_a_reason(document, message):
    with pytest.raises(keys.KeyRingError, match=message):
        keys.parse_key_ring(document, source="JWT_PRIVATE_KEYS")


def test_a_key_ring_whose_kid_does_not_match_its_key_is_refused(key_file):
    document = ring_document(key_file)
    document["keys"][0]["kid"] = "someone-elses-kid"

    with pytest.raises(keys.KeyRingError, match="does not match"):
        keys.parse_key_ring(json.dumps(document), source="JWT_PRIVATE_KEYS")


def test_a_private_key_left_on_a_retired_key_is_never_used():
    now = datetime.now(UTC)
    signer, leftover = keys.generate_key("EdDSA", now=now), keys.generate_key("EdDSA", now=now)
    document = json.loads(keys.KeyRing(signer=signer).to_json())
    retired_entry = json.loads(keys.KeyRing(signer=leftover).to_json())["keys"][0]
    document["keys"].append({**retired_entry, "retire_at": (now + timedelta(days=1)).isoformat()})

    ring = keys.parse_key_ring(json.dumps(document), source="JWT_PRIVATE_KEYS")

    assert ring.signer.kid == signer.kid
    assert [key.kid for key in ring.retired] == [leftover.kid]
    assert ring.retired[0].signing_key is None


def test_rsa_keys_shorter_than_2048_bits_are_refused():
    from cryptography.hazmat.primitives.asymmetric import rsa

    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 (a weak key is the point)

    with pytest.raises(keys.KeyRingError, match="at least 2048"):
        keys.key_pair(weak)


def test_untyped_tokens_verify_with_the_key_ring(key_file, tokens):
    assert SessionUntypedToken(tokens.access)["sid"] == str(tokens.session.id)
    attacker = ed25519.Ed25519PrivateKey.generate()
    forged = jwt.encode(
        jwt.decode(tokens.access, options={"verify_signature": False}),
        attacker,
        algorithm="EdDSA",
        headers={"kid": header(tokens.access)["kid"]},
    )

    with pytest.raises(TokenError):
        SessionUntypedToken(forged)


# Production start-up


SETTINGS_FILE = BASE_DIR / "project" / "settings.py"
PRODUCTION_MAIL = {
    "EMAIL_URL": "smtp+tls://mailer:secret@smtp.example.com:587",
    "DEFAULT_FROM_EMAIL": "Gatehouse <no-reply@example.com>",
    "FRONTEND_URL": "https://app.example.com",
}


@pytest.fixture
def production_env(monkeypatch, tmp_path):
    for name in ("JWT_ALGORITHM", "JWT_SIGNING_KEY", "JWT_PRIVATE_KEYS", "DJANGO_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DJANGO_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", secrets.token_urlsafe(64))
    monkeypatch.setenv("ALLOWED_HOSTS", "api.example.com")
    monkeypatch.setenv("JWT_KEYS_FILE", str(tmp_path / "jwt_keys.json"))
    monkeypatch.setenv("EMAIL_URL", PRODUCTION_MAIL["EMAIL_URL"])  # docs/recovery.md: production sends mail.
    monkeypatch.setenv("DEFAULT_FROM_EMAIL", PRODUCTION_MAIL["DEFAULT_FROM_EMAIL"])
    monkeypatch.setenv("FRONTEND_URL", PRODUCTION_MAIL["FRONTEND_URL"])
    monkeypatch.setattr(sys, "argv", ["gunicorn", "project.wsgi"])
    return tmp_path / "jwt_keys.json"


def load_settings() -> dict:
    return runpy.run_path(str(SETTINGS_FILE), run_name="settings_under_test")


def test_production_refuses_to_start_without_a_key_ring_and_says_how_to_make_one(production_env):
    with pytest.raises(ImproperlyConfigured, match=r"python manage.py rotate_signing_key"):
        load_settings()


def test_production_signs_with_eddsa_from_the_key_ring_by_default(production_env):
    keys.write_key_ring_file(production_env, keys.KeyRing(signer=keys.generate_key("EdDSA", now=datetime.now(UTC))))

    loaded = load_settings()

    assert loaded["JWT_ALGORITHM"] == "EdDSA"
    assert loaded["JWT_SIGNING_KEY"] == ""  # Not needed with a key pair ...
    assert len(loaded["SIMPLE_JWT"]["SIGNING_KEY"]) >= 64  # ... and stock simplejwt gets no guessable key.


def test_production_refuses_an_unreadable_key_ring(production_env):
    keys.write_key_ring_file(production_env, keys.KeyRing(signer=keys.generate_key("EdDSA", now=datetime.now(UTC))))
    production_env.chmod(0o640)

    with pytest.raises(ImproperlyConfigured, match="chmod 600"):
        load_settings()


def test_production_refuses_a_signer_of_another_algorithm(production_env, monkeypatch):
    keys.write_key_ring_file(production_env, keys.KeyRing(signer=keys.generate_key("EdDSA", now=datetime.now(UTC))))
    monkeypatch.setenv("JWT_ALGORITHM", "ES256")

    with pytest.raises(ImproperlyConfigured, match="make a new ES256 key the signer"):
        load_settings()


def test_production_with_hs256_requires_jwt_signing_key(production_env, monkeypatch):
    monkeypatch.setenv("JWT_ALGORITHM", "HS256")

    with pytest.raises(ImproperlyConfigured, match="JWT_SIGNING_KEY is not set"):
        load_settings()


def test_production_accepts_the_key_ring_from_the_environment(production_env, monkeypatch):
    ring = keys.KeyRing(signer=keys.generate_key("EdDSA", now=datetime.now(UTC)))
    monkeypatch.setenv("JWT_PRIVATE_KEYS", ring.to_json())

    assert load_settings()["JWT_PRIVATE_KEYS"]


def test_an_unknown_algorithm_is_refused(production_env, monkeypatch):
    monkeypatch.setenv("JWT_ALGORITHM", "none")

    with pytest.raises(ImproperlyConfigured, match="EdDSA, ES256, RS256, HS256"):
        load_settings()


def test_rotate_signing_key_may_run_before_the_first_key_exists(production_env, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["manage.py", "rotate_signing_key"])

    assert load_settings()["JWT_ALGORITHM"] == "EdDSA"


def test_the_production_deploy_check_passes_once_the_first_key_is_made(tmp_path):
    # What CI runs: make the first key, then `check --deploy` under production settings.
    environment = {
        **os.environ,
        "DJANGO_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "api.example.com",
        "JWT_KEYS_FILE": str(tmp_path / "jwt_keys.json"),
        **PRODUCTION_MAIL,
    }
    environment.pop("JWT_ALGORITHM", None)
    manage = [sys.executable, str(BASE_DIR / "manage.py")]

    for command in (["rotate_signing_key"], ["check", "--deploy", "--fail-level", "WARNING"]):
        result = subprocess.run(
            [*manage, *command], env=environment, cwd=BASE_DIR, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stderr
