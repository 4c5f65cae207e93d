"""Teams: marking a group shareable, and deleting groups, through the api services."""

import pytest
from django.contrib.auth.models import Group

from accounts.models import SecurityEvent
from accounts.roles import EDITOR
from api import services
from api.models import ShareableGroup
from api.selectors import ProjectAccess
from project.errors import Invalid, Refused

pytestmark = pytest.mark.django_db


def test_can_mark_a_group_shareable_and_back(roles):
    group = Group.objects.create(name="writers")

    services.group_set_shareable(group=group, shareable=True, actor=None)
    assert list(services.shareable_groups()) == [group]
    services.group_set_shareable(group=group, shareable=False, actor=None)

    assert not ShareableGroup.objects.exists()
    shareable = [e.detail["shareable"] for e in SecurityEvent.objects.order_by("created_at")]
    assert shareable == [True, False]


def test_marking_twice_records_one_event(roles):
    group = Group.objects.create(name="writers")

    services.group_set_shareable(group=group, shareable=True, actor=None)
    services.group_set_shareable(group=group, shareable=True, actor=None)

    assert SecurityEvent.objects.count() == 1


def test_cannot_mark_a_role_shareable(roles):
    with pytest.raises(Invalid):
        services.group_set_shareable(group=roles[EDITOR], shareable=True, actor=None)

    assert not ShareableGroup.objects.exists()


def test_cannot_delete_a_role_without_being_a_superuser(roles, make_member):
    staff = make_member("staff@example.com", "admin", is_staff=True)

    with pytest.raises(Refused):
        services.group_delete(group=roles[EDITOR], actor=staff)

    assert Group.objects.filter(name=EDITOR).exists()


def test_cannot_delete_a_group_holding_grants(project, owner, team):
    with pytest.raises(Refused):
        services.group_delete(group=team, actor=None)

    assert Group.objects.filter(pk=team.pk).exists()


def test_can_delete_a_group_once_its_grants_are_revoked(project, owner, team):
    services.project_share_with_group(access=ProjectAccess(owner), project=project, group=team, permissions=set())

    services.group_delete(group=team, actor=None)

    assert not Group.objects.filter(pk=team.pk).exists()


def test_cannot_unmark_a_team_that_holds_grants(project, owner, team):
    with pytest.raises(Refused):
        services.group_set_shareable(group=team, shareable=False, actor=None)

    assert ShareableGroup.objects.filter(group=team).exists()
