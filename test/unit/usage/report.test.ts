/**
 * Usage-report verification (the vendor's check) on reports built with real Ed25519 keys and the
 * same signing code the appliance uses: a good report verifies; an edited count, a dropped day,
 * reordered days and a swapped key are each detected with a specific message; gaps, rollbacks and
 * overage are listed.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ed25519SignerFromSeed, encodePublicKey, type Ed25519Signer } from "../../../src/crypto/ed25519.js";
import {
  addDays,
  daysIn,
  GENESIS_HASH,
  REPORT_FORMAT,
  reportSigningMessage,
  reportSummary,
  SNAPSHOT_FORMAT,
  snapshotHash,
  snapshotSigningMessage,
  verifyUsageReport,
  withoutSignature,
  type SignedSnapshot,
  type SnapshotBody,
  type UnsignedReport,
  type UsageCounts,
  type UsageReport,
} from "../../../src/usage/report-format.js";
import { payloadAt } from "../../license-helpers.js";

const installation = ed25519SignerFromSeed(randomBytes(32));
const intruder = ed25519SignerFromSeed(randomBytes(32));
const publicOf = (key: Ed25519Signer): Uint8Array => key.publicKey;

const sig = (key: Ed25519Signer, message: Uint8Array): string => Buffer.from(key.sign(message)).toString("base64");

function counts(users: number, extra: Partial<UsageCounts> = {}): UsageCounts {
  return {
    tenants: 2,
    users: { active: users, disabled: 0, byRole: { tenant_admin: 2, member: users - 2, viewer: 0 }, auditors: 0 },
    activeUsers30d: users,
    agents: 1,
    projects: 3,
    nodes: 40,
    personalAccessTokens: 2,
    peakConcurrentSessions: 4,
    llmCallsByProvider: {},
    ...extra,
  };
}

function chain(
  key: Ed25519Signer,
  days: readonly string[],
  users: (i: number) => number,
  rollbackOn?: string,
): SignedSnapshot[] {
  const out: SignedSnapshot[] = [];
  days.forEach((day, i) => {
    const prev = out.at(-1);
    const body: SnapshotBody = {
      format: SNAPSHOT_FORMAT,
      installationId: "inst-1",
      seq: i + 1,
      day,
      takenAt: `${addDays(day, 1)}T00:15:00.000Z`,
      prevHash: prev ? snapshotHash(prev) : GENESIS_HASH,
      appVersion: "0.1.0",
      license: { licenseId: "LIC-TEST-1", state: "valid" },
      counts: counts(users(i)),
      clockRollbacks:
        day === rollbackOn
          ? [
              {
                detectedAt: `${day}T10:00:00.000Z`,
                highWater: `${day}T12:00:00.000Z`,
                behindSeconds: 7200,
                source: "usage-snapshot",
              },
            ]
          : [],
    };
    out.push({ ...body, signature: sig(key, snapshotSigningMessage(body)) });
  });
  return out;
}

function report(key: Ed25519Signer, snapshots: SignedSnapshot[], from: string, to: string): UsageReport {
  const have = new Set(snapshots.map((s) => s.day));
  const body: Omit<UnsignedReport, "summary"> = {
    format: REPORT_FORMAT,
    installationId: "inst-1",
    installationPublicKey: encodePublicKey(publicOf(key)),
    appVersion: "0.1.0",
    generatedAt: "2026-04-01T08:00:00.000Z",
    period: { from, to },
    license: {
      licenseId: "LIC-TEST-1",
      licensee: "Example",
      edition: "enterprise",
      deploymentMode: "on-prem",
      limits: { tenants: 10, users: 5, agents: 10 },
      expiresAt: "2027-01-01T00:00:00Z",
      sequence: 1,
      state: "valid",
    },
    snapshots,
    chain: {
      anchor: snapshots[0]?.prevHash ?? GENESIS_HASH,
      head: snapshots.length ? snapshotHash(snapshots.at(-1) as SignedSnapshot) : null,
      hashes: snapshots.map(snapshotHash),
    },
    missingDays: daysIn(from, to).filter((d) => !have.has(d)),
    clockRollbacks: snapshots.flatMap((s) => s.clockRollbacks),
  };
  const unsigned = { ...body, summary: reportSummary(body) };
  return { ...unsigned, signature: sig(key, reportSigningMessage(unsigned)) };
}

/** Re-signs a report (not its snapshots) as whoever holds `key`. */
function resign(r: UsageReport, key: Ed25519Signer): UsageReport {
  const unsigned = { ...withoutSignature(r), installationPublicKey: encodePublicKey(publicOf(key)) };
  return { ...unsigned, signature: sig(key, reportSigningMessage(unsigned)) };
}

const days = daysIn("2026-03-01", "2026-03-07");
const good = report(
  installation,
  chain(installation, days, (i) => 3 + (i % 2)),
  "2026-03-01",
  "2026-03-07",
);
const clone = (r: UsageReport): UsageReport => structuredClone(r);

describe("usage report verification", () => {
  it("a report as made verifies: no problems, no gaps, the maxima and summary are right", () => {
    const v = verifyUsageReport(good, { pinnedKey: publicOf(installation) });
    expect(v.problems).toEqual([]);
    expect(v.ok).toBe(true);
    expect(v.days).toBe(7);
    expect(v.missingDays).toEqual([]);
    expect(v.maxima).toMatchObject({ tenants: 2, users: 4, agents: 1 });
    expect(v.chainHead).toBe(good.chain.head);
    expect(good.summary).toContain("| 2026-03-02 | 2 | 4 |");
    expect(good.summary).toContain("Counts only");
  });

  it("an edited count is detected: that day's snapshot signature, and the report signature", () => {
    const r = clone(good);
    (r.snapshots[2] as SignedSnapshot).counts.users.active = 1;
    const v = verifyUsageReport(r);
    expect(v.ok).toBe(false);
    expect(v.problems).toContain(
      "day 2026-03-03 (snapshot 3): the snapshot signature does not verify: its content was altered, or it was signed by another key",
    );
    expect(v.problems).toContain(
      "the report signature does not verify with the installation key in the report: the report was altered after it was signed, or signed by another key",
    );
  });

  it("a dropped day is detected: the chain skips a snapshot, and the day is listed as missing", () => {
    const r = clone(good);
    r.snapshots.splice(3, 1);
    r.chain.hashes.splice(3, 1);
    r.missingDays = ["2026-03-04"];
    const v = verifyUsageReport(r);
    expect(v.ok).toBe(false);
    expect(v.problems).toContain(
      "day 2026-03-05 (snapshot 5): the chain skips from snapshot 3 to 5: 1 snapshot(s) were removed",
    );
    expect(v.problems).toContain(
      "day 2026-03-05 (snapshot 5): the chain is broken: its prevHash is not the hash of the snapshot before it (day 2026-03-03)",
    );
    expect(v.missingDays).toEqual(["2026-03-04"]);
  });

  it("reordered days are detected", () => {
    const r = clone(good);
    [r.snapshots[1], r.snapshots[2]] = [r.snapshots[2] as SignedSnapshot, r.snapshots[1] as SignedSnapshot];
    [r.chain.hashes[1], r.chain.hashes[2]] = [r.chain.hashes[2] as string, r.chain.hashes[1] as string];
    const v = verifyUsageReport(r);
    expect(v.ok).toBe(false);
    expect(v.problems).toContain("days out of order: day 2026-03-02 (snapshot 2) comes after day 2026-03-03");
    expect(v.problems).toContain("day 2026-03-02 (snapshot 2): snapshot numbers out of order (3 then 2)");
  });

  it("a swapped key is detected: another public key in the report fails every signature; a report wholly re-signed fails the pinned key", () => {
    const swapped = clone(good);
    swapped.installationPublicKey = encodePublicKey(publicOf(intruder));
    const v = verifyUsageReport(swapped);
    expect(v.ok).toBe(false);
    expect(v.problems[0]).toMatch(/^the report signature does not verify/);
    expect(v.problems).toContain(
      "day 2026-03-01 (snapshot 1): the snapshot signature does not verify: its content was altered, or it was signed by another key",
    );

    // Everything re-made and re-signed with the intruder's key is self-consistent: only a pinned key tells.
    const forged = report(
      intruder,
      chain(intruder, days, () => 2),
      "2026-03-01",
      "2026-03-07",
    );
    expect(verifyUsageReport(forged).ok).toBe(true);
    const pinned = verifyUsageReport(forged, { pinnedKey: publicOf(installation) });
    expect(pinned.ok).toBe(false);
    expect(pinned.problems[0]).toMatch(
      /^the report is signed with installation key [0-9a-f]{16}, not the pinned key [0-9a-f]{16}: the signing key was swapped$/,
    );
    // Re-signing only the report over the real snapshots: the snapshots give it away.
    expect(
      verifyUsageReport(resign(good, intruder)).problems.filter((p) => p.includes("snapshot signature")),
    ).toHaveLength(7);
  });

  it("gaps the appliance did not record are listed (not tampering); a chain continued across reports is checked", () => {
    const partial = chain(installation, ["2026-03-01", "2026-03-02", "2026-03-05"], () => 3);
    const r = report(installation, partial, "2026-03-01", "2026-03-06");
    const v = verifyUsageReport(r);
    expect(v.ok).toBe(true);
    expect(v.missingDays).toEqual(["2026-03-03", "2026-03-04", "2026-03-06"]);
    const next = report(installation, chain(installation, days, () => 3).slice(5), "2026-03-06", "2026-03-07");
    const head = chain(installation, days, () => 3)[4] as SignedSnapshot;
    expect(verifyUsageReport(next, { previousHead: snapshotHash(head) }).ok).toBe(true);
    const gap = verifyUsageReport(next, {
      previousHead: snapshotHash(chain(installation, days, () => 3)[3] as SignedSnapshot),
    });
    expect(gap.problems[0]).toMatch(/does not continue the previous report's chain/);
  });

  it("a report whose first snapshot does not continue from its chain anchor is refused: its first days were dropped", () => {
    const all = chain(installation, days, () => 3);
    const head = snapshotHash(all[4] as SignedSnapshot);
    // Days 6 and 7 follow a report that ended on day 5; day 6 is dropped, the anchor left as the previous head.
    const r = report(installation, all.slice(6), "2026-03-06", "2026-03-07");
    const dropped = resign({ ...r, chain: { ...r.chain, anchor: head } }, installation);
    const v = verifyUsageReport(dropped, { previousHead: head, pinnedKey: publicOf(installation) });
    expect(v.ok).toBe(false);
    expect(v.problems).toEqual(["day 2026-03-07 (snapshot 7): its prevHash differs from the report's chain anchor"]);
  });

  it("lists clock rollbacks and overage against the license's limits", () => {
    const r = report(
      installation,
      chain(installation, days, (i) => (i === 4 ? 7 : 4), "2026-03-03"),
      "2026-03-01",
      "2026-03-07",
    );
    const v = verifyUsageReport(r, {
      license: payloadAt(new Date("2026-01-01T00:00:00Z"), { limits: { tenants: 1, users: 6, agents: 10 } }),
    });
    expect(v.ok).toBe(true);
    expect(v.clockRollbacks).toEqual([
      {
        detectedAt: "2026-03-03T10:00:00.000Z",
        highWater: "2026-03-03T12:00:00.000Z",
        behindSeconds: 7200,
        source: "usage-snapshot",
      },
    ]);
    expect(v.overage).toContainEqual({ day: "2026-03-05", limit: "users", used: 7, allowed: 6 });
    expect(v.overage.filter((o) => o.limit === "tenants")).toHaveLength(7);
    // Without the license file, the limits the report states are used (and it says so).
    const own = verifyUsageReport(r);
    expect(own.overage).toContainEqual({ day: "2026-03-05", limit: "users", used: 7, allowed: 5 });
    expect(own.notes[0]).toMatch(/as the report states them/);
  });

  it("refuses what is not a report, naming the field", () => {
    expect(verifyUsageReport({}).problems[0]).toMatch(/^not a valid Vecto usage report: format:/);
    const r = clone(good) as unknown as { snapshots: { counts: Record<string, unknown> }[] };
    (r.snapshots[0] as { counts: Record<string, unknown> }).counts.secretField = 1;
    expect(verifyUsageReport(r).problems[0]).toMatch(/snapshots\.0\.counts: Unrecognized key/);
  });
});
