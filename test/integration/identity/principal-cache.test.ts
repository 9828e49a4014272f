/**
 * Authentication serves the principal from memory (src/auth/principal-cache.ts), and every change
 * that ends or changes a credential is still refused by the very next request: each case first
 * warms the cache (the same credential answered twice), then makes the change through the API,
 * then asks once more. A change by another process (another connection to the database, as a CLI
 * command is) is seen as well, and expiry is still the clock's at every request.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dirname } from "node:path";
import { DEFAULT_SESSION_POLICY } from "../../../src/auth/sessions.js";
import { loadConfig } from "../../../src/config.js";
import { createLogger } from "../../../src/log.js";
import { openServices } from "../../../src/services.js";
import {
  behindTheApi,
  identityFixture,
  STRONG_PASSWORD,
  type Account,
  type Fixture,
  type TenantAccount,
} from "../../identity-fixture.js";

const DAY_MS = 86_400_000;
let clock = Date.now();
let f: Fixture;
let acme: TenantAccount;

beforeAll(async () => {
  f = await identityFixture({ now: () => new Date(clock) });
  acme = await f.createTenant("cache-acme");
}, 60_000);
afterAll(() => f.close());

const me = (token: string): Promise<Response> => f.call("GET", "/api/me", { token });
/**
 * The probe: a route that reads nothing of the account beyond the principal (GET /api/me reads the
 * user row again, and would refuse a deleted user whatever authentication said).
 */
const status = async (token: string): Promise<number> => (await f.call("GET", "/api/notifications", { token })).status;

/** Answered twice: the second answer came from memory. */
async function warm(...tokens: string[]): Promise<void> {
  for (const token of tokens) for (let i = 0; i < 2; i++) expect(await status(token)).toBe(200);
}

async function personalToken(
  owner: Account,
  scopes: string[] = ["self"],
  days = 7,
): Promise<{ id: string; token: string }> {
  const res = await f.call("POST", "/api/tokens", {
    token: owner.tokens.accessToken,
    body: { name: "cached", scopes, expiresAt: new Date(clock + days * DAY_MS).toISOString() },
  });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; token: string };
}

async function member(tenant: TenantAccount = acme): Promise<Account> {
  return f.createUser(tenant.admin, { role: "member" }, tenant.slug);
}

async function signIn(account: Account, slug: string): Promise<Account> {
  const res = await f.login(slug, account.email, account.password);
  expect(res.status).toBe(200);
  return { ...account, tokens: (await res.json()) as Account["tokens"] };
}

describe("the principal from memory: every change is seen by the very next request", () => {
  it("logout ends the session", async () => {
    const m = await member();
    await warm(m.tokens.accessToken);
    expect((await f.call("POST", "/api/auth/logout", { token: m.tokens.accessToken })).status).toBe(204);
    expect(await status(m.tokens.accessToken)).toBe(401);
  });

  it("ending one's other session from this one", async () => {
    const m = await member();
    const other = await signIn(m, acme.slug);
    await warm(m.tokens.accessToken, other.tokens.accessToken);
    const ended = await f.call("DELETE", `/api/sessions/${other.tokens.sessionId}`, { token: m.tokens.accessToken });
    expect(ended.status).toBe(204);
    expect(await status(other.tokens.accessToken)).toBe(401);
    expect(await status(m.tokens.accessToken)).toBe(200);
  });

  it("revoking a personal access token", async () => {
    const m = await member();
    const pat = await personalToken(m);
    await warm(pat.token);
    expect((await f.call("DELETE", `/api/tokens/${pat.id}`, { token: m.tokens.accessToken })).status).toBe(204);
    expect(await status(pat.token)).toBe(401);
  });

  it("a role change ends the session and the tokens", async () => {
    const m = await member();
    const pat = await personalToken(m);
    await warm(m.tokens.accessToken, pat.token);
    const res = await f.call("PATCH", `/api/users/${m.id}`, {
      token: acme.admin.tokens.accessToken,
      body: { role: "viewer" },
    });
    expect(res.status).toBe(200);
    expect(await status(m.tokens.accessToken)).toBe(401);
    expect(await status(pat.token)).toBe(401);
    // Signed in again, the new role is what the principal holds.
    const again = await signIn(m, acme.slug);
    await warm(again.tokens.accessToken);
    const view = (await (await me(again.tokens.accessToken)).json()) as { user: { role: string }; scopes: string[] };
    expect(view.user.role).toBe("viewer");
    expect(view.scopes).not.toContain("graph:write");
  });

  it("the auditor flag, given and taken", async () => {
    const m = await member();
    await warm(m.tokens.accessToken);
    const admin = acme.admin.tokens.accessToken;
    expect((await f.call("PATCH", `/api/users/${m.id}`, { token: admin, body: { auditor: true } })).status).toBe(200);
    expect(await status(m.tokens.accessToken)).toBe(401);
    const auditor = await signIn(m, acme.slug);
    await warm(auditor.tokens.accessToken);
    expect(((await (await me(auditor.tokens.accessToken)).json()) as { scopes: string[] }).scopes).toContain(
      "audit:read",
    );
    expect((await f.call("PATCH", `/api/users/${m.id}`, { token: admin, body: { auditor: false } })).status).toBe(200);
    expect(await status(auditor.tokens.accessToken)).toBe(401);
  });

  it("disabling the user", async () => {
    const m = await member();
    const pat = await personalToken(m);
    await warm(m.tokens.accessToken, pat.token);
    const res = await f.call("PATCH", `/api/users/${m.id}`, {
      token: acme.admin.tokens.accessToken,
      body: { status: "disabled" },
    });
    expect(res.status).toBe(200);
    expect(await status(m.tokens.accessToken)).toBe(401);
    expect(await status(pat.token)).toBe(401);
  });

  it("deleting the user", async () => {
    const m = await member();
    const pat = await personalToken(m);
    await warm(m.tokens.accessToken, pat.token);
    expect((await f.call("DELETE", `/api/users/${m.id}`, { token: acme.admin.tokens.accessToken })).status).toBe(204);
    expect(await status(m.tokens.accessToken)).toBe(401);
    expect(await status(pat.token)).toBe(401);
  });

  it("erasing the user (GDPR)", async () => {
    const m = await member();
    const pat = await personalToken(m);
    await warm(m.tokens.accessToken, pat.token);
    const erased = await f.call("POST", `/api/users/${m.id}/erase`, { token: acme.admin.tokens.accessToken, body: {} });
    expect(erased.status).toBe(204);
    expect(await status(m.tokens.accessToken)).toBe(401);
    expect(await status(pat.token)).toBe(401);
  });

  it("changing one's password ends the other sessions", async () => {
    const m = await member();
    const other = await signIn(m, acme.slug);
    await warm(m.tokens.accessToken, other.tokens.accessToken);
    const changed = await f.call("POST", "/api/me/password", {
      token: m.tokens.accessToken,
      body: { currentPassword: STRONG_PASSWORD, newPassword: "amber-lantern-pebble-orchard-77" },
    });
    expect(changed.status).toBeLessThan(300);
    expect(await status(other.tokens.accessToken)).toBe(401);
  });

  it("a password reset redeemed ends every session and token", async () => {
    const m = await member();
    const pat = await personalToken(m);
    await warm(m.tokens.accessToken, pat.token);
    const issued = await f.call("POST", `/api/users/${m.id}/password-reset`, { token: acme.admin.tokens.accessToken });
    expect(issued.status).toBe(201);
    const { token } = (await issued.json()) as { token: string };
    // Issuing alone changes nothing: the person still works until the reset is redeemed.
    expect(await status(m.tokens.accessToken)).toBe(200);
    const redeemed = await f.call("POST", "/api/auth/password-reset", {
      body: { token, newPassword: "copper-thistle-harbor-lantern-19" },
    });
    expect(redeemed.status).toBeLessThan(300);
    expect(await status(m.tokens.accessToken)).toBe(401);
    expect(await status(pat.token)).toBe(401);
  });

  it("a refresh token used twice ends its session", async () => {
    const m = await member();
    await warm(m.tokens.accessToken);
    const refresh = (): Promise<Response> =>
      f.call("POST", "/api/auth/refresh", { body: { refreshToken: m.tokens.refreshToken } });
    expect((await refresh()).status).toBe(200);
    expect(await status(m.tokens.accessToken)).toBe(200);
    expect((await refresh()).status).toBe(401);
    expect(await status(m.tokens.accessToken)).toBe(401);
  });

  it("suspending the tenant, and erasing it", async () => {
    const beta = await f.createTenant("cache-beta");
    const m = await member(beta);
    const pat = await personalToken(m);
    await warm(beta.admin.tokens.accessToken, m.tokens.accessToken, pat.token);
    const root = f.root.tokens.accessToken;
    const suspend = (to: string): Promise<Response> =>
      f.call("PATCH", `/api/tenants/${beta.tenantId}`, { token: root, body: { status: to } });
    expect((await suspend("suspended")).status).toBe(200);
    for (const token of [beta.admin.tokens.accessToken, m.tokens.accessToken, pat.token])
      expect(await status(token)).toBe(401);
    // Resumed: the same credentials work again (suspension does not revoke), from the rows as they are now.
    expect((await suspend("active")).status).toBe(200);
    await warm(m.tokens.accessToken, pat.token);
    const erased = await f.call("POST", `/api/tenants/${beta.tenantId}/erase`, {
      token: root,
      body: { confirm: "cache-beta" },
    });
    expect(erased.status).toBe(200);
    expect(await status(m.tokens.accessToken)).toBe(401);
    expect(await status(pat.token)).toBe(401);
  });

  it("a user's row changed alone (no credential revoked with it) is seen: the role it holds, then its status", async () => {
    const m = await member();
    const pat = await personalToken(m, ["self", "graph:write"]);
    await warm(m.tokens.accessToken, pat.token);
    const scopes = async (token: string): Promise<string[]> =>
      ((await (await me(token)).json()) as { scopes: string[] }).scopes;
    expect(await scopes(pat.token)).toContain("graph:write");
    await behindTheApi(f.services.db, acme.tenantId, (tx) => tx.users.update(m.id, { role: "viewer" }, tx.now));
    expect(await scopes(m.tokens.accessToken)).not.toContain("graph:write");
    expect(await scopes(pat.token)).toEqual(["self"]);
    await behindTheApi(f.services.db, acme.tenantId, (tx) => tx.users.update(m.id, { status: "disabled" }, tx.now));
    expect(await status(m.tokens.accessToken)).toBe(401);
    expect(await status(pat.token)).toBe(401);
  });

  it("what a transaction read before it rolled back is not kept", async () => {
    const m = await member();
    // Not used before: the lookup inside the transaction finds nothing in memory and reads the rows.
    const pat = await personalToken(m, ["self", "graph:write"]);
    const promoted = f.services.db.write((tx) => {
      tx.tenant(acme.tenantId).users.update(m.id, { role: "tenant_admin" }, tx.now);
      // Authentication inside the open transaction reads the uncommitted role (its lookup runs before its first await).
      const seen = f.services.identity.authenticator.authenticate(pat.token);
      throw Object.assign(new Error("rolled back"), { seen });
    });
    const error = (await promoted.then(
      () => undefined,
      (e: unknown) => e,
    )) as { seen: Promise<{ role: string }> };
    expect((await error.seen).role).toBe("tenant_admin");
    // The first look after the rollback: what memory holds, if anything (the principal's role, not the user row's).
    const after = await f.services.identity.authenticator.authenticate(pat.token);
    expect(after.role).toBe("member");
  });

  it("a change written by another process (another connection, as a CLI command) is seen by the next request", async () => {
    const m = await member();
    const pat = await personalToken(m);
    await warm(m.tokens.accessToken, pat.token);
    // What a CLI command opens: the installation's own services, over a connection of their own.
    const config = loadConfig({ VECTO_ENV_FILE: "/dev/null", VECTO_DATA_DIR: f.dataDir }, dirname(f.dataDir));
    const other = await openServices(config, createLogger("silent"));
    try {
      await behindTheApi(other.db, acme.tenantId, (tx) => tx.users.update(m.id, { status: "disabled" }, tx.now));
    } finally {
      other.close();
    }
    expect(await status(m.tokens.accessToken)).toBe(401);
    expect(await status(pat.token)).toBe(401);
  });
});

describe("expiry is the clock's at every request, never remembered", () => {
  it("a personal access token stops at its expiry with its principal in memory", async () => {
    const m = await member();
    const pat = await personalToken(m, ["self"], 1);
    await warm(pat.token);
    clock += DAY_MS + 60_000;
    expect(await status(pat.token)).toBe(401);
  });

  it("a session stops at its end even under an access token that outlives it", async () => {
    // The admin's access token of the start has expired by this clock: a fresh sign-in.
    const m = await f.createUser(await signIn(acme.admin, acme.slug), { role: "member" }, acme.slug);
    const sessionEnd = clock + DEFAULT_SESSION_POLICY.sessionSeconds * 1000;
    clock = sessionEnd - 3_600_000;
    const late = await f.services.identity.accessTokens.sign(
      { userId: m.id, tenantId: acme.tenantId, sessionId: m.tokens.sessionId, scopes: ["self"] },
      7_200,
    );
    await warm(late.token);
    clock = sessionEnd + 60_000;
    expect(late.expiresAt.getTime()).toBeGreaterThan(clock);
    expect(await status(late.token)).toBe(401);
  });
});
