"""Key ring serialisation: the JSON document (PEM inside) a key ring is kept in, read and written.

{"keys": [signer with "private_key", retired keys with "public_key" and "retire_at"]}. A lone PEM
private key is accepted too: a ring with just a signer.
"""

import json
from dataclasses import replace
from datetime import datetime
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from accounts.keys.ring import CREATE_HINT, KeyRing, KeyRingError, SigningKey, key_pair


def serialise_key_ring(ring: KeyRing) -> str:
    entries = [_key_entry(ring.signer)] + [_key_entry(key) for key in ring.retired]
    return json.dumps({"keys": entries}, indent=2) + "\n"


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
