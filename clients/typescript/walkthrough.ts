// The README walkthrough (sign in, share a project, revoke, log out) with openapi-fetch typed by the
// openapi-typescript output of the Gatehouse schema (generated/schema.d.ts).
// Usage: node build/walkthrough.js BASE_URL, with the demo accounts of `manage.py seed_demo` on the
// server. Prints one line per step; exits 1 on the first answer that is not the one the README shows.
import createClient from "openapi-fetch";
import type { components, paths } from "./generated/schema.js";

// Step -> operation. openapi-fetch is typed by path and method, so the operation ids do not matter
// here: when a path changes, this table is the one place to update.
const ROUTES = {
  signIn: "/api/v1/auth/token/",
  getMe: "/api/v1/auth/me/",
  refreshTokens: "/api/v1/auth/token/refresh/",
  createProject: "/api/v1/projects/",
  lookupUser: "/api/v1/users/lookup/",
  shareProjectWithUser: "/api/v1/projects/{project_pk}/permissions/users/{user_id}/",
  unshareProjectWithUser: "/api/v1/projects/{project_pk}/permissions/users/{user_id}/",
  getProject: "/api/v1/projects/{id}/",
  logOut: "/api/v1/auth/logout/",
} as const;

// The demo accounts of `manage.py seed_demo` (published passwords: never in production).
const ALICE = { email: "alice@example.com", password: "demo-alice-passphrase" };
const BOB = { email: "bob@example.com", password: "demo-bob-passphrase" };
const OWNER_PERMISSIONS = ["view", "change", "delete", "share"];

type TokenPair = components["schemas"]["TokenPair"];

class WalkthroughFailed extends Error {}

function fail(step: string, why: string): never {
  throw new WalkthroughFailed(`FAIL ${step}: ${why}`);
}

function passed(step: string): void {
  console.log(`ok   ${step}`);
}

function check(step: string, condition: boolean, why: string): void {
  if (!condition) fail(step, why);
  passed(step);
}

function seen(result: { data?: unknown; error?: unknown; response: Response }): string {
  return `${result.response.status} ${JSON.stringify(result.data ?? result.error ?? null)}`;
}

/** The body of a successful answer with `status`; anything else fails the walkthrough. */
function expectData<D>(step: string, result: { data?: D; error?: unknown; response: Response }, status: number): D {
  if (result.response.status !== status || result.data === undefined) fail(step, `expected ${status}, got ${seen(result)}`);
  return result.data;
}

/** The problem details of a refusal with `status`; anything else fails the walkthrough. */
function expectProblem<E>(step: string, result: { data?: unknown; error?: E; response: Response }, status: number): E {
  if (result.response.status !== status || result.error === undefined) fail(step, `expected ${status}, got ${seen(result)}`);
  return result.error;
}

function expectEmpty(step: string, result: { data?: unknown; error?: unknown; response: Response }): void {
  if (result.response.status !== 204) fail(step, `expected 204, got ${seen(result)}`);
}

async function main(baseUrl: string): Promise<void> {
  const anonymous = createClient<paths>({ baseUrl });
  const asUser = (tokens: TokenPair) =>
    createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${tokens.access}` } });

  let step = "alice signs in (POST auth/token/ -> 200)";
  let tokens = expectData(step, await anonymous.POST(ROUTES.signIn, { body: ALICE }), 200);
  check(step, tokens.access !== "" && tokens.refresh !== "", "no access or refresh token");

  step = "alice reads her account (GET auth/me/ -> 200)";
  const alice = expectData(step, await asUser(tokens).GET(ROUTES.getMe), 200);
  check(step, alice.email === ALICE.email && alice.roles.includes("editor"), `got ${alice.email} ${alice.roles}`);

  step = "alice refreshes (POST auth/token/refresh/ -> 200)";
  const spent = tokens.refresh;
  tokens = expectData(step, await anonymous.POST(ROUTES.refreshTokens, { body: { refresh: spent } }), 200);
  check(step, tokens.refresh !== spent, "the refresh token was not rotated");

  step = "alice creates a project (POST projects/ -> 201)";
  const project = expectData(
    step,
    await asUser(tokens).POST(ROUTES.createProject, { body: { name: "Zephyr", description: "Launch plan." } }),
    201,
  );
  check(
    step,
    project.name === "Zephyr" && project.owner === alice.id && sameList(project.permissions, OWNER_PERMISSIONS),
    `got ${project.name} owned by ${project.owner} with ${project.permissions}`,
  );

  step = "alice looks bob up by email (GET users/lookup/?email= -> 200)";
  const bob = expectData(
    step,
    await asUser(tokens).GET(ROUTES.lookupUser, { params: { query: { email: BOB.email } } }),
    200,
  );
  check(step, bob.email === BOB.email, `got ${bob.email}`);

  const grant = { params: { path: { project_pk: project.id, user_id: bob.id } } };
  step = "alice shares view with bob (PUT projects/{id}/permissions/users/{user_id}/ -> 200)";
  const granted = expectData(
    step,
    await asUser(tokens).PUT(ROUTES.shareProjectWithUser, { ...grant, body: { permissions: ["view"] } }),
    200,
  );
  check(step, sameList(granted.permissions, ["view"]), `got ${granted.permissions}`);

  step = "bob signs in (POST auth/token/ -> 200)";
  const bobTokens = expectData(step, await anonymous.POST(ROUTES.signIn, { body: BOB }), 200);
  check(step, bobTokens.access !== "", "no access token");

  const theProject = { params: { path: { id: project.id } } };
  step = "bob reads the project (GET projects/{id}/ -> 200)";
  const shown = expectData(step, await asUser(bobTokens).GET(ROUTES.getProject, theProject), 200);
  check(step, shown.id === project.id && sameList(shown.permissions, ["view"]), `got ${shown.id} ${shown.permissions}`);

  step = "alice revokes bob's grant (DELETE projects/{id}/permissions/users/{user_id}/ -> 204)";
  expectEmpty(step, await asUser(tokens).DELETE(ROUTES.unshareProjectWithUser, grant));
  passed(step);

  step = "bob no longer sees the project (GET projects/{id}/ -> 404)";
  let problem = expectProblem(step, await asUser(bobTokens).GET(ROUTES.getProject, theProject), 404);
  check(step, problem.type === "urn:gatehouse:problem:not_found", `got ${problem.type}`);

  step = "alice logs out (POST auth/logout/ with her refresh token -> 204)";
  expectEmpty(step, await asUser(tokens).POST(ROUTES.logOut, { body: { refresh: tokens.refresh } }));
  passed(step);

  step = "alice's access token is refused (GET auth/me/ -> 401)";
  problem = expectProblem(step, await asUser(tokens).GET(ROUTES.getMe), 401);
  check(step, problem.type === "urn:gatehouse:problem:session_revoked", `got ${problem.type}`);
}

function sameList(got: readonly string[], expected: readonly string[]): boolean {
  return got.length === expected.length && got.every((item, index) => item === expected[index]);
}

const baseUrl = process.argv[2];
if (process.argv.length !== 3 || baseUrl === undefined) {
  console.error("Usage: node build/walkthrough.js BASE_URL");
  process.exit(2);
}
main(baseUrl.replace(/\/+$/, "")).catch((error: unknown) => {
  console.error(error instanceof WalkthroughFailed ? error.message : error);
  process.exit(1);
});
