/**
 * Who the client is and how fast it may go: X-Forwarded-For is believed only from a trusted proxy
 * (VECTO_TRUSTED_PROXIES), and every route is rate-limited per address and per credential.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { DomainEvent } from "../../../src/vocabulary/events.js";
import { identityFixture, STRONG_PASSWORD, type Fixture, type TenantAccount } from "../../identity-fixture.js";

type Emitted = Parameters<Fixture["services"]["identity"]["events"]["emit"]>[0];

async function failLogins(
  f: Fixture,
  acme: TenantAccount,
  count: number,
  address: string,
  forwardedFor: () => string,
): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < count; i++) {
    const res = await f.call("POST", "/api/auth/login", {
      body: { tenant: acme.slug, email: acme.admin.email, password: `wrong-guess-${i}-xyz` },
      address,
      headers: { "X-Forwarded-For": forwardedFor() },
    });
    statuses.push(res.status);
  }
  return statuses;
}

describe("client address: X-Forwarded-For only from trusted proxies", () => {
  it("from an untrusted peer a spoofed header is ignored: the throttle counts the real address", async () => {
    const f = await identityFixture();
    try {
      const acme = await f.createTenant("spoof-co");
      let n = 0;
      // A fresh forged address on every attempt would dodge a throttle that believed the header.
      const statuses = await failLogins(f, acme, 6, "203.0.113.66", () => `198.51.100.${++n}`);
      expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
      expect((await f.login(acme.slug, acme.admin.email, STRONG_PASSWORD, "192.0.2.10")).status).toBe(200);
    } finally {
      f.close();
    }
  });

  describe("behind a trusted proxy", () => {
    let f: Fixture;
    let acme: TenantAccount;
    beforeAll(async () => {
      f = await identityFixture({ env: { VECTO_TRUSTED_PROXIES: "10.0.0.0/8" } });
      acme = await f.createTenant("proxied-co");
    });
    afterAll(() => f.close());

    it("the address the proxy appended is the client, for the throttle and in the audit events", async () => {
      const emitted: Emitted[] = [];
      const spy = vi
        .spyOn(f.services.identity.events, "emit")
        .mockImplementation((event: DomainEvent) => void emitted.push(event));
      let statuses: number[];
      try {
        // The attacker prepends a different forged address each time; the proxy appends the real one.
        let n = 0;
        statuses = await failLogins(f, acme, 6, "10.0.0.2", () => `192.0.2.${++n}, 203.0.113.77`);
      } finally {
        spy.mockRestore();
      }
      expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
      const addresses = new Set(emitted.map((e) => e.payload.address));
      expect([...addresses]).toEqual(["203.0.113.77"]);
      // Another client behind the same proxy is not the attacker, and is let in.
      const other = await f.call("POST", "/api/auth/login", {
        body: { tenant: acme.slug, email: acme.admin.email, password: STRONG_PASSWORD },
        address: "10.0.0.2",
        headers: { "X-Forwarded-For": "198.51.100.30" },
      });
      expect(other.status).toBe(200);
    });
  });
});

describe("rate limits on every route", () => {
  let f: Fixture;
  let t = Date.now();
  beforeAll(async () => {
    // Tight limits to see them work; the fixture's own setup (2 requests) has no address of its own.
    f = await identityFixture({
      env: { VECTO_RATE_LIMIT_PER_ADDRESS: "8", VECTO_RATE_LIMIT_PER_CREDENTIAL: "3" },
      now: () => new Date(t),
    });
  });
  afterAll(() => f.close());

  it("per address: 429 with Retry-After on any route, 404s and public routes included; others and the probes unaffected", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++)
      statuses.push((await f.call("GET", "/api/no-such-route", { address: "203.0.113.8" })).status);
    expect(statuses).toEqual(Array(8).fill(404));
    for (const [method, path] of [
      ["GET", "/api/no-such-route"],
      ["POST", "/api/auth/login"],
      ["GET", "/api/openapi.json"],
    ] as const) {
      const res = await f.call(method, path, {
        address: "203.0.113.8",
        ...(method === "POST" ? { body: { email: "x@example.test", password: "whatever-it-is" } } : {}),
      });
      expect(res.status, path).toBe(429);
      expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect(((await res.json()) as { type: string }).type).toBe("urn:vecto:problem:too-many-requests");
    }
    expect((await f.call("GET", "/healthz", { address: "203.0.113.8" })).status).toBe(200);
    expect((await f.call("GET", "/api/no-such-route", { address: "203.0.113.9" })).status).toBe(404);
    t += 60_000;
    expect((await f.call("GET", "/api/no-such-route", { address: "203.0.113.8" })).status).toBe(404);
  });

  it("per credential: one token is held back whatever address it comes from; another token is not; it recovers with time", async () => {
    const token = f.root.tokens.accessToken;
    for (let i = 0; i < 3; i++)
      expect((await f.call("GET", "/api/me", { token, address: `198.51.100.${i + 1}` })).status).toBe(200);
    const refused = await f.call("GET", "/api/me", { token, address: "198.51.100.4" });
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("20");
    // Even an unknown route with that token is counted: the limiter runs before routing and authentication.
    expect((await f.call("GET", "/api/no-such-route", { token, address: "198.51.100.5" })).status).toBe(429);
    const second = await f.login(undefined, f.root.email, STRONG_PASSWORD, "198.51.100.6");
    expect(second.status).toBe(200);
    const other = ((await second.json()) as { accessToken: string }).accessToken;
    expect((await f.call("GET", "/api/me", { token: other, address: "198.51.100.7" })).status).toBe(200);
    t += 20_000;
    expect((await f.call("GET", "/api/me", { token, address: "198.51.100.8" })).status).toBe(200);
    expect((await f.call("GET", "/api/me", { token, address: "198.51.100.9" })).status).toBe(429);
  });
});
