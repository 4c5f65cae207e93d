"""A search costs a bounded amount of work: more than SEARCH_MAX_TERMS terms is a 400 naming
`search`, however short the terms (500 one-letter terms fit in 1000 characters)."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework import filters

from project.query_params import SEARCH_MAX_TERMS, BoundedSearchFilter
from tests.api.conftest import client_for
from tests.helpers import assert_validation_problem

pytestmark = pytest.mark.django_db

PROJECTS = "/api/v1/projects/"
USERS = "/api/v1/users/"
TOO_MANY = " ".join("abcdefghijklmnopqrstuvwxyz"[: SEARCH_MAX_TERMS + 1])
AT_THE_LIMIT = " ".join("abcdefghijklmnopqrstuvwxyz"[:SEARCH_MAX_TERMS])
# 333 distinct two-letter terms: 999 characters, within the length limit.
PATHOLOGICAL = " ".join(a + b for a in "abcdefghijklmnopqrstuvwxyz" for b in "abcdefghijklmnopqrstuvwxyz")[:999]


def searchable_views() -> list[type]:
    """Every view class in the URLconf with a search filter backend."""
    found, pending = [], list(get_resolver().url_patterns)
    while pending:
        entry = pending.pop()
        if isinstance(entry, URLResolver):
            pending.extend(entry.url_patterns)
        elif isinstance(entry, URLPattern):
            cls = getattr(entry.callback, "cls", None)
            backends = getattr(cls, "filter_backends", ())
            if any(issubclass(backend, filters.SearchFilter) for backend in backends):
                found.append(cls)
    return found


def test_every_searchable_list_bounds_its_search():
    unbounded = sorted(
        {
            cls.__name__
            for cls in searchable_views()
            if not any(issubclass(b, BoundedSearchFilter) for b in cls.filter_backends)
        }
    )

    assert unbounded == []


def test_admin_can_search_users_with_up_to_the_maximum_of_terms(admin):
    response = client_for(admin).get(USERS, {"search": AT_THE_LIMIT})

    assert response.status_code == 200


@pytest.mark.parametrize("term", [TOO_MANY, PATHOLOGICAL])
def test_admin_cannot_search_users_with_too_many_terms(admin, term):
    response = client_for(admin).get(USERS, {"search": term})

    assert_validation_problem(response, ("search", "max_terms"))


def test_repeated_terms_count_once(admin):
    response = client_for(admin).get(USERS, {"search": " ".join(["admin"] * 50)})

    assert response.status_code == 200
    assert [user["email"] for user in response.json()["results"]] == ["admin@example.com"]


def test_can_search_projects_with_up_to_the_maximum_of_terms(owner):
    response = client_for(owner).get(PROJECTS, {"search": AT_THE_LIMIT})

    assert response.status_code == 200


@pytest.mark.parametrize("term", [TOO_MANY, PATHOLOGICAL])
def test_cannot_search_projects_with_too_many_terms(owner, term):
    response = client_for(owner).get(PROJECTS, {"search": term})

    assert_validation_problem(response, ("search", "max_terms"))
