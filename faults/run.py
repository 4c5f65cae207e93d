"""Run the fault suite: private services, Gatehouse in production mode, load, faults, audit, table.

Exits 1 on any durability or leak violation, on any 500 (unless --allow-500), and on a fault
the service did not recover from within its after-phase. Everything started is stopped and the
temporary directory removed on the way out, whatever the way out (Ctrl-C, SIGTERM, an error).
"""

import argparse
import atexit
import json
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from faults import audit, inject
from faults.app import GRACE_SECONDS, Gatehouse
from faults.load import Journal, Load, ok, probe, read_journal
from faults.services import PrivatePostgres, PrivateRedis, wait_until

RECOVERY_WAIT = 30  # Seconds the after-phase may grow while no request has succeeded since the fault.
PROBES = ("probe_me", "probe_refresh")  # Their 401 is the expected answer.


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m faults", description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="CI size: fewer clients, shorter phases (< 3 min).")
    parser.add_argument("--only", action="append", choices=sorted(inject.BY_NAME), help="Run this fault (repeatable).")
    parser.add_argument("--clients", type=int, help="Concurrent clients, one user each (default 8, short 4).")
    parser.add_argument(
        "--seconds-per-phase", type=float, help="Load before and after each fault (default 10, short 4)."
    )
    parser.add_argument("--allow-500", action="store_true", help="Report 500s without failing on them.")
    parser.add_argument("--keep", action="store_true", help="Keep the temporary directory (journal, logs).")
    args = parser.parse_args(argv)
    args.clients = args.clients or (4 if args.short else 8)
    args.seconds_per_phase = args.seconds_per_phase or (4.0 if args.short else 10.0)
    return args


class Cleanup:
    """Stops what was started, once, in reverse order: from finally, atexit, or a signal."""

    def __init__(self) -> None:
        self.steps: list = []
        atexit.register(self.run)
        # SIGINT too: a job started in the background of a script inherits it ignored.
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)  # Unwinds through the finally blocks.

    def add(self, step) -> None:
        self.steps.append(step)

    def run(self) -> None:
        if self.steps:  # A second Ctrl-C must not leave half of it undone; every step is bounded.
            for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                signal.signal(signum, signal.SIG_IGN)
        while self.steps:
            step = self.steps.pop()
            try:
                step()
            except Exception as exc:
                print(f"cleanup: {exc}", file=sys.stderr)


@dataclass
class Window:
    fault: inject.Fault
    before: float
    start: float
    end: float
    after_end: float


def is_outage(status: int | str) -> bool:
    return not isinstance(status, int) or status >= 500


def summarize(window: Window, requests: list[dict], *, allow_500: bool) -> dict:
    """Errors while the fault held and after it; how long after its end requests succeeded again."""
    # A request in flight when the fault began is the fault's: it is the one a kill cuts short.
    seen = [entry for entry in requests if entry["t1"] >= window.start and entry["t0"] < window.after_end]
    errors = Counter(
        str(entry["status"])
        for entry in seen
        if not ok(entry["status"]) and not (entry["op"] in PROBES and entry["status"] == 401)
    )
    outages = [entry for entry in seen if is_outage(entry["status"])]
    recovery: float | None = 0.0
    if outages:
        last = max(entry["t1"] for entry in outages)
        successes = [entry["t1"] for entry in seen if ok(entry["status"]) and entry["t0"] >= last]
        recovery = max(0.0, min(successes) - window.end) if successes else None
    reasons = []
    if errors.get("500") and not allow_500:
        reasons.append(f"{errors['500']} answers were 500")
    if recovery is None:
        reasons.append("no success after the last error")
    # Throughput while the fault held, against the before-phase: answers that were not an outage,
    # per second. A request stuck for the whole hold shows here, not in the errors, until it times out.
    held = [entry for entry in requests if window.start <= entry["t1"] <= window.end]
    baseline = [entry for entry in requests if window.before <= entry["t1"] < window.start]
    rate = sum(1 for entry in held if not is_outage(entry["status"])) / max(window.end - window.start, 0.001)
    usual = sum(1 for entry in baseline if not is_outage(entry["status"])) / max(window.start - window.before, 0.001)
    served = min(rate / usual, 1.0) if usual else 1.0
    latency = statistics.median(entry["t1"] - entry["t0"] for entry in held) if held else 0.0
    warning = ""
    if not window.fault.outage and served < 0.5:
        warning = f"WARN: {served:.0%} of the usual throughput while it held"
    return {
        "fault": window.fault.name,
        "requests": len(seen),
        "errors": dict(sorted(errors.items())),
        "recovery": recovery,
        "served": served,
        "p50": latency,
        "verdict": "FAIL: " + "; ".join(reasons) if reasons else warning or "PASS",
    }


COLUMNS = (("fault", "<14"), ("requests", ">8"), ("errors by status", "<34"), ("served", ">6"), ("p50 s", ">6"))
COLUMNS += (("recovery s", ">10"), ("verdict", ""))


def table(rows: list[dict]) -> str:
    lines = ["  ".join(f"{title:{align}}" for title, align in COLUMNS)]
    for row in rows:
        cells = (
            row["fault"],
            row["requests"],
            ", ".join(f"{status}: {count}" for status, count in row["errors"].items()) or "none",
            f"{row['served']:.0%}",
            f"{row['p50']:.2f}",
            "never" if row["recovery"] is None else f"{row['recovery']:.1f}",
            row["verdict"],
        )
        lines.append("  ".join(f"{cell:{align}}" for cell, (_, align) in zip(cells, COLUMNS, strict=True)))
    return "\n".join(lines)


def app_errors(log: Path, limit: int = 6) -> list[str]:
    """The most frequent ERROR lines of the app's log: where the 500s came from."""
    found: Counter = Counter()
    for line in log.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("level") in ("ERROR", "CRITICAL"):
            cause = (record.get("exc_info") or "").strip().splitlines()[-1:] or [""]
            found[f"{record.get('logger')}: {record.get('message')} | {cause[0][:160]}"] += 1
    return [f"{count:>5} x {text}" for text, count in found.most_common(limit)]


def start_stack(root: Path, cleanup: Cleanup, clients: int) -> tuple[inject.Stage, list[dict]]:
    """The private services and Gatehouse on them, each registered for clean-up as it starts."""
    pg = PrivatePostgres(root)
    cleanup.add(lambda: pg.stop("immediate") if pg.running() else None)
    pg.init()
    redis = PrivateRedis(root)
    cleanup.add(redis.stop)
    redis.start()
    app = Gatehouse(root, database_url=pg.url(), redis_url=redis.url)
    users = app.prepare(clients)
    cleanup.add(app.stop)
    app.start()
    wait_until(lambda: probe(app.port, "/readyz") == 200, seconds=30, what="Gatehouse /readyz")
    stage = inject.Stage(pg=pg, redis=redis, app=app)
    cleanup.add(stage.release)
    return stage, users


def drive(stage: inject.Stage, journal: Journal, plan: list[inject.Fault], holds: dict, phase: float) -> list[Window]:
    """Each fault in turn, with load before, during and after it; returns when each phase was."""
    windows = []
    time.sleep(phase)  # Warm-up: every client signed in before the first fault.
    for fault in plan:
        before = time.time()
        time.sleep(phase)
        print(f"fault {fault.name}: {fault.what}", flush=True)
        start, end = inject.run_fault(fault, stage, hold=holds[fault.name])
        time.sleep(phase)
        # A slow recovery gets time to show, so it is measured rather than called "never".
        deadline = time.time() + RECOVERY_WAIT
        while not journal.recovered_since(end) and time.time() < deadline:
            time.sleep(0.5)
        windows.append(Window(fault, before, start, end, time.time()))
    return windows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = [inject.BY_NAME[name] for name in args.only] if args.only else inject.FAULTS
    phase = args.seconds_per_phase
    holds = {fault.name: fault.hold / 2 if args.short else fault.hold for fault in plan}
    began = time.monotonic()
    cleanup = Cleanup()
    root = Path(tempfile.mkdtemp(prefix="gatehouse-faults-"))
    cleanup.add((lambda: print(f"kept {root}")) if args.keep else (lambda: shutil.rmtree(root, ignore_errors=True)))
    try:
        stage, users = start_stack(root, cleanup, args.clients)
        print(
            f"setup {time.monotonic() - began:.0f} s: PostgreSQL :{stage.pg.port}, Redis :{stage.redis.port}, "
            f"Gatehouse :{stage.app.port}, {args.clients} clients, {phase:g} s per phase",
            flush=True,
        )
        journal = Journal(root / "journal.jsonl")
        cleanup.add(journal.close)
        planned = phase + sum(2 * phase + holds[fault.name] + RECOVERY_WAIT for fault in plan)
        load = Load(
            port=stage.app.port, users=users, journal=journal, seconds=planned + 60, max_requests=100_000, timeout=10
        )
        cleanup.add(load.stop)
        load.start()
        windows = drive(stage, journal, plan, holds, phase)
        load.stop()
        journal.close()

        requests = read_journal(journal.path)
        rows = [summarize(window, requests, allow_500=args.allow_500) for window in windows]
        with stage.pg.connect() as conn:
            findings = audit.audit(requests, audit.load_state(conn), grace_seconds=GRACE_SECONDS)
        report(rows, findings, requests, stage.app.log, began)
        (root / "results.json").write_text(
            json.dumps({"faults": rows, "violations": findings.violations, "counts": findings.counts}, indent=2)
        )
        failed = bool(findings.violations) or any(row["verdict"].startswith("FAIL") for row in rows)
        return 1 if failed else 0
    finally:
        cleanup.run()


def report(rows: list[dict], findings: audit.Findings, requests: list[dict], log: Path, began: float) -> None:
    totals = Counter(str(entry["status"]) for entry in requests)
    print()
    print(table(rows))
    print()
    print(f"requests: {len(requests)} ({', '.join(f'{k}: {v}' for k, v in sorted(totals.items()))})")
    print("audit counts: " + ", ".join(f"{key}={value}" for key, value in sorted(findings.counts.items())))
    print(f"ambiguous (no definite answer, not violations): {len(findings.ambiguous)}")
    for line in findings.ambiguous[:5]:
        print(f"  {line}")
    by_kind = Counter(violation.kind for violation in findings.violations)
    print(f"violations: {len(findings.violations)}" + (f" ({dict(by_kind)})" if by_kind else ""))
    for kind in by_kind:
        for violation in [v for v in findings.violations if v.kind == kind][:3]:
            print(f"  {violation.kind}: {violation.detail}")
    errors = app_errors(log)
    if errors:
        print("most frequent application errors:")
        print("\n".join(errors))
    print(f"total {time.monotonic() - began:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
