"""Browser fixtures: Debian's chromium driven by Playwright against the live app, with every
console error and Content-Security-Policy violation collected and refused at the end of a test."""

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group

from tests.conftest import remake_roles
from tests.helpers import use_plain_static_storage

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MISSING_CHROMIUM = (
    f"browser tests need Debian's chromium at {CHROMIUM}: install it with "
    "`apt-get update && apt-get install -y chromium` (Playwright's own browser download is not used)"
)

# Reported to the console, so one listener catches Chrome's own "Refused to ..." messages and
# these. A listener on the window survives neither a navigation nor DRF's document.write, hence
# the init script, which runs again in every new document.
REPORT_CSP_VIOLATIONS = """
window.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI || "inline"}`);
});
"""


def pytest_collection_modifyitems(config, items) -> None:
    """Without chromium, every browser test is skipped at collection, saying how to install it."""
    if CHROMIUM.exists():
        return
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.skip(reason=MISSING_CHROMIUM))


# Chrome's console line for any answer of 400 or more, the page itself included.
FAILED_RESOURCE = re.compile(r"^Failed to load resource: the server responded with a status of (\d{3})\b")


@pytest.fixture
def expected_statuses() -> set[int]:
    """Error statuses a test provokes on purpose (a 429 refusal page): add them here, and Chrome's
    "Failed to load resource" line for them is not counted as a console error. Nothing else is."""
    return set()


def expected(text: str, statuses: set[int]) -> bool:
    status = FAILED_RESOURCE.match(text)
    return status is not None and int(status[1]) in statuses


@pytest.fixture
def new_page(live_server, settings, monkeypatch, expected_statuses) -> Iterator[Callable[[], Any]]:
    """Opens chromium pages on the live app, each in its own context (its own cookies: another
    person at another browser); fails the test on any console error or CSP violation in any of them.

    Started per test, after the database: Playwright's sync API keeps an event loop running on
    this thread while it is up, and the ORM refuses to run beside one unless told it may. The
    test's own ORM calls run between browser steps, so they are safe; the permission is scoped to
    this test and the browser is gone before the database is flushed.
    """
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -r requirements-dev.txt")
    # The pages use {% static %}; the test server serves the source files, not collectstatic's.
    use_plain_static_storage(settings)
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    problems: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)

        def open_page():
            context = browser.new_context(base_url=live_server.url)
            context.add_init_script(REPORT_CSP_VIOLATIONS)
            page = context.new_page()
            page.on(
                "console",
                lambda message: (
                    message.type == "error"
                    and not expected(message.text, expected_statuses)
                    and problems.append(f"{page.url}: {message.text}")
                ),
            )
            page.on("pageerror", lambda error: problems.append(f"{page.url}: uncaught {error}"))
            return page

        yield open_page
        browser.close()
    assert problems == [], "console errors or CSP violations:\n" + "\n".join(problems)


@pytest.fixture
def page(new_page):
    """The test's first chromium page; `new_page()` opens another, signed in as someone else."""
    return new_page()


@pytest.fixture
def roles(transactional_db) -> dict[str, Group]:
    """The role groups: the live server reads committed data, so these tests are transactional."""
    return remake_roles()


def assert_locked_out(page, send: Callable[[], None]) -> None:
    """`send` (a sign-in at either form) gets the lockout page: 429, Retry-After and the minutes
    left (the default cool-off, 15 minutes). The test must expect 429 (`expected_statuses`)."""
    with page.expect_response(lambda r: "/login/" in r.url and r.request.method == "POST") as answer:
        send()
    assert (answer.value.status, answer.value.headers["retry-after"]) == (429, str(15 * 60))
    shown = page.locator("#content-main").inner_text()
    assert shown.startswith("Too many failed sign-in attempts.")
    assert "Try again in 15 minutes." in shown
