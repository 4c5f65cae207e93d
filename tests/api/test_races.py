"""Concurrent writes through the services: each pair serialises and leaves a state one of them
alone could have left. Threads with their own connections, on SQLite and on PostgreSQL."""

import threading
from collections.abc import Callable

import pytest
from django.db import connection

from accounts import services as account_services
from accounts.models import User
from accounts.roles import ADMIN, EDITOR
from api import services
from api.models import ProjectUserObjectPermission
from api.selectors import ProjectAccess, short_name
from project.errors import DomainError
from tests.conftest import remake_roles

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def roles(transactional_db):
    """Threads see only committed data: the tests are transactional, and the roles made again."""
    return remake_roles()


def race(*calls: Callable[[], object]) -> list[object]:
    """Run the calls at once (a barrier releases them together); each result or DomainError."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def attempt(index: int) -> None:
        barrier.wait()
        try:
            results[index] = calls[index]()
        except DomainError as exc:
            results[index] = exc
        except Exception as exc:  # A deadlock or any other error: the test fails on it below.
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def held(project, user) -> set[str]:
    rows = ProjectUserObjectPermission.objects.filter(content_object=project, user=user)
    return {short_name(c) for c in rows.values_list("permission__codename", flat=True)}


@pytest.mark.parametrize("round_", range(3))
def test_two_concurrent_puts_for_one_grantee_leave_exactly_one_of_them(round_, owner, project, outsider):
    def put(permissions: set[str]) -> Callable[[], object]:
        return lambda: services.project_share_with_user(
            access=ProjectAccess(User.objects.get(pk=owner.pk)), project=project, user=outsider, permissions=permissions
        )

    results = race(put({"share"}), put({"change"}))

    assert results == [{"view", "share"}, {"view", "change"}] or sorted(map(sorted, results)) == [
        ["change", "view"],
        ["share", "view"],
    ], results
    assert held(project, outsider) in ({"view", "share"}, {"view", "change"})


@pytest.mark.parametrize("round_", range(3))
def test_two_admins_demoting_each_other_at_once_leave_one_admin(round_, make_member, roles):
    first = make_member("first@example.com", ADMIN, is_staff=True)
    second = make_member("second@example.com", ADMIN, is_staff=True)

    def demote(target: User, actor: User) -> Callable[[], object]:
        return lambda: account_services.user_update_access(
            user=User.objects.get(pk=target.pk), actor=User.objects.get(pk=actor.pk), roles=[EDITOR]
        )

    results = race(demote(first, second), demote(second, first))

    refused = [r for r in results if isinstance(r, account_services.LastAdmin)]
    done = [r for r in results if isinstance(r, User)]
    assert (len(done), len(refused)) == (1, 1), results
    assert User.objects.filter(groups__name=ADMIN, is_active=True).count() == 1
