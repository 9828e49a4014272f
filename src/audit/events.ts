/**
 * The single hook through which the domain reports what happened (logins, failures, throttling,
 * token issue and revocation, refresh-token replay, user, tenant, project, node and edge changes).
 * Each event becomes a signed row of the audit trail. Emitted inside a write transaction it
 * commits with the change it records (or neither commits); emitted outside one, it is written on
 * its own. A structured log line follows, for the journal.
 */
import type { Database } from "../db/db.js";
import type { Logger } from "../log.js";

export type EventName =
  | "auth.setup_completed"
  | "auth.login_succeeded"
  | "auth.login_failed"
  | "auth.login_throttled"
  | "auth.logout"
  | "auth.refresh_reused"
  | "auth.session_revoked"
  | "auth.token_created"
  | "auth.token_revoked"
  | "auth.jwt_key_rotated"
  | "auth.password_changed"
  | "auth.password_change_failed"
  | "auth.password_reset_issued"
  | "auth.password_reset_completed"
  | "auth.password_reset_failed"
  | "auth.root_recovery_issued"
  | "user.created"
  | "user.updated"
  | "user.deleted"
  | "user.erased"
  | "tenant.created"
  | "tenant.updated"
  | "tenant.admin_assigned"
  | "tenant.erased"
  | "tenant.exported"
  | "tenant.names_sealed"
  | "project.created"
  | "project.updated"
  | "project.member_set"
  | "project.member_removed"
  | "project.archived"
  | "project.restored"
  | "project.erased"
  | "node.created"
  | "node.updated"
  | "node.archived"
  | "node.restored"
  | "node.erased"
  | "edge.created"
  | "edge.deleted"
  | "secret.created"
  | "secret.rotated"
  | "secret.deleted"
  | "keys.master_rotated"
  | "keys.master_retired"
  | "keys.rewrapped"
  | "keys.dek_rotated"
  | "keys.dek_retired"
  | "keys.reencrypted"
  | "job.run"
  | "audit.exported"
  | "audit.verified"
  | "backup.created"
  | "backup.verified"
  | "backup.restored"
  | "backup.failed"
  | "backup.rewrapped"
  | "license.installed"
  | "license.refused"
  | "license.state_changed"
  | "license.clock_rollback"
  | "usage.snapshot"
  | "usage.exported";

export interface DomainEvent {
  readonly event: EventName;
  readonly sensitivity: "normal" | "security";
  readonly severity: "info" | "warn" | "error" | "critical";
  readonly tenantId: string | null;
  readonly actor: { readonly type: "human" | "agent" | "system" | "anonymous"; readonly id: string | null };
  /** People to tell, in their notifications (tied to this event's audit row). Messages carry no tenant content. */
  readonly notify?: { readonly userIds: readonly string[]; readonly message: string };
  /** Never secrets: ids, reasons, counts. */
  readonly payload: Readonly<Record<string, string | number | boolean | null>>;
}

export interface EventSink {
  emit(event: DomainEvent): void;
}

export function auditEventSink(db: Database, log: Logger): EventSink {
  return {
    emit(event) {
      db.audit(event);
      const level = event.severity === "info" ? "info" : event.severity === "warn" ? "warn" : "error";
      // Logged once the event's transaction committed: a rolled-back change leaves no log line claiming it.
      db.afterCommit(() => log[level]({ audit: { event: event.event, tenantId: event.tenantId, actor: event.actor } }, event.event));
    },
  };
}
