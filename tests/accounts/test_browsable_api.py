"""The browsable API: session sign-in at /api-auth/login/, with CSRF enforced on session writes;
pages that run under our Content-Security-Policy; an API root and links to click through.
The same pages in a real browser: tests/browser/."""

import json
import re

import pytest
from django.contrib.staticfiles import finders
from django.templatetags.static import static
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient
from rest_framework.views import APIView

from accounts.models import AuthSession
from accounts.roles import ADMIN, EDITOR, VIEWER
from api import services
from api.models import Project
from tests.api.conftest import client_for, grant
from tests.conftest import PASSWORD
from tests.helpers import LOGOUT_URL, ME_URL, TOKEN_URL, assert_problem, use_plain_static_storage

pytestmark = pytest.mark.django_db

LOGIN_URL = "/api-auth/login/"
SESSION_LOGOUT_URL = "/api-auth/logout/"
PROJECTS_URL = "/api/v1/projects/"

# What the CSP (script-src 'self') blocks: a <script> without src, an on...= handler attribute,
# a javascript: URL.
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)
JAVASCRIPT_URL = re.compile(r"""(?:href|src|action)\s*=\s*["']?\s*javascript:""", re.IGNORECASE)


@pytest.fixture
def browser(settings) -> APIClient:
    use_plain_static_storage(settings)
    return APIClient(enforce_csrf_checks=True)


def csrf_token(client: APIClient) -> str:
    client.get(LOGIN_URL)
    return client.cookies["csrftoken"].value


def test_can_sign_in_to_the_browsable_api_with_email_and_password(browser, user):
    token = csrf_token(browser)

    response = browser.post(
        LOGIN_URL,
        {"username": "Alice@Example.com", "password": PASSWORD, "csrfmiddlewaretoken": token, "next": ME_URL},
        format="multipart",
    )

    assert response.status_code == 302
    assert response["Location"] == ME_URL
    assert browser.get(ME_URL).json()["email"] == "alice@example.com"


def test_cannot_sign_in_to_the_browsable_api_with_a_wrong_password(browser, user):
    token = csrf_token(browser)

    response = browser.post(
        LOGIN_URL,
        {"username": "alice@example.com", "password": "wrong", "csrfmiddlewaretoken": token},
        format="multipart",
    )

    assert response.status_code == 200
    assert_problem(browser.get(ME_URL), 401)


def test_cannot_sign_in_to_the_browsable_api_without_a_csrf_token(browser, user):
    response = browser.post(LOGIN_URL, {"username": "alice@example.com", "password": PASSWORD}, format="multipart")

    assert response.status_code == 403
    assert_problem(browser.get(ME_URL), 401)


def test_can_browse_my_account_as_html(browser, user):
    browser.force_login(user)

    response = browser.get(ME_URL, HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b"alice@example.com" in response.content


def test_can_write_with_a_session_and_a_csrf_token(browser, user):
    browser.force_login(user)
    token = csrf_token(browser)

    response = browser.patch(ME_URL, {"display_name": "Session Alice"}, HTTP_X_CSRFTOKEN=token)

    assert response.status_code == 200
    user.refresh_from_db()
    assert user.display_name == "Session Alice"


def test_cannot_write_with_a_session_but_no_csrf_token(browser, user):
    browser.force_login(user)

    response = browser.patch(ME_URL, {"display_name": "Forged"})

    body = assert_problem(response, 403, "permission_denied")
    assert "CSRF" in body["detail"]
    user.refresh_from_db()
    assert user.display_name == "Alice"


def test_cannot_write_with_a_session_and_a_wrong_csrf_token(browser, user):
    browser.force_login(user)
    csrf_token(browser)

    response = browser.patch(ME_URL, {"display_name": "Forged"}, HTTP_X_CSRFTOKEN="x" * 32)

    assert_problem(response, 403, "permission_denied")
    user.refresh_from_db()
    assert user.display_name == "Alice"


def test_cannot_log_out_a_session_through_a_cross_site_form(browser, user, tokens):
    browser.force_login(user)

    response = browser.post(LOGOUT_URL, {"refresh": tokens.refresh})

    assert_problem(response, 403, "permission_denied")
    assert AuthSession.objects.get(pk=tokens.session.pk).is_active


def test_bearer_requests_need_no_csrf_token(user, tokens):
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens.access}")

    assert client.patch(ME_URL, {"display_name": "Bearer Alice"}).status_code == 200


# ---- Pages that run under the Content-Security-Policy ---------------------------------------


def html(client: APIClient, url: str) -> str:
    response = client.get(url, HTTP_ACCEPT="text/html")
    assert response.status_code == 200, url
    assert response["Content-Type"].startswith("text/html")
    return response.content.decode()


def assert_no_inline_script(page: str) -> None:
    assert INLINE_SCRIPT.findall(page) == []
    assert INLINE_HANDLER.findall(page) == []
    assert JAVASCRIPT_URL.findall(page) == []


@pytest.fixture
def editor(browser, make_member):
    user = make_member("editor@example.com", EDITOR)
    browser.force_login(user)
    return user


@pytest.fixture
def apollo(editor) -> Project:
    return services.project_create(owner=editor, name="Apollo", description="To the moon.")


def test_the_anonymous_api_root_page_runs_no_inline_script(browser):
    page = html(browser, "/api/v1/")

    assert_no_inline_script(page)
    assert f'href="{LOGIN_URL}?next=/api/v1/"' in page


def test_the_sign_in_page_runs_no_inline_script(browser):
    assert_no_inline_script(html(browser, LOGIN_URL))


@pytest.mark.parametrize(
    "address",
    [
        "/api/v1/",
        ME_URL,
        PROJECTS_URL,
        PROJECTS_URL + "{project}/",
        PROJECTS_URL + "{project}/documents/",
        PROJECTS_URL + "{project}/documents/{document}/",
        PROJECTS_URL + "{project}/permissions/",
    ],
)
def test_signed_in_pages_run_no_inline_script(browser, editor, apollo, address):
    document = services.document_create(project=apollo, created_by=editor, title="Plan", body="")

    page = html(browser, address.format(project=apollo.pk, document=document.pk))

    assert_no_inline_script(page)
    # DRF's own template would log out through an onclick: ours is a form that posts.
    assert f'<form class="navbar-logout" method="post" action="{SESSION_LOGOUT_URL}?next=/api/v1/">' in page


def test_the_csrf_token_the_page_hands_to_drf_script_authorizes_a_write(browser, editor):
    page = html(browser, ME_URL)
    # DRF's csrf.js parses this element's text as JSON and sends the token in that header.
    handed = json.loads(re.search(r'<div id="drf_csrf" hidden>(.*?)</div>', page).group(1))

    response = browser.patch(ME_URL, {"display_name": "Ed"}, headers={handed["csrfHeaderName"]: handed["csrfToken"]})

    assert response.status_code == 200
    editor.refresh_from_db()
    assert editor.display_name == "Ed"


def test_can_log_out_of_the_browsable_api_with_its_form(browser, editor):
    token = csrf_token(browser)

    response = browser.post(f"{SESSION_LOGOUT_URL}?next=/api/v1/", {"csrfmiddlewaretoken": token}, format="multipart")

    assert response.status_code == 302
    assert response["Location"] == "/api/v1/"
    assert_problem(browser.get(ME_URL), 401)


def test_cannot_log_out_of_the_browsable_api_through_a_cross_site_form(browser, editor):
    response = browser.post(SESSION_LOGOUT_URL, {}, format="multipart")

    assert response.status_code == 403
    assert browser.get(ME_URL).status_code == 200


def test_the_edit_form_offers_only_the_fields_the_api_accepts(browser, apollo):
    page = html(browser, f"{PROJECTS_URL}{apollo.pk}/")

    content = re.search(r'<textarea name="_content"[^>]*>(.*?)</textarea>', page, re.DOTALL).group(1)
    offered = json.loads(content.replace("&quot;", '"'))
    assert offered == {"name": "Apollo", "description": "To the moon."}


def test_can_put_the_edit_form_back_as_it_is_filled_in(browser, apollo):
    page = html(browser, f"{PROJECTS_URL}{apollo.pk}/")
    content = re.search(r'<textarea name="_content"[^>]*>(.*?)</textarea>', page, re.DOTALL).group(1)
    offered = content.replace("&quot;", '"').replace("To the moon.", "To the Moon and back.")

    response = browser.put(
        f"{PROJECTS_URL}{apollo.pk}/",
        offered,
        content_type="application/json",
        HTTP_ACCEPT="text/html",
        HTTP_X_CSRFTOKEN=csrf_token(browser),
    )

    assert response.status_code == 200
    apollo.refresh_from_db()
    assert apollo.description == "To the Moon and back."


# ---- Where a browser lands ------------------------------------------------------------------


def test_the_site_root_redirects_to_the_api_root(api):
    response = api.get("/")

    assert response.status_code == 302
    assert response["Location"] == "/api/v1/"


def test_the_favicon_redirects_to_a_static_icon(api, settings):
    use_plain_static_storage(settings)

    response = api.get("/favicon.ico")

    assert response.status_code == 302
    assert response["Location"] == static("gatehouse/favicon.ico")
    with open(finders.find("gatehouse/favicon.ico"), "rb") as icon:
        assert icon.read(4) == b"\x00\x00\x01\x00"  # An ICO file's magic number.


# ---- The API root: what the caller may use --------------------------------------------------

PUBLIC = {"sign_in", "schema", "docs", "reference"}
MEMBER = PUBLIC | {"me", "projects", "roles", "sessions", "logout", "logout_all"}
ADMINS = MEMBER | {"users", "audit_events"}


@pytest.fixture
def _without_rate_limits(monkeypatch):
    # The limits' counters would add a backend-dependent query (see tests/api/test_query_counts.py).
    monkeypatch.setattr(APIView, "get_throttles", lambda self: [])


def test_the_api_root_offers_anonymous_callers_sign_in_registration_and_docs_without_a_query(
    api, settings, django_assert_num_queries, _without_rate_limits
):
    settings.REGISTRATION_OPEN = True

    with django_assert_num_queries(0):
        links = api.get("/api/v1/").json()

    assert set(links) == PUBLIC | {"register"}
    assert links["sign_in"] == f"http://testserver{TOKEN_URL}"


def test_the_api_root_offers_no_registration_when_it_is_closed(api, settings):
    settings.REGISTRATION_OPEN = False

    assert set(api.get("/api/v1/").json()) == PUBLIC


@pytest.mark.parametrize(("role", "expected"), [(VIEWER, MEMBER), (EDITOR, MEMBER), (ADMIN, ADMINS)])
def test_the_api_root_offers_signed_in_callers_what_they_may_use(
    make_member, role, expected, django_assert_num_queries, _without_rate_limits
):
    client = client_for(make_member("someone@example.com", role))

    # The user, their session and their admin role in one query (authentication): nothing more.
    with django_assert_num_queries(1):
        links = client.get("/api/v1/").json()

    assert set(links) == expected
    for name in expected - PUBLIC - {"logout", "logout_all"}:  # Those two take a POST.
        assert client.get(links[name]).status_code == 200, name


def test_a_member_is_not_offered_the_admin_collections_and_cannot_open_them(make_member):
    client = client_for(make_member("someone@example.com", EDITOR))

    links = client.get("/api/v1/").json()

    assert "users" not in links and "audit_events" not in links
    assert_problem(client.get("/api/v1/users/"), 403)
    assert_problem(client.get("/api/v1/audit-events/"), 403)


# ---- Links between resources ----------------------------------------------------------------


def test_a_project_links_to_itself_its_documents_and_its_permissions_for_a_sharer(make_member):
    owner = make_member("owner@example.com", EDITOR)
    project = services.project_create(owner=owner, name="Apollo")
    base = f"http://testserver{PROJECTS_URL}{project.pk}/"

    body = client_for(owner).get(f"{PROJECTS_URL}{project.pk}/").json()

    assert body["_links"] == {"self": base, "documents": f"{base}documents/", "permissions": f"{base}permissions/"}


def test_a_project_does_not_link_a_viewer_to_its_permissions(make_member):
    owner = make_member("owner@example.com", EDITOR)
    viewer = make_member("viewer@example.com", VIEWER)
    project = services.project_create(owner=owner, name="Apollo")
    grant(viewer, project, "change")

    client = client_for(viewer)
    listed = client.get(PROJECTS_URL).json()["results"]

    assert set(listed[0]["_links"]) == {"self", "documents"}
    assert_problem(client.get(f"{PROJECTS_URL}{project.pk}/permissions/"), 403)


def test_a_document_links_to_itself_and_its_project(make_member):
    owner = make_member("owner@example.com", EDITOR)
    project = services.project_create(owner=owner, name="Apollo")
    document = services.document_create(project=project, created_by=owner, title="Plan", body="")
    base = f"http://testserver{PROJECTS_URL}{project.pk}/"

    body = client_for(owner).get(f"{base}documents/{document.pk}/").json()

    assert body["_links"] == {"self": f"{base}documents/{document.pk}/", "project": base}


def test_the_links_are_documented_in_the_schema():
    schemas = SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]

    assert schemas["Project"]["properties"]["_links"]["allOf"] == [{"$ref": "#/components/schemas/ProjectLinks"}]
    assert schemas["ProjectLinks"]["required"] == ["documents", "self"]  # permissions: sharers only.
    assert schemas["Document"]["properties"]["_links"]["allOf"] == [{"$ref": "#/components/schemas/DocumentLinks"}]
    assert schemas["DocumentLinks"]["required"] == ["project", "self"]
