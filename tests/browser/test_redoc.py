"""Redoc in chromium: the reference page renders the schema offline, under the
Content-Security-Policy and with no console error."""

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_can_read_the_api_reference_in_redoc(page):
    page.goto("/api/v1/redoc/")

    page.get_by_role("heading", name="Gatehouse API").first.wait_for()
    page.get_by_text("signIn").first.wait_for(state="attached")
    # The search box works: its index runs in the worker this page alone may start.
    page.get_by_placeholder("Search...").fill("project")
    page.locator("[role=search] li, .search-results li, [data-role='search:result']").first.wait_for()


def test_the_redoc_page_loads_nothing_from_another_origin(page, live_server):
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))

    page.goto("/api/v1/redoc/")
    page.get_by_role("heading", name="Gatehouse API").first.wait_for()

    assert requests
    # blob: URLs of this origin are the search worker the page builds from its own script.
    assert [url for url in requests if not url.startswith((live_server.url, f"blob:{live_server.url}"))] == []
