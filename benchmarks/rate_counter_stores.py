"""Candidate stores for rate-limit counters on the embedded default (no Redis), measured.

Each candidate counts hits on fixed-window keys, exact across processes. The script runs
`--processes` processes at once, each making `--hits` hits on the same few keys, checks that the
final counts add up (no lost update), and prints the cost of one hit in microseconds:

    .venv/bin/python benchmarks/rate_counter_stores.py [--hits 20000] [--processes 2]

Candidates:
- `main-db upsert`: what Gatehouse did before: one `INSERT ... ON CONFLICT DO UPDATE` in the main
  SQLite database (WAL, synchronous=FULL as Django leaves it), a committed write per request.
- `file sync=OFF|NORMAL|FULL`: the same upsert in a SQLite file of its own, WAL, autocommit.
- `file OFF + flock`: the same, with writers queued on an fcntl lock instead of SQLite's busy
  handler (which sleeps milliseconds between tries when another process holds the write lock).
- `mmap + lockf`: a shared-memory hash table (a mapped file) under an fcntl lock, batching nothing.
- `batched x50`: counts kept in the process and added to the file every 50 hits: cheap, but not
  exact (another worker does not see the unflushed hits), shown for scale only.
The results and the choice are in docs/performance.md ("Per-request cost").
"""

import argparse
import fcntl
import mmap
import multiprocessing
import os
import sqlite3
import struct
import tempfile
import time
import zlib

KEYS = [f"ratelimit:user:{n}:29123456" for n in range(4)]
UPSERT = (
    "INSERT INTO counter (key, count, expires) VALUES (?, 1, ?) "
    "ON CONFLICT (key) DO UPDATE SET count = count + 1 RETURNING count"
)


def sqlite_store(path: str, synchronous: str, flock: bool = False):
    def setup() -> None:
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(
            "CREATE TABLE IF NOT EXISTS counter (key TEXT PRIMARY KEY, count INTEGER NOT NULL, expires REAL NOT NULL)"
        )
        db.close()

    def opener():
        db = sqlite3.connect(path, isolation_level=None, timeout=20)
        db.execute(f"PRAGMA synchronous={synchronous}")
        lock = open(path + ".lock", "a")  # noqa: SIM115 (kept open for the process)

        def hit(key: str) -> int:
            if not flock:
                return db.execute(UPSERT, (key, 0.0)).fetchone()[0]
            # Writers queue on a kernel lock, which wakes the next one at once; SQLite's own busy
            # handler sleeps 1, 2, 5... ms between tries.
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                return db.execute(UPSERT, (key, 0.0)).fetchone()[0]
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

        def total() -> int:
            return db.execute("SELECT COALESCE(SUM(count), 0) FROM counter").fetchone()[0]

        return hit, total

    return setup, opener


def batched_store(path: str, every: int):
    setup, inner = sqlite_store(path, "OFF")

    def opener():
        _, total = inner()
        db = sqlite3.connect(path, isolation_level=None, timeout=20)
        db.execute("PRAGMA synchronous=OFF")
        pending: dict[str, int] = {}

        def hit(key: str) -> int:
            pending[key] = pending.get(key, 0) + 1
            if sum(pending.values()) >= every:
                with db:
                    db.executemany(
                        "INSERT INTO counter (key, count, expires) VALUES (?, ?, 0) "
                        "ON CONFLICT (key) DO UPDATE SET count = count + excluded.count",
                        list(pending.items()),
                    )
                pending.clear()
            return 0

        hit.pending = pending  # What this process has not told the others yet.
        return hit, total

    return setup, opener


SLOTS = 4096
SLOT = struct.Struct("<Q32sq")  # key hash, key (truncated), count


def mmap_store(path: str):
    def setup() -> None:
        with open(path, "wb") as f:
            f.truncate(SLOTS * SLOT.size)

    def opener():
        f = open(path, "r+b")  # noqa: SIM115 (kept open for the process)
        mem = mmap.mmap(f.fileno(), SLOTS * SLOT.size)

        def hit(key: str) -> int:
            raw = key.encode()[:32]
            h = zlib.crc32(raw) | 1
            fcntl.lockf(f, fcntl.LOCK_EX)
            try:
                i = h % SLOTS
                while True:
                    off = i * SLOT.size
                    kh, k, count = SLOT.unpack_from(mem, off)
                    if kh == 0 or (kh == h and k.rstrip(b"\0") == raw):
                        SLOT.pack_into(mem, off, h, raw, count + 1)
                        return count + 1
                    i = (i + 1) % SLOTS
            finally:
                fcntl.lockf(f, fcntl.LOCK_UN)

        def total() -> int:
            return sum(SLOT.unpack_from(mem, i * SLOT.size)[2] for i in range(SLOTS))

        return hit, total

    return setup, opener


def worker(opener, hits: int, start, out) -> None:
    hit, _ = opener()
    start.wait()
    began = time.perf_counter()
    for n in range(hits):
        hit(KEYS[n % len(KEYS)])
    pending = getattr(hit, "pending", None)
    out.put((time.perf_counter() - began, sum(pending.values()) if pending else 0))


def measure(name: str, setup, opener, hits: int, processes: int) -> None:
    setup()
    start = multiprocessing.Barrier(processes)
    out = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=worker, args=(opener, hits, start, out)) for _ in range(processes)]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    _, total = opener()
    counted = total() + sum(unflushed for _, unflushed in results)
    per_hit = max(seconds for seconds, _ in results) / hits * 1e6
    exact = "totals exact" if counted == hits * processes else f"LOST {hits * processes - counted}"
    print(f"{name:<22} {per_hit:8.1f} us/hit per process ({processes} at once)  {exact}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hits", type=int, default=20000)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for sync in ("FULL", "NORMAL", "OFF"):
            label = "main-db upsert (FULL)" if sync == "FULL" else f"file sync={sync}"
            measure(label, *sqlite_store(os.path.join(tmp, f"c-{sync}.sqlite3"), sync), args.hits, args.processes)
        measure(
            "file OFF + flock", *sqlite_store(os.path.join(tmp, "c-L.sqlite3"), "OFF", True), args.hits, args.processes
        )
        measure("mmap + lockf", *mmap_store(os.path.join(tmp, "c.mmap")), args.hits, args.processes)
        measure(
            "batched x50 (inexact)", *batched_store(os.path.join(tmp, "c-b.sqlite3"), 50), args.hits, args.processes
        )


if __name__ == "__main__":
    main()
