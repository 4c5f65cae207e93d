"""Shared fixtures: API clients, users and signed-in callers."""

from collections.abc import Callable

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts import services
from accounts.models import User
from accounts.roles import ROLE_PERMISSIONS, role_groups
from project.throttling import forget_counts

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(autouse=True)
def _fast_hashing_and_clean_cache(settings):
    # Argon2 is deliberately slow; the suite checks it is configured (test_settings) and
    # otherwise hashes with MD5 so hundreds of sign-ins stay fast.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    clear_own_cache()
    yield
    clear_own_cache()


def clear_own_cache() -> None:
    """Empty this run's cache keys. On Redis only ours (our prefix): parallel workers and other
    runs share the server, and a FLUSHDB would pull their counters out from under them."""
    if hasattr(cache, "delete_pattern"):
        cache.delete_pattern("*")
    else:
        cache.clear()
    forget_counts()  # Rate-limit counters: in the cache with Redis, else in their own file.


@pytest.fixture
def superuser_client(settings, make_user) -> APIClient:
    """Signed in to the Django admin (and the browsable API) as a superuser, by session cookie.

    HTML pages use {% static %}; the manifest storage would need collectstatic, which tests skip.
    """
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    client = APIClient()
    client.force_login(make_user("root@example.com", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def make_user(db):
    def make(email: str = "user@example.com", password: str = PASSWORD, **extra) -> User:
        return User.objects.create_user(email=email, password=password, **extra)

    return make


@pytest.fixture
def roles(db) -> dict[str, Group]:
    return role_groups()


def remake_roles() -> dict[str, Group]:
    """The role groups, made again as their data migration makes them.

    Transactional tests (threads, a live server) see the database flushed after each test, which
    removes what data migrations wrote; serialized_rollback cannot bring it back here (it collides
    with the content types the flush recreates).
    """
    for name, labels in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        for label in labels:
            app_label, codename = label.split(".")
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return role_groups()


@pytest.fixture
def make_member(make_user, roles) -> Callable[..., User]:
    """A user holding the given roles: make_member("bob@example.com", "viewer")."""

    def make(email: str, *role_names: str, **extra) -> User:
        user = make_user(email, **extra)
        user.groups.add(*(roles[name] for name in role_names))
        return user

    return make


@pytest.fixture
def user(make_user) -> User:
    return make_user("alice@example.com", display_name="Alice")


@pytest.fixture
def tokens(user):
    return services.session_start(user=user, ip_address="127.0.0.1", user_agent="pytest")


@pytest.fixture
def auth_api(api, tokens) -> APIClient:
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens.access}")
    return api
