"""The private PostgreSQL cluster and Redis the fault suite breaks, each on its own loopback port.

Nothing here touches the shared services on 5432/6379: every process is started by us, into
a temporary directory, and stopped by us.
"""

import glob
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import psycopg

DATABASE = "gatehouse"
PG_USER = "postgres"  # initdb refuses to run as root: the cluster runs as this system user.
MAX_CONNECTIONS = 30  # Low, so that the exhaustion fault can take every slot.


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check, *, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not come up within {seconds:.0f} s")


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(f"No PostgreSQL server binaries found (/usr/lib/postgresql/*/bin/{name}).")
    return found[-1]  # The newest installed version.


class PrivatePostgres:
    """A throwaway cluster: trust authentication, loopback only, max_connections low."""

    def __init__(self, root: Path) -> None:
        self.data = root / "pg"
        self.log = root / "pg.log"
        self.port = free_port()
        self.as_owner = os.geteuid() == 0

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        command = ["runuser", "-u", PG_USER, "--", *argv] if self.as_owner else list(argv)
        return subprocess.run(command, check=check, capture_output=True, text=True, timeout=120)  # noqa: S603

    def init(self) -> None:
        self.data.mkdir(mode=0o700)
        self.log.touch()
        if self.as_owner:
            shutil.chown(self.data, PG_USER, PG_USER)
            shutil.chown(self.log, PG_USER, PG_USER)
            # The cluster user must reach its directory inside our (root-owned) temporary one.
            self.data.parent.chmod(0o711)
        self._run(_pg_bin("initdb"), "-D", str(self.data), "-U", PG_USER, "--auth=trust", "--no-sync", "-E", "UTF8")
        self.start()
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")

    def start(self) -> None:
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} -c max_connections={MAX_CONNECTIONS}"
            f" -c unix_socket_directories={self.data} -c fsync=on"
        )
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def url(self, database: str = DATABASE) -> str:
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/{database}"

    def connect(self, **kwargs) -> psycopg.Connection:
        return psycopg.connect(self.url(), connect_timeout=3, **kwargs)


class PrivateRedis:
    """A throwaway Redis with no persistence, loopback only."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "redis"
        self.log = root / "redis.log"
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.dir.mkdir(exist_ok=True)
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        argv += ["--dir", str(self.dir), "--logfile", str(self.log), "--daemonize", "no"]
        self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL)  # noqa: S603
        wait_until(lambda: port_open(self.port), seconds=10, what="redis-server")

    def stop(self) -> None:
        """Gone at once, as a crash or an operator's SHUTDOWN NOSAVE would leave it."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # A frozen one cannot act on SIGKILL's exit otherwise.
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def freeze(self) -> None:
        if self.process:
            self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        if self.process:
            self.process.send_signal(signal.SIGCONT)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"
