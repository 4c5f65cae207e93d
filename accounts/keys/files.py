"""The key file: read it (refusing a file others could read), replace it atomically, rotate it under a lock."""

import fcntl
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

from accounts.keys.ring import CREATE_HINT, KeyRing, KeyRingError, Rotation, rotate
from accounts.keys.serialisation import parse_key_ring

Fingerprint = tuple[int, int, int, int]


def file_fingerprint(status: os.stat_result) -> Fingerprint:
    return (status.st_dev, status.st_ino, status.st_mtime_ns, status.st_size)


def read_key_ring_file_and_fingerprint(path: Path) -> tuple[KeyRing, Fingerprint]:
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
    return parse_key_ring(text, source=str(path)), file_fingerprint(status)


def read_key_ring_file(path: Path) -> KeyRing:
    return read_key_ring_file_and_fingerprint(path)[0]


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
