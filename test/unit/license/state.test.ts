/** License states at their boundaries, and the checks an installation makes (dates, sequence). */
import { describe, expect, it } from "vitest";
import { LicenseError } from "../../../src/license/format.js";
import {
  checkInstallable,
  EVALUATION_LIMITS,
  EXPIRY_WARNING_DAYS,
  limitsOf,
  stateAt,
  warningsFor,
} from "../../../src/license/state.js";
import { payloadAt } from "../../license-helpers.js";

const DAY = 86_400_000;
const issued = new Date("2026-01-01T00:00:00Z");
const license = payloadAt(issued, { expiresAt: "2027-01-01T00:00:00Z", graceDays: 14 });
const expires = Date.parse(license.expiresAt);
const at = (ms: number): Date => new Date(ms);

function refusal(fn: () => void): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof LicenseError) return `${error.code}: ${error.message}`;
    throw error;
  }
  return "accepted";
}

describe("license states", () => {
  it("unlicensed: evaluation limits and a warning that says so", () => {
    expect(stateAt(null, issued)).toBe("unlicensed");
    expect(limitsOf(null)).toEqual(EVALUATION_LIMITS);
    expect(warningsFor(null, issued)[0]).toMatch(
      /^no license is installed: evaluation limits apply \(10 tenants, 25 users, 5 agents\)/,
    );
  });

  it("valid, expiring from 30 days before expiry, grace from expiry, expired when grace ends", () => {
    expect(stateAt(license, at(expires - EXPIRY_WARNING_DAYS * DAY - 1))).toBe("valid");
    expect(warningsFor(license, at(expires - EXPIRY_WARNING_DAYS * DAY - 1))).toEqual([]);
    expect(stateAt(license, at(expires - EXPIRY_WARNING_DAYS * DAY))).toBe("expiring");
    expect(warningsFor(license, at(expires - 10 * DAY))).toEqual([
      "the license expires on 2027-01-01T00:00:00Z (in 10 days); install a renewed license",
    ]);
    expect(stateAt(license, at(expires - 1))).toBe("expiring");
    expect(stateAt(license, at(expires))).toBe("grace");
    expect(warningsFor(license, at(expires + DAY))[0]).toMatch(
      /grace period ends on 2027-01-15T00:00:00.000Z \(in 13 days\)/,
    );
    expect(stateAt(license, at(expires + 14 * DAY - 1))).toBe("grace");
    expect(stateAt(license, at(expires + 14 * DAY))).toBe("expired");
    expect(warningsFor(license, at(expires + 20 * DAY))[0]).toMatch(
      /read-only for changes until a renewed license is installed/,
    );
    expect(limitsOf(license)).toEqual(license.limits);
  });

  it("no grace days: expired right at expiry", () => {
    const strict = { ...license, graceDays: 0 };
    expect(stateAt(strict, at(expires - 1))).toBe("expiring");
    expect(stateAt(strict, at(expires))).toBe("expired");
  });

  it("a clock before notBefore is warned about, not punished", () => {
    const early = at(Date.parse(license.notBefore) - DAY);
    expect(stateAt(license, early)).toBe("valid");
    expect(warningsFor(license, early)).toEqual([expect.stringMatching(/is before the license's notBefore/)]);
  });
});

describe("installation checks", () => {
  const now = at(Date.parse("2026-06-01T00:00:00Z"));

  it("accepts a license in force, also within grace, newer than the installed one", () => {
    expect(refusal(() => checkInstallable(license, now, undefined))).toBe("accepted");
    expect(refusal(() => checkInstallable(license, at(expires + DAY), undefined))).toBe("accepted");
    expect(
      refusal(() => checkInstallable({ ...license, sequence: 5 }, now, { sequence: 4, licenseId: "LIC-OLD" })),
    ).toBe("accepted");
  });

  it("refuses a license that is not valid yet", () => {
    const future = { ...license, notBefore: "2026-07-01T00:00:00Z" };
    expect(refusal(() => checkInstallable(future, now, undefined))).toBe(
      "not-yet-valid: the license is not valid before 2026-07-01T00:00:00Z (the clock says 2026-06-01T00:00:00.000Z)",
    );
  });

  it("refuses a license past its grace period", () => {
    expect(refusal(() => checkInstallable(license, at(expires + 14 * DAY), undefined))).toBe(
      "expired: the license expired on 2027-01-01T00:00:00Z and its 14-day grace period has ended; ask for a renewed license",
    );
  });

  it("refuses an equal or lower sequence: replay and downgrade", () => {
    expect(
      refusal(() => checkInstallable({ ...license, sequence: 3 }, now, { sequence: 3, licenseId: license.licenseId })),
    ).toBe(
      "sequence: the license has sequence 3, the installed license (LIC-TEST-1) has 3: it is already installed; a replacement must have a higher sequence",
    );
    expect(
      refusal(() => checkInstallable({ ...license, sequence: 3 }, now, { sequence: 3, licenseId: "LIC-OTHER" })),
    ).toMatch(/an installed license has the same sequence/);
    expect(
      refusal(() => checkInstallable({ ...license, sequence: 2 }, now, { sequence: 3, licenseId: "LIC-NEW" })),
    ).toBe(
      "sequence: the license has sequence 2, the installed license (LIC-NEW) has 3: it is older than the installed license; a replacement must have a higher sequence",
    );
  });
});
