"""The README walkthrough (sign in, share a project, revoke, log out) with the generated Python client.

Usage: walkthrough.py BASE_URL, with the generated `gatehouse_client` package importable and the demo
accounts of `manage.py seed_demo` on the server. Prints one line per step; exits 1 on the first
answer that is not the one the README shows.
"""

import sys
from http import HTTPStatus
from typing import Any, NoReturn, TypeVar

from gatehouse_client import AuthenticatedClient, Client

# Step -> generated operation. Module names follow the schema's operation ids and packages its
# tags: when those change, this table is the one place to update.
from gatehouse_client.api.auth import get_me, log_out, refresh_tokens, sign_in
from gatehouse_client.api.projects import create_project, get_project
from gatehouse_client.api.sharing import share_project_with_user, unshare_project_with_user
from gatehouse_client.api.users import lookup_user
from gatehouse_client.models import (
    LogoutRequest,
    PermissionSet,
    PermissionSetRequest,
    Problem,
    Project,
    ProjectPermission,
    ProjectRequest,
    TokenObtainRequest,
    TokenPair,
    TokenRefreshRequest,
    User,
    UserLookup,
)
from gatehouse_client.types import Response

# The demo accounts of `manage.py seed_demo` (published passwords: never in production).
ALICE = ("alice@example.com", "demo-alice-passphrase")
BOB = ("bob@example.com", "demo-bob-passphrase")
OWNER_PERMISSIONS = ["view", "change", "delete", "share"]

T = TypeVar("T")


def fail(step: str, why: str) -> NoReturn:
    print(f"FAIL {step}: {why}")
    sys.exit(1)


def expect(step: str, response: Response[Any], status: HTTPStatus, body: type[T]) -> T:
    """The parsed body of `response` if it has `status` and is a `body`; otherwise the walkthrough fails."""
    if response.status_code != status:
        fail(step, f"expected {status.value}, got {response.status_code.value}: {response.content!r}")
    if not isinstance(response.parsed, body):
        fail(step, f"expected a {body.__name__} body, got {response.content!r}")
    return response.parsed


def expect_empty(step: str, response: Response[Any]) -> None:
    if response.status_code != HTTPStatus.NO_CONTENT:
        fail(step, f"expected 204, got {response.status_code.value}: {response.content!r}")


def passed(step: str) -> None:
    print(f"ok   {step}")


def check(step: str, condition: bool, why: str) -> None:
    if not condition:
        fail(step, why)
    passed(step)


def main(base_url: str) -> None:
    anonymous = Client(base_url=base_url)

    def as_user(tokens: TokenPair) -> AuthenticatedClient:
        return AuthenticatedClient(base_url=base_url, token=tokens.access)

    step = "alice signs in (POST auth/token/ -> 200)"
    tokens = expect(
        step,
        sign_in.sync_detailed(client=anonymous, body=TokenObtainRequest(email=ALICE[0], password=ALICE[1])),
        HTTPStatus.OK,
        TokenPair,
    )
    check(step, bool(tokens.access and tokens.refresh), "no access or refresh token")

    step = "alice reads her account (GET auth/me/ -> 200)"
    alice = expect(step, get_me.sync_detailed(client=as_user(tokens)), HTTPStatus.OK, User)
    check(step, alice.email == ALICE[0] and "editor" in alice.roles, f"got {alice.email} {alice.roles}")

    step = "alice refreshes (POST auth/token/refresh/ -> 200)"
    spent = tokens.refresh
    tokens = expect(
        step,
        refresh_tokens.sync_detailed(client=anonymous, body=TokenRefreshRequest(refresh=spent)),
        HTTPStatus.OK,
        TokenPair,
    )
    check(step, tokens.refresh != spent, "the refresh token was not rotated")

    step = "alice creates a project (POST projects/ -> 201)"
    project = expect(
        step,
        create_project.sync_detailed(
            client=as_user(tokens), body=ProjectRequest(name="Zephyr", description="Launch plan.")
        ),
        HTTPStatus.CREATED,
        Project,
    )
    check(
        step,
        project.name == "Zephyr" and project.owner == alice.id and project.permissions == OWNER_PERMISSIONS,
        f"got {project.name} owned by {project.owner} with {project.permissions}",
    )

    step = "alice looks bob up by email (GET users/lookup/?email= -> 200)"
    bob = expect(step, lookup_user.sync_detailed(client=as_user(tokens), email=BOB[0]), HTTPStatus.OK, UserLookup)
    check(step, bob.email == BOB[0], f"got {bob.email}")

    step = "alice shares view with bob (PUT projects/{id}/permissions/users/{user_id}/ -> 200)"
    granted = expect(
        step,
        share_project_with_user.sync_detailed(
            project.id, bob.id, client=as_user(tokens), body=PermissionSetRequest(permissions=[ProjectPermission.VIEW])
        ),
        HTTPStatus.OK,
        PermissionSet,
    )
    check(step, granted.permissions == [ProjectPermission.VIEW], f"got {granted.permissions}")

    step = "bob signs in (POST auth/token/ -> 200)"
    bob_tokens = expect(
        step,
        sign_in.sync_detailed(client=anonymous, body=TokenObtainRequest(email=BOB[0], password=BOB[1])),
        HTTPStatus.OK,
        TokenPair,
    )
    check(step, bool(bob_tokens.access), "no access token")

    step = "bob reads the project (GET projects/{id}/ -> 200)"
    seen = expect(
        step, get_project.sync_detailed(project.id, client=as_user(bob_tokens)), HTTPStatus.OK, Project
    )
    check(step, seen.id == project.id and seen.permissions == ["view"], f"got {seen.id} with {seen.permissions}")

    step = "alice revokes bob's grant (DELETE projects/{id}/permissions/users/{user_id}/ -> 204)"
    expect_empty(step, unshare_project_with_user.sync_detailed(project.id, bob.id, client=as_user(tokens)))
    passed(step)

    step = "bob no longer sees the project (GET projects/{id}/ -> 404)"
    problem = expect(
        step,
        get_project.sync_detailed(project.id, client=as_user(bob_tokens)),
        HTTPStatus.NOT_FOUND,
        Problem,
    )
    check(step, problem.type_ == "urn:gatehouse:problem:not_found", f"got {problem.type_}")

    step = "alice logs out (POST auth/logout/ with her refresh token -> 204)"
    expect_empty(step, log_out.sync_detailed(client=as_user(tokens), body=LogoutRequest(refresh=tokens.refresh)))
    passed(step)

    step = "alice's access token is refused (GET auth/me/ -> 401)"
    problem = expect(step, get_me.sync_detailed(client=as_user(tokens)), HTTPStatus.UNAUTHORIZED, Problem)
    check(step, problem.type_ == "urn:gatehouse:problem:session_revoked", f"got {problem.type_}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1].rstrip("/"))
