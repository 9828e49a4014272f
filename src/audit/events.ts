/**
 * The single hook through which the domain reports what happened (logins, failures, throttling,
 * token issue and revocation, refresh-token replay, user, tenant, project, node and edge changes).
 * Each event becomes a signed row of the audit trail. Emitted inside a write transaction it
 * commits with the change it records (or neither commits); emitted outside one, it is written on
 * its own. A structured log line follows, for the journal.
 */
import { PLATFORM_LOG, type Database } from "../db/db.js";
import type { DomainEvent } from "../vocabulary/events.js";
import type { Logger } from "../log.js";

export interface EventSink {
  emit(event: DomainEvent): void;
}

/** `grew` hears, once the event committed, which log it went to (src/audit/checkpointer.ts). */
export function auditEventSink(db: Database, log: Logger, grew: (logId: string) => void = () => {}): EventSink {
  return {
    emit(event) {
      db.audit(event);
      const level = event.severity === "info" ? "info" : event.severity === "warn" ? "warn" : "error";
      // Logged once the event's transaction committed: a rolled-back change leaves no log line claiming it.
      db.afterCommit(() => log[level]({ audit: { event: event.event, tenantId: event.tenantId, actor: event.actor } }, event.event));
      db.afterCommit(() => grew(event.tenantId ?? PLATFORM_LOG));
    },
  };
}
