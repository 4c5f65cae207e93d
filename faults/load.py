"""A bounded mixed load on the API, every request and its outcome written to a JSONL journal.

Each client is one user: it signs in, follows its refresh chain, reads `auth/me/`, creates,
patches, shares and lists projects, and logs out now and then (then checks that the ended
session's tokens are refused). Every loop is bounded by a request count and a deadline.
Outcomes are an HTTP status, or "conn" (refused/reset) or "timeout" when no answer came.
"""

import base64
import http.client
import json
import threading
import time
from pathlib import Path

API = "/api/v1"
# A client whose refresh got no definite answer retries once with the same token, as a real
# client would: inside the server's grace window this must return the same pair, not a replay.
RETRY_AFTER = 0.5
PAUSE = 0.02  # Between two requests of one client, so that a few clients cannot saturate 2 cores.


def claims(token: str) -> dict:
    """The payload of a JWT, unverified: the client only needs the ids (jti, sid) for the journal."""
    try:
        payload = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}


def definite(status: int | str) -> bool:
    """An answer that says what happened. 502/503/504 and no answer leave it open."""
    return isinstance(status, int) and status not in (502, 503, 504)


def ok(status: int | str) -> bool:
    return isinstance(status, int) and 200 <= status < 300


class Journal:
    """Append-only JSONL, one line per request, shared by the clients."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()
        # When the last success and the last outage (5xx, no answer) ended: the runner waits on
        # these for a service to recover.
        self.last_ok = 0.0
        self.last_outage = 0.0

    def write(self, entry: dict) -> None:
        line = json.dumps(entry, separators=(",", ":"))
        status = entry.get("status")
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()
            if ok(status):
                self.last_ok = max(self.last_ok, entry["t1"])
            elif not isinstance(status, int) or status >= 500:
                self.last_outage = max(self.last_outage, entry["t1"])

    def recovered_since(self, moment: float) -> bool:
        """A request succeeded after `moment` and after the last outage."""
        with self._lock:
            return self.last_ok > max(moment, self.last_outage)

    def close(self) -> None:
        with self._lock:
            self._file.close()


def read_journal(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as file:
        return [json.loads(line) for line in file if line.strip()]


class Client(threading.Thread):
    def __init__(
        self,
        *,
        index: int,
        port: int,
        user: dict,
        peers: list[str],
        journal: Journal,
        stop: threading.Event,
        deadline: float,
        max_requests: int,
        timeout: float,
    ) -> None:
        super().__init__(name=f"client-{index}", daemon=True)
        self.index = index
        self.port = port
        self.user = user
        self.peers = peers
        self.journal = journal
        self.stop_event = stop
        self.deadline = deadline
        self.max_requests = max_requests
        self.timeout = timeout
        self.sent = 0
        self.access = ""
        self.refresh = ""
        self.projects: list[str] = []
        self.grant_flip = False

    # -- one request ----------------------------------------------------------------------------

    def call(self, op: str, method: str, path: str, body: dict | None = None, token: str = "", **fields) -> tuple:
        """Send one request; journal it with `fields`; return (status, parsed body, journal entry)."""
        self.sent += 1
        request_id = f"c{self.index}-{self.sent}"
        headers = {"Accept": "application/json", "X-Request-ID": request_id, "Connection": "close"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        started = time.time()
        data: dict = {}
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            conn.request(method, API + path, body=payload, headers=headers)
            response = conn.getresponse()
            status: int | str = response.status
            raw = response.read()
            try:
                data = json.loads(raw) if raw else {}
            except ValueError:
                data = {}
        except TimeoutError:
            status = "timeout"
        except (OSError, http.client.HTTPException):
            status = "conn"
        finally:
            conn.close()
        sid = claims(token).get("sid", "") if token else ""
        entry = {
            "t0": started,
            "t1": time.time(),
            "client": self.index,
            "op": op,
            "method": method,
            "path": path,
            "status": status,
            "request_id": request_id,
            "sid": sid,
            **fields,
        }
        return status, data if isinstance(data, dict) else {"results": data}, entry

    def done(self) -> bool:
        return self.stop_event.is_set() or time.time() >= self.deadline or self.sent >= self.max_requests

    # -- the operations -------------------------------------------------------------------------

    def sign_in(self) -> None:
        status, data, entry = self.call(
            "sign_in", "POST", "/auth/token/", {"email": self.user["email"], "password": self.user["password"]}
        )
        if ok(status) and data.get("access"):
            self.access, self.refresh = data["access"], data["refresh"]
            entry["sid"] = claims(self.access).get("sid", "")
            entry["new_jti"] = claims(self.refresh).get("jti", "")
        self.journal.write(entry)

    def refresh_pair(self) -> None:
        presented = self.refresh
        for attempt in range(2):
            status, data, entry = self.call(
                "refresh",
                "POST",
                "/auth/token/refresh/",
                {"refresh": presented},
                presented_jti=claims(presented).get("jti", ""),
                attempt=attempt,
            )
            entry["sid"] = claims(presented).get("sid", "")
            if ok(status) and data.get("refresh"):
                entry["new_jti"] = claims(data["refresh"]).get("jti", "")
                self.access, self.refresh = data["access"], data["refresh"]
            self.journal.write(entry)
            if ok(status) or definite(status):
                if status == 401:
                    self.access = self.refresh = ""  # The session ended (reuse, logout): sign in again.
                return
            if self.done():
                return
            time.sleep(RETRY_AFTER)

    def authed(self, op: str, method: str, path: str, body: dict | None = None, **fields) -> tuple:
        return self.call(op, method, path, body, token=self.access, **fields)

    def me(self) -> None:
        status, _, entry = self.authed("me", "GET", "/auth/me/")
        self.journal.write(entry)
        self.after_authed(status)

    def create_project(self) -> None:
        name = f"p-c{self.index}-{self.sent + 1}"  # Carries the request id: the audit finds its request.
        status, data, entry = self.authed("create", "POST", "/projects/", {"name": name}, name=name)
        if ok(status) and data.get("id"):
            entry["project_id"] = data["id"]
            self.projects.append(data["id"])
        self.journal.write(entry)
        self.after_authed(status)

    def patch_project(self) -> None:
        if not self.projects:
            return
        project = self.projects[-1]
        body = {"description": f"patched by c{self.index} at {time.time():.3f}"}
        status, _, entry = self.authed("patch", "PATCH", f"/projects/{project}/", body, project_id=project)
        self.journal.write(entry)
        self.after_authed(status)

    def share_project(self) -> None:
        if not self.projects or not self.peers:
            return
        project = self.projects[-1]
        peer = self.peers[self.sent % len(self.peers)]
        self.grant_flip = not self.grant_flip
        permissions = ["view", "change"] if self.grant_flip else ["view"]
        status, _, entry = self.authed(
            "share",
            "PUT",
            f"/projects/{project}/permissions/users/{peer}/",
            {"permissions": permissions},
            project_id=project,
            grantee=peer,
        )
        self.journal.write(entry)
        self.after_authed(status)

    def list_projects(self) -> None:
        status, _, entry = self.authed("list", "GET", "/projects/")
        self.journal.write(entry)
        self.after_authed(status)

    def logout(self) -> None:
        access, refresh = self.access, self.refresh
        status, _, entry = self.authed("logout", "POST", "/auth/logout/", {"refresh": refresh})
        self.journal.write(entry)
        if not ok(status):
            self.after_authed(status)
            return
        self.access = self.refresh = ""
        # The ended session's tokens must be refused from now on.
        _, _, entry = self.call("probe_me", "GET", "/auth/me/", token=access)
        self.journal.write(entry)
        _, _, entry = self.call(
            "probe_refresh",
            "POST",
            "/auth/token/refresh/",
            {"refresh": refresh},
            presented_jti=claims(refresh).get("jti"),
        )
        entry["sid"] = claims(refresh).get("sid", "")
        self.journal.write(entry)

    def after_authed(self, status: int | str) -> None:
        if status == 401:  # Access expired or session ended: the refresh decides which.
            self.refresh_pair()

    # -- the loop -------------------------------------------------------------------------------

    def run(self) -> None:
        cycle = [self.me, self.create_project, self.patch_project, self.share_project, self.list_projects]
        rounds = 0
        while not self.done():
            if not self.access:
                self.sign_in()
                if not self.access:
                    time.sleep(0.2)  # The service is down: do not spin.
                    continue
            for step in cycle:
                if self.done() or not self.access:
                    break
                step()
                time.sleep(PAUSE)
            rounds += 1
            if self.access and not self.done():
                self.refresh_pair()
            if self.access and rounds % 6 == 0 and not self.done():
                self.logout()


class Load:
    """N clients against one server, until stopped or out of time or requests."""

    def __init__(
        self, *, port: int, users: list[dict], journal: Journal, seconds: float, max_requests: int, timeout: float
    ) -> None:
        self.stop_event = threading.Event()
        deadline = time.time() + seconds
        ids = [user["id"] for user in users]
        self.clients = [
            Client(
                index=index,
                port=port,
                user=user,
                peers=[peer for peer in ids if peer != user["id"]],
                journal=journal,
                stop=self.stop_event,
                deadline=deadline,
                max_requests=max_requests,
                timeout=timeout,
            )
            for index, user in enumerate(users)
        ]

    def start(self) -> None:
        for client in self.clients:
            client.start()

    def stop(self, wait: float = 30) -> None:
        self.stop_event.set()
        end = time.time() + wait
        for client in self.clients:
            client.join(timeout=max(0.1, end - time.time()))


def probe(port: int, path: str = "/healthz", timeout: float = 2) -> int | str:
    """One unauthenticated GET outside the journal (used to wait for the server)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    except (TimeoutError, OSError, http.client.HTTPException):
        return "conn"
    finally:
        conn.close()
