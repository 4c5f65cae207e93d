"""Rate-limit counters in a SQLite file of their own, for the embedded default (no REDIS_URL).

Exact across the gunicorn workers of one machine: each hit is one atomic upsert
(`INSERT ... ON CONFLICT DO UPDATE ... RETURNING`) under SQLite's write lock, so concurrent
workers never lose a count. The file is not the main database, so a GET writes nothing there.

The file runs in WAL mode with `synchronous=OFF`: a commit is a write into the WAL, with no
fsync. A crash of the process loses nothing; a crash of the machine may lose the last counts,
which at worst restarts the current windows early. That is the trade Redis makes too (it does not
fsync each INCR), and it makes a hit cost microseconds instead of a disk flush
(docs/performance.md, "Per-request cost", has the measurements).

Windows that have ended are deleted by whichever process first notices, at most once a minute.
"""

import os
import sqlite3
import threading
import time
from pathlib import Path

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS counter ("
    "key TEXT PRIMARY KEY, count INTEGER NOT NULL, expires REAL NOT NULL) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS counter_expires ON counter (expires)",
)
HIT = (
    "INSERT INTO counter (key, count, expires) VALUES (?, 1, ?) "
    "ON CONFLICT (key) DO UPDATE SET count = count + 1 RETURNING count"
)
PRUNE_EVERY = 60.0  # Seconds.
BUSY_TIMEOUT = 5.0  # Seconds a hit waits for another worker's write (each takes microseconds).


class CounterFile:
    """Fixed-window counters in one SQLite file, shared by every process that opens it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()  # One connection per thread (gthread workers) and process.
        self._next_prune = 0.0

    def _connection(self) -> sqlite3.Connection:
        pid, connection = getattr(self._local, "opened", (None, None))
        if pid != os.getpid():  # Never a connection inherited across fork.
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=OFF")
            for statement in SCHEMA:
                connection.execute(statement)
            self._local.opened = (os.getpid(), connection)
        return connection

    def hit(self, key: str, expires: float) -> int:
        """Count one hit on `key` (a window ending at the Unix time `expires`): the count so far."""
        connection = self._connection()
        (count,) = connection.execute(HIT, (key, expires)).fetchone()
        now = time.time()
        if now >= self._next_prune:
            self._next_prune = now + PRUNE_EVERY
            connection.execute("DELETE FROM counter WHERE expires < ?", (now,))
        return count

    def count(self, key: str) -> int:
        row = self._connection().execute("SELECT count FROM counter WHERE key = ?", (key,)).fetchone()
        return row[0] if row else 0

    def clear(self, prefix: str) -> None:
        """Forget every counter whose key starts with `prefix` (tests: this run's keys only)."""
        self._connection().execute("DELETE FROM counter WHERE substr(key, 1, ?) = ?", (len(prefix), prefix))
