/** Identity as a client uses it: setup once, log in, refresh, log out, manage tenants and users. */
import argon2 from "argon2";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueSetupToken } from "../../../src/auth/setup-token.js";
import {
  behindTheApi,
  identityFixture,
  STRONG_PASSWORD,
  type Fixture,
  type TenantAccount,
} from "../../identity-fixture.js";

describe("identity flows", () => {
  let f: Fixture;
  let acme: TenantAccount;

  beforeAll(async () => {
    f = await identityFixture();
    acme = await f.createTenant("acme");
  });
  afterAll(() => f.close());

  it("completes setup once: no new setup token, and a second setup is refused", async () => {
    await expect(issueSetupToken(f.services.db, 600)).rejects.toThrow("setup is already complete");
    const again = await f.call("POST", "/api/setup", {
      body: { token: "vst_any-token-at-all", email: "second@example.test", name: "Second", password: STRONG_PASSWORD },
    });
    expect(again.status).toBe(409);
    expect(((await again.json()) as { type: string }).type).toBe("urn:vecto:problem:conflict");
  });

  it("tells who is signed in, with scopes from the role", async () => {
    const res = await f.call("GET", "/api/me", { token: f.root.tokens.accessToken });
    expect(res.status).toBe(200);
    const me = (await res.json()) as {
      user: { email: string; role: string };
      tenant: { kind: string };
      scopes: string[];
    };
    expect(me.user).toMatchObject({ email: f.root.email, role: "platform_root" });
    expect(me.tenant.kind).toBe("platform");
    expect(me.scopes).toContain("platform:admin");
    expect(me.scopes).not.toContain("graph:read"); // the platform root cannot read tenant content
  });

  it("stores emails and names encrypted and passwords as argon2id", async () => {
    const user = f.services.db.tenantReads(acme.tenantId).users.get(acme.admin.id);
    expect(user?.passwordHash).toMatch(/^\$argon2id\$v=19\$/);
    const params = new Map(
      (user?.passwordHash?.split("$")[3] ?? "").split(",").map((kv) => kv.split("=") as [string, string]),
    );
    expect(Number(params.get("m"))).toBeGreaterThanOrEqual(19 * 1024);
    expect(Number(params.get("t"))).toBeGreaterThanOrEqual(2);
    expect(params.get("p")).toBe("1");
    expect(Buffer.from(user?.emailEnc ?? []).toString("latin1")).not.toContain(acme.admin.email);
    expect(Buffer.from(user?.nameEnc ?? []).toString("latin1")).not.toContain("Tenant Admin");
  });

  it("rotates refresh tokens on every use", async () => {
    const first = (await (await f.login("acme", acme.admin.email, STRONG_PASSWORD)).json()) as {
      refreshToken: string;
      accessToken: string;
    };
    const second = await f.call("POST", "/api/auth/refresh", { body: { refreshToken: first.refreshToken } });
    expect(second.status).toBe(200);
    const pair = (await second.json()) as { refreshToken: string; accessToken: string };
    expect(pair.refreshToken).not.toBe(first.refreshToken);
    expect((await f.call("GET", "/api/me", { token: pair.accessToken })).status).toBe(200);
  });

  it("logs out: the access token stops working on the next request", async () => {
    const pair = (await (await f.login("acme", acme.admin.email, STRONG_PASSWORD)).json()) as {
      accessToken: string;
      refreshToken: string;
    };
    expect((await f.call("GET", "/api/me", { token: pair.accessToken })).status).toBe(200);
    expect((await f.call("POST", "/api/auth/logout", { token: pair.accessToken })).status).toBe(204);
    expect((await f.call("GET", "/api/me", { token: pair.accessToken })).status).toBe(401);
    expect((await f.call("POST", "/api/auth/refresh", { body: { refreshToken: pair.refreshToken } })).status).toBe(401);
  });

  it("refuses a weak or common password with the reason", async () => {
    for (const [password, reason] of <[string, string][]>[
      ["short1!", "at least 12 characters"],
      ["password1234", "too common"],
      ["aaaaaaaaaaaaaaaa", "too few different characters"],
    ]) {
      const res = await f.call("POST", "/api/users", {
        token: acme.admin.tokens.accessToken,
        body: { email: `weak${reason.length}@example.test`, name: "Weak", role: "member", password },
      });
      expect(res.status).toBe(422);
      expect(((await res.json()) as { detail: string }).detail).toContain(reason);
    }
  });

  it("answers a wrong password and an unknown account identically", async () => {
    const wrong = await f.login("acme", acme.admin.email, "not-the-password-at-all");
    const unknown = await f.login("acme", "nobody@example.test", "not-the-password-at-all");
    const noTenant = await f.login("no-such-tenant", acme.admin.email, STRONG_PASSWORD);
    for (const res of [wrong, unknown, noTenant]) expect(res.status).toBe(401);
    const bodies = await Promise.all(
      [wrong, unknown, noTenant].map(async (r) => ((await r.json()) as { detail: string }).detail),
    );
    expect(new Set(bodies).size).toBe(1);
  });

  it("disabling a user ends its sessions at once; enabling does not revive them", async () => {
    const member = await f.createUser(acme.admin, { role: "member" }, "acme");
    expect((await f.call("GET", "/api/me", { token: member.tokens.accessToken })).status).toBe(200);
    const disable = await f.call("PATCH", `/api/users/${member.id}`, {
      token: acme.admin.tokens.accessToken,
      body: { status: "disabled" },
    });
    expect(disable.status).toBe(200);
    expect((await f.call("GET", "/api/me", { token: member.tokens.accessToken })).status).toBe(401);
    expect((await f.login("acme", member.email, STRONG_PASSWORD)).status).toBe(401);
    await f.call("PATCH", `/api/users/${member.id}`, {
      token: acme.admin.tokens.accessToken,
      body: { status: "active" },
    });
    expect((await f.call("GET", "/api/me", { token: member.tokens.accessToken })).status).toBe(401);
    expect((await f.login("acme", member.email, STRONG_PASSWORD)).status).toBe(200);
  });

  it("a role change takes effect on the next request", async () => {
    const member = await f.createUser(acme.admin, { role: "member" }, "acme");
    const token = await f.call("POST", "/api/tokens", {
      token: member.tokens.accessToken,
      body: { name: "ci", scopes: ["self", "graph:write"], expiresAt: new Date(Date.now() + 86_400_000).toISOString() },
    });
    expect(token.status).toBe(201);
    const pat = ((await token.json()) as { token: string }).token;
    await f.call("PATCH", `/api/users/${member.id}`, {
      token: acme.admin.tokens.accessToken,
      body: { role: "viewer" },
    });
    expect((await f.call("GET", "/api/me", { token: member.tokens.accessToken })).status).toBe(401);
    expect((await f.call("GET", "/api/me", { token: pat })).status).toBe(401);
  });

  it("keeps at least one active tenant admin", async () => {
    const res = await f.call("PATCH", `/api/users/${acme.admin.id}`, {
      token: acme.admin.tokens.accessToken,
      body: { role: "member" },
    });
    expect(res.status).toBe(403); // not on oneself
    const other = await f.createUser(acme.admin, { role: "tenant_admin" }, "acme");
    const demote = await f.call("PATCH", `/api/users/${acme.admin.id}`, {
      token: other.tokens.accessToken,
      body: { role: "member" },
    });
    expect(demote.status).toBe(200);
    const last = await f.call("DELETE", `/api/users/${other.id}`, { token: other.tokens.accessToken });
    expect(last.status).toBe(403);
  });

  it("personal access tokens: shown once, listed without the secret, revocable", async () => {
    const acmeAdmin = (await (await f.login("acme", acme.admin.email, STRONG_PASSWORD)).json()) as {
      accessToken: string;
    };
    const created = await f.call("POST", "/api/tokens", {
      token: acmeAdmin.accessToken,
      body: {
        name: "deploy",
        scopes: ["self", "graph:read"],
        expiresAt: new Date(Date.now() + 7 * 86_400_000).toISOString(),
      },
    });
    expect(created.status).toBe(201);
    const body = (await created.json()) as { token: string; id: string };
    expect(body.token).toMatch(/^vct_[0-9A-Za-z]{49}$/);
    const me = (await (await f.call("GET", "/api/me", { token: body.token })).json()) as {
      scopes: string[];
      credential: string;
    };
    expect(me.scopes.sort()).toEqual(["graph:read", "self"]);
    expect(me.credential).toBe("access-token");
    const list = await (await f.call("GET", "/api/tokens", { token: acmeAdmin.accessToken })).text();
    expect(list).toContain(body.id);
    expect(list).not.toContain(body.token);
    expect((await f.call("DELETE", `/api/tokens/${body.id}`, { token: acmeAdmin.accessToken })).status).toBe(204);
    expect((await f.call("GET", "/api/me", { token: body.token })).status).toBe(401);
  });

  it("lists and ends one's own sessions", async () => {
    const pair = (await (await f.login("acme", acme.admin.email, STRONG_PASSWORD)).json()) as {
      accessToken: string;
      sessionId: string;
    };
    const other = (await (await f.login("acme", acme.admin.email, STRONG_PASSWORD)).json()) as {
      accessToken: string;
      sessionId: string;
    };
    const list = (await (await f.call("GET", "/api/sessions", { token: pair.accessToken })).json()) as {
      sessions: { id: string; current: boolean }[];
    };
    expect(list.sessions.find((s) => s.id === pair.sessionId)?.current).toBe(true);
    expect(list.sessions.find((s) => s.id === other.sessionId)?.current).toBe(false);
    expect((await f.call("DELETE", `/api/sessions/${pair.sessionId}`, { token: other.accessToken })).status).toBe(204);
    expect((await f.call("GET", "/api/me", { token: pair.accessToken })).status).toBe(401);
  });

  it("issues access tokens with the tenant's configured lifetime", async () => {
    const gamma = await f.createTenant("ttl-co");
    const lifetime = (token: string): number => {
      const claims = decodeJwt(token);
      return (claims.exp ?? 0) - (claims.iat ?? 0);
    };
    expect(lifetime(gamma.admin.tokens.accessToken)).toBe(8 * 3600);
    expect(
      (
        await f.call("PATCH", `/api/tenants/${gamma.tenantId}`, {
          token: f.root.tokens.accessToken,
          body: { accessTokenTtlSeconds: 900 },
        })
      ).status,
    ).toBe(200);
    const pair = (await (await f.login("ttl-co", gamma.admin.email, STRONG_PASSWORD)).json()) as {
      accessToken: string;
    };
    expect(lifetime(pair.accessToken)).toBe(900);
    expect(
      (
        await f.call("PATCH", `/api/tenants/${gamma.tenantId}`, {
          token: f.root.tokens.accessToken,
          body: { accessTokenTtlSeconds: 10 },
        })
      ).status,
    ).toBe(422);
  });

  it("records when a personal access token was last used", async () => {
    const admin = (await (await f.login("acme", acme.admin.email, STRONG_PASSWORD)).json()) as { accessToken: string };
    const created = (await (
      await f.call("POST", "/api/tokens", {
        token: admin.accessToken,
        body: { name: "used", scopes: ["self"], expiresAt: new Date(Date.now() + 86_400_000).toISOString() },
      })
    ).json()) as { token: string; id: string };
    const lastUsed = async (): Promise<string | null> => {
      const list = (await (await f.call("GET", "/api/tokens", { token: admin.accessToken })).json()) as {
        tokens: { id: string; lastUsedAt: string | null }[];
      };
      return list.tokens.find((t) => t.id === created.id)?.lastUsedAt ?? null;
    };
    expect(await lastUsed()).toBeNull();
    await f.call("GET", "/api/me", { token: created.token });
    expect(await lastUsed()).not.toBeNull();
  });

  it("rehashes a password at sign-in when the stored hash used weaker parameters", async () => {
    const tenant = await f.createTenant("rehash-co");
    const member = await f.createUser(tenant.admin, { role: "member" }, "rehash-co");
    const weak = await argon2.hash(STRONG_PASSWORD, {
      type: argon2.argon2id,
      memoryCost: 8192,
      timeCost: 1,
      parallelism: 1,
    });
    await behindTheApi(f.services.db, tenant.tenantId, (tx) =>
      tx.users.update(member.id, { passwordHash: weak }, tx.now),
    );
    expect((await f.login("rehash-co", member.email, STRONG_PASSWORD)).status).toBe(200);
    const stored = f.services.db.tenantReads(tenant.tenantId).users.get(member.id)?.passwordHash ?? "";
    expect(stored).not.toBe(weak);
    expect(stored).toContain("m=19456");
  });

  it("a suspended tenant's tokens stop working", async () => {
    const beta = await f.createTenant("beta-suspend");
    expect(
      (
        await f.call("PATCH", `/api/tenants/${beta.tenantId}`, {
          token: f.root.tokens.accessToken,
          body: { status: "suspended" },
        })
      ).status,
    ).toBe(200);
    expect((await f.call("GET", "/api/me", { token: beta.admin.tokens.accessToken })).status).toBe(401);
    expect((await f.login("beta-suspend", beta.admin.email, STRONG_PASSWORD)).status).toBe(401);
  });
});
