/**
 * The single hook through which identity reports what happened (logins, failures, throttling,
 * token issue and revocation, refresh-token replay). Today the sink writes a structured log line;
 * the audit trail will take this hook over and make each event a signed audit row.
 */
import type { Logger } from "../log.js";

export type AuthEventName =
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
  | "user.created"
  | "user.updated"
  | "user.deleted"
  | "tenant.created"
  | "tenant.updated";

export interface AuthEvent {
  readonly event: AuthEventName;
  readonly sensitivity: "normal" | "security";
  readonly severity: "info" | "warn" | "error" | "critical";
  readonly tenantId: string | null;
  readonly actor: { readonly type: "human" | "agent" | "anonymous"; readonly id: string | null };
  /** Never secrets: ids, reasons, counts. */
  readonly payload: Readonly<Record<string, string | number | boolean | null>>;
}

export interface AuthEventSink {
  emit(event: AuthEvent): void;
}

export function logEventSink(log: Logger): AuthEventSink {
  return {
    emit(event) {
      const level = event.severity === "info" ? "info" : event.severity === "warn" ? "warn" : "error";
      log[level]({ authEvent: event }, event.event);
    },
  };
}
