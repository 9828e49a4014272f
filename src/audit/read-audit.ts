/**
 * Read auditing (datasheet section 5 "every action emits an audit event"; GDPR Art. 30): which
 * reads leave an event in the reader's tenant's audit log, decided here and nowhere else.
 *
 * A route states what it reads in its spec (`reads` in defineRoute, src/server/route.ts):
 * "sensitive" (exports, audit-log reads, secret metadata, key views) or "content" (any other
 * read of the tenant's data). After a successful call, one middleware (src/server/middleware/
 * read-audit.ts) hands that to `ReadAudit.record`, which looks up the tenant's setting
 * (`readAudit`, set by its admin through PUT /api/tenant/settings):
 *   off        no read events;
 *   sensitive  (the default) read.sensitive for the sensitive reads;
 *   all        also read.content for every other read.
 * A read event names the actor, the operation (the route's operationId), the resource kind and
 * the ids in the path; never content, never the query. It is appended off the request path by the
 * batcher (event-batcher.ts): at most a second behind, so a read never waits for an fsync.
 */
import type { Database } from "../db/db.js";
import type { ReadAuditLevel } from "../db/repositories/tenants.js";
import type { Logger } from "../log.js";
import { actorOf, type DomainEvent } from "../vocabulary/events.js";
import { EventBatcher } from "./event-batcher.js";
import type { EventSink } from "./events.js";
import type { Reader } from "./reader-access.js";

export type { ReadAuditLevel } from "../db/repositories/tenants.js";
export const READ_AUDIT_LEVELS = ["off", "sensitive", "all"] as const satisfies readonly ReadAuditLevel[];

/** What a route reads: "sensitive" is recorded unless the tenant turned read auditing off; "content" only with "all". */
export type ReadKind = "sensitive" | "content";

export interface ReadRecord {
  readonly kind: ReadKind;
  /** The route's operationId, e.g. "listSecrets". */
  readonly operation: string;
  /** The resource kind, e.g. "secrets" (the route's first tag). */
  readonly resource: string;
  /** The path's ids, by parameter name. */
  readonly ids: Readonly<Record<string, string>>;
}

export function recordsRead(level: ReadAuditLevel, kind: ReadKind): boolean {
  return level === "all" || (level === "sensitive" && kind === "sensitive");
}

export function readEvent(principal: Pick<Reader, "tenantId" | "actorKind" | "userId">, read: ReadRecord): DomainEvent {
  return {
    event: read.kind === "sensitive" ? "read.sensitive" : "read.content",
    sensitivity: read.kind === "sensitive" ? "security" : "normal",
    severity: "info",
    tenantId: principal.tenantId,
    actor: actorOf(principal),
    payload: { ...read.ids, operation: read.operation, resource: read.resource },
  };
}

export interface ReadAuditDeps {
  readonly db: Pick<Database, "tenants" | "write" | "watchedRows">;
  readonly events: EventSink;
  readonly log: Logger;
  /** Tests only: a shorter batch delay (never more than a second). */
  readonly intervalMs?: number;
}

export class ReadAudit {
  readonly #batcher: EventBatcher;
  /** Each tenant's setting, kept until a tenant row changes (here or in another process). */
  readonly #levels = new Map<string, ReadAuditLevel>();

  constructor(private readonly deps: ReadAuditDeps) {
    deps.db.watchedRows.subscribe((change) => {
      if (change.kind === "external" || change.table === "tenants") this.#levels.clear();
    });
    this.#batcher = new EventBatcher({
      log: deps.log,
      ...(deps.intervalMs === undefined ? {} : { intervalMs: deps.intervalMs }),
      // One transaction per batch: the events are appended (signed, in the Merkle log) as any other.
      write: (events) => deps.db.write(() => events.forEach((event) => deps.events.emit(event))),
    });
  }

  /** Called after a successful read; never throws and never waits. */
  record(principal: Pick<Reader, "tenantId" | "actorKind" | "userId">, read: ReadRecord): void {
    try {
      if (recordsRead(this.#level(principal.tenantId), read.kind)) this.#batcher.add(readEvent(principal, read));
    } catch (error) {
      // The read itself succeeded; its record is not worth failing it for (the database is going away).
      this.deps.log.error(
        { error: { name: (error as Error).name, message: (error as Error).message } },
        "audit: a read event could not be queued",
      );
    }
  }

  /** Another process's change was seen by authentication's look (watchedRows.sync) earlier in the same request. */
  #level(tenantId: string): ReadAuditLevel {
    const rows = this.deps.db.watchedRows;
    const known = this.#levels.get(tenantId);
    if (known !== undefined) return known;
    const level = this.deps.db.tenants.get(tenantId)?.readAudit ?? "sensitive";
    if (rows.readsCommitted) this.#levels.set(tenantId, level);
    return level;
  }

  /** Writes what is queued (the write starts before this returns); later reads are not recorded. */
  close(): Promise<void> {
    return this.#batcher.close();
  }
}
