"""The list's page cut (api.selectors.ProjectAccess.visible_page) and the grants' copy of
their project's created_at (api.models.ProjectCreatedAt) that it reads in list order.

The copy is checked against the projects after every path that writes or removes grants, and
every page a caller can reach is compared with the same page cut from the grant tables the slow
way (everything visible, sorted): same rows, same order, same links.
"""

from unittest import mock
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import Group
from django.db.models import F
from django.utils import timezone
from guardian.shortcuts import assign_perm, remove_perm

from accounts.roles import ADMIN, EDITOR, VIEWER
from api import services
from api.models import Project, ProjectGroupObjectPermission, ProjectUserObjectPermission
from api.selectors import VIEW, ProjectAccess, codename
from project.pagination import PageWindow
from tests.api.conftest import bulk_projects, client_for
from tests.helpers import make_team

pytestmark = pytest.mark.django_db

PROJECTS = "/api/v1/projects/"


def assert_copies_match_projects() -> None:
    """Every grant's project_created_at is its project's created_at, and no grant lacks one."""
    for model in (ProjectUserObjectPermission, ProjectGroupObjectPermission):
        rows = model.objects.all()
        assert rows.exclude(project_created_at=F("content_object__created_at")).count() == 0
        assert rows.filter(project_created_at__isnull=True).count() == 0


def slow_visible_ids(user, ordering=("-created_at", "-id"), search=None) -> list[str]:
    """What the user may see, from the grant tables directly, sorted: the reference."""
    group_ids = list(user.groups.values_list("pk", flat=True))
    direct = ProjectUserObjectPermission.objects.filter(user=user, permission__codename=codename(VIEW))
    via = ProjectGroupObjectPermission.objects.filter(group_id__in=group_ids, permission__codename=codename(VIEW))
    ids = set(direct.values_list("content_object_id", flat=True)) | set(via.values_list("content_object_id", flat=True))
    projects = Project.objects.filter(pk__in=ids)
    if search:
        projects = projects.filter(name__icontains=search)
    return [str(pk) for pk in projects.order_by(*ordering).values_list("pk", flat=True)]


def walk(client, url: str) -> tuple[list[str], list[list[str]], list[dict]]:
    """Every id following `next` to the end; then the pages following `previous` back to the
    start; and every page's links."""
    forward, links = [], []
    while url:
        body = client.get(url).json()
        forward += [item["id"] for item in body["results"]]
        links.append({"next": body["next"], "previous": body["previous"]})
        url = body["next"]
    backward = []
    url = links[-1]["previous"]
    while url:
        body = client.get(url).json()
        backward.append([item["id"] for item in body["results"]])
        links.append({"next": body["next"], "previous": body["previous"]})
        url = body["previous"]
    return forward, backward, links


def walk_cut_late(monkeypatch, client, url: str):
    """The same walk with every visible project read before the page is cut (no visible_page)."""

    def everything_visible(self, matching, **window):
        return self.visible().filter(pk__in=matching.values("pk"))

    with monkeypatch.context() as patched:
        patched.setattr(ProjectAccess, "visible_page", everything_visible)
        return walk(client, url)


# --- The copy never drifts ---------------------------------------------------------------------


def test_every_sharing_path_writes_the_projects_created_at(owner, make_member):
    reader = make_member("reader@example.com", VIEWER)
    team = make_team("team")
    access = ProjectAccess(owner)
    project = services.project_create(owner=owner, name="Apollo")
    assert_copies_match_projects()
    services.project_share_with_user(access=access, project=project, user=reader, permissions={"view"})
    services.project_share_with_user(access=access, project=project, user=reader, permissions={"change", "share"})
    services.project_share_with_group(access=access, project=project, group=team, permissions={"change"})
    assert_copies_match_projects()
    services.project_share_with_user(access=access, project=project, user=reader, permissions=set())
    services.project_share_with_group(access=access, project=project, group=team, permissions={"view"})
    assert_copies_match_projects()
    # Writes around the services (guardian's own shortcuts, bulk_create as the fixtures do) too:
    # the model takes the value from the project, whatever the writer passes.
    other = services.project_create(owner=owner, name="Borealis")
    assign_perm(codename("view"), reader, other)
    assign_perm(codename("view"), team, other)
    wrong = timezone.now() - timezone.timedelta(days=9)
    permission_id = ProjectUserObjectPermission.objects.first().permission_id
    [bulk] = bulk_projects(owner, 1)
    ProjectUserObjectPermission.objects.bulk_create(
        [
            ProjectUserObjectPermission(
                user=owner, permission_id=permission_id, content_object=bulk, project_created_at=wrong
            )
        ]
    )
    remove_perm(codename("view"), reader, other)
    assert ProjectUserObjectPermission.objects.count() > 8 and ProjectGroupObjectPermission.objects.count() == 2
    assert_copies_match_projects()
    services.project_delete(project=project, actor=owner)
    assert not ProjectUserObjectPermission.objects.filter(content_object_id=project.pk).exists()
    assert not ProjectGroupObjectPermission.objects.filter(content_object_id=project.pk).exists()
    assert_copies_match_projects()


def test_group_membership_changes_show_at_once_in_lists_and_details(owner, make_member):
    reader = make_member("reader@example.com", VIEWER)
    team = make_team("team")
    shared = bulk_projects(owner, 7, readers=(team,))
    client = client_for(reader)
    assert client.get(PROJECTS).json()["results"] == []
    assert client.get(f"{PROJECTS}{shared[0].pk}/").status_code == 404

    reader.groups.add(team)
    client = client_for(reader)  # A new request: the caller's groups are read once per request.
    assert [p["id"] for p in client.get(PROJECTS).json()["results"]] == slow_visible_ids(reader)
    assert len(slow_visible_ids(reader)) == 7
    assert client.get(f"{PROJECTS}{shared[0].pk}/").status_code == 200

    reader.groups.remove(team)
    assert client.get(PROJECTS).json()["results"] == []
    assert client.get(f"{PROJECTS}{shared[0].pk}/").status_code == 404


# --- Pages cut early are the pages cut late --------------------------------------------------


@pytest.fixture
def crowd(owner, make_member):
    """A reader who sees 37 of 80 projects: direct, through two groups, some through both, with
    runs of equal timestamps and equal names; a stranger's group holds grants on others."""
    reader = make_member("reader@example.com", VIEWER)
    one, two, strangers = (Group.objects.create(name=name) for name in ("one", "two", "strangers"))
    reader.groups.add(one, two)
    with mock.patch("django.utils.timezone.now", return_value=timezone.now()):
        tied = bulk_projects(owner, 9, name="Same {i}", readers=(reader, one))
    direct = bulk_projects(owner, 11, name="Direct {i:02}", readers=(reader,))
    via_one = bulk_projects(owner, 8, name="Same 1", readers=(one,))
    via_two = bulk_projects(owner, 9, name="Two {i}", readers=(two, strangers))
    bulk_projects(owner, 43, name="Same {i}", readers=(strangers,))
    assert len(slow_visible_ids(reader)) == len(tied + direct + via_one + via_two) == 37
    return reader


@pytest.mark.parametrize("ordering", [None, "created_at", "-created_at", "name", "-name", "updated_at", "-updated_at"])
@pytest.mark.parametrize("page_size", [1, 4, 100])
def test_every_page_holds_what_the_slow_cut_holds(crowd, ordering, page_size, monkeypatch):
    query = {"page_size": page_size, **({"ordering": ordering} if ordering else {})}
    order = {None: ("-created_at", "-id")}.get(ordering) or (ordering, ("-" if ordering[0] == "-" else "") + "id")
    client, url = client_for(crowd), f"{PROJECTS}?{urlencode(query)}"

    cut_early = walk(client, url)

    # The same pages and links, backwards too (where DRF's reverse cursors skip rows over runs of
    # equal positions, they skip the same ones either way).
    assert cut_early == walk_cut_late(monkeypatch, client, url)
    assert cut_early[0] == slow_visible_ids(crowd, order)


@pytest.mark.parametrize("search", ["Same", "same 1", "Two", "nothing like it"])
def test_searched_pages_hold_what_the_slow_cut_holds(crowd, search, monkeypatch):
    client, url = client_for(crowd), f"{PROJECTS}?{urlencode({'page_size': 3, 'search': search})}"

    cut_early = walk(client, url)

    assert cut_early == walk_cut_late(monkeypatch, client, url)
    assert cut_early[0] == slow_visible_ids(crowd, search=search)


def test_a_page_is_cut_from_a_few_rows_per_grantee_not_from_all_visible(crowd):
    access = ProjectAccess(crowd)
    window = PageWindow(ordering=("-created_at", "-id"), bound={}, limit=3)

    candidates = access.visible_page(Project.objects.all(), ordering=window.ordering, bound=window.bound, limit=3)

    # The caller and each of their three groups (two teams, the viewer role) bring at most 3.
    assert len(crowd.groups.all()) == 3
    assert 3 <= candidates.count() <= 3 * 4 < len(slow_visible_ids(crowd))
    assert [str(p.pk) for p in candidates.order_by(*window.ordering)[:3]] == slow_visible_ids(crowd)[:3]


def test_an_admin_pages_through_every_project(crowd, make_member):
    admin = make_member("admin@example.com", ADMIN)

    forward, _, _ = walk(client_for(admin), f"{PROJECTS}?page_size=7")

    everything = [str(pk) for pk in Project.objects.order_by("-created_at", "-id").values_list("pk", flat=True)]
    assert forward == everything


def test_an_editor_without_grants_sees_an_empty_list(crowd, make_member):
    editor = make_member("editor@example.com", EDITOR)

    body = client_for(editor).get(PROJECTS).json()

    assert body["results"] == [] and body["next"] is None
