/**
 * Lifetimes of refresh tokens and sessions, on a real appliance with a movable clock (given through
 * openServices like any other option): a refresh token unused past its idle lifetime is refused
 * while its session lives on; a session ends at its absolute lifetime however often it was
 * refreshed; and the session row is the authority: cut short, its tokens stop on the next request
 * whatever their own expiry says.
 */
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_SESSION_POLICY } from "../../../src/auth/sessions.js";
import {
  identityFixture,
  STRONG_PASSWORD,
  type Fixture,
  type TenantAccount,
  type Tokens,
} from "../../identity-fixture.js";

const IDLE_MS = DEFAULT_SESSION_POLICY.refreshIdleSeconds * 1000;
const SESSION_MS = DEFAULT_SESSION_POLICY.sessionSeconds * 1000;

describe("refresh-token and session lifetimes", () => {
  let clock = new Date();
  const advance = (ms: number): void => {
    clock = new Date(clock.getTime() + ms);
  };
  let f: Fixture;
  let acme: TenantAccount;

  beforeAll(async () => {
    f = await identityFixture({ now: () => clock });
    acme = await f.createTenant("lifetimes-co");
  });
  afterAll(() => f.close());

  async function login(): Promise<Tokens> {
    const res = await f.login(acme.slug, acme.admin.email, STRONG_PASSWORD);
    expect(res.status).toBe(200);
    return (await res.json()) as Tokens;
  }
  const refresh = (refreshToken: string): Promise<Response> =>
    f.call("POST", "/api/auth/refresh", { body: { refreshToken } });
  const me = (accessToken: string): Promise<Response> => f.call("GET", "/api/me", { token: accessToken });

  it("refuses a refresh token unused for its idle lifetime, while its session lives on", async () => {
    const control = await login();
    const idle = await login();
    advance(IDLE_MS - 60_000);
    const renewed = await refresh(control.refreshToken);
    expect(renewed.status).toBe(200); // within its idle lifetime: works
    advance(120_000);
    expect((await refresh(idle.refreshToken)).status).toBe(401);
    // Only the token expired: the session (30 days) is alive, as the control's new access token shows.
    expect((await me(((await renewed.json()) as Tokens).accessToken)).status).toBe(200);
  });

  it("ends a session at its absolute lifetime, however often it was refreshed", async () => {
    const started = clock.getTime();
    let tokens = await login();
    while (clock.getTime() + IDLE_MS - 86_400_000 < started + SESSION_MS) {
      advance(IDLE_MS - 86_400_000);
      const res = await refresh(tokens.refreshToken);
      expect(res.status).toBe(200);
      tokens = (await res.json()) as Tokens;
    }
    advance(started + SESSION_MS - clock.getTime() + 1000);
    expect((await refresh(tokens.refreshToken)).status).toBe(401);
    expect((await me(tokens.accessToken)).status).toBe(401);
  });

  it("the session row decides: a session cut short ends its access and refresh tokens at once", async () => {
    const tokens = await login();
    expect((await me(tokens.accessToken)).status).toBe(200);
    const raw = new BetterSqlite3(join(f.dataDir, "vecto.db"));
    try {
      raw
        .prepare("UPDATE sessions SET expires_at = ? WHERE id = ?")
        .run(new Date(clock.getTime() - 1000).toISOString(), tokens.sessionId);
    } finally {
      raw.close();
    }
    // Both tokens are still within their own expiry; only the session's lifetime refuses them.
    expect((await me(tokens.accessToken)).status).toBe(401);
    expect((await refresh(tokens.refreshToken)).status).toBe(401);
  });
});
