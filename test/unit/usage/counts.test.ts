/** The peak-concurrency estimate: a sweep over session intervals, clipped to the day. */
import { describe, expect, it } from "vitest";
import { peakOverlap, sessionInterval } from "../../../src/usage/counts.js";

const H = 3_600_000;
const day = Date.parse("2026-03-10T00:00:00Z");
const iso = (ms: number): string => new Date(ms).toISOString();

describe("peak concurrent sessions", () => {
  it("counts the most intervals overlapping at one moment; touching intervals do not overlap", () => {
    expect(peakOverlap([])).toBe(0);
    expect(peakOverlap([{ start: 0, end: 10 }])).toBe(1);
    expect(
      peakOverlap([
        { start: 0, end: 10 },
        { start: 10, end: 20 },
      ]),
    ).toBe(1);
    expect(
      peakOverlap([
        { start: 0, end: 10 },
        { start: 5, end: 20 },
        { start: 6, end: 7 },
        { start: 15, end: 30 },
      ]),
    ).toBe(3);
    expect(
      peakOverlap([
        { start: 5, end: 5 },
        { start: 7, end: 3 },
      ]),
    ).toBe(0);
  });

  it("a session is live from creation until revoked, expired, or an access-token lifetime after its last use, clipped to the day", () => {
    const ttl = 8 * 3600;
    const span = {
      createdAt: iso(day + 9 * H),
      expiresAt: iso(day + 30 * 24 * H),
      lastUsedAt: iso(day + 10 * H),
      revokedAt: null,
    };
    expect(sessionInterval(span, ttl, day, day + 24 * H)).toEqual({ start: day + 9 * H, end: day + 18 * H });
    expect(sessionInterval({ ...span, revokedAt: iso(day + 12 * H) }, ttl, day, day + 24 * H)).toEqual({
      start: day + 9 * H,
      end: day + 12 * H,
    });
    // Created the day before and used late: live from midnight.
    expect(
      sessionInterval({ ...span, createdAt: iso(day - 2 * H), lastUsedAt: iso(day + 20 * H) }, ttl, day, day + 24 * H),
    ).toEqual({ start: day, end: day + 24 * H });
    // Last used long before the day: not live that day.
    expect(
      sessionInterval({ ...span, createdAt: iso(day - 48 * H), lastUsedAt: iso(day - 47 * H) }, ttl, day, day + 24 * H),
    ).toBeNull();
  });
});
