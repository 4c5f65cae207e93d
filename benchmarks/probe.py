"""In-process measurements of one seeded database, written as JSON for benchmarks/run.py.

Run with the server's environment (DATABASE_URL, ...). It signs the reader in (the token the load
generator sends), finds the URLs to load (list, a deep page, a detail), counts SQL queries per
request with django.test.Client, times requests and querysets in-process, EXPLAINs the list query
and times the plain guardian path (`get_objects_for_user`) against ours for comparison.
"""

import argparse
import json
import os
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.db.models import QuerySet  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from guardian.shortcuts import get_objects_for_user  # noqa: E402

from accounts.models import User  # noqa: E402
from accounts.services import session_start  # noqa: E402
from api.management.commands.seed_benchmark import ARCHIVIST_EMAIL, READER_EMAIL  # noqa: E402
from api.models import Project, ProjectGroupObjectPermission, ProjectUserObjectPermission  # noqa: E402
from api.selectors import ProjectAccess  # noqa: E402

ORDER = ("-created_at", "-id")
PAGE = 20


def timed(fn: Callable[[], object], runs: int) -> dict:
    """Median and best of `runs` calls, in milliseconds, after one warm-up call."""
    fn()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return {"median_ms": round(statistics.median(samples), 3), "min_ms": round(min(samples), 3), "runs": runs}


def explain_sql(sql: str) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
            return "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
        return "\n".join(" ".join(str(column) for column in row) for row in cursor.fetchall())


def explain_queryset(queryset: QuerySet) -> str:
    if connection.vendor == "postgresql":
        return queryset.explain(analyze=True, buffers=True)
    return queryset.explain()


def reads_every_project(plan: str) -> bool:
    """Whether the plan scans api_project (PostgreSQL: Seq Scan; SQLite: SCAN, even via an index)."""
    table = Project._meta.db_table
    pattern = rf"Seq Scan on {table}\b" if connection.vendor == "postgresql" else rf"SCAN {table}\b"
    return re.search(pattern, plan) is not None


def seq_scans(plan: str) -> list[str]:
    """Tables the plan reads in full (PostgreSQL Seq Scan, SQLite SCAN without an index)."""
    if connection.vendor == "postgresql":
        return sorted(set(re.findall(r"Seq Scan on (\w+)", plan)))
    return sorted(set(re.findall(r"SCAN (\w+)(?!\w| USING)", plan)))


def project_sql(sqls: list[str]) -> str:
    """The SQL that read the page of projects (FROM api_project), not the flags query."""
    table = f'FROM "{Project._meta.db_table}"'
    return next(sql for sql in sqls if table in sql)


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


class Caller:
    """A signed-in user making requests in-process, as the load generator does over HTTP."""

    def __init__(self, email: str, runs: int) -> None:
        self.user = User.objects.get(email=email)
        self.token = session_start(user=self.user, ip_address="127.0.0.1", user_agent="gatehouse-benchmark").access
        self.client = Client(headers={"Authorization": f"Bearer {self.token}"})
        self.runs = runs

    def get(self, path: str) -> dict:
        response = self.client.get(path)
        if response.status_code != 200:
            raise SystemExit(f"GET {path} answered {response.status_code}: {response.content[:300]!r}")
        return response.json()

    def measure(self, path: str) -> dict:
        self.get(path)  # Warm: a process's first request loads content types and the like.
        with CaptureQueriesContext(connection) as ctx:
            self.get(path)
        return {
            "path": path,
            "queries": len(ctx.captured_queries),
            "sql": [query["sql"] for query in ctx.captured_queries],
            "in_process": timed(lambda: self.get(path), self.runs),
        }

    def deep_page(self, first: str, page_number: int) -> tuple[str, int]:
        """Follow `next` from the first page to page `page_number` (or the last one)."""
        path, page, number = first, self.get(first), 1
        while number < page_number and page["next"]:
            path = path_of(page["next"])
            page, number = self.get(path), number + 1
        return path, number

    def list_query_counts(self) -> dict[int, int]:
        """Queries per list request at page sizes 1, 20 and 100: the same for all three."""
        counts = {}
        for size in (1, 20, 100):
            path = f"/api/v1/projects/?page_size={size}"
            self.get(path)
            with CaptureQueriesContext(connection) as ctx:
                self.get(path)
            counts[size] = len(ctx.captured_queries)
        return counts


def visibility_filters(user: User) -> dict[str, Callable[[], QuerySet]]:
    """Ways to ask for the projects `user` may view; each call starts from a fresh user object,
    so guardian's global-permission check is paid as it would be in a request."""

    def fresh() -> User:
        return User.objects.get(pk=user.pk)

    return {
        "gatehouse": lambda: ProjectAccess(fresh()).visible(),
        # The call named in issue 3.
        "guardian": lambda: get_objects_for_user(fresh(), "api.view_project", klass=Project),
        # What DRF's guardian ObjectPermissionsFilter calls: the view's queryset, no global perms.
        "guardian_drf_filter": lambda: get_objects_for_user(
            fresh(), "api.view_project", Project.objects.all(), accept_global_perms=False
        ),
    }


def compare_filters(user: User, detail_id: str, runs: int) -> dict:
    out = {}
    for name, visible in visibility_filters(user).items():
        page = visible().order_by(*ORDER)[:PAGE]
        page_plan = explain_queryset(page)
        out[name] = {
            "page_rows": len(list(page)),
            "page_of_20": timed(lambda visible=visible: list(visible().order_by(*ORDER)[:PAGE]), runs),
            "detail": timed(lambda visible=visible: visible().get(pk=detail_id), runs),
            "page_plan": page_plan,
            "page_plan_reads_every_project": reads_every_project(page_plan),
            "detail_plan": explain_queryset(visible().filter(pk=detail_id)),
        }
    return out


def a_direct_grant(user: User) -> str:
    """A project the user sees through a direct grant, from the middle of their list."""
    ids = list(
        ProjectUserObjectPermission.objects.filter(user=user, permission__codename="view_project")
        .order_by("content_object__created_at")
        .values_list("content_object_id", flat=True)
    )
    return str(ids[len(ids) // 2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=30, help="Timed runs per in-process measurement.")
    parser.add_argument("--deep-page", type=int, default=3, help="Page number of the deep list request.")
    args = parser.parse_args()

    reader = Caller(READER_EMAIL, args.runs)
    first = f"/api/v1/projects/?page_size={PAGE}"
    deep, deep_number = reader.deep_page(first, args.deep_page)
    detail_id = a_direct_grant(reader.user)
    urls = {"me": "/api/v1/auth/me/", "list": first, "deep": deep, "detail": f"/api/v1/projects/{detail_id}/"}
    endpoints = {name: reader.measure(path) for name, path in urls.items()}
    plans = {name: explain_sql(project_sql(endpoints[name]["sql"])) for name in ("list", "deep", "detail")}

    archivist = Caller(ARCHIVIST_EMAIL, args.runs)
    archivist_list = archivist.measure(first)
    archivist_list["plan"] = explain_sql(project_sql(archivist_list["sql"]))

    result = {
        "vendor": connection.vendor,
        "token": reader.token,
        "urls": urls,
        "deep_page_number": deep_number,
        "endpoints": endpoints,
        "list_queries_by_page_size": reader.list_query_counts(),
        "plans": plans,
        "plans_read_every_project": {name: reads_every_project(plan) for name, plan in plans.items()},
        "plans_seq_scans": {name: seq_scans(plan) for name, plan in plans.items()},
        "filters": compare_filters(reader.user, detail_id, args.runs),
        "archivist": {
            "list": archivist_list,
            "filters": compare_filters(archivist.user, a_direct_grant(archivist.user), args.runs),
        },
        "rows": {
            "projects": Project.objects.count(),
            "user_permissions": ProjectUserObjectPermission.objects.count(),
            "group_permissions": ProjectGroupObjectPermission.objects.count(),
        },
    }
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
