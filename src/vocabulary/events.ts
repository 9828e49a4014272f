/**
 * What the audit trail records, named once for every layer: the event kinds, who acted, and the
 * shape of an event. The database stores events and the domain emits them; both import this.
 */

/** The audit log of the installation itself (events of no tenant); each tenant's log is named by its id. */
export const PLATFORM_LOG = "_platform";

/** A person or an agent: the two kinds of account. */
export type ActorKind = "human" | "agent";

/** Who did something: an account, the appliance itself, or someone not signed in. */
export interface Actor {
  readonly type: ActorKind | "system" | "anonymous";
  readonly id: string | null;
}

/**
 * The actor an audit event names for what an authenticated account did: the one helper, here so
 * that layers below auth (the audit trail) use it too; src/auth/principal.ts re-exports it.
 */
export function actorOf(account: { readonly actorKind: ActorKind; readonly userId: string }): Actor {
  return { type: account.actorKind, id: account.userId };
}

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
  | "auth.signing_key_registered"
  | "auth.signing_key_revoked"
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
  | "review.approved"
  | "release.signed_off"
  | "comment.created"
  | "draft.approved"
  | "draft.discarded"
  | "autonomy.changed"
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
  | "read.sensitive"
  | "read.content"
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
  | "usage.exported"
  | "ai.settings_changed"
  | "ai.invoked"
  | "ai.payloads_expired";

export interface DomainEvent {
  readonly event: EventName;
  readonly sensitivity: "normal" | "security";
  readonly severity: "info" | "warn" | "error" | "critical";
  readonly tenantId: string | null;
  readonly actor: Actor;
  /** People to tell, in their notifications (tied to this event's audit row). Messages carry no tenant content. */
  readonly notify?: { readonly userIds: readonly string[]; readonly message: string };
  /** Never secrets: ids, reasons, counts. */
  readonly payload: Readonly<Record<string, string | number | boolean | null>>;
}
