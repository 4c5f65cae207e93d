"""The faults: each breaks one thing while the load runs, then puts it back.

A fault is data (a name, what it breaks, how long it holds) plus two steps, `inject` and
`restore`; the runner times the phases around them.
"""

import contextlib
import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg

from faults.app import WORKERS, Gatehouse
from faults.services import PrivatePostgres, PrivateRedis, wait_until

IDLE_SOCKETS = 12  # More than the workers can hold, whatever the worker class: 8+ asked, 4 workers.


@dataclass
class Stage:
    """What the faults act on, and what they hold while they act (idle sockets, hogged connections)."""

    pg: PrivatePostgres
    redis: PrivateRedis
    app: Gatehouse
    held: list = field(default_factory=list)

    def release(self) -> None:
        while self.held:
            thing = self.held.pop()
            with contextlib.suppress(Exception):  # Closing what a fault broke: nothing left to do.
                thing.close()


@dataclass(frozen=True)
class Fault:
    name: str
    what: str
    inject: Callable[[Stage], None]
    restore: Callable[[Stage], None]
    hold: float  # Seconds between inject and restore, full run; the short run halves it.
    # The database is gone: requests cannot be served (they must answer 503). Without it, the
    # service is expected to keep answering while the fault holds, only slower.
    outage: bool = False


def _workers_back(stage: Stage) -> None:
    wait_until(lambda: len(stage.app.workers()) >= WORKERS, seconds=30, what="gunicorn's workers")


def _kill_worker(stage: Stage) -> None:
    os.kill(stage.app.workers()[0], signal.SIGKILL)


def _open_idle_sockets(stage: Stage) -> None:
    for _ in range(IDLE_SOCKETS):
        stage.held.append(socket.create_connection(("127.0.0.1", stage.app.port), timeout=2))


def _release(stage: Stage) -> None:
    stage.release()


def _exhaust_connections(stage: Stage) -> None:
    """Take every connection slot, then end the app's own connections so that it must ask for one."""
    _fill(stage)
    hog = {conn.info.backend_pid for conn in stage.held}
    # One of ours ends the others: a new connection would find no slot.
    stage.held[0].execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE backend_type = 'client backend' AND NOT (pid = ANY(%s))",
        [list(hog)],
    )
    _fill(stage)  # Take the slots those held, before the app can.


def _fill(stage: Stage) -> None:
    """Open connections until the cluster refuses one."""
    while True:
        try:
            stage.held.append(psycopg.connect(stage.pg.url(), autocommit=True, connect_timeout=3))
        except psycopg.OperationalError:
            return
        if len(stage.held) > 200:
            raise RuntimeError("max_connections is not being enforced on the private cluster")


def _pg_stop(mode: str) -> Callable[[Stage], None]:
    def stop(stage: Stage) -> None:
        stage.pg.stop(mode)

    return stop


def _pg_start(stage: Stage) -> None:
    stage.pg.start()


FAULTS = [
    Fault("pg-fast", "PostgreSQL stopped (pg_ctl -m fast), then started", _pg_stop("fast"), _pg_start, 10, outage=True),
    Fault(
        "pg-immediate",
        "PostgreSQL crashed (pg_ctl -m immediate), then started (crash recovery)",
        _pg_stop("immediate"),
        _pg_start,
        10,
        outage=True,
    ),
    Fault(
        "redis-stop",
        "Redis killed, then a new empty one started",
        lambda s: s.redis.stop(),
        lambda s: s.redis.start(),
        10,
    ),
    Fault(
        "redis-freeze", "Redis frozen (SIGSTOP), then SIGCONT", lambda s: s.redis.freeze(), lambda s: s.redis.thaw(), 10
    ),
    Fault("worker-kill", "one gunicorn worker killed (SIGKILL)", _kill_worker, _workers_back, 2),
    Fault(
        "master-hup",
        "SIGHUP to the gunicorn master (reload)",
        lambda s: s.app.signal_master(signal.SIGHUP),
        _workers_back,
        4,
    ),
    Fault("idle-sockets", f"{IDLE_SOCKETS} idle TCP connections held open", _open_idle_sockets, _release, 20),
    Fault(
        "db-exhaustion",
        "every PostgreSQL connection slot taken, the app's own connections ended",
        _exhaust_connections,
        _release,
        10,
        outage=True,
    ),
]
BY_NAME = {fault.name: fault for fault in FAULTS}


def run_fault(fault: Fault, stage: Stage, *, hold: float) -> tuple[float, float]:
    """Inject, hold, restore; returns (start, end) wall-clock times of the fault."""
    start = time.time()
    try:
        fault.inject(stage)
        time.sleep(hold)
    finally:
        fault.restore(stage)
    return start, time.time()
