import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { delaySeconds, LoginThrottle, throttleKeys } from "../../../src/auth/throttle.js";
import { Database } from "../../../src/db/db.js";
import { testDir } from "../../helpers.js";

describe("login throttle", () => {
  function setup(): { throttle: LoginThrottle; clock: { now: Date } } {
    const dir = testDir();
    const db = Database.open(join(dir, "vecto.db"));
    onTestFinished(() => db.close());
    const clock = { now: new Date("2026-11-28T10:00:00.000Z") };
    return { throttle: new LoginThrottle(db, () => clock.now), clock };
  }

  it("backs off exponentially after the free failures, up to the cap", () => {
    const policy = { freeFailures: 5, maxDelaySeconds: 900 };
    expect([4, 5, 6, 7, 8, 14, 15, 30].map((n) => delaySeconds(n, policy))).toEqual([0, 1, 2, 4, 8, 512, 900, 900]);
  });

  it("blocks for the computed delay, then allows one more attempt", async () => {
    const { throttle, clock } = setup();
    const keys = throttleKeys("t1", "acct", "10.9.9.9");
    for (let i = 0; i < 7; i++) await throttle.failure(keys); // 7 failures, 5 free: 2^(7-5) = 4 s
    expect(throttle.retryAfter(keys)).toBe(4);
    clock.now = new Date(clock.now.getTime() + 4000);
    expect(throttle.retryAfter(keys)).toBe(0);
  });

  it("caps the account-wide delay at one minute, so a distributed attack cannot lock the owner out", async () => {
    const { throttle } = setup();
    for (let i = 0; i < 40; i++) await throttle.failure(throttleKeys("t1", "acct", `192.0.2.${i}`));
    expect(throttle.retryAfter(throttleKeys("t1", "acct", "198.51.100.1"))).toBeLessThanOrEqual(60);
    expect(throttle.retryAfter(throttleKeys("t1", "acct", "198.51.100.1"))).toBeGreaterThan(0);
  });

  it("forgets failures after an hour without one, and a success clears the account", async () => {
    const { throttle, clock } = setup();
    const keys = throttleKeys("t1", "acct", "10.1.1.1");
    for (let i = 0; i < 6; i++) await throttle.failure(keys);
    expect(throttle.retryAfter(keys)).toBe(2);
    clock.now = new Date(clock.now.getTime() + 61 * 60_000);
    await throttle.failure(keys);
    expect(throttle.retryAfter(keys)).toBe(0); // counting started over
    for (let i = 0; i < 6; i++) await throttle.failure(keys);
    await throttle.success(keys);
    expect(throttle.retryAfter({ ...keys, address: "addr:none" })).toBe(0);
  });

  it("a success never clears the per-address counter: one valid account does not reset a sprayer", async () => {
    const { throttle, clock } = setup();
    const sprayer = "203.0.113.50";
    // 20 wrong guesses at 20 accounts from one address: the address counter blocks (2^0 = 1 s).
    for (let i = 0; i < 20; i++) await throttle.failure(throttleKeys("t1", `victim-${i}`, sprayer));
    const own = throttleKeys("t1", "attackers-own-account", sprayer);
    expect(throttle.retryAfter(own)).toBe(1);
    clock.now = new Date(clock.now.getTime() + 1000);
    // The attacker signs in to an account it owns, from the same address.
    await throttle.success(own);
    await throttle.failure(throttleKeys("t1", "victim-20", sprayer));
    // The 21st failure still counts from 20: blocked 2 s, not started over.
    expect(throttle.retryAfter(throttleKeys("t1", "victim-21", sprayer))).toBe(2);
    expect(throttle.retryAfter(own)).toBe(2);
  });
});
