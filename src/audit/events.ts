/**
 * The single hook through which the domain reports what happened outside a write of its own
 * (logins, failures, throttling, token issue and revocation, refresh-token replay). A change
 * records its event with its transaction's `tx.audit(event)` (src/db/write-path.ts); both paths
 * end in the same signed row. Emitted inside a write transaction it commits with the change it
 * records (or neither commits); emitted outside one, it is written on its own.
 */
import type { Database, EventFollower } from "../db/db.js";
import type { DomainEvent } from "../vocabulary/events.js";
import type { Logger } from "../log.js";

export interface EventSink {
  emit(event: DomainEvent): void;
}

export function auditEventSink(db: Database): EventSink {
  return {
    emit(event) {
      db.audit(event);
    },
  };
}

/**
 * A structured log line for the journal after each audit event, however it was recorded: once
 * the event's transaction committed, so a rolled-back change leaves no log line claiming it.
 */
export function auditLogLines(db: Pick<Database, "afterCommit">, log: Logger): EventFollower {
  return (event) => {
    const level = event.severity === "info" ? "info" : event.severity === "warn" ? "warn" : "error";
    db.afterCommit(() =>
      log[level]({ audit: { event: event.event, tenantId: event.tenantId, actor: event.actor } }, event.event),
    );
  };
}
