/**
 * Licensing and usage tables (migration 0010): installed licenses, the clock's high-water mark,
 * clock rollbacks and the signed daily usage snapshots. Platform-level: nothing here belongs to a
 * tenant. Rows of licenses, clock_rollbacks and usage_snapshots are append-only (triggers).
 */
import type BetterSqlite3 from "better-sqlite3";
import { statement } from "../statements.js";

export interface InstalledLicenseRow {
  readonly sequence: number;
  readonly licenseId: string;
  readonly kid: string;
  /** The armored text, exactly as installed. */
  readonly text: string;
  readonly installedAt: string;
  readonly installedBy: string;
}

export interface ClockRollbackRow {
  readonly id: number;
  readonly detectedAt: string;
  readonly highWater: string;
  readonly behindSeconds: number;
  readonly source: string;
}

export interface UsageSnapshotRow {
  readonly seq: number;
  readonly day: string;
  /** The signed snapshot, canonical JSON. */
  readonly body: string;
  /** SHA-256 of body, hex. */
  readonly hash: string;
  /** The id of the last clock rollback this snapshot (or an earlier one) reported. */
  readonly rollbacksThrough: number;
  readonly createdAt: string;
}

export type LicenseMetaKey = "clock.high_water" | "clock.incident_open" | "license.last_state";

interface LicenseRow {
  sequence: number;
  license_id: string;
  kid: string;
  text: string;
  installed_at: string;
  installed_by: string;
}

interface RollbackRow {
  id: number;
  detected_at: string;
  high_water: string;
  behind_seconds: number;
  source: string;
}

interface SnapshotRow {
  seq: number;
  day: string;
  body: string;
  hash: string;
  rollbacks_through: number;
  created_at: string;
}

const LICENSE_COLUMNS = "sequence, license_id, kid, text, installed_at, installed_by";
const ROLLBACK_COLUMNS = "id, detected_at, high_water, behind_seconds, source";
const SNAPSHOT_COLUMNS = "seq, day, body, hash, rollbacks_through, created_at";

const toLicense = (r: LicenseRow): InstalledLicenseRow => ({
  sequence: r.sequence,
  licenseId: r.license_id,
  kid: r.kid,
  text: r.text,
  installedAt: r.installed_at,
  installedBy: r.installed_by,
});
const toRollback = (r: RollbackRow): ClockRollbackRow => ({
  id: r.id,
  detectedAt: r.detected_at,
  highWater: r.high_water,
  behindSeconds: r.behind_seconds,
  source: r.source,
});
const toSnapshot = (r: SnapshotRow): UsageSnapshotRow => ({
  seq: r.seq,
  day: r.day,
  body: r.body,
  hash: r.hash,
  rollbacksThrough: r.rollbacks_through,
  createdAt: r.created_at,
});

export class LicensingRepository {
  constructor(private readonly handle: BetterSqlite3.Database) {}

  /** The installed license with the highest sequence. */
  currentLicense(): InstalledLicenseRow | undefined {
    const row = statement<[], LicenseRow>(
      this.handle,
      `SELECT ${LICENSE_COLUMNS} FROM licenses ORDER BY sequence DESC LIMIT 1`,
    ).get();
    return row ? toLicense(row) : undefined;
  }

  /** Cheap: which license is current (its sequence), to tell whether a cached copy is still it. */
  currentSequence(): number | undefined {
    return (
      statement<[], { sequence: number | null }>(this.handle, "SELECT max(sequence) AS sequence FROM licenses").get()
        ?.sequence ?? undefined
    );
  }

  licenseHistory(): InstalledLicenseRow[] {
    return statement<[], LicenseRow>(this.handle, `SELECT ${LICENSE_COLUMNS} FROM licenses ORDER BY sequence`)
      .all()
      .map(toLicense);
  }

  insertLicense(row: InstalledLicenseRow): void {
    statement(this.handle, `INSERT INTO licenses (${LICENSE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)`).run(
      row.sequence,
      row.licenseId,
      row.kid,
      row.text,
      row.installedAt,
      row.installedBy,
    );
  }

  meta(key: LicenseMetaKey): string | undefined {
    return statement<[string], { value: string }>(this.handle, "SELECT value FROM license_meta WHERE key = ?").get(key)
      ?.value;
  }

  setMeta(key: LicenseMetaKey, value: string): void {
    statement(
      this.handle,
      "INSERT INTO license_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    ).run(key, value);
  }

  insertRollback(row: Omit<ClockRollbackRow, "id">): number {
    const result = statement(
      this.handle,
      "INSERT INTO clock_rollbacks (detected_at, high_water, behind_seconds, source) VALUES (?, ?, ?, ?)",
    ).run(row.detectedAt, row.highWater, row.behindSeconds, row.source);
    return Number(result.lastInsertRowid);
  }

  /** Rollbacks with an id above `afterId`, oldest first. */
  rollbacksAfter(afterId: number): ClockRollbackRow[] {
    return statement<[number], RollbackRow>(
      this.handle,
      `SELECT ${ROLLBACK_COLUMNS} FROM clock_rollbacks WHERE id > ? ORDER BY id`,
    )
      .all(afterId)
      .map(toRollback);
  }

  lastSnapshot(): UsageSnapshotRow | undefined {
    const row = statement<[], SnapshotRow>(
      this.handle,
      `SELECT ${SNAPSHOT_COLUMNS} FROM usage_snapshots ORDER BY seq DESC LIMIT 1`,
    ).get();
    return row ? toSnapshot(row) : undefined;
  }

  snapshotForDay(day: string): UsageSnapshotRow | undefined {
    const row = statement<[string], SnapshotRow>(
      this.handle,
      `SELECT ${SNAPSHOT_COLUMNS} FROM usage_snapshots WHERE day = ?`,
    ).get(day);
    return row ? toSnapshot(row) : undefined;
  }

  /** The last snapshot of a day before `day`: where a report starting at `day` continues the chain from. */
  lastSnapshotBefore(day: string): UsageSnapshotRow | undefined {
    const row = statement<[string], SnapshotRow>(
      this.handle,
      `SELECT ${SNAPSHOT_COLUMNS} FROM usage_snapshots WHERE day < ? ORDER BY seq DESC LIMIT 1`,
    ).get(day);
    return row ? toSnapshot(row) : undefined;
  }

  /** Snapshots whose day is within [fromDay, toDay], in chain order. */
  snapshotsBetween(fromDay: string, toDay: string): UsageSnapshotRow[] {
    return statement<[string, string], SnapshotRow>(
      this.handle,
      `SELECT ${SNAPSHOT_COLUMNS} FROM usage_snapshots WHERE day >= ? AND day <= ? ORDER BY seq`,
    )
      .all(fromDay, toDay)
      .map(toSnapshot);
  }

  /** The latest event time of one audit log: the audit trail's own high-water mark of the clock. */
  latestAuditTime(logId: string): string | undefined {
    return (
      statement<[string], { t: string | null }>(
        this.handle,
        "SELECT max(timestamp) AS t FROM audit_events WHERE tenant_id = ?",
      ).get(logId)?.t ?? undefined
    );
  }

  insertSnapshot(row: UsageSnapshotRow): void {
    statement(this.handle, `INSERT INTO usage_snapshots (${SNAPSHOT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)`).run(
      row.seq,
      row.day,
      row.body,
      row.hash,
      row.rollbacksThrough,
      row.createdAt,
    );
  }
}
