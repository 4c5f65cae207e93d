"""Forged tokens: every token we did not sign, or signed but for another use, gets 401 and changes nothing.

Each attack is crafted by hand with PyJWT, cryptography or plain base64, then sent as an access token
(GET and PATCH /me/) and as a refresh token (token/refresh/). The token classes are also asked
directly, so the refusal is shown to come from the signature and header checks, not from a later
database lookup that happens to miss.
"""

import base64
import hashlib
import hmac
import io
import json
import socket
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from django.core.management import call_command
from jwt.algorithms import OKPAlgorithm
from rest_framework_simplejwt.exceptions import TokenError

from accounts import keys, services
from accounts.models import AuthSession, RefreshTokenRecord, User
from accounts.tokens import SessionAccessToken, SessionRefreshToken
from tests.helpers import ME_URL, REFRESH_URL, assert_problem, bearer

pytestmark = pytest.mark.django_db

ATTACKER_HOST = "attacker.example"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: dict) -> str:
    return b64(json.dumps(value).encode())


def compact(header: dict, payload: dict, signature: bytes = b"") -> str:
    return f"{segment(header)}.{segment(payload)}.{b64(signature)}"


def hs256(header: dict, payload: dict, secret: bytes) -> str:
    """HMAC-SHA256 by hand: PyJWT refuses to use a public key as an HMAC secret, attackers do not."""
    signing_input = f"{segment(header)}.{segment(payload)}"
    return f"{signing_input}.{b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"


@dataclass(frozen=True)
class Scene:
    """What an attacker can know: the claims of a real token, our public key and its kid."""

    claims: dict[str, Any]
    token: str
    kid: str
    signer: Any  # Our private key, for the attacks on claims and headers alone.
    public_pem: bytes
    public_raw: bytes
    other_user_id: str

    def signed(self, claims: dict | None = None, **headers: Any) -> str:
        """Signed with our real key, as we would: the attack is in the claims or the headers."""
        return jwt.encode(claims or self.claims, self.signer, algorithm="EdDSA", headers={"kid": self.kid, **headers})


ATTACKER_KEY = ed25519.Ed25519PrivateKey.generate()
ATTACKER_JWK = OKPAlgorithm.to_jwk(ATTACKER_KEY.public_key(), as_dict=True)
ATTACKER_KID = keys.jwk_thumbprint(ATTACKER_JWK)


def by_attacker(claims: dict, **headers: Any) -> str:
    return jwt.encode(claims, ATTACKER_KEY, algorithm="EdDSA", headers=headers)


def alg_none(alg: str) -> Callable[[Scene], str]:
    return lambda s: compact({"alg": alg, "typ": "JWT", "kid": s.kid}, s.claims)


def tampered(**changes: Any) -> Callable[[Scene], str]:
    def attack(s: Scene) -> str:
        header, _, signature = s.token.split(".")
        return f"{header}.{segment({**s.claims, **changes})}.{signature}"

    return attack


def with_kid(kid: Any) -> Callable[[Scene], str]:
    return lambda s: jwt.encode(s.claims, s.signer, algorithm="EdDSA", headers={"kid": kid})


def now() -> int:
    return int(time.time())


ATTACKS: dict[str, Callable[[Scene], str]] = {
    # No signature at all.
    "alg-none": alg_none("none"),
    "alg-None": alg_none("None"),
    "alg-NONE": alg_none("NONE"),
    "alg-nOnE": alg_none("nOnE"),
    "alg-none-without-kid": lambda s: compact({"alg": "none"}, s.claims),
    "alg-empty": alg_none(""),
    "signature-stripped": lambda s: s.token.rsplit(".", 1)[0] + ".",
    "signature-stripped-no-dot": lambda s: s.token.rsplit(".", 1)[0],
    "signature-zeroed": lambda s: s.token.rsplit(".", 1)[0] + "." + b64(bytes(64)),
    # Someone else's key.
    "another-key-our-kid": lambda s: by_attacker(s.claims, kid=s.kid),
    "another-key-unknown-kid": lambda s: by_attacker(s.claims, kid=ATTACKER_KID),
    "another-key-no-kid": lambda s: by_attacker(s.claims),
    "es256-our-kid": lambda s: jwt.encode(
        s.claims, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256", headers={"kid": s.kid}
    ),
    # Key confusion: HMAC keyed with our public key, which anyone can fetch from the JWKS.
    "hs256-public-pem": lambda s: hs256({"alg": "HS256", "typ": "JWT", "kid": s.kid}, s.claims, s.public_pem),
    "hs256-public-raw": lambda s: hs256({"alg": "HS256", "typ": "JWT", "kid": s.kid}, s.claims, s.public_raw),
    "hs256-public-jwk-x": lambda s: hs256(
        {"alg": "HS256", "typ": "JWT", "kid": s.kid}, s.claims, b64(s.public_raw).encode()
    ),
    "hs256-empty-secret": lambda s: hs256({"alg": "HS256", "typ": "JWT", "kid": s.kid}, s.claims, b""),
    # Our key, but a kid that is not ours: unknown, missing, or an injection attempt.
    "our-key-unknown-kid": with_kid("no-such-key"),
    "our-key-no-kid": lambda s: jwt.encode(s.claims, s.signer, algorithm="EdDSA"),
    "kid-path-dev-null": lambda s: hs256({"alg": "HS256", "kid": "../../../../../../dev/null"}, s.claims, b""),
    "kid-path-key-file": with_kid("../../var/jwt_keys.json"),
    "kid-absolute-path": with_kid("/etc/passwd"),
    "kid-sql-or": with_kid("' OR '1'='1' --"),
    "kid-sql-union": with_kid("x' UNION SELECT 'secret' --"),
    "kid-nul": with_kid("abc\u0000"),
    "kid-url": with_kid(f"https://{ATTACKER_HOST}/key.pem"),
    "kid-too-long": with_kid("A" * 200),
    "kid-not-a-string": lambda s: compact({"alg": "EdDSA", "kid": 1}, s.claims, b"x"),
    # Headers that point at keys elsewhere: never fetched, never trusted.
    "jku-attacker": lambda s: by_attacker(s.claims, kid=ATTACKER_KID, jku=f"https://{ATTACKER_HOST}/jwks.json"),
    "jku-our-kid": lambda s: by_attacker(s.claims, kid=s.kid, jku=f"https://{ATTACKER_HOST}/jwks.json"),
    "x5u-attacker": lambda s: by_attacker(s.claims, kid=ATTACKER_KID, x5u=f"https://{ATTACKER_HOST}/cert.pem"),
    "jwk-embedded": lambda s: by_attacker(s.claims, kid=ATTACKER_KID, jwk={**ATTACKER_JWK, "kid": ATTACKER_KID}),
    "jwk-embedded-our-kid": lambda s: by_attacker(s.claims, kid=s.kid, jwk={**ATTACKER_JWK, "kid": s.kid}),
    "x5c-embedded": lambda s: by_attacker(s.claims, kid=ATTACKER_KID, x5c=[b64(b"not a certificate")]),
    # Even our own signature does not make unknown header parameters acceptable.
    "our-key-with-jku": lambda s: s.signed(jku=f"https://{ATTACKER_HOST}/jwks.json"),
    "our-key-with-crit": lambda s: s.signed(crit=["exp"]),
    # Claims changed after signing.
    "tampered-user": lambda s: tampered(user_id=s.other_user_id)(s),
    "tampered-exp": tampered(exp=now() + 10 * 365 * 86400),
    "tampered-sid": tampered(sid="00000000-0000-0000-0000-000000000000"),
    "tampered-token-type": lambda s: tampered(token_type="refresh" if s.claims["token_type"] == "access" else "access")(
        s
    ),
    # Our signature, but outside the token's lifetime or without the claims that bound it.
    "expired": lambda s: s.signed({**s.claims, "exp": now() - 1}),
    "not-yet-valid-nbf": lambda s: s.signed({**s.claims, "nbf": now() + 3600}),
    "issued-in-the-future": lambda s: s.signed({**s.claims, "iat": now() + 3600}),
    "no-exp": lambda s: s.signed({k: v for k, v in s.claims.items() if k != "exp"}),
    "no-iat": lambda s: s.signed({k: v for k, v in s.claims.items() if k != "iat"}),
    "no-jti": lambda s: s.signed({k: v for k, v in s.claims.items() if k != "jti"}),
}
# The problem code each attack gets; the rest are `token_bad_signature` (not signed by a key of ours,
# or not in a form we sign). A client can act on these, and none tells an attacker more than the token
# it sent already says: whether the signature holds is the first thing checked.
ATTACK_CODES = {
    "signature-stripped-no-dot": "token_malformed",  # Two segments: not a JWS at all.
    "expired": "token_expired",
    "not-yet-valid-nbf": "token_malformed",
    "issued-in-the-future": "token_malformed",
    "no-exp": "token_malformed",
    "no-iat": "token_malformed",
    "no-jti": "token_malformed",
}


def expected_code(attack: str) -> str:
    return ATTACK_CODES.get(attack, "token_bad_signature")


@pytest.fixture
def key_file(settings, tmp_path) -> Path:
    settings.JWT_ALGORITHM = "EdDSA"
    settings.JWT_KEYS_FILE = tmp_path / "jwt_keys.json"
    settings.JWT_PRIVATE_KEYS = ""
    call_command("rotate_signing_key", stdout=io.StringIO())
    return settings.JWT_KEYS_FILE


@pytest.fixture
def victim(key_file, make_user) -> services.IssuedTokens:
    make_user("mallory@example.com")
    return services.session_start(user=make_user("alice@example.com"), ip_address=None, user_agent="pytest")


def scene_for(raw: str) -> Scene:
    signer = keys.key_ring_store().current().signer
    public_key = signer.signing_key.public_key()
    return Scene(
        claims=jwt.decode(raw, options={"verify_signature": False}),
        token=raw,
        kid=signer.kid,
        signer=signer.signing_key,
        public_pem=public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        public_raw=public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw),
        other_user_id=str(User.objects.get(email="mallory@example.com").pk),
    )


def snapshot() -> tuple:
    """Everything a token could change: accounts, sessions and issued refresh tokens."""
    return (
        list(User.objects.order_by("pk").values_list("pk", "display_name", "is_active", "last_login", "password")),
        list(AuthSession.objects.order_by("pk").values()),
        list(RefreshTokenRecord.objects.order_by("pk").values()),
    )


@pytest.fixture
def no_fetching(monkeypatch) -> list:
    """Records, and blocks, any attempt to reach the attacker's host (a jku/x5u fetch)."""
    attempts: list = []
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if ATTACKER_HOST in str(host):
            attempts.append(host)
            raise OSError("blocked by the test")
        return real_getaddrinfo(host, *args, **kwargs)

    def urlopen(url, *args, **kwargs):
        attempts.append(url)
        raise OSError("blocked by the test")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    return attempts


def assert_refused(response, code: str) -> None:
    assert_problem(response, 401, code)
    assert response["WWW-Authenticate"].startswith('Bearer realm="api", error="invalid_token", error_description="')


def test_control_a_hand_signed_token_with_our_key_is_accepted(victim):
    # The forging helpers are right: with our key, kid and claims, the hand-made token works,
    # so the 401s below come from what each attack changes.
    scene = scene_for(victim.access)

    assert bearer(scene.signed()).get(ME_URL).status_code == 200
    assert SessionRefreshToken(scene_for(victim.refresh).signed())["jti"] == scene_for(victim.refresh).claims["jti"]


@pytest.mark.parametrize("attack", ATTACKS)
def test_cannot_use_a_forged_access_token(victim, attack, no_fetching):
    forged = ATTACKS[attack](scene_for(victim.access))
    before = snapshot()

    with pytest.raises(TokenError):
        SessionAccessToken(forged)
    assert_refused(bearer(forged).get(ME_URL), expected_code(attack))
    assert_refused(bearer(forged).patch(ME_URL, {"display_name": "Mallory was here"}), expected_code(attack))

    assert snapshot() == before
    assert no_fetching == []


@pytest.mark.parametrize("attack", ATTACKS)
def test_cannot_refresh_with_a_forged_refresh_token(api, victim, attack, no_fetching):
    forged = ATTACKS[attack](scene_for(victim.refresh))
    before = snapshot()

    with pytest.raises(TokenError):
        SessionRefreshToken(forged)
    assert_refused(api.post(REFRESH_URL, {"refresh": forged}), expected_code(attack))

    assert snapshot() == before
    assert no_fetching == []
    assert api.post(REFRESH_URL, {"refresh": victim.refresh}).status_code == 200  # The real one still works.


def test_cannot_use_a_refresh_token_as_an_access_token(victim):
    before = snapshot()

    with pytest.raises(TokenError, match="wrong type"):
        SessionAccessToken(victim.refresh)
    assert_refused(bearer(victim.refresh).get(ME_URL), "token_wrong_type")
    assert_refused(bearer(victim.refresh).patch(ME_URL, {"display_name": "Mallory was here"}), "token_wrong_type")

    assert snapshot() == before


def test_cannot_refresh_with_an_access_token(api, victim):
    before = snapshot()

    with pytest.raises(TokenError, match="wrong type"):
        SessionRefreshToken(victim.access)
    assert_refused(api.post(REFRESH_URL, {"refresh": victim.access}), "token_wrong_type")

    # Refused as the wrong kind of token, not as a replay: the session lives on.
    assert snapshot() == before
    assert bearer(victim.access).get(ME_URL).status_code == 200


def test_cannot_use_a_token_of_a_retired_key_once_its_tokens_have_expired(victim, key_file):
    call_command("rotate_signing_key", stdout=io.StringIO())
    document = json.loads(key_file.read_text())
    document["keys"][1]["retire_at"] = "2000-01-01T00:00:00+00:00"
    key_file.write_text(json.dumps(document))
    keys.key_ring_store.cache_clear()
    before = snapshot()

    assert_refused(bearer(victim.access).get(ME_URL), "token_bad_signature")  # Its kid is no longer ours.

    assert snapshot() == before


# The embedded default: HS256 with JWT_SIGNING_KEY gets the same uniform kid check.


HS256_ATTACKS: dict[str, Callable[[dict, str, bytes], str]] = {
    "alg-none": lambda claims, kid, secret: compact({"alg": "none", "kid": kid}, claims),
    "our-secret-no-kid": lambda claims, kid, secret: jwt.encode(claims, secret, algorithm="HS256"),
    "our-secret-unknown-kid": lambda claims, kid, secret: jwt.encode(
        claims, secret, algorithm="HS256", headers={"kid": "no-such-key"}
    ),
    "our-secret-hs512": lambda claims, kid, secret: jwt.encode(claims, secret, algorithm="HS512", headers={"kid": kid}),
    "another-secret-our-kid": lambda claims, kid, secret: jwt.encode(
        claims, b"another-secret-of-at-least-32-bytes!", algorithm="HS256", headers={"kid": kid}
    ),
    "eddsa-our-kid": lambda claims, kid, secret: by_attacker(claims, kid=kid),
    "tampered-user": lambda claims, kid, secret: jwt.encode(
        {**claims, "user_id": "00000000-0000-0000-0000-000000000000"},
        b"guess-of-the-secret-at-least-32-bytes",
        algorithm="HS256",
        headers={"kid": kid},
    ),
}


@pytest.mark.parametrize("attack", HS256_ATTACKS.values(), ids=HS256_ATTACKS.keys())
def test_cannot_use_a_forged_token_with_hs256(settings, tokens, attack):
    signer = keys.key_ring_store().current().signer
    assert signer.algorithm == "HS256"
    forged = attack(jwt.decode(tokens.access, options={"verify_signature": False}), signer.kid, signer.signing_key)
    before = snapshot()

    with pytest.raises(TokenError):
        SessionAccessToken(forged)
    assert_refused(bearer(forged).get(ME_URL), "token_bad_signature")

    assert snapshot() == before
