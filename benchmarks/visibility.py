"""Visibility at scale, in-process: a project detail, one list page and a full walk of the reader's
list, on one seeded database (issue 10, "visibility flat").

Run with the database in DATABASE_URL (PostgreSQL or SQLite, seeded with `manage.py
seed_benchmark`); `--src` points at another checkout's code to measure it on the same data (the
"before" figures: the grant tables' extra column does not disturb older code, which only reads).

    DATABASE_URL=sqlite:////tmp/100k_5000.sqlite3 .venv/bin/python benchmarks/visibility.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/gh_1m .venv/bin/python benchmarks/visibility.py --src ../main

For each endpoint: the median of `--runs` requests through django.test.Client (no HTTP), the
page or detail query alone (the SQL the request sent, re-run), the query count, and the plan
(EXPLAIN QUERY PLAN on SQLite, EXPLAIN ANALYZE on PostgreSQL) with `--plans`.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit


def timed(fn, runs: int) -> float:
    """Median milliseconds of `runs` calls, after one warm-up call."""
    fn()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(samples), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--walks", type=int, default=3, help="Full walks (pages of 100) to time.")
    parser.add_argument("--plans", action="store_true", help="Print the page and detail plans.")
    args = parser.parse_args()
    sys.path.insert(0, str(args.src.resolve()))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    os.chdir(args.src)
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User
    from accounts.services import session_start
    from api.management.commands.seed_benchmark import READER_EMAIL
    from api.models import Project, ProjectUserObjectPermission

    reader = User.objects.get(email=READER_EMAIL)
    token = session_start(user=reader, ip_address="127.0.0.1", user_agent="visibility-benchmark").access
    client = Client(headers={"Authorization": f"Bearer {token}"})

    def get(path: str) -> dict:
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code, response.content[:300])
        return response.json()

    def page_path(url: str) -> str:
        parts = urlsplit(url)
        return f"{parts.path}?{parts.query}"

    ids = list(
        ProjectUserObjectPermission.objects.filter(user=reader, permission__codename="view_project")
        .order_by("content_object__created_at")
        .values_list("content_object_id", flat=True)
    )
    detail = f"/api/v1/projects/{ids[len(ids) // 2]}/"
    first = get("/api/v1/projects/?page_size=100")
    deep = page_path(first["next"]) if first["next"] else "/api/v1/projects/?page_size=100"
    for _ in range(5):  # page 6 of 100, or the last there is
        page = get(deep)
        if not page["next"]:
            break
        deep = page_path(page["next"])
    endpoints = {
        "detail": detail,
        "page 1 of 20": "/api/v1/projects/",
        "page 1 of 100": "/api/v1/projects/?page_size=100",
        "deep page of 100": deep,
        "page 1 of 20 by name": "/api/v1/projects/?ordering=name",
    }
    out = {
        "vendor": connection.vendor,
        "src": str(args.src),
        "projects": Project.objects.count(),
        "visible": get("/api/v1/projects/?page_size=1") and None,
    }
    table = Project._meta.db_table
    for name, path in endpoints.items():
        get(path)
        with CaptureQueriesContext(connection) as ctx:
            get(path)
        captured = list(ctx.captured_queries)
        sql = next(q["sql"] for q in captured if f'FROM "{table}"' in q["sql"])

        def run_sql(sql=sql):
            with connection.cursor() as cursor:
                cursor.execute(sql)
                cursor.fetchall()

        out[name] = {
            "request_ms": timed(lambda path=path: get(path), args.runs),
            "query_ms": timed(run_sql, args.runs),
            "queries": len(captured),
        }
        if args.plans:
            with connection.cursor() as cursor:
                explain = "EXPLAIN ANALYZE " if connection.vendor == "postgresql" else "EXPLAIN QUERY PLAN "
                cursor.execute(explain + sql)
                out[name]["plan"] = "\n".join(" ".join(str(c) for c in row) for row in cursor.fetchall())

    def walk() -> int:
        path, seen = "/api/v1/projects/?page_size=100", 0
        while path:
            page = get(path)
            seen += len(page["results"])
            path = page_path(page["next"]) if page["next"] else None
        return seen

    out["visible"] = walk()
    started = time.perf_counter()
    for _ in range(args.walks):
        walk()
    out["walk_ms"] = round((time.perf_counter() - started) * 1000 / args.walks, 1)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
