"""Seed a benchmark data set: many projects, and one reader who can see a few of them.

`benchmarks/run.py` runs this on a fresh database. The shape follows issue 3 ("Storage and
speed"): N projects owned by a filler user who holds the creator's four permissions on each (so
the user permission table is ~4x the project count), a team group that can view every tenth
project, and a reader who sees `--visible` of them, spread evenly over creation time: most through
direct grants, every fifth through a group the reader belongs to. A second reader, the archivist,
sees the `--visible` oldest projects: the case where a filter that walks the projects in list order
(guardian's) must read almost the whole table to fill a page.
"""

import json
import random
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, models, transaction

from accounts import roles
from accounts.models import User
from api.models import Project, ProjectGroupObjectPermission, ProjectUserObjectPermission
from api.selectors import PROJECT_PERMISSIONS, codename

OWNER_EMAIL = "bench-owner@example.com"
READER_EMAIL = "bench-reader@example.com"
ARCHIVIST_EMAIL = "bench-archivist@example.com"
READERS_GROUP = "bench-readers"  # The reader is a member: the group path of visibility.
TEAM_GROUP = "bench-team"  # The reader is not: group rows that must not leak into the reader's list.
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
TEAM_EVERY = 10
GROUP_SHARE_EVERY = 5


@contextmanager
def explicit_timestamps() -> Iterator[None]:
    """Let bulk_create keep the timestamps we set: `auto_now(_add)` would give every row the
    same instant, and the list's keyset order (-created_at, -id) would then be random."""
    fields = [Project._meta.get_field("created_at"), Project._meta.get_field("updated_at")]
    saved = [(field.auto_now, field.auto_now_add) for field in fields]
    for field in fields:
        field.auto_now = field.auto_now_add = False
    try:
        yield
    finally:
        for field, (auto_now, auto_now_add) in zip(fields, saved, strict=True):
            field.auto_now, field.auto_now_add = auto_now, auto_now_add


class Command(BaseCommand):
    help = "Seed N projects and a reader who sees a few of them (benchmarks/run.py). Not in production."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--projects", type=int, default=10_000, help="Projects to create (default 10000).")
        parser.add_argument(
            "--visible", type=int, default=None, help="Projects the reader can see (default: projects / 200)."
        )
        parser.add_argument("--batch-size", type=int, default=5_000)
        parser.add_argument("--seed", type=int, default=3, help="Random seed for the ids (reproducible data).")

    def handle(self, *args, projects: int, visible: int | None, batch_size: int, seed: int, **options) -> None:
        if settings.PRODUCTION:
            raise CommandError("seed_benchmark writes throw-away data: not in production.")
        visible = projects // 200 if visible is None else visible
        if not 0 < visible <= projects:
            raise CommandError(f"--visible must be between 1 and --projects ({projects}); got {visible}.")
        started = time.perf_counter()
        existing = User.objects.filter(email=OWNER_EMAIL).first()
        if existing is not None:
            count = existing.owned_projects.count()
            if count != projects:
                raise CommandError(
                    f"This database already holds a benchmark seed of {count} projects. Seed a fresh database "
                    "(benchmarks/run.py drops and recreates its own) or ask for the same size."
                )
            self.stdout.write(json.dumps({"projects": count, "already_seeded": True}))
            return
        rng = random.Random(seed)  # noqa: S311 (reproducible ids, not secrets)
        with transaction.atomic():
            if connection.vendor == "postgresql":
                summary = self._seed_in_sql(projects=projects, visible=visible, seed=seed)
            else:
                summary = self._seed(projects=projects, visible=visible, batch_size=batch_size, rng=rng)
        self._analyze()
        summary["seconds"] = round(time.perf_counter() - started, 2)
        self.stdout.write(json.dumps(summary))

    def _people(self) -> tuple[User, User, User, Group, Group, dict[str, Permission]]:
        groups = roles.role_groups()
        owner = User.objects.create_user(email=OWNER_EMAIL, display_name="Benchmark owner")
        owner.groups.add(groups[roles.EDITOR])
        # The big team group is the older one (the lower id), as big groups tend to be: a plan that
        # walks the group permission rows in group order must then pass all of its rows first.
        team, _ = Group.objects.get_or_create(name=TEAM_GROUP)
        readers, _ = Group.objects.get_or_create(name=READERS_GROUP)
        reader = User.objects.create_user(email=READER_EMAIL, display_name="Benchmark reader")
        reader.groups.add(groups[roles.VIEWER], readers)
        archivist = User.objects.create_user(email=ARCHIVIST_EMAIL, display_name="Benchmark archivist")
        archivist.groups.add(groups[roles.VIEWER])
        perms = {
            name: Permission.objects.get(content_type__app_label="api", codename=codename(name))
            for name in PROJECT_PERMISSIONS
        }
        return owner, reader, archivist, team, readers, perms

    def _seed_in_sql(self, *, projects: int, visible: int, seed: int) -> dict:
        """The same data set written by PostgreSQL itself (INSERT ... SELECT over generate_series):
        a million projects in minutes instead of the better part of an hour. Ids are md5 of the
        seed and the row number; the grants' project_created_at copy is written explicitly (these
        inserts bypass the model) and checked against the projects at the end."""
        owner, reader, archivist, team, readers, perms = self._people()
        step = projects // visible
        project = Project._meta.db_table
        user_grants = ProjectUserObjectPermission._meta.db_table
        group_grants = ProjectGroupObjectPermission._meta.db_table
        # i: the row number; k: the reader's k-th visible project (i = k * step + step // 2).
        rows = (
            "SELECT i, md5(%(seed)s || '-' || i)::uuid AS id, %(epoch)s::timestamptz + i * interval '1 minute' AS at,"
            " (i - %(half)s) / %(step)s AS k, (i - %(half)s) %% %(step)s = 0 AND i >= %(half)s"
            " AND (i - %(half)s) / %(step)s < %(visible)s AS seen FROM generate_series(0, %(n)s - 1) AS i"
        )
        args = {
            "seed": str(seed),
            "epoch": EPOCH,
            "half": step // 2,
            "step": step,
            "visible": visible,
            "n": projects,
            "owner": owner.pk,
            "reader": reader.pk,
            "archivist": archivist.pk,
            "team": team.pk,
            "readers": readers.pk,
            "view": perms["view"].pk,
            "change": perms["change"].pk,
            "all": [perm.pk for perm in perms.values()],
            "team_every": TEAM_EVERY,
            "group_every": GROUP_SHARE_EVERY,
        }
        statements = [
            f"INSERT INTO {project} (id, name, description, owner_id, created_at, updated_at)"  # noqa: S608  # nosec B608 (our tables)
            f" SELECT id, 'Project ' || lpad(i::text, 6, '0'), 'Benchmark project number ' || i || '.', %(owner)s, at,"
            f" at FROM ({rows}) AS r",
            f"INSERT INTO {user_grants} (user_id, permission_id, content_object_id, project_created_at)"  # noqa: S608  # nosec B608 (our tables)
            f" SELECT %(owner)s, perm, id, at FROM ({rows}) AS r, unnest(%(all)s::int[]) AS perm",
            f"INSERT INTO {user_grants} (user_id, permission_id, content_object_id, project_created_at)"  # noqa: S608  # nosec B608 (our tables)
            f" SELECT %(archivist)s, %(view)s, id, at FROM ({rows}) AS r WHERE i < %(visible)s",
            f"INSERT INTO {group_grants} (group_id, permission_id, content_object_id, project_created_at)"  # noqa: S608  # nosec B608 (our tables)
            f" SELECT %(team)s, %(view)s, id, at FROM ({rows}) AS r WHERE i %% %(team_every)s = 0",
            f"INSERT INTO {group_grants} (group_id, permission_id, content_object_id, project_created_at)"  # noqa: S608  # nosec B608 (our tables)
            f" SELECT %(readers)s, %(view)s, id, at FROM ({rows}) AS r"
            f" WHERE seen AND k %% %(group_every)s = %(group_every)s - 1",
            f"INSERT INTO {user_grants} (user_id, permission_id, content_object_id, project_created_at)"  # noqa: S608  # nosec B608 (our tables)
            f" SELECT %(reader)s, perm, id, at FROM ({rows}) AS r,"
            f" unnest(CASE WHEN k %% 3 = 0 THEN ARRAY[%(view)s, %(change)s] ELSE ARRAY[%(view)s] END) AS perm"
            f" WHERE seen AND k %% %(group_every)s <> %(group_every)s - 1",
        ]
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement, args)  # nosec B608 (table names from our models, values as parameters)
        user_rows = ProjectUserObjectPermission.objects
        group_rows = ProjectGroupObjectPermission.objects
        for rows_of in (user_rows, group_rows):
            stale = rows_of.exclude(project_created_at=models.F("content_object__created_at")).count()
            if stale:
                raise CommandError(f"{stale} grants' project_created_at differ from their project's created_at.")
        return {
            "projects": projects,
            "visible": visible,
            "reader": READER_EMAIL,
            "archivist": ARCHIVIST_EMAIL,
            "user_permissions": user_rows.count(),
            "group_permissions": group_rows.count(),
            "reader_direct": user_rows.filter(user=reader, permission=perms["view"]).count(),
            "reader_via_group": group_rows.filter(group=readers).count(),
        }

    def _seed(self, *, projects: int, visible: int, batch_size: int, rng: random.Random) -> dict:
        owner, reader, archivist, team, readers, perms = self._people()
        view, change = perms["view"], perms["change"]

        step = projects // visible
        visible_at = {k * step + step // 2: k for k in range(visible)}
        counts = {"user_permissions": 0, "group_permissions": 0, "reader_direct": 0, "reader_via_group": 0}
        with explicit_timestamps():
            for start in range(0, projects, batch_size):
                batch = []
                for i in range(start, min(start + batch_size, projects)):
                    at = EPOCH + timedelta(minutes=i)
                    batch.append(
                        Project(
                            id=uuid.UUID(int=rng.getrandbits(128), version=4),
                            name=f"Project {i:06d}",
                            description=f"Benchmark project number {i}.",
                            owner=owner,
                            created_at=at,
                            updated_at=at,
                        )
                    )
                Project.objects.bulk_create(batch)
                user_rows = [
                    ProjectUserObjectPermission(user=owner, permission=perm, content_object=project)
                    for project in batch
                    for perm in perms.values()
                ]
                group_rows = []
                for i, project in enumerate(batch, start=start):
                    if i < visible:
                        user_rows.append(
                            ProjectUserObjectPermission(user=archivist, permission=view, content_object=project)
                        )
                    if i % TEAM_EVERY == 0:
                        group_rows.append(
                            ProjectGroupObjectPermission(group=team, permission=view, content_object=project)
                        )
                    k = visible_at.get(i)
                    if k is None:
                        continue
                    if k % GROUP_SHARE_EVERY == GROUP_SHARE_EVERY - 1:
                        group_rows.append(
                            ProjectGroupObjectPermission(group=readers, permission=view, content_object=project)
                        )
                        counts["reader_via_group"] += 1
                    else:
                        granted = [view, change] if k % 3 == 0 else [view]
                        user_rows += [
                            ProjectUserObjectPermission(user=reader, permission=perm, content_object=project)
                            for perm in granted
                        ]
                        counts["reader_direct"] += 1
                ProjectUserObjectPermission.objects.bulk_create(user_rows, batch_size=batch_size)
                ProjectGroupObjectPermission.objects.bulk_create(group_rows, batch_size=batch_size)
                counts["user_permissions"] += len(user_rows)
                counts["group_permissions"] += len(group_rows)
        return {
            "projects": projects,
            "visible": visible,
            "reader": READER_EMAIL,
            "archivist": ARCHIVIST_EMAIL,
            **counts,
        }

    def _analyze(self) -> None:
        """Fresh statistics (and, on PostgreSQL, a visibility map for index-only scans), as
        autovacuum would have made them on a database that grew to this size."""
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                for table in (
                    Project._meta.db_table,
                    ProjectUserObjectPermission._meta.db_table,
                    ProjectGroupObjectPermission._meta.db_table,
                ):
                    cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(table)}")
                cursor.execute("ANALYZE")
            else:
                cursor.execute("ANALYZE")
