/**
 * Daily usage snapshots and the usage report a customer hands over in a license audit
 * (trust-but-verify: nothing is ever sent anywhere; docs/licensing.md).
 *
 * A snapshot records one UTC day: the job runs shortly after midnight and records the day that
 * just ended (at start-up, and on demand, the same day if it is still missing). Days the appliance
 * did not run stay missing: gaps are shown, never filled with invented numbers. Snapshots are
 * signed with the installation's Ed25519 key and hash-chained (report-format.ts), in the database.
 */
import type { EventSink } from "../audit/events.js";
import { encodePublicKey, type CryptoService } from "../crypto/index.js";
import type { Database } from "../db/db.js";
import type { UsageSnapshotRow } from "../db/repositories/licensing.js";
import { DomainError } from "../errors.js";
import { canonicalJson } from "../license/canonical.js";
import type { LicenseService } from "../license/license.js";
import type { Actor } from "../vocabulary/events.js";
import { countUsage } from "./counts.js";
import {
  addDays,
  dayOf,
  dayStart,
  daysIn,
  GENESIS_HASH,
  isDay,
  MAX_REPORT_DAYS,
  reportSigningMessage,
  reportSummary,
  SNAPSHOT_FORMAT,
  snapshotHash,
  snapshotSigningMessage,
  signedSnapshotSchema,
  REPORT_FORMAT,
  type ClockRollback,
  type SignedSnapshot,
  type SnapshotBody,
  type UnsignedReport,
  type UsageReport,
} from "./report-format.js";

export interface UsageDeps {
  readonly db: Database;
  readonly crypto: Pick<CryptoService, "signer">;
  readonly events: EventSink;
  readonly license: LicenseService;
  readonly now: () => Date;
  readonly appVersion: string;
}

export type SnapshotOutcome =
  | {
      readonly status: "recorded";
      readonly day: string;
      readonly seq: number;
      readonly hash: string;
      readonly snapshot: SignedSnapshot;
    }
  | { readonly status: "exists"; readonly day: string; readonly seq: number; readonly hash: string }
  | { readonly status: "skipped"; readonly day: string; readonly reason: string };

function parseSnapshot(row: UsageSnapshotRow): SignedSnapshot {
  return signedSnapshotSchema.parse(JSON.parse(row.body));
}

function rollbackOf(row: {
  detectedAt: string;
  highWater: string;
  behindSeconds: number;
  source: string;
}): ClockRollback {
  return { detectedAt: row.detectedAt, highWater: row.highWater, behindSeconds: row.behindSeconds, source: row.source };
}

export class UsageService {
  constructor(private readonly deps: UsageDeps) {}

  /** The installation's public key, raw 32 bytes in base64 (the key usage signatures verify with). */
  async installationPublicKey(): Promise<string> {
    return encodePublicKey((await this.deps.crypto.signer("usage-report")).publicKey);
  }

  async #sign(message: Uint8Array): Promise<string> {
    return Buffer.from((await this.deps.crypto.signer("usage-report")).sign(message)).toString("base64");
  }

  /**
   * Records the snapshot of the day before today (UTC) unless it exists. Observes the clock first
   * (a rollback found now goes into this snapshot). Skipped, not recorded, when the clock is behind
   * the chain (the day is not after the last recorded day).
   */
  async snapshot(actor: Actor = { type: "system", id: "usage" }): Promise<SnapshotOutcome> {
    await this.deps.license.observeClock("usage-snapshot");
    const now = this.deps.now();
    const day = addDays(dayOf(now), -1);
    const db = this.deps.db;
    const existing = db.licensing.snapshotForDay(day);
    if (existing) return { status: "exists", day, seq: existing.seq, hash: existing.hash };
    const last = db.licensing.lastSnapshot();
    if (last && last.day >= day)
      return {
        status: "skipped",
        day,
        reason: `the clock is behind the usage chain: its last snapshot is for ${last.day}`,
      };
    const rollbackRows = db.licensing.rollbacksAfter(last?.rollbacksThrough ?? 0);
    const payload = this.deps.license.payload();
    const body: SnapshotBody = {
      format: SNAPSHOT_FORMAT,
      installationId: db.installationId(),
      seq: (last?.seq ?? 0) + 1,
      day,
      takenAt: now.toISOString(),
      prevHash: last?.hash ?? GENESIS_HASH,
      appVersion: this.deps.appVersion,
      license: { licenseId: payload?.licenseId ?? null, state: this.deps.license.state() },
      counts: countUsage(db, day, now),
      clockRollbacks: rollbackRows.map(rollbackOf),
    };
    const snapshot: SignedSnapshot = { ...body, signature: await this.#sign(snapshotSigningMessage(body)) };
    const hash = snapshotHash(snapshot);
    const recorded = await db.write((tx) => {
      // Another process (a CLI run, the job) may have recorded it meanwhile: the chain must not fork.
      const head = tx.licensing.lastSnapshot();
      if (head?.seq !== last?.seq) return false;
      tx.licensing.insertSnapshot({
        seq: body.seq,
        day,
        body: canonicalJson(snapshot),
        hash,
        rollbacksThrough: rollbackRows.at(-1)?.id ?? last?.rollbacksThrough ?? 0,
        createdAt: tx.now,
      });
      this.deps.events.emit({
        event: "usage.snapshot",
        sensitivity: "normal",
        severity: "info",
        tenantId: null,
        actor,
        payload: {
          day,
          seq: body.seq,
          hash,
          tenants: body.counts.tenants,
          users: body.counts.users.active,
          agents: body.counts.agents,
          clockRollbacks: body.clockRollbacks.length,
        },
      });
      return true;
    });
    if (!recorded) {
      const now2 = db.licensing.snapshotForDay(day);
      return now2
        ? { status: "exists", day, seq: now2.seq, hash: now2.hash }
        : { status: "skipped", day, reason: "another process extended the usage chain meanwhile" };
    }
    return { status: "recorded", day, seq: body.seq, hash, snapshot };
  }

  /** The recorded snapshots of a period, parsed, in chain order. */
  snapshots(from: string, to: string): SignedSnapshot[] {
    return this.deps.db.licensing.snapshotsBetween(from, to).map(parseSnapshot);
  }

  /**
   * The signed usage report for [from, to] (UTC days, both included), audited as usage.exported.
   * Everything in it is a count; see report-format.ts for what is signed.
   */
  async report(from: string, to: string, actor: Actor, destination: string): Promise<UsageReport> {
    checkPeriod(from, to);
    const db = this.deps.db;
    const rows = db.licensing.snapshotsBetween(from, to);
    const snapshots = rows.map(parseSnapshot);
    const have = new Set(snapshots.map((s) => s.day));
    const status = this.deps.license.status();
    const license = status.license;
    const body: Omit<UnsignedReport, "summary"> = {
      format: REPORT_FORMAT,
      installationId: db.installationId(),
      installationPublicKey: await this.installationPublicKey(),
      appVersion: this.deps.appVersion,
      generatedAt: this.deps.now().toISOString(),
      period: { from, to },
      license: license
        ? {
            licenseId: license.licenseId,
            licensee: license.licensee,
            edition: license.edition,
            deploymentMode: license.deploymentMode,
            limits: license.limits,
            expiresAt: license.expiresAt,
            sequence: license.sequence,
            state: status.state,
          }
        : null,
      snapshots,
      chain: {
        anchor: snapshots[0]?.prevHash ?? db.licensing.lastSnapshotBefore(from)?.hash ?? GENESIS_HASH,
        head: rows.at(-1)?.hash ?? null,
        hashes: rows.map((r) => r.hash),
      },
      missingDays: daysIn(from, to).filter((d) => !have.has(d)),
      clockRollbacks: snapshots.flatMap((s) => s.clockRollbacks),
    };
    const unsigned: UnsignedReport = { ...body, summary: reportSummary(body) };
    const report: UsageReport = { ...unsigned, signature: await this.#sign(reportSigningMessage(unsigned)) };
    this.deps.events.emit({
      event: "usage.exported",
      sensitivity: "normal",
      severity: "info",
      tenantId: null,
      actor,
      payload: {
        from,
        to,
        days: snapshots.length,
        missingDays: body.missingDays.length,
        head: body.chain.head,
        out: destination,
      },
    });
    return report;
  }
}

/** A period of real days, in order, at most MAX_REPORT_DAYS long. */
export function checkPeriod(from: string, to: string): void {
  if (!isDay(from)) throw new DomainError("rejected", "from must be a date YYYY-MM-DD");
  if (!isDay(to)) throw new DomainError("rejected", "to must be a date YYYY-MM-DD");
  if (from > to) throw new DomainError("rejected", `the period is reversed: from ${from} is after to ${to}`);
  if ((dayStart(to).getTime() - dayStart(from).getTime()) / 86_400_000 + 1 > MAX_REPORT_DAYS)
    throw new DomainError("rejected", `a report covers at most ${MAX_REPORT_DAYS} days`);
}
