"""Signing keys: the key ring that signs and verifies tokens, kept outside the database.

With EdDSA, ES256 or RS256 the ring is a file (JWT_KEYS_FILE, mode 0600) or the environment variable
JWT_PRIVATE_KEYS: one signer, which alone keeps its private key, and the public halves of retired
keys until `retire_at`, when every token they signed has expired. With HS256 the ring is the one
secret JWT_SIGNING_KEY. Every key is named by its RFC 7638 thumbprint, the `kid` of its tokens.

project/settings.py imports this module to refuse a start without a usable key, so it imports no
models, DRF or simplejwt.
"""

import base64
import fcntl
import functools
import hashlib
import json
import logging
import os
import re
import stat
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from jwt import PyJWK
from jwt.algorithms import get_default_algorithms

logger = logging.getLogger(__name__)

HMAC_ALGORITHM = "HS256"
KEY_PAIR_ALGORITHMS = ("EdDSA", "ES256", "RS256")
ALGORITHMS = (*KEY_PAIR_ALGORITHMS, HMAC_ALGORITHM)
RSA_KEY_BITS = 3072
RSA_MIN_BITS = 2048
HMAC_MIN_BYTES = 32  # RFC 7518 3.2: at least the size of the hash output.
# A worker looks at the key file this often, so a rotation reaches every worker within it. A `kid`
# it does not know sends it to the file at once (re-read only if the file changed).
RECHECK_SECONDS = 5
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
        entries = [_key_entry(self.signer)] + [_key_entry(key) for key in self.retired]
        return json.dumps({"keys": entries}, indent=2) + "\n"


@dataclass(frozen=True)
class Rotation:
    ring: KeyRing
    created: SigningKey
    retired: SigningKey | None
    dropped: tuple[SigningKey, ...]


# Keys


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


# Serialisation: {"keys": [signer with "private_key", retired keys with "public_key" and "retire_at"]},
# PEM inside. A lone PEM private key is accepted too: a ring with just a signer.


def _key_entry(key: SigningKey) -> dict:
    entry: dict[str, Any] = {"kid": key.kid, "alg": key.algorithm}
    if key.created_at is not None:
        entry["created_at"] = key.created_at.isoformat()
    if key.signing_key is not None:
        pem = key.signing_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        entry["private_key"] = pem.decode()
    else:
        entry["retire_at"] = key.retire_at.isoformat()
        pem = key.verifying_key.key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        entry["public_key"] = pem.decode()
    return entry


def _timestamp(value: Any, *, field: str, source: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        moment = None
    if moment is None or moment.tzinfo is None:
        raise KeyRingError(f"{source}: `{field}` must be an ISO 8601 time with a time zone.")
    return moment


def _parse_entry(entry: Any, *, source: str) -> SigningKey:
    if not isinstance(entry, dict):
        raise KeyRingError(f"{source}: every entry of `keys` must be an object.")
    try:
        if "private_key" in entry:
            key = key_pair(serialization.load_pem_private_key(str(entry["private_key"]).encode(), password=None))
        elif "public_key" in entry:
            key = key_pair(public_key=serialization.load_pem_public_key(str(entry["public_key"]).encode()))
        else:
            raise KeyRingError(f"{source}: a key has neither `private_key` nor `public_key`.")
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:  # Never echo the key material itself.
        raise KeyRingError(f"{source}: a key is not a valid unencrypted PEM key.") from exc
    if entry.get("alg", key.algorithm) != key.algorithm:
        raise KeyRingError(f"{source}: key {key.kid} is {key.algorithm} but says `alg` {entry['alg']!r}.")
    if entry.get("kid", key.kid) != key.kid:
        raise KeyRingError(f"{source}: key {entry['kid']!r} does not match its key material (kid {key.kid}).")
    created_at = _timestamp(entry["created_at"], field="created_at", source=source) if "created_at" in entry else None
    retire_at = _timestamp(entry["retire_at"], field="retire_at", source=source) if "retire_at" in entry else None
    return replace(key, created_at=created_at, retire_at=retire_at)


def parse_key_ring(text: str, *, source: str) -> KeyRing:
    if text.lstrip().startswith("-----BEGIN"):
        return KeyRing(signer=_parse_entry({"private_key": text}, source=source))
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise KeyRingError(f"{source} is neither JSON nor a PEM private key ({CREATE_HINT}).") from exc
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise KeyRingError(f"{source}: expected an object with a `keys` list.")
    parsed = [_parse_entry(entry, source=source) for entry in entries]
    signers = [key for key in parsed if key.retire_at is None]
    if len(signers) != 1 or signers[0].signing_key is None:
        raise KeyRingError(f"{source}: exactly one key must have a `private_key` and no `retire_at` (the signer).")
    retired = tuple(key for key in parsed if key.retire_at is not None)
    # A retired key keeps only what verifies: a private key left behind is dropped, never used.
    return KeyRing(signer=signers[0], retired=tuple(replace(key, signing_key=None) for key in retired))


# The key file


Fingerprint = tuple[int, int, int, int]


def _fingerprint(status: os.stat_result) -> Fingerprint:
    return (status.st_dev, status.st_ino, status.st_mtime_ns, status.st_size)


def _read_key_ring_file(path: Path) -> tuple[KeyRing, Fingerprint]:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError as exc:
        raise KeyRingError(
            f"There is no key ring at {path} (JWT_KEYS_FILE): {CREATE_HINT}, or put a key ring in JWT_PRIVATE_KEYS."
        ) from exc
    except PermissionError as exc:
        raise KeyRingError(
            f"The key ring {path} is not readable by this user (uid {os.getuid()}): run rotate_signing_key as "
            "the user that serves the API, or give that user the file (chown)."
        ) from exc
    with os.fdopen(fd, encoding="utf-8") as file:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise KeyRingError(f"The key ring {path} is not a regular file.")
        if status.st_mode & 0o077:
            raise KeyRingError(
                f"The key ring {path} holds private keys but has mode {stat.S_IMODE(status.st_mode):04o}: "
                f"run `chmod 600 {path}`."
            )
        text = file.read()
    return parse_key_ring(text, source=str(path)), _fingerprint(status)


def read_key_ring_file(path: Path) -> KeyRing:
    return _read_key_ring_file(path)[0]


def write_key_ring_file(path: Path, ring: KeyRing) -> None:
    """Replace the file atomically (readers see the old ring or the new one), mode 0600."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # Mode 0600.
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(ring.to_json())
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@contextmanager
def _rotation_lock(path: Path) -> Iterator[None]:
    """Two rotations at once would each retire the same signer; the second waits instead."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path.with_name(f".{path.name}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # Releases the lock.


def rotate_key_ring_file(path: Path, *, algorithm: str, now: datetime, keep_verifying_for: timedelta) -> Rotation:
    with _rotation_lock(path):
        current = read_key_ring_file(path) if path.exists() else None
        rotation = rotate(current, algorithm=algorithm, now=now, keep_verifying_for=keep_verifying_for)
        write_key_ring_file(path, rotation.ring)
    return rotation


# The configured ring


def _load(
    *, algorithm: str, keys_file: Path, private_keys: str, hmac_secret: str
) -> tuple[KeyRing, Fingerprint | None]:
    if algorithm not in ALGORITHMS:
        raise KeyRingError(f"JWT_ALGORITHM={algorithm!r} is not supported: choose one of {', '.join(ALGORITHMS)}.")
    if algorithm == HMAC_ALGORITHM:
        return KeyRing(signer=hmac_key(hmac_secret)), None
    if private_keys:
        ring, fingerprint = parse_key_ring(private_keys, source="JWT_PRIVATE_KEYS"), None
    else:
        ring, fingerprint = _read_key_ring_file(keys_file)
    if ring.signer.algorithm != algorithm:
        raise KeyRingError(
            f"JWT_ALGORITHM={algorithm} but the key ring's signer is {ring.signer.algorithm}: run "
            f"`python manage.py rotate_signing_key` to make a new {algorithm} key the signer."
        )
    return ring, fingerprint


def load_key_ring(*, algorithm: str, keys_file: Path, private_keys: str, hmac_secret: str) -> KeyRing:
    """The ring the settings describe; KeyRingError, naming the fix, if there is no usable signing key."""
    return _load(algorithm=algorithm, keys_file=keys_file, private_keys=private_keys, hmac_secret=hmac_secret)[0]


class KeyRingStore:
    """This process's copy of the key ring. It follows the key file, so a rotation needs no restart."""

    def __init__(self, *, algorithm: str, keys_file: Path, private_keys: str, hmac_secret: str) -> None:
        self._ring, self._fingerprint = _load(
            algorithm=algorithm, keys_file=keys_file, private_keys=private_keys, hmac_secret=hmac_secret
        )
        # Only a ring read from the file can change under us; HS256 and JWT_PRIVATE_KEYS cannot.
        self._path = keys_file if self._fingerprint is not None else None
        self._checked_at = time.monotonic()
        self._lock = threading.Lock()

    def current(self) -> KeyRing:
        if self._path is not None and time.monotonic() - self._checked_at >= RECHECK_SECONDS:
            self.refresh()
        return self._ring

    def verifying_key(self, kid: str) -> SigningKey | None:
        now = datetime.now(UTC)
        key = self.current().verifying_key(kid, now)
        if key is None and self._path is not None:
            # Another process may have rotated a moment ago. Looking costs one stat(); the file is
            # re-read only if it changed, so a flood of made-up kids cannot make us parse keys.
            key = self.refresh().verifying_key(kid, now)
        return key

    def refresh(self) -> KeyRing:
        """Re-read the key file if it changed. A broken file is logged and the last good ring kept."""
        with self._lock:
            self._checked_at = time.monotonic()
            try:
                if _fingerprint(os.stat(self._path)) != self._fingerprint:
                    self._ring, self._fingerprint = _read_key_ring_file(self._path)
                    logger.info("Key ring %s re-read; the signer is %s.", self._path, self._ring.signer.kid)
            except (OSError, KeyRingError):
                logger.exception("Key ring %s could not be re-read; still using the keys read before.", self._path)
        return self._ring


@functools.cache
def key_ring_store() -> KeyRingStore:
    return KeyRingStore(
        algorithm=settings.JWT_ALGORITHM,
        keys_file=Path(settings.JWT_KEYS_FILE),
        private_keys=settings.JWT_PRIVATE_KEYS,
        hmac_secret=settings.JWT_SIGNING_KEY,
    )


@receiver(setting_changed)
def _forget_key_ring(*, setting: str, **kwargs) -> None:
    if setting in {"JWT_ALGORITHM", "JWT_KEYS_FILE", "JWT_PRIVATE_KEYS", "JWT_SIGNING_KEY"}:
        key_ring_store.cache_clear()
