/**
 * A tenant that lost its only admin gets one from the platform root: POST /api/tenants/:id/admins
 * (docs/authentication.md). The new admin sets a password with the one-time token and manages
 * users; an existing person can be made admin; nobody else may call it; it opens no tenant content
 * to the root; the license's user limit holds; the tenant's log and its other admins are told.
 */
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../../src/log.js";
import {
  identityFixture,
  STRONG_PASSWORD,
  type Account,
  type Fixture,
  type TenantAccount,
} from "../../identity-fixture.js";
import { testVendor } from "../../license-helpers.js";

const NEW_PASSWORD = "saffron-glacier-tundra-lyric-58";

interface Assigned {
  readonly userId: string;
  readonly created: boolean;
  readonly token: string;
  readonly expiresAt: string;
}

async function json<T>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

describe("a new admin for a tenant, from the platform root", () => {
  let f: Fixture;
  let acme: TenantAccount;
  const t = Date.now();
  let logText = "";

  beforeAll(async () => {
    const log = createLogger(
      "trace",
      new Writable({ write: (chunk: Buffer, _encoding, done) => ((logText += chunk.toString()), done()) }),
    );
    f = await identityFixture({ now: () => new Date(t), log });
    acme = await f.createTenant("ta-acme");
  });
  afterAll(() => f.close());

  const assign = (tenantId: string, body: unknown, token = f.root.tokens.accessToken): Promise<Response> =>
    f.call("POST", `/api/tenants/${tenantId}/admins`, { token, body });
  const assigned = async (tenantId: string, email: string): Promise<Assigned> => {
    const res = await assign(tenantId, { email, name: "New Admin" });
    expect(res.status, await res.clone().text()).toBe(201);
    const body = await json<Assigned>(res);
    expect(Object.keys(body).sort()).toEqual(["created", "expiresAt", "token", "userId"]);
    expect(body.token).toMatch(/^vrt_[A-Za-z0-9_-]{43}$/);
    expect(Date.parse(body.expiresAt) - t).toBe(30 * 60_000);
    return body;
  };
  const redeem = (token: string): Promise<Response> =>
    f.call("POST", "/api/auth/password-reset", { body: { token, newPassword: NEW_PASSWORD } });
  const signIn = async (slug: string, email: string, password = NEW_PASSWORD): Promise<string> => {
    const res = await f.login(slug, email, password);
    expect(res.status, await res.clone().text()).toBe(200);
    return (await json<{ accessToken: string }>(res)).accessToken;
  };
  const auditOf = (
    tenantId: string,
    event: string,
  ): { actorType: string; actorId: string | null; sensitivity: string; payload: Record<string, unknown> }[] =>
    f.services.db.auditLog
      .filtered(tenantId, { afterSeq: -1, limit: 100_000 })
      .filter((e) => e.event === event)
      .map((e) => ({
        actorType: e.actorType,
        actorId: e.actorId,
        sensitivity: e.sensitivity,
        payload: JSON.parse(e.payload) as Record<string, unknown>,
      }));

  it("creates an admin who sets a password with the one-time token and manages users; audited in the tenant's log, the other admins told", async () => {
    const email = "new-admin@ta-acme.test";
    const body = await assigned(acme.tenantId, email);
    expect(body.created).toBe(true);
    // No password until the token is redeemed.
    expect((await f.login(acme.slug, email, STRONG_PASSWORD)).status).toBe(401);
    expect((await redeem(body.token)).status).toBe(204);
    expect((await redeem(body.token)).status).toBe(401);
    const token = await signIn(acme.slug, email);
    expect(await json(await f.call("GET", "/api/me", { token }))).toMatchObject({
      user: { id: body.userId, role: "tenant_admin", email },
    });
    const created = await f.call("POST", "/api/users", {
      token,
      body: { email: "hired@ta-acme.test", name: "Hired", role: "member", password: STRONG_PASSWORD },
    });
    expect(created.status).toBe(201);

    const events = auditOf(acme.tenantId, "tenant.admin_assigned");
    expect(events).toEqual([
      {
        actorType: "human",
        actorId: f.root.id,
        sensitivity: "security",
        payload: {
          userId: body.userId,
          created: true,
          previousRole: null,
          previousStatus: null,
          expiresAt: body.expiresAt,
        },
      },
    ]);
    expect(
      JSON.stringify(f.services.db.auditLog.filtered(acme.tenantId, { afterSeq: -1, limit: 100_000 })),
    ).not.toContain(body.token.slice(4));
    expect(logText).toContain("tenant.admin_assigned");
    expect(logText).not.toContain(body.token.slice(4));
    const told = await json<{ notifications: { message: string }[] }>(
      await f.call("GET", "/api/notifications", { token: acme.admin.tokens.accessToken }),
    );
    expect(told.notifications.map((n) => n.message)).toContain(
      "The platform root made an account of this tenant a tenant admin and issued it a one-time password reset. If your tenant did not ask for it, tell your security team.",
    );
  });

  it("makes an existing person admin, a disabled one enabled again; their sessions end; the answer holds nothing of theirs", async () => {
    const member = await f.createUser(acme.admin, { role: "member" }, acme.slug);
    const body = await assigned(acme.tenantId, member.email.toUpperCase());
    expect(body).toMatchObject({ userId: member.id, created: false });
    expect((await f.call("GET", "/api/me", { token: member.tokens.accessToken })).status).toBe(401);
    expect((await redeem(body.token)).status).toBe(204);
    expect(await json(await f.call("GET", "/api/me", { token: await signIn(acme.slug, member.email) }))).toMatchObject({
      user: { id: member.id, role: "tenant_admin" },
    });
    expect(auditOf(acme.tenantId, "tenant.admin_assigned").at(-1)?.payload).toMatchObject({
      userId: member.id,
      created: false,
      previousRole: "member",
      previousStatus: "active",
    });

    const disabled = await f.createUser(acme.admin, { role: "viewer" }, acme.slug);
    expect(
      (
        await f.call("PATCH", `/api/users/${disabled.id}`, {
          token: acme.admin.tokens.accessToken,
          body: { status: "disabled" },
        })
      ).status,
    ).toBe(200);
    const again = await assigned(acme.tenantId, disabled.email);
    expect((await redeem(again.token)).status).toBe(204);
    expect(
      await json(await f.call("GET", "/api/me", { token: await signIn(acme.slug, disabled.email) })),
    ).toMatchObject({ user: { id: disabled.id, role: "tenant_admin", status: "active" } });
  });

  it("is refused to a tenant admin and a member (403); for an agent (422), a suspended tenant (409), an unknown tenant or the platform itself (404)", async () => {
    const member = await f.createUser(acme.admin, { role: "member" }, acme.slug);
    const body = { email: "intruder@ta-acme.test", name: "Intruder" };
    expect((await assign(acme.tenantId, body, acme.admin.tokens.accessToken)).status).toBe(403);
    expect((await assign(acme.tenantId, body, member.tokens.accessToken)).status).toBe(403);
    const agent = await f.createUser(acme.admin, { role: "member", kind: "agent" }, acme.slug);
    expect((await assign(acme.tenantId, { email: agent.email, name: "Agent" })).status).toBe(422);
    const platformId = f.services.db.tenants.platformTenant()?.id ?? "";
    expect((await assign(platformId, body)).status).toBe(404);
    expect((await assign("00000000-0000-4000-8000-000000000000", body)).status).toBe(404);
    const suspended = await f.createTenant("ta-suspended");
    expect(
      (
        await f.call("PATCH", `/api/tenants/${suspended.tenantId}`, {
          token: f.root.tokens.accessToken,
          body: { status: "suspended" },
        })
      ).status,
    ).toBe(200);
    expect((await assign(suspended.tenantId, body)).status).toBe(409);
    // None of the refusals left an account behind.
    expect((await f.login(acme.slug, body.email, STRONG_PASSWORD)).status).toBe(401);
    expect(auditOf(acme.tenantId, "tenant.admin_assigned").filter((e) => e.payload.userId === agent.id)).toEqual([]);
  });

  it("opens no tenant content to the root", async () => {
    const project = await json<{ project: { id: string } }>(
      await f.call("POST", "/api/projects", { token: acme.admin.tokens.accessToken, body: { name: "Secret plans" } }),
    );
    expect(
      (
        await f.call("POST", `/api/projects/${project.project.id}/nodes`, {
          token: acme.admin.tokens.accessToken,
          body: { type: "idea", title: "Quarterly merger", body: "confidential" },
        })
      ).status,
    ).toBe(201);
    const res = await assign(acme.tenantId, { email: acme.admin.email, name: "Ignored" });
    expect(res.status).toBe(201);
    const text = await res.text();
    for (const content of ["Secret plans", "Quarterly merger", "confidential", "Tenant Admin"])
      expect(text).not.toContain(content);
    const root = f.root.tokens.accessToken;
    expect((await f.call("GET", "/api/projects", { token: root })).status).toBe(403);
    expect((await f.call("GET", `/api/projects/${project.project.id}/nodes`, { token: root })).status).toBe(403);
    expect((await f.call("GET", `/api/tenants/${acme.tenantId}/export`, { token: root })).status).toBe(403);
    expect((await f.call("GET", "/api/users", { token: root })).status).toBe(403);
  });
});

describe("a new tenant admin and the license", () => {
  let f: Fixture;
  let acme: TenantAccount;
  let member: Account;
  let clock = Date.now();

  beforeAll(async () => {
    const vendor = testVendor(() => new Date(clock));
    f = await identityFixture({ vendorKeys: [vendor.key], now: () => new Date(clock) });
    const installed = await f.call("PUT", "/api/license", {
      token: f.root.tokens.accessToken,
      body: { license: vendor.sign({ limits: { tenants: 5, users: 2, agents: 1 } }) },
    });
    expect(installed.status, await installed.clone().text()).toBe(200);
    acme = await f.createTenant("ta-licensed");
    member = await f.createUser(acme.admin, { role: "member" }, acme.slug);
  });
  afterAll(() => f.close());

  it("takes a seat for a new account or a re-enabled one (402, nothing written), none for a person who has one", async () => {
    const root = f.root.tokens.accessToken;
    const usage = async (): Promise<unknown> =>
      (await json<{ usage: unknown }>(await f.call("GET", "/api/license", { token: root }))).usage;
    expect(await usage()).toEqual({ tenants: 1, users: 2, agents: 0 });
    const size = f.services.db.auditLog.size(acme.tenantId);
    const full = await f.call("POST", `/api/tenants/${acme.tenantId}/admins`, {
      token: root,
      body: { email: "one-too-many@ta-licensed.test", name: "Extra" },
    });
    expect(full.status).toBe(402);
    expect(await json(full)).toMatchObject({ type: "urn:vecto:problem:license-limit", limit: "users" });
    expect(f.services.db.auditLog.size(acme.tenantId)).toBe(size);
    expect(await usage()).toEqual({ tenants: 1, users: 2, agents: 0 });
    const promoted = await f.call("POST", `/api/tenants/${acme.tenantId}/admins`, {
      token: root,
      body: { email: member.email, name: "Member" },
    });
    expect(promoted.status).toBe(201);
    expect(await usage()).toEqual({ tenants: 1, users: 2, agents: 0 });

    expect(
      (
        await f.call("PATCH", `/api/users/${member.id}`, {
          token: acme.admin.tokens.accessToken,
          body: { status: "disabled" },
        })
      ).status,
    ).toBe(200);
    expect(
      (
        await f.call("POST", "/api/users", {
          token: acme.admin.tokens.accessToken,
          body: { email: "seat@ta-licensed.test", name: "Seat", role: "viewer", password: STRONG_PASSWORD },
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await f.call("POST", `/api/tenants/${acme.tenantId}/admins`, {
          token: root,
          body: { email: member.email, name: "Member" },
        })
      ).status,
    ).toBe(402);
  });

  it("works for an existing active person after the license expired (a locked-out tenant could not even export), not for a new account", async () => {
    clock += 2 * 365 * 86_400_000;
    const signedIn = await f.login(undefined, f.root.email, STRONG_PASSWORD);
    const root = (await json<{ accessToken: string }>(signedIn)).accessToken;
    expect(
      (
        await f.call("POST", "/api/tenants", {
          token: root,
          body: {
            slug: "ta-refused",
            name: "Refused",
            admin: { email: "a@ta-refused.test", name: "A", password: STRONG_PASSWORD },
          },
        })
      ).status,
    ).toBe(402);
    const fresh = await f.call("POST", `/api/tenants/${acme.tenantId}/admins`, {
      token: root,
      body: { email: "new@ta-licensed.test", name: "New" },
    });
    expect(fresh.status).toBe(402);
    expect(await json(fresh)).toMatchObject({ type: "urn:vecto:problem:license-read-only" });
    const existing = await f.call("POST", `/api/tenants/${acme.tenantId}/admins`, {
      token: root,
      body: { email: acme.admin.email, name: "Admin" },
    });
    expect(existing.status, await existing.clone().text()).toBe(201);
    expect(
      (
        await f.call("POST", "/api/auth/password-reset", {
          body: { token: (await json<Assigned>(existing)).token, newPassword: NEW_PASSWORD },
        })
      ).status,
    ).toBe(204);
    const admin = await f.login(acme.slug, acme.admin.email, NEW_PASSWORD);
    expect(admin.status).toBe(200);
    const exported = await f.call("GET", `/api/tenants/${acme.tenantId}/export`, {
      token: (await json<{ accessToken: string }>(admin)).accessToken,
    });
    expect(exported.status).toBe(200);
  });
});
