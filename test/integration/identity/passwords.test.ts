/**
 * Changing one's password and the admin-issued one-time reset (docs/authentication.md), each with
 * the attacks that must fail: a wrong current password (throttled like sign-in), a reused,
 * expired, superseded or foreign reset token, a member or another tenant's admin issuing one,
 * and credentials that must die with the old password. The reset token is looked for in the
 * logs, the audit trail and the data files, where it must never be.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../../src/log.js";
import {
  identityFixture,
  STRONG_PASSWORD,
  type Account,
  type Fixture,
  type TenantAccount,
  type Tokens,
} from "../../identity-fixture.js";

const NEW_PASSWORD = "saffron-glacier-tundra-lyric-58";
const OTHER_PASSWORD = "cobalt-meadow-harvest-violin-73";

let logText = "";
const logStream = new Writable({
  write(chunk: Buffer, _encoding, done) {
    logText += chunk.toString();
    done();
  },
});

describe("passwords: change and reset", () => {
  let f: Fixture;
  let acme: TenantAccount;
  let globex: TenantAccount;
  let t = Date.now();

  beforeAll(async () => {
    f = await identityFixture({ log: createLogger("trace", logStream), now: () => new Date(t) });
    acme = await f.createTenant("pw-acme");
    globex = await f.createTenant("pw-globex");
  });
  afterAll(() => f.close());

  const me = (token: string): Promise<Response> => f.call("GET", "/api/me", { token });
  const refresh = (refreshToken: string): Promise<Response> =>
    f.call("POST", "/api/auth/refresh", { body: { refreshToken } });
  const change = (
    token: string,
    currentPassword: string,
    newPassword: string,
    address = "192.0.2.1",
  ): Promise<Response> =>
    f.call("POST", "/api/me/password", { token, body: { currentPassword, newPassword }, address });
  const issue = (admin: Account, userId: string): Promise<Response> =>
    f.call("POST", `/api/users/${userId}/password-reset`, { token: admin.tokens.accessToken });
  const redeem = (token: string, newPassword: string, address = "192.0.2.50"): Promise<Response> =>
    f.call("POST", "/api/auth/password-reset", { body: { token, newPassword }, address });
  const signIn = async (account: Account, password: string): Promise<Tokens> => {
    const res = await f.login(acme.slug, account.email, password);
    expect(res.status).toBe(200);
    return (await res.json()) as Tokens;
  };
  const newPat = async (token: string): Promise<string> => {
    const res = await f.call("POST", "/api/tokens", {
      token,
      body: { name: "script", scopes: ["self"], expiresAt: new Date(t + 86_400_000).toISOString() },
    });
    expect(res.status).toBe(201);
    return ((await res.json()) as { token: string }).token;
  };
  const issued = async (admin: Account, userId: string): Promise<string> => {
    const res = await issue(admin, userId);
    expect(res.status).toBe(201);
    const body = (await res.json()) as { token: string; expiresAt: string; userId: string };
    expect(body.token).toMatch(/^vrt_[A-Za-z0-9_-]{43}$/);
    expect(body.userId).toBe(userId);
    expect(Date.parse(body.expiresAt) - t).toBe(30 * 60_000);
    return body.token;
  };

  describe("changing one's own password", () => {
    it("needs the current password, ends the other sessions and their refresh tokens, keeps this one and the personal tokens", async () => {
      const user = await f.createUser(acme.admin, { role: "member" }, acme.slug);
      const other = await signIn(user, STRONG_PASSWORD);
      const pat = await newPat(user.tokens.accessToken);
      const res = await change(user.tokens.accessToken, STRONG_PASSWORD, NEW_PASSWORD);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ sessionsEnded: 1, personalTokensKept: 1 });
      expect((await me(user.tokens.accessToken)).status).toBe(200);
      expect((await me(other.accessToken)).status).toBe(401);
      expect((await refresh(other.refreshToken)).status).toBe(401);
      expect((await me(pat)).status).toBe(200);
      expect((await f.login(acme.slug, user.email, STRONG_PASSWORD)).status).toBe(401);
      expect((await f.login(acme.slug, user.email, NEW_PASSWORD)).status).toBe(200);
    });

    it("refuses a wrong current password with 403, then throttles it with the sign-in's own counters", async () => {
      const user = await f.createUser(acme.admin, { role: "member" }, acme.slug);
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++)
        statuses.push(
          (await change(user.tokens.accessToken, `not-my-password-${i}`, NEW_PASSWORD, "203.0.113.40")).status,
        );
      expect(statuses).toEqual([403, 403, 403, 403, 403, 429]);
      // The right password waits too, and sign-in from that address is held back: no side door for guessing.
      expect((await change(user.tokens.accessToken, STRONG_PASSWORD, NEW_PASSWORD, "203.0.113.40")).status).toBe(429);
      expect((await f.login(acme.slug, user.email, STRONG_PASSWORD, "203.0.113.40")).status).toBe(429);
      expect((await f.login(acme.slug, user.email, STRONG_PASSWORD, "198.51.100.40")).status).toBe(200);
    });

    it("puts the new password through the policy and refuses the current one again", async () => {
      const user = await f.createUser(acme.admin, { role: "member" }, acme.slug);
      for (const weak of ["short1!", "password1234", "aaaaaaaaaaaaaaaa"])
        expect((await change(user.tokens.accessToken, STRONG_PASSWORD, weak)).status, weak).toBe(422);
      expect((await change(user.tokens.accessToken, STRONG_PASSWORD, STRONG_PASSWORD)).status).toBe(422);
      expect((await f.login(acme.slug, user.email, STRONG_PASSWORD)).status).toBe(200);
    });

    it("with a personal access token ends every session, since none is the caller's", async () => {
      const user = await f.createUser(acme.admin, { role: "member" }, acme.slug);
      const pat = await newPat(user.tokens.accessToken);
      const res = await change(pat, STRONG_PASSWORD, NEW_PASSWORD);
      expect(await res.json()).toEqual({ sessionsEnded: 1, personalTokensKept: 1 });
      expect((await me(user.tokens.accessToken)).status).toBe(401);
    });
  });

  describe("admin-issued reset", () => {
    it("sets a new password once, ends every session, refresh token and personal token of the user", async () => {
      const user = await f.createUser(acme.admin, { role: "member" }, acme.slug);
      const pat = await newPat(user.tokens.accessToken);
      const token = await issued(acme.admin, user.id);
      // A refused password does not spend the token.
      expect((await redeem(token, "password1234")).status).toBe(422);
      expect((await redeem(token, NEW_PASSWORD)).status).toBe(204);
      expect((await me(user.tokens.accessToken)).status).toBe(401);
      expect((await refresh(user.tokens.refreshToken)).status).toBe(401);
      expect((await me(pat)).status).toBe(401);
      expect((await f.login(acme.slug, user.email, STRONG_PASSWORD)).status).toBe(401);
      expect((await f.login(acme.slug, user.email, NEW_PASSWORD)).status).toBe(200);
      // Spent: a second use fails, and does not change the password.
      expect((await redeem(token, OTHER_PASSWORD)).status).toBe(401);
      expect((await f.login(acme.slug, user.email, NEW_PASSWORD)).status).toBe(200);
    });

    it("is refused to a member, to another tenant's admin, to the platform root, and for oneself", async () => {
      const user = await f.createUser(acme.admin, { role: "member" }, acme.slug);
      const member = await f.createUser(acme.admin, { role: "member" }, acme.slug);
      expect((await issue(member, user.id)).status).toBe(403);
      expect((await issue(globex.admin, user.id)).status).toBe(404);
      expect((await issue(f.root, user.id)).status).toBe(403);
      expect((await issue(f.root, acme.admin.id)).status).toBe(403);
      expect((await issue(acme.admin, acme.admin.id)).status).toBe(403);
      const agent = await f.createUser(acme.admin, { role: "member", kind: "agent" }, acme.slug);
      expect((await issue(acme.admin, agent.id)).status).toBe(422);
    });

    it("a newer token replaces the older; a token expires after 30 minutes", async () => {
      const user = await f.createUser(acme.admin, { role: "member" }, acme.slug);
      const first = await issued(acme.admin, user.id);
      const second = await issued(acme.admin, user.id);
      expect((await redeem(first, NEW_PASSWORD)).status).toBe(401);
      t += 30 * 60_000;
      expect((await redeem(second, NEW_PASSWORD)).status).toBe(401);
      expect((await f.login(acme.slug, user.email, STRONG_PASSWORD)).status).toBe(200);
    });

    it("dies with its user: disabled (and enabled again) or deleted", async () => {
      const user = await f.createUser(acme.admin, { role: "member" }, acme.slug);
      const token = await issued(acme.admin, user.id);
      const admin = acme.admin.tokens.accessToken;
      expect(
        (await f.call("PATCH", `/api/users/${user.id}`, { token: admin, body: { status: "disabled" } })).status,
      ).toBe(200);
      expect((await redeem(token, NEW_PASSWORD)).status).toBe(401);
      expect((await issue(acme.admin, user.id)).status).toBe(422);
      expect(
        (await f.call("PATCH", `/api/users/${user.id}`, { token: admin, body: { status: "active" } })).status,
      ).toBe(200);
      expect((await redeem(token, NEW_PASSWORD)).status).toBe(401);
      const again = await issued(acme.admin, user.id);
      expect((await f.call("DELETE", `/api/users/${user.id}`, { token: admin })).status).toBe(204);
      expect((await redeem(again, NEW_PASSWORD)).status).toBe(401);
    });

    it("throttles guessing per address", async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 21; i++)
        statuses.push((await redeem(`vrt_${String(i).padStart(43, "x")}`, NEW_PASSWORD, "203.0.113.90")).status);
      expect(statuses.slice(0, 20).every((s) => s === 401)).toBe(true);
      expect(statuses[20]).toBe(429);
      expect((await redeem(`vrt_${"y".repeat(43)}`, NEW_PASSWORD, "198.51.100.90")).status).toBe(401);
    });

    it("the token is audited by its issue and use but never written: not to the log, the audit trail or the data files", async () => {
      const user = await f.createUser(acme.admin, { role: "member" }, acme.slug);
      const token = await issued(acme.admin, user.id);
      expect((await redeem(token, OTHER_PASSWORD)).status).toBe(204);
      const events = f.services.db.auditLog.filtered(acme.tenantId, { afterSeq: -1, limit: 100_000 });
      const mine = events.filter((e) => JSON.stringify(e).includes(user.id)).map((e) => e.event);
      expect(mine).toEqual(expect.arrayContaining(["auth.password_reset_issued", "auth.password_reset_completed"]));
      expect(logText).toContain("auth.password_reset_completed");
      const secret = token.slice(4);
      expect(JSON.stringify(events)).not.toContain(secret);
      expect(logText).not.toContain(secret);
      for (const file of readdirSync(f.dataDir).filter((name) => /\.db(-wal)?$/.test(name))) {
        expect(readFileSync(join(f.dataDir, file)).includes(secret), file).toBe(false);
      }
    });
  });
});
