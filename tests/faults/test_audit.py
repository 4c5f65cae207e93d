"""The fault suite's auditor: each kind of violation is caught, and a clean run passes.

The journals and database states are made up here; no service is started.
"""

import itertools

import pytest

from faults.audit import OWNER_PERMISSIONS, DbState, audit
from faults.inject import FAULTS
from faults.run import Window, summarize

pytestmark = pytest.mark.django_db  # Only for the shared autouse fixture, which clears the (database) cache.

GRACE = 5
_ids = itertools.count(1)


def request(op: str, status: int | str, t0: float, **fields) -> dict:
    number = next(_ids)
    return {"op": op, "status": status, "t0": t0, "t1": t0 + 0.1, "request_id": f"c0-{number}", "sid": "", **fields}


def clean_run() -> tuple[list[dict], DbState]:
    """One client: signs in, creates and shares a project, refreshes, logs out; all committed."""
    journal = [
        request("sign_in", 200, 1, sid="s1", new_jti="r1"),
        request("create", 201, 2, sid="s1", name="p-1", project_id="P1"),
        request("share", 200, 3, sid="s1", project_id="P1"),
        request("refresh", 200, 4, sid="s1", presented_jti="r1", new_jti="r2"),
        request("logout", 204, 5, sid="s1"),
        request("probe_me", 401, 6, sid="s1"),
        request("probe_refresh", 401, 7, sid="s1", presented_jti="r2"),
    ]
    events = {"sign_in": 0, "permission_grant": 2, "refresh": 3, "logout": 4}
    state = DbState(
        projects={"P1": {"owner": "u1", "name": "p-1"}},
        owner_permissions={"P1": set(OWNER_PERMISSIONS)},
        sessions={"s1": "2026-12-04T15:00:00+00:00"},
        live_refresh_tokens={"s1": 1},
        events=[{"type": kind, "request_id": journal[index]["request_id"]} for kind, index in events.items()],
    )
    return journal, state


def kinds(journal: list[dict], state: DbState) -> set[str]:
    return {violation.kind for violation in audit(journal, state, grace_seconds=GRACE).violations}


def test_clean_run_passes():
    journal, state = clean_run()
    findings = audit(journal, state, grace_seconds=GRACE)
    assert findings.violations == []
    assert findings.ambiguous == []
    assert findings.counts["sign_in_confirmed"] == findings.counts["sign_in_events"] == 1


def test_lost_create_is_a_violation():
    journal, state = clean_run()
    del state.projects["P1"]
    assert "lost_create" in kinds(journal, state)


@pytest.mark.parametrize("status", [500, 400, 403])
def test_project_whose_create_failed_definitely_is_a_violation(status):
    journal, state = clean_run()
    journal.append(request("create", status, 8, sid="s1", name="p-9"))
    state.projects["P9"] = {"owner": "u1", "name": "p-9"}
    state.owner_permissions["P9"] = set(OWNER_PERMISSIONS)
    assert "phantom_create" in kinds(journal, state)


@pytest.mark.parametrize("status", [503, 502, 504, "conn", "timeout"])
def test_project_whose_create_got_no_definite_answer_is_ambiguous_not_a_violation(status):
    journal, state = clean_run()
    journal.append(request("create", status, 8, sid="s1", name="p-9"))
    state.projects["P9"] = {"owner": "u1", "name": "p-9"}
    state.owner_permissions["P9"] = set(OWNER_PERMISSIONS)
    findings = audit(journal, state, grace_seconds=GRACE)
    assert findings.violations == []
    assert len(findings.ambiguous) == 1


def test_project_no_client_made_is_a_violation():
    journal, state = clean_run()
    state.projects["PX"] = {"owner": "u1", "name": "not-from-the-load"}
    state.owner_permissions["PX"] = set(OWNER_PERMISSIONS)
    assert "unknown_project" in kinds(journal, state)


def test_project_without_all_four_owner_permissions_is_a_violation():
    journal, state = clean_run()
    state.owner_permissions["P1"] = {"view_project", "change_project", "delete_project"}
    assert kinds(journal, state) == {"owner_permissions"}


def test_session_with_two_live_refresh_tokens_is_a_violation():
    journal, state = clean_run()
    state.live_refresh_tokens["s1"] = 2
    assert kinds(journal, state) == {"two_live_refresh_tokens"}


def test_refresh_retry_inside_the_grace_window_is_accepted():
    journal, state = clean_run()
    # The same token again 1 s later gets the same pair (its first answer was lost): no new event.
    journal.insert(4, request("refresh", 200, 4.5, sid="s1", presented_jti="r1", new_jti="r2"))
    assert kinds(journal, state) == set()


def test_refresh_retry_gets_the_rotation_its_lost_first_attempt_made():
    journal, state = clean_run()
    # The first attempt timed out after the server rotated (its event is there); the retry got
    # that pair back inside the grace window and wrote nothing.
    journal[3]["status"] = "timeout"
    journal.insert(4, request("refresh", 200, 4.5, sid="s1", presented_jti="r1", new_jti="r2"))
    assert kinds(journal, state) == set()


def test_accepted_refresh_without_any_event_is_a_violation():
    journal, state = clean_run()
    state.events = [event for event in state.events if event["type"] != "refresh"]
    assert kinds(journal, state) == {"missing_event"}


def test_refresh_token_accepted_again_after_the_grace_window_is_a_violation():
    journal, state = clean_run()
    journal.append(request("refresh", 200, 4 + GRACE + 2, sid="s1", presented_jti="r1", new_jti="r2"))
    assert "refresh_after_rotation" in kinds(journal, state)


def test_refresh_token_rotated_into_two_different_pairs_is_a_violation():
    journal, state = clean_run()
    journal.insert(4, request("refresh", 200, 4.5, sid="s1", presented_jti="r1", new_jti="r3"))
    assert "forked_refresh" in kinds(journal, state)


def test_logged_out_session_still_live_is_a_violation():
    journal, state = clean_run()
    state.sessions["s1"] = None
    assert kinds(journal, state) == {"logout_not_revoked"}


def test_token_of_logged_out_session_accepted_is_a_violation():
    journal, state = clean_run()
    journal[5]["status"] = 200  # probe_me after the logout
    assert kinds(journal, state) == {"revoked_session_accepted"}


def test_confirmed_sign_in_without_its_event_is_a_violation():
    journal, state = clean_run()
    state.events = [event for event in state.events if event["type"] != "sign_in"]
    assert kinds(journal, state) == {"missing_event"}


def test_two_events_for_one_request_are_a_violation():
    journal, state = clean_run()
    state.events.append(dict(state.events[0]))
    assert kinds(journal, state) == {"duplicate_event"}


def test_event_for_a_request_that_answered_500_is_a_violation():
    journal, state = clean_run()
    journal.append(request("refresh", 500, 4.2, sid="s1", presented_jti="r9"))
    state.events.append({"type": "refresh", "request_id": journal[-1]["request_id"]})
    assert kinds(journal, state) == {"event_for_failed_request"}


def test_event_for_a_request_without_an_answer_is_ambiguous():
    journal, state = clean_run()
    journal.append(request("sign_in", "conn", 8))
    state.events.append({"type": "sign_in", "request_id": journal[-1]["request_id"]})
    findings = audit(journal, state, grace_seconds=GRACE)
    assert findings.violations == []
    assert len(findings.ambiguous) == 1


def test_event_for_a_request_no_client_sent_is_a_violation():
    journal, state = clean_run()
    state.events.append({"type": "logout", "request_id": "c9-999"})
    assert kinds(journal, state) == {"unexplained_event"}


# The per-fault verdict.


def window() -> Window:
    return Window(FAULTS[0], before=0, start=10, end=20, after_end=30)


def test_fault_recovered_from_passes_and_reports_its_recovery_time():
    requests = [
        request("me", 200, 9),
        request("me", 503, 15),
        request("me", 503, 22),  # Still failing 2 s after the fault ended...
        request("me", 200, 24),  # ...until this one.
    ]
    row = summarize(window(), requests, allow_500=False)
    assert row["verdict"] == "PASS"
    assert row["errors"] == {"503": 2}
    assert row["recovery"] == pytest.approx(4.1)


def test_fault_the_service_should_ride_out_warns_when_throughput_collapses():
    before = [request("me", 200, t) for t in (1, 2, 3, 4, 5, 6, 7, 8)]
    during = [request("me", "timeout", 10.5), request("me", 200, 21)]  # Nothing served until the fault ended.
    idle_sockets = next(fault for fault in FAULTS if fault.name == "idle-sockets")
    row = summarize(Window(idle_sockets, before=0, start=10, end=20, after_end=30), before + during, allow_500=False)
    assert row["served"] == 0
    assert row["verdict"].startswith("WARN")


def test_fault_with_a_500_fails_unless_allowed():
    requests = [request("me", 500, 15), request("me", 200, 21)]
    assert summarize(window(), requests, allow_500=False)["verdict"].startswith("FAIL")
    assert summarize(window(), requests, allow_500=True)["verdict"] == "PASS"


def test_fault_never_recovered_from_fails():
    requests = [request("me", 200, 15), request("me", "conn", 25)]
    row = summarize(window(), requests, allow_500=False)
    assert row["recovery"] is None
    assert row["verdict"].startswith("FAIL")
