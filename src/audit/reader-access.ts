/**
 * What a signed-in reader may do with the audit logs through the API, decided here once for every
 * audit route: which log it reaches, whether security payloads are withheld from it, and the
 * records its export and its verification leave in the trail. Routes only translate HTTP.
 */
import type { CryptoService } from "../crypto/index.js";
import { PLATFORM_LOG, type Database } from "../db/db.js";
import { DomainError } from "../errors.js";
import type { AuditAnchor } from "./anchor.js";
import type { EventSink } from "./events.js";
import { exportChunks, recordAuditExport, type ActorNames, type AuditFilterInput, type ExportSpec } from "./export.js";
import { logKeys, makeCheckpoints, type LogKeys } from "./checkpoints.js";
import { consistency, inclusion } from "./proofs.js";
import { verifyLog, type VerifyReport } from "./verify.js";
import { actorOf, type ActorKind } from "../vocabulary/events.js";
import type { Scope } from "../vocabulary/roles.js";

/**
 * Who reads: the fields of an authenticated principal (src/auth/principal.ts) the audit trail
 * needs, named here because auth sits above the audit trail; a principal is a reader.
 */
export interface Reader {
  readonly userId: string;
  readonly actorKind: ActorKind;
  readonly tenantId: string;
  readonly tenantKind: "platform" | "customer";
  readonly scopes: ReadonlySet<Scope>;
}

/**
 * The log a reader may read: its own tenant's, or, for the platform root on request, the
 * installation's. `refusal` is how another reader is turned away: the export says it is
 * forbidden, the integrity routes say there is no such log.
 */
export function readableLog(principal: Reader, installationLog: boolean, refusal: "forbidden" | "not-found"): string {
  if (!installationLog) return principal.tenantId;
  if (principal.tenantKind === "platform") return PLATFORM_LOG;
  throw new DomainError(
    refusal,
    refusal === "forbidden" ? "only the platform root reads the installation log" : "no such log",
  );
}

/** Security payloads are withheld from a reader without the auditor capability. */
export function withholdsSecurity(principal: Reader): boolean {
  return !principal.scopes.has("audit:security");
}

export interface ReaderExportDeps {
  readonly db: Pick<Database, "auditLog">;
  readonly events: EventSink;
  readonly names: ActorNames;
}

/**
 * GET /api/audit: the export as text chunks. The log's size is taken before the export is
 * recorded (audit.exported), so the export ends just before its own event.
 */
export function exportForReader(
  deps: ReaderExportDeps,
  principal: Reader,
  log: string,
  query: AuditFilterInput,
): AsyncGenerator<string> {
  const { format, ...filter } = query;
  const redactSecurity = withholdsSecurity(principal);
  const spec: ExportSpec = { log, filter, endSeq: deps.db.auditLog.size(log) };
  recordAuditExport(
    deps.events,
    { tenantId: principal.tenantId, actor: actorOf(principal) },
    { log, format, filter, redacted: redactSecurity },
  );
  return exportChunks(deps.db.auditLog, spec, { format, redactSecurity, names: deps.names });
}

/**
 * The audit trail as the API reaches it, the database staying inside (src/services.ts builds it):
 * what a reader exports, verifies and proves, and the checkpoints the platform root asks for.
 */
export interface AuditTrail {
  /** GET /api/audit: exportForReader, with a fresh actor-name resolver for each export. */
  export(principal: Reader, log: string, query: AuditFilterInput): AsyncGenerator<string>;
  /** What an export file is named after: "platform", the tenant's slug, or the id of a tenant no longer there. */
  fileLabel(log: string): string;
  /** GET /api/audit/verify: verifyForReader. */
  verify(principal: Reader, log: string): Promise<VerifyReport>;
  /** GET /api/audit/checkpoints: the log's origin, verifier key and signed checkpoints. */
  checkpoints(log: string): Promise<LogKeys & { checkpoints: CheckpointView[] }>;
  inclusion(log: string, seq: number, size: number): ReturnType<typeof inclusion>;
  consistency(log: string, from: number, to: number): ReturnType<typeof consistency>;
  /** POST /api/audit/checkpoints: sign checkpoints now for every log that grew. */
  checkpointNow(): Promise<{ size: number; createdAt: string }[]>;
}

export interface CheckpointView {
  readonly size: number;
  /** base64 */
  readonly rootHash: string;
  readonly createdAt: string;
  readonly note: string;
}

export interface AuditTrailDeps {
  readonly db: Database;
  readonly crypto: CryptoService;
  readonly anchor: AuditAnchor;
  readonly events: EventSink;
  /** A resolver for one export stream (src/auth/actor-names.ts: it caches per stream). */
  readonly names: () => ActorNames;
}

export function auditTrail(deps: AuditTrailDeps): AuditTrail {
  const { db, crypto, anchor, events } = deps;
  return {
    export: (principal, log, query) => exportForReader({ db, events, names: deps.names() }, principal, log, query),
    fileLabel: (log) => (log === PLATFORM_LOG ? "platform" : (db.tenants.get(log)?.slug ?? log)),
    verify: (principal, log) => verifyForReader({ db, crypto, anchor, events }, principal, log),
    checkpoints: async (log) => {
      const keys = await logKeys(db, crypto, log);
      const checkpoints = db.auditLog.checkpoints(log).map((cp) => ({
        size: cp.size,
        rootHash: Buffer.from(cp.rootHash).toString("base64"),
        createdAt: cp.createdAt,
        note: cp.note,
      }));
      return { ...keys, checkpoints };
    },
    inclusion: (log, seq, size) => inclusion(db, log, seq, size),
    consistency: (log, from, to) => consistency(db, log, from, to),
    checkpointNow: async () =>
      (await makeCheckpoints(db, crypto, anchor)).map((cp) => ({ size: cp.size, createdAt: cp.createdAt })),
  };
}

export interface ReaderVerifyDeps {
  readonly db: Database;
  readonly crypto: CryptoService;
  readonly anchor: AuditAnchor;
  readonly events: EventSink;
}

/** GET /api/audit/verify: the verification report; reading the audit trail's integrity is itself audited (audit.verified). */
export async function verifyForReader(deps: ReaderVerifyDeps, principal: Reader, log: string): Promise<VerifyReport> {
  const report = await verifyLog(deps.db, deps.crypto, deps.anchor, log);
  deps.events.emit({
    event: "audit.verified",
    sensitivity: "security",
    severity: report.ok ? "info" : "critical",
    tenantId: principal.tenantId,
    actor: actorOf(principal),
    payload: {
      log: report.log,
      ok: report.ok,
      events: report.events,
      ...(report.firstBad ? { firstBadSeq: report.firstBad.seq } : {}),
    },
  });
  return report;
}
