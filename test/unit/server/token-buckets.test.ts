/** The rate limiter's buckets: burst, refill, Retry-After, and memory that an attacker cannot grow. */
import { describe, expect, it } from "vitest";
import { TokenBuckets } from "../../../src/server/token-buckets.js";

describe("TokenBuckets", () => {
  it("allows a minute's worth as a burst, then says how long until the next token", () => {
    const buckets = new TokenBuckets(60);
    for (let i = 0; i < 60; i++) expect(buckets.take("a", 0)).toBe(0);
    expect(buckets.take("a", 0)).toBe(1);
    expect(buckets.take("a", 999)).toBe(1);
    expect(buckets.take("a", 1000)).toBe(0);
    expect(buckets.take("a", 1000)).toBe(1);
    // Another key is untouched by a's exhaustion.
    expect(buckets.take("b", 1000)).toBe(0);
  });

  it("refills at the per-minute rate and never beyond the burst", () => {
    const buckets = new TokenBuckets(6); // one token every 10 s
    for (let i = 0; i < 6; i++) buckets.take("a", 0);
    expect(buckets.take("a", 0)).toBe(10);
    expect(buckets.take("a", 5_000)).toBe(5);
    expect(buckets.take("a", 3_600_000)).toBe(0);
    for (let i = 0; i < 5; i++) expect(buckets.take("a", 3_600_000)).toBe(0);
    expect(buckets.take("a", 3_600_000)).toBe(10);
  });

  it("stays within its key budget when keys are cycled, dropping idle buckets first", () => {
    const buckets = new TokenBuckets(10, 100);
    for (let i = 0; i < 10_000; i++) buckets.take(`cycled-${i}`, i);
    expect(buckets.size).toBeLessThanOrEqual(100);
    const fresh = new TokenBuckets(10, 100);
    for (let i = 0; i < 99; i++) fresh.take(`idle-${i}`, 0);
    for (let i = 0; i < 10; i++) fresh.take("busy", 60_500);
    // At the budget: the idle buckets (full again, so worth nothing) go; the exhausted one is kept, still exhausted.
    fresh.take("newcomer", 61_000);
    expect(fresh.size).toBe(2);
    expect(fresh.take("busy", 61_000)).toBeGreaterThan(0);
  });
});
