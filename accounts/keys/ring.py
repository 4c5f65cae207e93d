"""Keys and the key ring: what a signing key is, how one is made and named, and how a ring rotates.

Every key is named by its RFC 7638 thumbprint, the `kid` of its tokens.
"""

import base64
import hashlib
import json
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from django.core.exceptions import ImproperlyConfigured
from jwt import PyJWK
from jwt.algorithms import get_default_algorithms

HMAC_ALGORITHM = "HS256"
KEY_PAIR_ALGORITHMS = ("EdDSA", "ES256", "RS256")
ALGORITHMS = (*KEY_PAIR_ALGORITHMS, HMAC_ALGORITHM)
RSA_KEY_BITS = 3072
RSA_MIN_BITS = 2048
HMAC_MIN_BYTES = 32  # RFC 7518 3.2: at least the size of the hash output.
KID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
CREATE_HINT = "run `python manage.py rotate_signing_key` to create the first key"

# RFC 7638: the members a key's thumbprint is computed over, per key type.
_THUMBPRINT_MEMBERS = {"OKP": ("crv", "kty", "x"), "EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n")}


class KeyRingError(ImproperlyConfigured):
    """The configured key ring is missing, unreadable or invalid. The message says how to fix it."""


@dataclass(frozen=True)
class SigningKey:
    """One key of the ring. Only the signer has `signing_key`; `public_jwk` is None for HMAC."""

    kid: str
    algorithm: str
    verifying_key: PyJWK  # Bound to `algorithm`: PyJWT refuses a token whose `alg` differs.
    signing_key: Any = None
    public_jwk: dict | None = None
    created_at: datetime | None = None
    retire_at: datetime | None = None

    def verifies_at(self, now: datetime) -> bool:
        return self.retire_at is None or now < self.retire_at


@dataclass(frozen=True)
class KeyRing:
    signer: SigningKey
    retired: tuple[SigningKey, ...] = ()

    def verifying_key(self, kid: str, now: datetime) -> SigningKey | None:
        """The key named `kid`, unless it was retired and its tokens have all expired."""
        for key in (self.signer, *self.retired):
            if key.kid == kid:
                return key if key.verifies_at(now) else None
        return None

    def jwks(self, now: datetime) -> dict:
        """RFC 7517 JWK Set of the public keys that still verify; never a private key or a secret."""
        return {
            "keys": [
                {**key.public_jwk, "kid": key.kid, "alg": key.algorithm, "use": "sig"}
                for key in (self.signer, *self.retired)
                if key.public_jwk is not None and key.verifies_at(now)
            ]
        }

    def to_json(self) -> str:
        # Imported here: serialisation builds on this module's keys, so it cannot be imported above.
        from accounts.keys.serialisation import serialise_key_ring

        return serialise_key_ring(self)


@dataclass(frozen=True)
class Rotation:
    ring: KeyRing
    created: SigningKey
    retired: SigningKey | None
    dropped: tuple[SigningKey, ...]


def jwk_thumbprint(jwk: dict) -> str:
    """RFC 7638 SHA-256 thumbprint: a stable name for a key, computed from its public half."""
    members = {name: jwk[name] for name in _THUMBPRINT_MEMBERS.get(jwk["kty"], ("k", "kty"))}
    digest = hashlib.sha256(json.dumps(members, separators=(",", ":"), sort_keys=True).encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _algorithm_of(public_key: Any) -> str:
    """The one algorithm a key may be used with; refuses key types and sizes we do not accept."""
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return "EdDSA"
    if isinstance(public_key, ec.EllipticCurvePublicKey) and isinstance(public_key.curve, ec.SECP256R1):
        return "ES256"
    if isinstance(public_key, rsa.RSAPublicKey):
        if public_key.key_size < RSA_MIN_BITS:
            raise KeyRingError(f"An RSA key has {public_key.key_size} bits; use at least {RSA_MIN_BITS}.")
        return "RS256"
    raise KeyRingError("A key is neither Ed25519, EC P-256 nor RSA: only EdDSA, ES256 and RS256 keys are accepted.")


def key_pair(private_key: Any = None, *, public_key: Any = None, created_at: datetime | None = None) -> SigningKey:
    """A ring entry for an Ed25519, P-256 or RSA key: the signer (private key) or a retired key (public)."""
    public_key = public_key if private_key is None else private_key.public_key()
    algorithm = _algorithm_of(public_key)
    jwk = get_default_algorithms()[algorithm].to_jwk(public_key, as_dict=True)
    return SigningKey(
        kid=jwk_thumbprint(jwk),
        algorithm=algorithm,
        verifying_key=PyJWK(jwk, algorithm),
        signing_key=private_key,
        public_jwk=jwk,
        created_at=created_at,
    )


def hmac_key(secret: str) -> SigningKey:
    """The HS256 ring's only key. Its `kid` is a hash of the secret; it is never published."""
    raw = secret.encode()
    if len(raw) < HMAC_MIN_BYTES:
        raise KeyRingError(
            f"JWT_SIGNING_KEY has {len(raw)} bytes; HS256 needs at least {HMAC_MIN_BYTES}: "
            "python -c 'import secrets; print(secrets.token_urlsafe(64))'."
        )
    jwk = get_default_algorithms()[HMAC_ALGORITHM].to_jwk(raw, as_dict=True)
    return SigningKey(
        kid=jwk_thumbprint(jwk), algorithm=HMAC_ALGORITHM, verifying_key=PyJWK(jwk, HMAC_ALGORITHM), signing_key=raw
    )


def generate_key(algorithm: str, *, now: datetime) -> SigningKey:
    if algorithm == "EdDSA":
        private_key = ed25519.Ed25519PrivateKey.generate()
    elif algorithm == "ES256":
        private_key = ec.generate_private_key(ec.SECP256R1())
    elif algorithm == "RS256":
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)
    else:
        raise KeyRingError(f"Cannot make a {algorithm} key: choose one of {', '.join(KEY_PAIR_ALGORITHMS)}.")
    return key_pair(private_key, created_at=now)


def rotate(ring: KeyRing | None, *, algorithm: str, now: datetime, keep_verifying_for: timedelta) -> Rotation:
    """A new signer; the previous one keeps only its public key, verifying for `keep_verifying_for`."""
    created = generate_key(algorithm, now=now)
    if ring is None:
        return Rotation(ring=KeyRing(signer=created), created=created, retired=None, dropped=())
    retired = replace(ring.signer, signing_key=None, retire_at=now + keep_verifying_for)
    kept = tuple(key for key in ring.retired if key.verifies_at(now))
    dropped = tuple(key for key in ring.retired if not key.verifies_at(now))
    return Rotation(
        ring=KeyRing(signer=created, retired=(retired, *kept)), created=created, retired=retired, dropped=dropped
    )
