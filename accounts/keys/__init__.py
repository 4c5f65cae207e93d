"""Signing keys: the key ring that signs and verifies tokens, kept outside the database.

With EdDSA, ES256 or RS256 the ring is a file (JWT_KEYS_FILE, mode 0600) or the environment variable
JWT_PRIVATE_KEYS: one signer, which alone keeps its private key, and the public halves of retired
keys until `retire_at`, when every token they signed has expired. With HS256 the ring is the one
secret JWT_SIGNING_KEY. Every key is named by its RFC 7638 thumbprint, the `kid` of its tokens.

One module per concern: ring (keys, the ring, rotation), serialisation (the JSON/PEM document),
files (the key file), store (the configured ring this process uses). Importing the package imports
store, which connects its setting_changed receiver once.

project/settings.py imports this package to refuse a start without a usable key, so it imports no
models, DRF or simplejwt.
"""

from accounts.keys.files import read_key_ring_file, rotate_key_ring_file, write_key_ring_file
from accounts.keys.ring import (
    ALGORITHMS,
    HMAC_ALGORITHM,
    KEY_PAIR_ALGORITHMS,
    KID_PATTERN,
    KeyRing,
    KeyRingError,
    Rotation,
    SigningKey,
    generate_key,
    hmac_key,
    jwk_thumbprint,
    key_pair,
    rotate,
)
from accounts.keys.serialisation import parse_key_ring
from accounts.keys.store import RECHECK_SECONDS, KeyRingStore, key_ring_store, load_key_ring

# RECHECK_SECONDS is here to be read; a test that changes it patches accounts.keys.store, where it is read.
__all__ = [
    "ALGORITHMS",
    "HMAC_ALGORITHM",
    "KEY_PAIR_ALGORITHMS",
    "KID_PATTERN",
    "RECHECK_SECONDS",
    "KeyRing",
    "KeyRingError",
    "KeyRingStore",
    "Rotation",
    "SigningKey",
    "generate_key",
    "hmac_key",
    "jwk_thumbprint",
    "key_pair",
    "key_ring_store",
    "load_key_ring",
    "parse_key_ring",
    "read_key_ring_file",
    "rotate",
    "rotate_key_ring_file",
    "write_key_ring_file",
]
