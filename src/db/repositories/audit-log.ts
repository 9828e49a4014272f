/** Audit rows: appended inside the transaction of the change they record; never updated or deleted (triggers). */
import type BetterSqlite3 from "better-sqlite3";
import type { DomainEvent } from "../../vocabulary/events.js";
import { statement } from "../statements.js";

/** Where the row goes: its log, leaf index, id and time (decided inside the write transaction). */
export interface AuditPosition {
  readonly logId: string;
  readonly seq: number;
  readonly vid: string;
  readonly timestamp: string;
}

/**
 * What turns an event into its signed row; the database holds one (src/audit/seal.ts makes it) and calls it inside the
 * write.
 */
export interface AuditSealer {
  seal(event: DomainEvent, position: AuditPosition): AuditRow;
}

export interface AuditRow {
  readonly vid: string;
  /** The log the row belongs to: a tenant id, or "_platform". */
  readonly tenantId: string;
  /** Leaf index in its log's Merkle tree. */
  readonly seq: number;
  readonly event: string;
  readonly scope: "infra" | "tenant" | "project" | "user";
  readonly sensitivity: "normal" | "security";
  readonly severity: "info" | "warn" | "error" | "critical";
  readonly actorType: "human" | "agent" | "system" | "anonymous";
  readonly actorId: string | null;
  readonly actorName: string | null;
  readonly scopeVid: string | null;
  readonly timestamp: string;
  /** Canonical JSON (RFC 8785). */
  readonly payload: string;
  readonly signature: Uint8Array;
  readonly leafHash: Uint8Array;
}

interface Row {
  vid: string;
  tenant_id: string;
  seq: number;
  event: string;
  scope: AuditRow["scope"];
  sensitivity: AuditRow["sensitivity"];
  severity: AuditRow["severity"];
  actor_type: AuditRow["actorType"];
  actor_id: string | null;
  actor_name: string | null;
  scope_vid: string | null;
  timestamp: string;
  payload: string;
  signature: Buffer;
  leaf_hash: Buffer;
}

const COLUMNS =
  "vid, tenant_id, seq, event, scope, sensitivity, severity, actor_type, actor_id, actor_name, " +
  "scope_vid, timestamp, payload, signature, leaf_hash";

function toRow(r: Row): AuditRow {
  return {
    vid: r.vid,
    tenantId: r.tenant_id,
    seq: r.seq,
    event: r.event,
    scope: r.scope,
    sensitivity: r.sensitivity,
    severity: r.severity,
    actorType: r.actor_type,
    actorId: r.actor_id,
    actorName: r.actor_name,
    scopeVid: r.scope_vid,
    timestamp: r.timestamp,
    payload: r.payload,
    signature: new Uint8Array(r.signature),
    leafHash: new Uint8Array(r.leaf_hash),
  };
}

export interface CheckpointRow {
  readonly tenantId: string;
  readonly size: number;
  readonly rootHash: Uint8Array;
  /** The Merkle frontier at `size`, 32-byte hashes concatenated. */
  readonly frontier: Uint8Array;
  /** The C2SP signed note. */
  readonly note: string;
  readonly createdAt: string;
}

interface CheckpointSqlRow {
  tenant_id: string;
  size: number;
  root_hash: Buffer;
  frontier: Buffer;
  note: string;
  created_at: string;
}

function toCheckpoint(r: CheckpointSqlRow): CheckpointRow {
  return {
    tenantId: r.tenant_id,
    size: r.size,
    rootHash: new Uint8Array(r.root_hash),
    frontier: new Uint8Array(r.frontier),
    note: r.note,
    createdAt: r.created_at,
  };
}

export interface AuditFilter {
  readonly from?: string;
  readonly to?: string;
  readonly actorId?: string;
  readonly event?: string;
  /** Keyset: rows with seq greater than this. */
  readonly afterSeq: number;
  readonly limit: number;
}

const FILTER_SQL = `SELECT ${COLUMNS} FROM audit_events
  WHERE tenant_id = @tenantId AND seq > @afterSeq
    AND (@from IS NULL OR timestamp >= @from)
    AND (@to IS NULL OR timestamp < @to)
    AND (@actorId IS NULL OR actor_id = @actorId)
    AND (@event IS NULL OR event = @event)
  ORDER BY seq LIMIT @limit`;

/**
 * Reading one audit log (a tenant's, or the installation's "_platform"): the log id is bound at
 * construction and in every statement. Appending is Database.audit's alone.
 */
export class AuditLogRepository {
  /** All of it is reading: a read handle may call every method. */
  static readonly reads = ["page", "filtered", "leafHashes", "size", "latestCheckpoint", "checkpoints"] as const;

  constructor(
    private readonly handle: BetterSqlite3.Database,
    readonly tenantId: string,
  ) {}

  /** The log's rows in leaf order, from `fromSeq`, a page at a time (constant memory for any size). */
  page(fromSeq: number, limit: number): AuditRow[] {
    return statement<[string, number, number], Row>(
      this.handle,
      `SELECT ${COLUMNS} FROM audit_events WHERE tenant_id = ? AND seq >= ? ORDER BY seq LIMIT ?`,
    )
      .all(this.tenantId, fromSeq, limit)
      .map(toRow);
  }

  /** One page of the log's rows matching the filter, in seq order (keyset pagination: constant memory). */
  filtered(filter: AuditFilter): AuditRow[] {
    return statement<[Record<string, string | number | null>], Row>(this.handle, FILTER_SQL)
      .all({
        tenantId: this.tenantId,
        afterSeq: filter.afterSeq,
        from: filter.from ?? null,
        to: filter.to ?? null,
        actorId: filter.actorId ?? null,
        event: filter.event ?? null,
        limit: filter.limit,
      })
      .map(toRow);
  }

  /** Only the leaf hashes of a page of the log (what the Merkle tree needs), in seq order. */
  leafHashes(fromSeq: number, limit: number): Uint8Array[] {
    return statement<[string, number, number], { leaf_hash: Buffer }>(
      this.handle,
      "SELECT leaf_hash FROM audit_events WHERE tenant_id = ? AND seq >= ? ORDER BY seq LIMIT ?",
    )
      .all(this.tenantId, fromSeq, limit)
      .map((r) => new Uint8Array(r.leaf_hash));
  }

  /** How many events the log holds (its next leaf index). */
  size(): number {
    return (
      statement<[string], { next: number }>(
        this.handle,
        "SELECT coalesce(max(seq) + 1, 0) AS next FROM audit_events WHERE tenant_id = ?",
      ).get(this.tenantId)?.next ?? 0
    );
  }

  latestCheckpoint(): CheckpointRow | undefined {
    const row = statement<[string], CheckpointSqlRow>(
      this.handle,
      "SELECT tenant_id, size, root_hash, frontier, note, created_at " +
        "FROM audit_checkpoints " +
        "WHERE tenant_id = ? ORDER BY size DESC LIMIT 1",
    ).get(this.tenantId);
    return row ? toCheckpoint(row) : undefined;
  }

  checkpoints(): CheckpointRow[] {
    return statement<[string], CheckpointSqlRow>(
      this.handle,
      "SELECT tenant_id, size, root_hash, frontier, note, created_at " +
        "FROM audit_checkpoints " +
        "WHERE tenant_id = ? ORDER BY size",
    )
      .all(this.tenantId)
      .map(toCheckpoint);
  }
}

/**
 * The audit logs at platform level: appending (inside the write transaction of the change it
 * records), the list of logs, checkpoints, and reading any log by its id (verification, export
 * and checkpoints walk every log, the installation's included).
 */
export class AuditRepository {
  constructor(private readonly handle: BetterSqlite3.Database) {}

  /** The next leaf index of a log; called inside the write transaction, so no two appends race for it. */
  nextSeq(logId: string): number {
    return (
      statement<[string], { next: number }>(
        this.handle,
        "SELECT coalesce(max(seq) + 1, 0) AS next FROM audit_events WHERE tenant_id = ?",
      ).get(logId)?.next ?? 0
    );
  }

  append(row: AuditRow): void {
    statement(
      this.handle,
      `INSERT INTO audit_events (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      row.vid,
      row.tenantId,
      row.seq,
      row.event,
      row.scope,
      row.sensitivity,
      row.severity,
      row.actorType,
      row.actorId,
      row.actorName,
      row.scopeVid,
      row.timestamp,
      row.payload,
      Buffer.from(row.signature),
      Buffer.from(row.leafHash),
    );
  }

  /** One log, for reading. */
  log(logId: string): AuditLogRepository {
    return new AuditLogRepository(this.handle, logId);
  }

  page(logId: string, fromSeq: number, limit: number): AuditRow[] {
    return this.log(logId).page(fromSeq, limit);
  }

  filtered(logId: string, filter: AuditFilter): AuditRow[] {
    return this.log(logId).filtered(filter);
  }

  leafHashes(logId: string, fromSeq: number, limit: number): Uint8Array[] {
    return this.log(logId).leafHashes(fromSeq, limit);
  }

  latestCheckpoint(logId: string): CheckpointRow | undefined {
    return this.log(logId).latestCheckpoint();
  }

  checkpoints(logId: string): CheckpointRow[] {
    return this.log(logId).checkpoints();
  }

  size(logId: string): number {
    return this.nextSeq(logId);
  }

  /** Every log that has events: the tenants' and the installation's. */
  logIds(): string[] {
    return statement<[], { tenant_id: string }>(
      this.handle,
      "SELECT DISTINCT tenant_id FROM audit_events WHERE tenant_id IS NOT NULL ORDER BY tenant_id",
    )
      .all()
      .map((r) => r.tenant_id);
  }

  insertCheckpoint(row: CheckpointRow): void {
    statement(
      this.handle,
      "INSERT OR IGNORE INTO audit_checkpoints (tenant_id, size, root_hash, frontier, note, " +
        "created_at) VALUES (?, ?, ?, ?, ?, ?)",
    ).run(row.tenantId, row.size, Buffer.from(row.rootHash), Buffer.from(row.frontier), row.note, row.createdAt);
  }
}
