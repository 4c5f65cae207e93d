"""The configured ring: the key ring the settings describe, and this process's copy that follows the key file."""

import functools
import logging
import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from accounts.keys.files import Fingerprint, file_fingerprint, read_key_ring_file_and_fingerprint
from accounts.keys.ring import ALGORITHMS, HMAC_ALGORITHM, KeyRing, KeyRingError, SigningKey, hmac_key
from accounts.keys.serialisation import parse_key_ring

# The package's name, as before it was split: log filters on "accounts.keys" keep matching.
logger = logging.getLogger(__package__)

# A worker looks at the key file this often, so a rotation reaches every worker within it. A `kid`
# it does not know sends it to the file at once (re-read only if the file changed).
RECHECK_SECONDS = 5


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
        ring, fingerprint = read_key_ring_file_and_fingerprint(keys_file)
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
                if file_fingerprint(os.stat(self._path)) != self._fingerprint:
                    self._ring, self._fingerprint = read_key_ring_file_and_fingerprint(self._path)
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
