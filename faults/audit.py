"""After the faults: does the database agree with what the clients were told?

Each check takes the journal (what the clients saw) and a DbState (what was committed) and
returns the violations it found; the checks touch no database, so tests feed them fabricated
states. `load_state` reads a DbState from the private cluster.

A request that got 502/503/504, no answer or a timeout may or may not have been committed:
what it left behind is "ambiguous", reported but not a violation. Every other answer is
definite: a 2xx must be in the database, anything else must have left nothing.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import NamedTuple

from faults.load import definite, ok

OWNER_PERMISSIONS = frozenset({"view_project", "change_project", "delete_project", "share_project"})
# The event a 2xx of each operation writes (permission changes are checked on their own).
EVENT_OF_OP = {"sign_in": "sign_in", "refresh": "refresh", "logout": "logout"}
SUCCESS_EVENTS = {*EVENT_OF_OP.values(), "permission_grant", "permission_revoke"}


class Violation(NamedTuple):
    kind: str
    detail: str


@dataclass
class DbState:
    projects: dict[str, dict] = field(default_factory=dict)  # id -> {"owner": user id, "name": name}
    owner_permissions: dict[str, set[str]] = field(default_factory=dict)  # project id -> owner's codenames
    sessions: dict[str, str | None] = field(default_factory=dict)  # session id -> revoked_at (None: live)
    live_refresh_tokens: dict[str, int] = field(default_factory=dict)  # session id -> unused, unexpired tokens
    events: list[dict] = field(default_factory=list)  # {"type", "request_id"}


@dataclass
class Findings:
    violations: list[Violation] = field(default_factory=list)
    ambiguous: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


def check_projects(journal: list[dict], state: DbState, findings: Findings) -> None:
    """Every 2xx create is in the database; nothing is there that a client was told failed."""
    creates = [entry for entry in journal if entry["op"] == "create"]
    confirmed = {entry["project_id"]: entry for entry in creates if ok(entry["status"]) and entry.get("project_id")}
    by_name = {entry["name"]: entry for entry in creates}
    for project_id, entry in confirmed.items():
        if project_id not in state.projects:
            findings.violations.append(
                Violation(
                    "lost_create",
                    f"project {project_id} answered {entry['status']} ({entry['request_id']}) but is gone",
                )
            )
    for project_id, project in state.projects.items():
        if project_id in confirmed:
            continue
        entry = by_name.get(project["name"])
        if entry is None:
            findings.violations.append(
                Violation("unknown_project", f"project {project_id} ({project['name']}) no client made")
            )
        elif definite(entry["status"]):
            findings.violations.append(
                Violation(
                    "phantom_create",
                    f"project {project_id} exists but its create {entry['request_id']} answered {entry['status']}",
                )
            )
        else:
            findings.ambiguous.append(f"project {project_id}: create {entry['request_id']} answered {entry['status']}")
    findings.counts["projects_confirmed"] = len(confirmed)


def check_owner_permissions(state: DbState, findings: Findings) -> None:
    for project_id in state.projects:
        lacking = OWNER_PERMISSIONS - state.owner_permissions.get(project_id, set())
        if lacking:
            findings.violations.append(
                Violation("owner_permissions", f"project {project_id}: owner lacks {', '.join(sorted(lacking))}")
            )


def check_live_refresh_tokens(state: DbState, findings: Findings) -> None:
    for session_id, live in state.live_refresh_tokens.items():
        if live > 1:
            findings.violations.append(
                Violation("two_live_refresh_tokens", f"session {session_id}: {live} unused tokens")
            )


def check_refresh_reuse(journal: list[dict], grace_seconds: float, findings: Findings) -> None:
    """A refresh token works once; a retry inside the grace window may get the same pair again."""
    accepted: dict[str, list[dict]] = defaultdict(list)
    for entry in journal:
        if entry["op"] in ("refresh", "probe_refresh") and ok(entry["status"]) and entry.get("presented_jti"):
            accepted[entry["presented_jti"]].append(entry)
    for jti, uses in accepted.items():
        if len(uses) < 2:
            continue
        uses.sort(key=lambda entry: entry["t0"])
        apart = uses[-1]["t0"] - uses[0]["t1"]
        if apart > grace_seconds:
            findings.violations.append(
                Violation(
                    "refresh_after_rotation",
                    f"refresh token {jti} accepted {len(uses)} times, {apart:.1f} s apart (grace {grace_seconds} s)",
                )
            )
        if len({entry.get("new_jti") for entry in uses}) > 1:
            findings.violations.append(Violation("forked_refresh", f"refresh token {jti} rotated into different pairs"))


def check_revocations(journal: list[dict], state: DbState, findings: Findings) -> None:
    """A session its client logged out is revoked, and its tokens are refused from then on."""
    logouts = {entry["sid"]: entry for entry in journal if entry["op"] == "logout" and ok(entry["status"])}
    for session_id in logouts:
        if state.sessions.get(session_id, "missing") is None:
            findings.violations.append(
                Violation("logout_not_revoked", f"session {session_id} is live after its logout")
            )
    for entry in journal:
        logout = logouts.get(entry.get("sid", ""))
        if logout and entry["op"] != "sign_in" and entry["t0"] > logout["t1"] and ok(entry["status"]):
            findings.violations.append(
                Violation(
                    "revoked_session_accepted",
                    f"{entry['op']} {entry['request_id']} with a token of logged-out session {entry['sid']}"
                    f" answered {entry['status']}",
                )
            )
    findings.counts["logouts"] = len(logouts)


def check_audit_events(journal: list[dict], state: DbState, findings: Findings) -> None:
    """One audit event per confirmed security action, none for an action the client was told failed."""
    requests = {entry["request_id"]: entry for entry in journal}
    per_request: Counter = Counter()
    for event in state.events:
        if event["type"] in SUCCESS_EVENTS and event.get("request_id"):
            per_request[event["type"], event["request_id"]] += 1
    for (event_type, request_id), count in per_request.items():
        entry = requests.get(request_id)
        if entry is None:
            findings.violations.append(
                Violation("unexplained_event", f"{event_type} event for unknown request {request_id}")
            )
        elif not ok(entry["status"]) and definite(entry["status"]):
            findings.violations.append(
                Violation(
                    "event_for_failed_request",
                    f"{event_type} event for {entry['op']} {request_id}, which answered {entry['status']}",
                )
            )
        elif not ok(entry["status"]):
            findings.ambiguous.append(f"{event_type} event for {request_id}, which answered {entry['status']}")
        if count > 1:  # One request, one action: a grant and a revoke may pair, never repeat.
            findings.violations.append(Violation("duplicate_event", f"{count} {event_type} events for {request_id}"))
    confirmed: Counter = Counter()
    for entry in requests.values():
        if entry["op"] in ("sign_in", "logout") and ok(entry["status"]):
            confirmed[entry["op"]] += 1
            if not per_request[entry["op"], entry["request_id"]]:
                findings.violations.append(
                    Violation("missing_event", f"no {entry['op']} event for {entry['request_id']}, which answered 2xx")
                )
    # A refresh token rotates once, whichever attempt did it: a retry inside the grace window gets
    # the pair an earlier attempt (perhaps one whose answer was lost) made, and writes no event.
    attempts: dict[str, list[dict]] = defaultdict(list)
    for entry in requests.values():
        if entry["op"] == "refresh" and entry.get("presented_jti"):
            attempts[entry["presented_jti"]].append(entry)
    for jti, group in attempts.items():
        if not any(ok(entry["status"]) for entry in group):
            continue
        confirmed["refresh"] += 1
        written = sum(per_request["refresh", entry["request_id"]] for entry in group)
        if written != 1:
            names = ", ".join(entry["request_id"] for entry in group)
            findings.violations.append(
                Violation(
                    "missing_event" if written == 0 else "duplicate_event",
                    f"{written} refresh events for the accepted rotation of {jti} (requests {names})",
                )
            )
    # Not violations, but what a fault cost the clients: sessions ended as replays, and retries.
    findings.counts["refresh_reuse_events"] = sum(1 for event in state.events if event["type"] == "refresh_reuse")
    retries = [entry for entry in requests.values() if entry["op"] == "refresh" and entry.get("attempt")]
    findings.counts["refresh_retries"] = len(retries)
    findings.counts["refresh_retries_ok"] = sum(1 for entry in retries if ok(entry["status"]))
    for event_type in EVENT_OF_OP.values():
        findings.counts[f"{event_type}_confirmed"] = confirmed[event_type]
        findings.counts[f"{event_type}_events"] = sum(1 for event in state.events if event["type"] == event_type)


def audit(journal: list[dict], state: DbState, *, grace_seconds: float) -> Findings:
    findings = Findings()
    check_projects(journal, state, findings)
    check_owner_permissions(state, findings)
    check_live_refresh_tokens(state, findings)
    check_refresh_reuse(journal, grace_seconds, findings)
    check_revocations(journal, state, findings)
    check_audit_events(journal, state, findings)
    return findings


def load_state(conn) -> DbState:
    """Read what the checks need from the cluster (a psycopg connection)."""
    state = DbState()
    for project_id, owner_id, name in conn.execute("SELECT id, owner_id, name FROM api_project"):
        state.projects[str(project_id)] = {"owner": str(owner_id), "name": name}
    rows = conn.execute(
        """SELECT p.id, perm.codename FROM api_project p
           JOIN api_projectuserobjectpermission op ON op.content_object_id = p.id AND op.user_id = p.owner_id
           JOIN auth_permission perm ON perm.id = op.permission_id"""
    )
    for project_id, codename in rows:
        state.owner_permissions.setdefault(str(project_id), set()).add(codename)
    for session_id, revoked_at in conn.execute("SELECT id, revoked_at FROM accounts_authsession"):
        state.sessions[str(session_id)] = revoked_at.isoformat() if revoked_at else None
    rows = conn.execute(
        """SELECT session_id, count(*) FROM accounts_refreshtokenrecord
           WHERE used_at IS NULL AND expires_at > now() GROUP BY session_id"""
    )
    state.live_refresh_tokens = {str(session_id): count for session_id, count in rows}
    state.events = [
        {"type": event_type, "request_id": request_id}
        for event_type, request_id in conn.execute("SELECT type, request_id FROM accounts_securityevent")
    ]
    return state
