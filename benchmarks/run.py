"""Gatehouse benchmark: seed, serve with gunicorn, load with wrk, report. See benchmarks/README.md.

For each size it recreates a throw-away database, migrates and seeds it (manage.py
seed_benchmark) and measures in-process (benchmarks/probe.py: queries per request, EXPLAIN, the
guardian comparison). Then it serves every size at once with gunicorn on loopback and drives
me/, the project list, a deep page of it and a project detail with wrk, endpoint by endpoint,
alternating the sizes so that the figures compared for the 2x target are taken back to back.
It prints a summary and writes it as JSON to benchmarks/results/.

    .venv/bin/python benchmarks/run.py                      # PostgreSQL + Redis, 10k and 100k
    .venv/bin/python benchmarks/run.py --db sqlite --sizes 10000 --duration 5
"""

import argparse
import json
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
BIN = Path(sys.executable).parent
ENDPOINTS = ("me", "list", "deep", "detail")
LABELS = {"me": "GET auth/me/", "list": "GET projects/ (page 1)", "deep": "GET projects/ (deep page)",
          "detail": "GET projects/<id>/"}  # fmt: skip
TARGET_RATIO = 2.0
SOCKET_ERRORS = ("connect", "read", "write", "timeout")
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000], help="Project counts to seed.")
    parser.add_argument("--visible-ratio", type=int, default=200, help="The reader sees 1 in this many projects.")
    parser.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument(
        "--database-url",
        default="postgres://postgres@127.0.0.1:5432/gatehouse_bench",
        help="PostgreSQL server and base name: <name>_<size> is dropped and recreated for each size "
        "(the name must contain 'bench').",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/1", help="Empty: the database cache.")
    parser.add_argument("--port", type=int, default=8123, help="First port; one per size.")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers per server.")
    parser.add_argument("--duration", type=int, default=8, help="Seconds of load per endpoint.")
    parser.add_argument("--warmup", type=int, default=2, help="Seconds of unrecorded load before each run.")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads.")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections.")
    parser.add_argument("--deep-page", type=int, default=3, help="Page number of the deep list request.")
    parser.add_argument("--runs", type=int, default=30, help="Timed runs per in-process measurement.")
    parser.add_argument(
        "--rounds", type=int, default=2, help="Loads per endpoint and size; the least disturbed counts."
    )
    parser.add_argument(
        "--quiet-below", type=float, default=0.15, help="Before a load, wait until the CPUs are at most this busy."
    )
    parser.add_argument("--quiet-timeout", type=int, default=15, help="Seconds to wait for a quiet machine.")
    parser.add_argument(
        "--max-other", type=float, default=0.10, help="Re-run a load whose CPUs went more than this share elsewhere."
    )
    parser.add_argument("--retries", type=int, default=0, help="Re-runs of a load disturbed by other work.")
    return parser.parse_args()


# --- Prerequisites ------------------------------------------------------------------------


def ensure_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk:
        return wrk
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk is missing: installing it with apt-get.", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True, stdout=subprocess.DEVNULL)
        wrk = shutil.which("wrk")
        if wrk:
            return wrk
    sys.exit(
        "wrk (the load generator) is not installed. Install it with `sudo apt-get install -y wrk` "
        "(Debian/Ubuntu), `sudo dnf install wrk` (Fedora) or `brew install wrk` (macOS), then re-run."
    )


def ensure_port_free(port: int) -> None:
    with socket.socket() as sock:
        if sock.connect_ex(("127.0.0.1", port)) == 0:
            sys.exit(f"Port {port} on 127.0.0.1 is already in use: stop that server or pass --port.")


# --- Other work on the machine ------------------------------------------------------------


def cpu_times() -> tuple[int, int] | None:
    """(busy, total) CPU ticks of the whole machine since boot (Linux /proc/stat), None elsewhere."""
    stat = Path("/proc/stat")
    if not stat.exists():
        return None
    user, nice, system, idle, iowait, irq, softirq, steal = map(int, stat.read_text().split()[1:9])
    busy = user + nice + system + irq + softirq + steal
    return busy, busy + idle + iowait


def wait_for_quiet(args: argparse.Namespace) -> float | None:
    """Other work (a test suite, say) shares the CPUs with server and load generator and skews
    every figure: wait a while for it to stop, and return how busy the machine still was."""
    deadline = time.monotonic() + args.quiet_timeout
    while True:
        before = cpu_times()
        if before is None:
            return None
        time.sleep(1)
        after = cpu_times()
        busy = (after[0] - before[0]) / max(1, after[1] - before[1])
        if busy <= args.quiet_below or time.monotonic() > deadline:
            return round(busy, 3)


class CpuAccount:
    """The share of the CPUs that other work took while a load ran: the machine's busy time minus
    that of the gunicorn servers, wrk (a waited child: RUSAGE_CHILDREN), the PostgreSQL backends
    of the bench databases and Redis. Linux only; elsewhere None."""

    def __init__(self, server_pgids: set[int], databases: set[str]) -> None:
        self.server_pgids = server_pgids
        self.databases = databases
        self.tick = os.sysconf("SC_CLK_TCK")
        self.before: tuple | None = None

    def ours(self) -> int:
        ticks = 0
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                stat = (proc / "stat").read_text()
                comm, rest = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()
                mine = int(rest[2]) in self.server_pgids or comm == "redis-server"
                if not mine and comm == "postgres" and self.databases:
                    title = (proc / "cmdline").read_text().replace("\0", " ").split()
                    mine = bool(self.databases.intersection(title))
            except (OSError, ValueError):
                continue  # The process ended while we looked.
            if mine:
                ticks += int(rest[11]) + int(rest[12])
        return ticks

    def children(self) -> int:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return round((usage.ru_utime + usage.ru_stime) * self.tick)

    def start(self) -> None:
        machine = cpu_times()
        self.before = None if machine is None else (machine, self.ours(), self.children())

    def stop(self) -> float | None:
        if self.before is None:
            return None
        (busy0, total0), ours0, children0 = self.before
        (busy1, total1), ours1, children1 = cpu_times(), self.ours(), self.children()
        other = (busy1 - busy0) - (ours1 - ours0) - (children1 - children0)
        return round(max(0, other) / max(1, total1 - total0), 3)


# --- Databases and servers ----------------------------------------------------------------


class Database:
    """A throw-away database for one size, dropped and recreated on every run."""

    def __init__(self, args: argparse.Namespace, size: int) -> None:
        self.vendor = args.db
        self.name: str | None = None
        if self.vendor == "sqlite":
            self.path = ROOT / "var" / f"bench-{size}.sqlite3"
            self.url = f"sqlite:///{self.path}"
            return
        parts = urlsplit(args.database_url)
        self.name = f"{parts.path.lstrip('/')}_{size}"
        if "bench" not in self.name:
            sys.exit(f"Refusing to drop database {self.name!r}: the benchmark's database name must contain 'bench'.")
        self.url = urlunsplit(parts._replace(path=f"/{self.name}"))
        self.admin_url = urlunsplit(parts._replace(path="/postgres"))

    def recreate(self) -> None:
        if self.vendor == "sqlite":
            self.path.parent.mkdir(exist_ok=True)
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            return
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{self.name}"')

    def settle(self) -> None:
        """Write out what seeding left in memory now (PostgreSQL CHECKPOINT): otherwise the
        checkpointer does it during the first load, and that load measures it."""
        if self.vendor != "postgres":
            return
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            try:
                conn.execute("CHECKPOINT")
            except psycopg.errors.InsufficientPrivilege:
                print("   (no CHECKPOINT: the database user may not; the first load may include one)", flush=True)

    def version(self) -> str:
        if self.vendor == "sqlite":
            import sqlite3

            return f"SQLite {sqlite3.sqlite_version}"
        import psycopg

        with psycopg.connect(self.admin_url) as conn:
            return "PostgreSQL " + conn.execute("SHOW server_version").fetchone()[0]


def environment(args: argparse.Namespace, database: Database, keys: dict[str, str]) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "DJANGO_ENV": "development",
        "DJANGO_DEBUG": "0",
        "DATABASE_URL": database.url,
        "REDIS_URL": args.redis_url,
        "CACHE_KEY_PREFIX": "gatehouse-bench",
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        **keys,
        "JWT_ALGORITHM": "HS256",
        "JWT_ACCESS_LIFETIME": "7200",
        "JWT_REFRESH_LIFETIME": "86400",
        # One user sends every request: the per-user limit stays on (its Redis round trip is part
        # of each request's cost) but is raised so that it never answers 429.
        "RATE_LIMIT_USER": "1000000000/minute",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }


def manage(env: dict[str, str], *command: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=False, capture_output=True, text=True
    )
    if done.returncode != 0:
        sys.exit(f"manage.py {' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


class Server:
    """gunicorn in its own process group; the ExitStack in main() stops it on return, on error,
    on Ctrl-C and on SIGTERM."""

    def __init__(self, args: argparse.Namespace, env: dict[str, str], port: int, log: Path) -> None:
        self.port = port
        self.log_path = log
        self.command = [
            str(BIN / "gunicorn"),
            "project.wsgi",
            "--bind", f"127.0.0.1:{port}",
            "--workers", str(args.workers),
            "--log-level", "warning",
        ]  # fmt: skip
        self.env = env
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "Server":
        ensure_port_free(self.port)
        self.log = self.log_path.open("w")
        self.process = subprocess.Popen(
            self.command, cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.fail(f"gunicorn exited at start-up; its log:\n{self.log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        self.fail(f"gunicorn did not answer /healthz within 30 s; its log: {self.log_path}")

    def fail(self, message: str) -> None:
        self.__exit__()  # Not yet on the ExitStack: stop it here.
        sys.exit(message)

    def __exit__(self, *exc_info: object) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


# --- Load ---------------------------------------------------------------------------------


def milliseconds(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * UNITS[unit]


def parse_wrk(output: str) -> dict:
    def find(pattern: str) -> re.Match | None:
        return re.search(pattern, output, re.MULTILINE)

    percentiles = {p: milliseconds(v) for p, v in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)$", output, re.MULTILINE)}
    non_2xx = find(r"Non-2xx or 3xx responses: (\d+)")
    socket_errors = find(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
    return {
        "requests_per_second": float(find(r"^Requests/sec:\s+([\d.]+)").group(1)),
        "requests": int(find(r"^\s+(\d+) requests in").group(1)),
        "p50_ms": percentiles["50"],
        "p75_ms": percentiles["75"],
        "p90_ms": percentiles["90"],
        "p99_ms": percentiles["99"],
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": dict(zip(SOCKET_ERRORS, map(int, socket_errors.groups()), strict=True))
        if socket_errors
        else {},
    }


@dataclass
class Size:
    """One data set: its database, its server and what was measured on it."""

    projects: int
    visible: int
    database: Database
    env: dict[str, str]
    port: int
    seed: dict = field(default_factory=dict)
    probe: dict = field(default_factory=dict)
    token: str = ""
    attempts: dict[str, list[dict]] = field(default_factory=dict)

    def prepare(self, args: argparse.Namespace) -> None:
        print(f"== {self.projects:,} projects, the reader sees {self.visible} ==", flush=True)
        started = time.perf_counter()
        self.database.recreate()
        manage(self.env, "migrate", "--noinput", "--verbosity", "0")
        if not args.redis_url:
            manage(self.env, "createcachetable")
        print(f"   database ready in {time.perf_counter() - started:.1f} s; seeding...", flush=True)
        output = manage(self.env, "seed_benchmark", "--projects", str(self.projects), "--visible", str(self.visible))
        self.seed = json.loads(output.splitlines()[-1])
        print(f"   seeded in {self.seed['seconds']} s; measuring in-process...", flush=True)
        busy = wait_for_quiet(args)
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            subprocess.run(
                [sys.executable, "benchmarks/probe.py", "--out", out.name, "--runs", str(args.runs),
                 "--deep-page", str(args.deep_page)],
                cwd=ROOT, env=self.env, check=True,
            )  # fmt: skip
            self.probe = json.loads(Path(out.name).read_text())
        self.probe["cpu_busy_before"] = busy
        self.token = self.probe.pop("token")

    def best(self, endpoint: str) -> dict:
        """The least disturbed of the loads of `endpoint`: other work only ever makes it slower."""
        return min(self.attempts[endpoint], key=lambda attempt: attempt["other_cpu"] or 0)

    def report(self) -> dict:
        http = {name: {**self.best(name), "attempts": len(self.attempts[name])} for name in ENDPOINTS}
        return {
            "projects": self.projects,
            "visible": self.visible,
            "seed": self.seed,
            "probe": self.probe,
            "http": http,
            "all_attempts": {name: [strip_raw(a) for a in self.attempts[name]] for name in ENDPOINTS},
        }


def strip_raw(attempt: dict) -> dict:
    return {key: value for key, value in attempt.items() if key != "raw"}


def load(wrk: str, args: argparse.Namespace, size: Size, endpoint: str, cpu: CpuAccount) -> None:
    """One endpoint under load; again (up to --retries times) if other work took more than
    --max-other of the CPUs meanwhile, since then the figures measure the neighbour too."""
    url = f"http://127.0.0.1:{size.port}{size.probe['urls'][endpoint]}"
    common = ["-t", str(args.threads), "-c", str(args.connections), "--timeout", "10s"]
    header = ["-H", f"Authorization: Bearer {size.token}"]
    for _ in range(1 + args.retries):
        busy = wait_for_quiet(args)
        print(f"   {size.projects:>9,} {LABELS[endpoint]:<26} {args.duration} s", end="", flush=True)
        if args.warmup:
            subprocess.run([wrk, *common, "-d", f"{args.warmup}s", *header, url], check=True, capture_output=True)
        cpu.start()
        done = subprocess.run(
            [wrk, *common, "-d", f"{args.duration}s", "--latency", *header, url],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        other = cpu.stop()
        result = {**parse_wrk(done.stdout), "raw": done.stdout, "cpu_busy_before": busy, "other_cpu": other}
        size.attempts.setdefault(endpoint, []).append(result)
        print(
            f"  {result['requests_per_second']:7.0f} req/s  p50 {result['p50_ms']:7.2f} ms"
            f"  other work {percent(other)}",
            flush=True,
        )
        if other is None or other <= args.max_other:
            return


# --- Report -------------------------------------------------------------------------------


def machine(database: Database, args: argparse.Namespace, wrk: str) -> dict:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    cpu = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    mem = re.search(r"^MemTotal:\s+(\d+) kB", meminfo, re.MULTILINE)
    import django
    import gunicorn

    info = {
        "cpus": os.cpu_count(),
        "cpu_model": cpu.group(1).strip() if cpu else platform.processor(),
        "memory_gib": round(int(mem.group(1)) / 1024 / 1024, 1) if mem else None,
        "os": platform.platform(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "gunicorn": gunicorn.__version__,
        "database": database.version(),
        "wrk": subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False).stdout.split("\n")[0].strip(),
    }
    if args.redis_url:
        import redis

        info["redis"] = "Redis " + redis.Redis.from_url(args.redis_url).info("server")["redis_version"]
    return info


def percent(share: float | None) -> str:
    return "n/a" if share is None else f"{share:.0%}"


def summarise(results: list[dict], max_other: float) -> tuple[str, dict]:
    lines = [
        f"{'projects':>9} {'endpoint':<26} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'queries':>7} "
        f"{'in-proc ms':>10} {'other cpu':>9}"
    ]
    for result in results:
        for name in ENDPOINTS:
            http, endpoint = result["http"][name], result["probe"]["endpoints"][name]
            lines.append(
                f"{result['projects']:>9,} {LABELS[name]:<26} {http['requests_per_second']:>7.0f} "
                f"{http['p50_ms']:>8.2f} {http['p99_ms']:>8.2f} {endpoint['queries']:>7} "
                f"{endpoint['in_process']['median_ms']:>10.2f} {percent(http['other_cpu']):>9}"
            )
    lines += ["", "Visibility filter alone, a page of 20, in-process median ms (reader / archivist):"]
    for result in results:
        cells = []
        for name in ("gatehouse", "guardian", "guardian_drf_filter"):
            reader = result["probe"]["filters"][name]["page_of_20"]["median_ms"]
            archivist = result["probe"]["archivist"]["filters"][name]["page_of_20"]["median_ms"]
            cells.append(f"{name} {reader:.2f} / {archivist:.2f}")
        lines.append(f"{result['projects']:>9,}  " + "   ".join(cells))
        for name, scans in result["probe"]["plans_seq_scans"].items():
            every = result["probe"]["plans_read_every_project"][name]
            verdict = "READS EVERY PROJECT" if every else "api_project by index"
            lines.append(f"{'':>9}  {name} query plan: {verdict}; full scans of: {', '.join(scans) or 'none'}")

    target = {}
    if len(results) >= 2:
        small, large = results[0], results[-1]
        lines += ["", f"Target: p50 at {large['projects']:,} within {TARGET_RATIO:g}x of p50 at {small['projects']:,}"]
        for name in ("list", "deep", "detail"):
            ratio = large["http"][name]["p50_ms"] / small["http"][name]["p50_ms"]
            others = [small["http"][name]["other_cpu"], large["http"][name]["other_cpu"]]
            disturbed = any(other is not None and other > max_other for other in others)
            target[name] = {"ratio": round(ratio, 2), "holds": ratio <= TARGET_RATIO, "disturbed": disturbed}
            verdict = "holds" if ratio <= TARGET_RATIO else "MISSED"
            if disturbed:
                verdict += f" (unreliable: other work took {percent(others[0])} and {percent(others[1])} of the CPUs)"
            lines.append(f"  {LABELS[name]:<26} {ratio:5.2f}x  {verdict}")
    return "\n".join(lines), target


def main() -> None:
    args = parse_args()
    wrk = ensure_wrk()
    RESULTS.mkdir(exist_ok=True)
    # Throw-away keys for this run: the benchmark never touches the developer's var/ secrets.
    keys = {"SECRET_KEY": secrets.token_urlsafe(50), "JWT_SIGNING_KEY": secrets.token_urlsafe(50)}
    sizes = []
    for index, projects in enumerate(sorted(set(args.sizes))):
        database = Database(args, projects)
        sizes.append(
            Size(
                projects=projects,
                visible=max(1, projects // args.visible_ratio),
                database=database,
                env=environment(args, database, keys),
                port=args.port + index,
            )
        )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # Unwind the ExitStack: stop the servers.
    started = time.perf_counter()
    for size in sizes:
        size.prepare(args)
    for size in sizes:
        size.database.settle()

    print("== load (wrk) ==", flush=True)
    with ExitStack() as stack:
        servers = [
            stack.enter_context(Server(args, size.env, size.port, RESULTS / f"gunicorn-{size.projects}.log"))
            for size in sizes
        ]
        cpu = CpuAccount({server.process.pid for server in servers}, {s.database.name for s in sizes} - {None})
        for _ in range(args.rounds):
            for endpoint in ENDPOINTS:
                for size in sizes:
                    load(wrk, args, size, endpoint, cpu)

    results = [size.report() for size in sizes]
    table, target = summarise(results, args.max_other)
    errors = {
        f"{result['projects']}/{name}": attempt["non_2xx"]
        for result in results
        for name in ENDPOINTS
        for attempt in result["all_attempts"][name]
        if attempt["non_2xx"]
    }
    report = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join([os.path.relpath(sys.executable, ROOT), *sys.argv]),
        "settings": {key: value for key, value in vars(args).items() if key != "database_url"},
        "machine": machine(sizes[0].database, args, wrk),
        "results": results,
        "target": target,
        "errors": errors,
        "seconds": round(time.perf_counter() - started, 1),
    }
    path = RESULTS / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{args.db}.json"
    path.write_text(json.dumps(report, indent=2))
    print("\n" + table)
    print(f"\nMachine: {json.dumps(report['machine'])}")
    print(f"Results: {path.relative_to(ROOT)} ({report['seconds']} s in all)")
    if errors:
        sys.exit(f"Some responses were not 2xx: {errors}")


if __name__ == "__main__":
    main()
