/**
 * Login throttling (ASVS 6.1.1): the attacker's address is slowed hard; the real user, from
 * another address, still gets in; an address spraying many accounts is slowed too.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { identityFixture, STRONG_PASSWORD, type Fixture, type TenantAccount } from "../../identity-fixture.js";

describe("login throttling", () => {
  let f: Fixture;
  let acme: TenantAccount;

  beforeAll(async () => {
    f = await identityFixture();
    acme = await f.createTenant("throttle-co");
  });
  afterAll(() => f.close());

  it("slows the attacker's address after 5 failures, but not the real user elsewhere", async () => {
    const attacker = "203.0.113.66";
    for (let i = 0; i < 5; i++)
      expect((await f.login("throttle-co", acme.admin.email, `guess-number-${i}-wrong`, attacker)).status).toBe(401);
    const blocked = await f.login("throttle-co", acme.admin.email, `guess-number-6-wrong`, attacker);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(((await blocked.json()) as { type: string }).type).toBe("urn:vecto:problem:too-many-requests");
    // Even the right password waits while throttled: the attacker learns nothing from it.
    expect((await f.login("throttle-co", acme.admin.email, STRONG_PASSWORD, attacker)).status).toBe(429);
    // The owner, from their own address, is not locked out.
    expect((await f.login("throttle-co", acme.admin.email, STRONG_PASSWORD, "198.51.100.7")).status).toBe(200);
  });

  it("slows an address that sprays many accounts", async () => {
    const sprayer = "203.0.113.99";
    const statuses: number[] = [];
    for (let i = 0; i < 22; i++)
      statuses.push((await f.login("throttle-co", `victim${i}@example.test`, "Summer2026!!x", sprayer)).status);
    expect(statuses.slice(0, 20).every((s) => s === 401)).toBe(true);
    expect(statuses.slice(20)).toContain(429);
  });
});

describe("login throttling and a successful sign-in (movable clock)", () => {
  let clock = new Date();
  let f: Fixture;
  let acme: TenantAccount;

  beforeAll(async () => {
    f = await identityFixture({ now: () => clock });
    acme = await f.createTenant("spray-co");
  });
  afterAll(() => f.close());

  it("a sprayer's own valid account does not reset its address counter", async () => {
    const sprayer = "203.0.113.77";
    for (let i = 0; i < 20; i++)
      expect((await f.login("spray-co", `victim${i}@example.test`, "Summer2026!!x", sprayer)).status).toBe(401);
    expect((await f.login("spray-co", "victim20@example.test", "Summer2026!!x", sprayer)).status).toBe(429);
    clock = new Date(clock.getTime() + 1000);
    // The attacker owns one real account and signs in to it from the spraying address.
    expect((await f.login("spray-co", acme.admin.email, STRONG_PASSWORD, sprayer)).status).toBe(200);
    // The address counter kept counting: the next guess is the 21st failure, and the one after waits.
    expect((await f.login("spray-co", "victim21@example.test", "Summer2026!!x", sprayer)).status).toBe(401);
    expect((await f.login("spray-co", "victim22@example.test", "Summer2026!!x", sprayer)).status).toBe(429);
  });
});
